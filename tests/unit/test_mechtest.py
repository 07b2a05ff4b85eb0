"""``bonefem test``: virtual mechanical tests without biology (serial and 2 ranks, mpi).

Analytic checks: a full voxel cube's apparent modulus is the tissue modulus; aligned rods
give BV/TV x E_tissue within 2 %; the reactions on the two loaded faces are equal and
opposite and the reactions of all surfaces sum to zero (minus the applied load); a
force-controlled test balances its load; the results files are written.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from bonefem.config.mechtest import parse_test_file
from bonefem.imaging.image import Image, write_image
from bonefem.imaging.phantoms import rod_lattice
from bonefem.imaging.voxelmesh import voxel_mesh
from bonefem.mechtest import image_test_file, run_test_target, run_tests, specimen_box

pytestmark = pytest.mark.mpi

E_TISSUE = 18000.0
RTOL = 1e-10


def _spec(tests: list[dict], modulus: dict | None = None):
    return parse_test_file({
        "mesh": {"file": "unused.xdmf"},
        "material": {"modulus": modulus or {"constant_MPa": E_TISSUE, "poisson_ratio": 0.3}},
        "tests": tests,
        "solver_rtol": RTOL,
    })  # fmt: skip


def _cube(comm, n: int = 5, h: float = 0.1):
    img = Image(np.zeros((n, n, n)), spacing=(h, h, h), origin=(h / 2,) * 3)
    bone, _ = voxel_mesh(comm, img, np.ones((n, n, n), bool))
    return bone


def test_full_cube_apparent_modulus_and_equilibrium(comm) -> None:
    bone = _cube(comm)
    rollers = [{"type": "fixed", "surface": f"{c}min", "component": c} for c in "xyz"]
    test = {"name": "cz", "supports": [*rollers, {"type": "displacement", "surface": "zmax",
                                                  "value": -0.0005, "component": "z"}]}  # fmt: skip
    results, info = run_tests(_spec([test]), bone)
    r = results[0]
    assert info["box_mm"] == pytest.approx([0.5, 0.5, 0.5])
    assert r.apparent_modulus_MPa == pytest.approx(E_TISSUE, rel=1e-8)
    top, bottom = np.array(r.reactions_N["zmax"]), np.array(r.reactions_N["zmin"])
    assert top[2] == pytest.approx(-E_TISSUE * 0.001 * 0.25, rel=1e-8)  # σ A, compressive
    np.testing.assert_allclose(top, -bottom, atol=1e-8 * abs(top[2]))
    total = np.sum([v for v in r.reactions_N.values()], axis=0)
    np.testing.assert_allclose(total, 0.0, atol=1e-8 * abs(top[2]))
    # free faces carry nothing; the roller faces nothing along z
    for s in ("xmax", "ymax"):
        np.testing.assert_allclose(r.reactions_N[s], 0.0, atol=1e-8 * abs(top[2]))
    assert abs(r.reactions_N["xmin"][2]) < 1e-8 * abs(top[2])
    assert r.iterations > 0 and r.residual_norm > 0 and r.solve_seconds >= 0


def test_force_controlled_test_balances_the_load(comm) -> None:
    bone = _cube(comm, n=4)
    force = {"type": "force", "surface": "zmax", "force": [3.0, 0.0, -100.0]}
    test = {"name": "push", "supports": [{"type": "fixed", "surface": "zmin"}], "loads": [force]}
    r = run_tests(_spec([test]), bone)[0][0]
    total = np.sum([v for v in r.reactions_N.values()], axis=0)
    np.testing.assert_allclose(r.reactions_N["zmin"], [-3.0, 0.0, 100.0], atol=1e-6)
    np.testing.assert_allclose(total + np.asarray(r.applied_N["zmax"]), 0.0, atol=1e-6)
    assert r.apparent_modulus_MPa is None


def test_aligned_rods_from_an_image_file(mpi_tmp_path: Path, comm) -> None:
    img, mask, bvtv = rod_lattice(rods=3, width=2, period=4, height=24, spacing=0.02)
    if comm.rank == 0:  # a label image: a threshold would keep the largest rod only
        write_image(img, mpi_tmp_path / "rods.nii.gz")
        write_image(img.with_array(mask.astype(np.uint8)), mpi_tmp_path / "rods-labels.nii.gz")
    comm.Barrier()
    folder, results, info = run_test_target(
        mpi_tmp_path / "rods.nii.gz", mpi_tmp_path / "out",
        image_options={"labels": str(mpi_tmp_path / "rods-labels.nii.gz"),
                       "modulus_MPa": E_TISSUE, "connectivity": "none"},
    )  # fmt: skip
    r = results[0]
    assert r.apparent_modulus_MPa is not None
    assert info["box_mm"] == pytest.approx([0.24, 0.24, 0.48])  # the image box, not the rods
    assert r.apparent_modulus_MPa == pytest.approx(bvtv * E_TISSUE, rel=0.02)
    assert r.apparent_modulus_MPa >= bvtv * E_TISSUE * (1 - 1e-8)
    top, bottom = np.array(r.reactions_N["zmax"]), np.array(r.reactions_N["zmin"])
    np.testing.assert_allclose(top, -bottom, atol=1e-7 * abs(top[2]))
    if comm.rank == 0:
        doc = json.loads((folder / "results.json").read_text())
        assert doc["tests"][0]["apparent_modulus_MPa"] == pytest.approx(r.apparent_modulus_MPa)
        assert "zmin" in (folder / "reactions.csv").read_text()
        assert "apparent_modulus_MPa" in (folder / "tests.csv").read_text()


def test_image_tests_along_each_axis(mpi_tmp_path: Path, comm) -> None:
    n, h = 4, 0.1
    if comm.rank == 0:
        write_image(Image(np.full((n, n, n), 1000, np.int16), spacing=(h, h, h)),
                    mpi_tmp_path / "cube.nii.gz")  # fmt: skip
    comm.Barrier()
    spec = image_test_file(mpi_tmp_path / "cube.nii.gz", threshold=[500.0],
                           axes=("x", "y", "z"), ends="rollers", comm=comm)  # fmt: skip
    from bonefem.mesh import load_bone_mesh

    bone = load_bone_mesh(spec.mesh, comm)
    results, _ = run_tests(spec, bone, box=specimen_box(spec, bone, None))
    for r in results:
        assert r.apparent_modulus_MPa == pytest.approx(E_TISSUE, rel=1e-7)


def test_one_and_two_ranks_agree(
    mpi_tmp_path: Path, comm, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.helpers.cli import _run, run_main

    if comm.size > 1:
        pytest.skip("launches its own processes")
    from bonefem.imaging.phantoms import random_core

    img, mask = random_core(shape=(12, 12, 12), bvtv=0.4, smoothing=1.5, spacing=0.05)
    write_image(img.with_array(np.where(mask, 1000, 0).astype(np.int16)),
                mpi_tmp_path / "r.nii.gz")  # fmt: skip
    out = {}
    for n in (1, 2):
        image = str(mpi_tmp_path / "r.nii.gz")
        args = ["-q", "test", image, "--threshold", "500", "-o", str(mpi_tmp_path / f"o{n}")]
        if n == 1:  # the CLI's main in this process
            code, stdout, stderr = run_main(args, capsys)
        else:  # bonefem under mpiexec -n 2
            proc = _run([sys.executable, "-m", "bonefem.cli", *args], n)
            code, stdout, stderr = proc.returncode, proc.stdout, proc.stderr
        assert code == 0, stderr
        assert "compression_z" in stdout and "E_app" in stdout
        out[n] = json.loads((mpi_tmp_path / f"o{n}" / "results.json").read_text())["tests"][0]
    assert out[2]["apparent_modulus_MPa"] == pytest.approx(out[1]["apparent_modulus_MPa"],
                                                           rel=1e-6)  # fmt: skip
    for s, v in out[1]["reactions_N"].items():
        np.testing.assert_allclose(out[2]["reactions_N"][s], v, atol=1e-6 * abs(out[1]["force_N"]))


TEST_FILE = """
[test]
name = "sel"

[mesh.image]
file = "cube.nii.gz"
threshold = [500.0]

[[mesh.select]]
name = "top_plate"
type = "extreme"
direction = [0.0, 0.0, 1.0]
band = {band}

[material]
modulus = {{ constant_MPa = 10000.0, poisson_ratio = 0.3 }}

[[tests]]
name = "press"
supports = [
  {{ type = "fixed", surface = "zmin" }},
  {{ type = "displacement", surface = "top_plate", value = [0.0, 0.0, -0.001] }},
]
"""


def test_test_file_with_selector_and_empty_selector_exit_2(
    mpi_tmp_path: Path, comm, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.helpers.cli import _run, run_main

    if comm.size > 1:
        pytest.skip("launches its own processes")
    write_image(Image(np.full((4, 4, 4), 1000, np.int16), spacing=(0.1, 0.1, 0.1)),
                mpi_tmp_path / "cube.nii.gz")  # fmt: skip
    good, bad = mpi_tmp_path / "good.toml", mpi_tmp_path / "bad.toml"
    good.write_text(TEST_FILE.format(band=1e-6))
    bad.write_text(TEST_FILE.format(band=-1.0))
    cmd = [sys.executable, "-m", "bonefem.cli", "-q", "test"]
    # the run on 1 rank and the invalid table through the CLI's main in this process
    code, _, err = run_main(["-q", "test", str(good), "-o", str(mpi_tmp_path / "o")], capsys)
    assert code == 0, err
    doc = json.loads((mpi_tmp_path / "o" / "results.json").read_text())
    assert "top_plate" in doc["tests"][0]["reactions_N"]
    assert doc["tests"][0]["apparent_modulus_MPa"] > 10000.0  # clamped ends: stiffer
    code, _, err = run_main(["-q", "test", str(bad)], capsys)
    assert code == 2 and "mesh.select" in err, err
    # a selector that selects nothing: exit 2 naming it and the bounding box
    far = TEST_FILE.format(band=1e-6).replace('type = "extreme"', 'type = "sphere"').replace(
        "direction = [0.0, 0.0, 1.0]", "center = [9.0, 9.0, 9.0]").replace(
        "band = 1e-06", "radius = 0.5")  # fmt: skip
    bad.write_text(far)
    fail = _run([*cmd, str(bad)], 2)
    assert fail.returncode == 2, fail.stderr
    assert "mesh.select[0]" in fail.stderr and "selects no boundary facet" in fail.stderr
    assert "mesh spans" in fail.stderr


def test_face_connected_drops_edge_and_corner_hinges() -> None:
    from bonefem.imaging.segment import face_connected

    lab = np.zeros((4, 4, 4), np.int32)
    lab[0:2, 0:2, 0:2] = 2  # a 2³ block
    lab[2, 2, 2] = 2  # touches the block by a corner only
    lab[1, 2, 2] = 0
    lab[0, 2, 1] = 1  # face neighbour of the block: kept, label unchanged
    out, removed = face_connected(lab)
    assert removed == 1 and out[2, 2, 2] == 0
    assert out[0, 2, 1] == 1 and np.count_nonzero(out) == 9


def test_tetrahedral_mesh_two_regions_and_density_law(comm) -> None:
    """A non-voxel mesh (DOLFINx assembly, form-based reactions) with a modulus per region."""
    from bonefem.mesh import box

    bone = box(comm, (1.0, 1.0, 2.0), (3, 3, 6), regions={"soft": 1, "hard": 2},
               region_of=lambda x: np.where(x[2] < 1.0, 1, 2))  # fmt: skip
    law = {"a": 10000.0, "b": 2.0, "E_max": 1.0e5}
    spec = parse_test_file({
        "mesh": {"file": "unused.xdmf"},
        "material": {"regions": {"soft": {"constant_MPa": 1000.0, "poisson_ratio": 0.0},
                                 "hard": {"law": law, "density_g_cm3": 1.0,
                                          "poisson_ratio": 0.0}}},
        "tests": [{"name": "cz", "supports": [
            {"type": "fixed", "surface": "zmin", "component": "z"},
            {"type": "fixed", "surface": "xmin", "component": "x"},
            {"type": "fixed", "surface": "ymin", "component": "y"},
            {"type": "displacement", "surface": "zmax", "value": -0.002, "component": "z"}]}],
        "solver_rtol": RTOL,
    })  # fmt: skip
    r = run_tests(spec, bone)[0][0]
    # two bars in series (ν = 0): E_app = L / (L1/E1 + L2/E2) with E2 = 10000 · 1² MPa
    assert r.apparent_modulus_MPa == pytest.approx(2.0 / (1.0 / 1000.0 + 1.0 / 10000.0), rel=1e-7)
    np.testing.assert_allclose(r.reactions_N["zmax"], -np.asarray(r.reactions_N["zmin"]),
                               atol=1e-8 * abs(r.reactions_N["zmax"][2]))  # fmt: skip
