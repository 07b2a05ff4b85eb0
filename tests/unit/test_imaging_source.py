"""The [mesh] image source: a case's mesh built from a CT image (serial and 2 ranks)."""

from __future__ import annotations

import numpy as np
import pytest

from bonefem.errors import InputError
from bonefem.imaging.image import write_image
from bonefem.imaging.phantoms import qct_phantom
from bonefem.mesh import MeshConfig, load_bone_mesh

pytestmark = pytest.mark.mpi


@pytest.fixture
def phantom_files(mpi_tmp_path, comm):
    ph = qct_phantom()
    if comm.rank == 0:
        write_image(ph.image, mpi_tmp_path / "ph.nii.gz")
        write_image(ph.image.with_array(ph.segmentation.labels.astype(np.uint8)),
                    mpi_tmp_path / "ph-labels.nii.gz")  # fmt: skip
    comm.Barrier()
    return mpi_tmp_path, ph


def test_mesh_table_with_image_labels(phantom_files, comm) -> None:
    folder, ph = phantom_files
    table = {
        "image": {
            "file": "ph.nii.gz",
            "labels": "ph-labels.nii.gz",
            "regions": {"cortical": 1, "trabecular": 2},
        }
    }
    bone = load_bone_mesh(table, comm, base_dir=folder)
    v = 0.75**3
    assert bone.volume("cortical") == pytest.approx(ph.segmentation.count("cortical") * v)
    assert bone.volume("trabecular") == pytest.approx(ph.segmentation.count("trabecular") * v)
    assert {"zmin", "zmax", "surface"} <= set(bone.surfaces)


def test_mesh_table_with_threshold_and_coarsening(phantom_files, comm) -> None:
    folder, ph = phantom_files
    cfg = MeshConfig.model_validate(
        {"image": {"file": str(folder / "ph.nii.gz"), "threshold": [125.0], "fill_holes": True,
                   "coarsen": 2}}
    )  # fmt: skip
    bone = load_bone_mesh(cfg, comm)
    assert bone.regions == {"bone": 1}
    # the 2-voxel blocks with ≥ 50 % bone cover about the bone volume
    truth = ph.segmentation.count() * 0.75**3
    assert bone.volume() == pytest.approx(truth, rel=0.03)


def test_mesh_table_tetrahedra_with_mapped_density(phantom_files, comm) -> None:
    from bonefem.imaging.density import element_values

    folder, ph = phantom_files
    table = {"image": {"file": "ph.nii.gz", "labels": "ph-labels.nii.gz",
                       "regions": {"cortical": 1, "trabecular": 2},
                       "element": "tetrahedron", "max_size": 2.0}}  # fmt: skip
    bone = load_bone_mesh(table, comm, base_dir=folder)
    assert bone.mesh.topology.cell_type.name == "tetrahedron"
    assert bone.volume() == pytest.approx(ph.segmentation.count() * 0.75**3, rel=0.01)
    # HU mapped through the calibration fitted from the rods; the known density field
    # (1.0 cortex, 0.2 core) mapped the same way is the reference
    from bonefem.imaging.density import Calibration, cylinder_mask

    means = [float(ph.image.array[cylinder_mask(ph.image, c, ph.rod_radius - 1.0)].mean())
             for c in ph.rod_centers]  # fmt: skip
    rho = Calibration.fit(means, ph.rod_densities).density(ph.image.array)
    lab = ph.segmentation.labels
    known = np.select([lab == 1, lab == 2], [1.0, 0.2], 0.0)
    val, _ = element_values(bone, ph.image, rho, mask=ph.segmentation.mask, n=4)
    ref, _ = element_values(bone, ph.image, known, mask=ph.segmentation.mask, n=4)
    import ufl

    from bonefem._dolfinx import MPI, dolfinx

    n = bone.num_cells_local
    q = dolfinx.fem.functionspace(bone.mesh, ("DG", 0))
    vol = dolfinx.fem.assemble_vector(dolfinx.fem.form(ufl.TestFunction(q) * ufl.dx)).array[:n]

    def total(x, cells=None):
        c = np.arange(n) if cells is None else cells[cells < n]
        return comm.allreduce(float(np.sum(x[c] * vol[c])), op=MPI.SUM)

    # mass conservation: ∫ρ over the tetrahedra = Σ ρ voxel volume over the mask, 1 %
    mass = float(np.sum(known)) * 0.75**3
    assert total(val) == pytest.approx(mass, rel=0.01)
    for name in ph.densities:
        cells = bone.region_cells(name)
        assert total(val, cells) == pytest.approx(total(ref, cells), rel=0.01), name


def test_mesh_table_errors(phantom_files, comm) -> None:
    folder, _ = phantom_files
    with pytest.raises(InputError, match="exactly one of 'labels' or 'threshold'"):
        load_bone_mesh({"image": {"file": "ph.nii.gz"}}, comm, base_dir=folder)
    with pytest.raises(InputError, match="exactly one of 'generator', 'file', 'settings' or"):
        load_bone_mesh({"image": {"file": "a", "threshold": [1]}, "generator": "x"}, comm)
    with pytest.raises(InputError, match="no such image"):
        load_bone_mesh({"image": {"file": "none.nii", "threshold": [1.0]}}, comm, base_dir=folder)
    with pytest.raises(InputError, match="no voxel is within"):
        load_bone_mesh({"image": {"file": "ph.nii.gz", "threshold": [9e9]}}, comm,
                       base_dir=folder)  # fmt: skip
