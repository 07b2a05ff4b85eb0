"""The scanned density as the initial state ([mesh.image.density]), on 1 and 2 ranks.

Numbers that could be wrong: the model's vBMD at t = 0 equals the mapped ρ_QCT per cell,
per region within 1 % of the phantom's true densities, the mapping conserves the
calibrated mineral mass of the bone voxels, and the per-cell array survives the mesh file
on any rank count.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bonefem._dolfinx import MPI
from bonefem.coupling.initial import INITIAL_BVTV, INITIAL_MINERAL_DENSITY, initial_bvtv
from bonefem.errors import InputError
from bonefem.imaging.initial import calibration_of
from bonefem.imaging.phantoms import qct_phantom
from bonefem.imaging.source import ImageMeshSource, _validated

pytestmark = pytest.mark.mpi

ROOT = Path(__file__).resolve().parents[2]
CASE = ROOT / "cases" / "qct_menopause.toml"


def _case(*overrides: str):
    from bonefem.config.case import load_case

    return load_case(CASE, list(overrides))


def _model(comm, *overrides: str):
    from bonefem.build import build
    from bonefem.mesh import load_bone_mesh

    case = _case(*overrides)
    bone = load_bone_mesh(case.mesh, comm, base_dir=CASE.parent, file=str(CASE))
    return case, bone, build(case, bone)


def _sum(comm, x: float) -> float:
    return float(comm.allreduce(float(x), op=MPI.SUM))


@pytest.mark.parametrize(
    ("table", "field", "words"),
    [
        ({}, "mesh.image.density.units", "no calibration"),
        ({"slope": 0.0008}, "mesh.image.density.intercept", "both"),
        ({"rods": [{"center": [0, 0], "radius": 1, "density": 0.1}]}, "rods", "two rods"),
        ({"units": "g/cm3", "slope": 1.0, "intercept": 0.0}, "units", "already calibrated"),
        ({"slope": -1.0, "intercept": 0.0}, "slope", "greater than 0"),
    ],
)
def test_bad_density_tables_name_the_field(table, field, words) -> None:
    src = {"file": "x.nii.gz", "labels": "l.nii.gz", "density": table}
    with pytest.raises(InputError) as err:
        _validated(src, "case.toml")
    assert field in (err.value.field or "")
    assert words in str(err.value)


def test_rod_calibration_of_the_bundled_case_recovers_the_phantom_line() -> None:
    src = _validated(_case().mesh.image, None)
    assert isinstance(src, ImageMeshSource) and src.density is not None
    cal = calibration_of(src.density, qct_phantom().image)
    assert cal is not None
    assert cal.slope == pytest.approx(0.0008, rel=0.01)
    assert abs(cal.intercept) < 0.005 and cal.r_squared is not None and cal.r_squared > 0.9999


def test_initial_vbmd_is_the_scanned_density(comm) -> None:
    """Voxel elements (k = 1): vBMD(t = 0) = mapped ρ_QCT per cell; regions within 1 %."""
    case, bone, model = _model(comm, "mesh.image.coarsen=1")
    n = bone.num_cells_local
    rho_map = bone.cell_data[INITIAL_MINERAL_DENSITY][:n]
    cells = model.law.initial_state(model.f0)
    vbmd = model.material.mineral_density(cells[3], cells[4])
    # per cell: the solved BV/TV reproduces the scan (within 1 %; observed ~1e-15)
    assert np.all(np.abs(vbmd - rho_map) <= 1e-9 * rho_map)
    # m is the mineralisation equilibrium of f0 (a homeostatic start)
    healthy = model.law.initial_state(cells[3])
    assert np.array_equal(healthy[4], cells[4])
    vol = model.geometry.volumes
    truth = qct_phantom().densities
    for name, rho_true in truth.items():
        sel = model.geometry.region_index == model.geometry.region_names.index(name)
        mean = _sum(comm, np.sum(vbmd[sel] * vol[sel])) / _sum(comm, np.sum(vol[sel]))
        assert mean == pytest.approx(rho_true, rel=0.01), name
    # mass conservation: Σ ρ_e V_e = Σ over bone voxels of the calibrated density × voxel volume
    ph = qct_phantom()
    src = case.mesh.image
    assert src is not None and src.density is not None
    cal = calibration_of(src.density, ph.image)
    assert cal is not None
    bone_voxels = ph.segmentation.labels > 0
    voxel_mass = float(np.sum(cal.density(ph.image.array)[bone_voxels])) * 0.75**3
    mesh_mass = _sum(comm, np.sum(vbmd * vol))
    assert mesh_mass == pytest.approx(voxel_mass, rel=1e-10)


def test_cell_data_survives_the_mesh_file(comm, mpi_tmp_path) -> None:
    from bonefem.mesh import load_bone_mesh, read_mesh, write_mesh

    case = _case()
    bone = load_bone_mesh(case.mesh, comm, base_dir=CASE.parent, file=str(CASE))
    n = bone.num_cells_local
    path = write_mesh(bone, mpi_tmp_path / "m.xdmf")
    back = read_mesh(path, comm)
    assert sorted(back.cell_data) == [INITIAL_MINERAL_DENSITY]

    def by_original(b) -> np.ndarray:
        k = b.num_cells_local
        idx = np.asarray(b.mesh.topology.original_cell_index[:k])
        parts = comm.allgather((idx, b.cell_data[INITIAL_MINERAL_DENSITY][:k]))
        out = np.empty(b.num_cells_global)
        for i, v in parts:
            out[i] = v
        return out

    assert np.array_equal(by_original(back), by_original(bone))
    assert n > 0


def test_bvtv_mode_takes_the_relations(comm) -> None:
    from bonefem.imaging.density import SCHILEO_2008

    _, bone, model = _model(comm, 'mesh.image.density.initial="bvtv"')
    n = bone.num_cells_local
    assert INITIAL_BVTV in bone.cell_data and INITIAL_MINERAL_DENSITY not in bone.cell_data
    f = bone.cell_data[INITIAL_BVTV][:n]
    assert np.array_equal(model.f0, np.clip(f, 0.02, 0.98))
    # cortical 1.0 g/cm³ K2HPO4: ρ_ash 0.956, ρ_app 1.593, BV/TV 0.797 (Schileo 2008)
    assert float(SCHILEO_2008.bvtv(1.0)) == pytest.approx((0.877 + 0.079) / 0.6 / 2.0)


@pytest.mark.parametrize(
    ("field", "value"),
    [("biology.history_from_age_years", 40.0), ("biology.baseline_t_score", -2.5)],
)
def test_cohort_start_with_a_scanned_state_is_refused(comm, field: str, value: float) -> None:
    """A scan is the bone at t = 0: neither a history from a younger age nor a T-score may
    replace or rescale it (refused, naming the field and the value)."""
    from bonefem.build import check_case_against_mesh
    from bonefem.mesh import load_bone_mesh

    case = _case(f"{field}={value}")
    bone = load_bone_mesh(case.mesh, comm, base_dir=CASE.parent, file=str(CASE))
    with pytest.raises(InputError) as err:
        check_case_against_mesh(case, bone, str(CASE))
    assert err.value.field == field
    assert err.value.value == value
    assert "per-cell initial state" in str(err.value)


def test_bad_per_cell_values_are_input_errors() -> None:
    from bonefem.remodeling.bone import DEFAULT_REMODELING

    def m0(f: np.ndarray) -> np.ndarray:
        return np.full_like(f, 0.4)

    for bad in (np.array([0.5, np.nan]), np.array([0.5, 0.0]), np.array([0.5, 1.2])):
        with pytest.raises(InputError) as err:
            initial_bvtv(2, {INITIAL_BVTV: bad}, np.full(2, 0.5), m0, DEFAULT_REMODELING,
                         source="m.vtu")  # fmt: skip
        assert "m.vtu" in str(err.value) and INITIAL_BVTV in str(err.value)
    # a constant m0: f = ρ / (ρ_mineral m0) exactly
    f, origin = initial_bvtv(1, {INITIAL_MINERAL_DENSITY: np.array([0.64])}, np.ones(1), m0,
                             DEFAULT_REMODELING)  # fmt: skip
    assert origin == INITIAL_MINERAL_DENSITY
    assert f[0] == pytest.approx(0.64 / (3.2 * 0.4), rel=1e-12)


@pytest.fixture
def vtu_with_arrays(mpi_tmp_path, comm):
    """A voxel mesh of the phantom (k = 3) as a .vtu with a BV/TV and a density array."""
    import meshio

    from bonefem.imaging.voxelmesh import voxel_mesh_arrays

    ph = qct_phantom()
    a = voxel_mesh_arrays(ph.image, ph.segmentation, coarsen=3)
    n = a.cells.shape[0]
    bvtv = np.linspace(0.1, 0.9, n)
    path = mpi_tmp_path / "bone.vtu"
    if comm.rank == 0:
        bad = bvtv.copy()
        bad[7] = 1.5
        meshio.write(path, meshio.Mesh(a.points, [("hexahedron", a.cells)], cell_data={
            "cell_tags": [a.cell_values], "BVTV": [bvtv], "BAD": [bad],
            "vBMD": [0.3 + 0.5 * bvtv]}))  # fmt: skip
    comm.Barrier()
    return path, bvtv


def test_imported_mesh_takes_a_named_cell_array(vtu_with_arrays, comm) -> None:
    from bonefem.mesh import load_bone_mesh

    path, bvtv = vtu_with_arrays
    table = {"file": str(path), "regions": {"cortical": 1, "trabecular": 2},
             "initial_bvtv": "BVTV"}  # fmt: skip
    bone = load_bone_mesh(table, comm)
    n = bone.num_cells_local
    orig = np.asarray(bone.mesh.topology.original_cell_index[:n])
    assert np.array_equal(bone.cell_data[INITIAL_BVTV][:n], bvtv[orig])
    table2 = {**table, "initial_bvtv": None, "initial_mineral_density": "vBMD"}
    bone2 = load_bone_mesh(table2, comm)
    assert np.array_equal(bone2.cell_data[INITIAL_MINERAL_DENSITY][:n], 0.3 + 0.5 * bvtv[orig])


@pytest.mark.parametrize(
    ("key", "name", "words"),
    [
        ("initial_bvtv", "NOPE", "no cell data 'NOPE'; the file has: cell_tags, BVTV, BAD"),
        ("initial_bvtv", "BAD", "not in (0, 1]"),
    ],
)
def test_imported_mesh_bad_cell_arrays(vtu_with_arrays, comm, key, name, words) -> None:
    from bonefem.mesh import load_bone_mesh

    path, _ = vtu_with_arrays
    with pytest.raises(InputError) as err:
        load_bone_mesh({"file": str(path), key: name}, comm)
    assert words in str(err.value) and f"mesh.{key}" in str(err.value)
    assert str(path) in str(err.value)


def test_initial_array_needs_an_imported_file() -> None:
    from bonefem.mesh import MeshConfig

    with pytest.raises(ValueError, match="imported 'file'"):
        MeshConfig.model_validate({"generator": "specimen", "initial_bvtv": "BVTV"})


def test_calibrated_image_and_given_line_map_the_same(comm, mpi_tmp_path) -> None:
    """units = "g/cm3" on ρ = 0.0008 HU equals units = "HU" with slope/intercept given."""
    from bonefem.imaging.image import write_image
    from bonefem.mesh import load_bone_mesh

    ph = qct_phantom()
    if comm.rank == 0:
        rho = ph.calibration.density(ph.image.array)
        write_image(ph.image.with_array(rho), mpi_tmp_path / "rho.nii.gz")
    comm.Barrier()
    labels = str(CASE.parent / "images" / "qct_phantom-labels.nii.gz")
    base = {"labels": labels, "regions": {"cortical": 1, "trabecular": 2}, "coarsen": 2}
    hu = {**base, "file": str(CASE.parent / "images" / "qct_phantom.nii.gz"),
          "density": {"slope": 0.0008, "intercept": 0.0}}  # fmt: skip
    cal = {**base, "file": str(mpi_tmp_path / "rho.nii.gz"), "density": {"units": "g/cm3"}}
    a = load_bone_mesh({"image": hu}, comm).cell_data[INITIAL_MINERAL_DENSITY]
    b = load_bone_mesh({"image": cal}, comm).cell_data[INITIAL_MINERAL_DENSITY]
    np.testing.assert_allclose(b, a, rtol=1e-12)
    assert a.min() > 0.15 and a.max() < 1.1
