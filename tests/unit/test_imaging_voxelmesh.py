"""Voxel hexahedral meshes, element mapping and selectors; serial and on 2 ranks (mpi)."""

from __future__ import annotations

import numpy as np
import pytest

from bonefem._dolfinx import MPI
from bonefem.errors import InputError
from bonefem.imaging import selectors
from bonefem.imaging.density import Calibration, block_average, element_values, to_density
from bonefem.imaging.image import Image
from bonefem.imaging.phantoms import qct_phantom
from bonefem.imaging.segment import Segmentation
from bonefem.imaging.voxelmesh import cell_values, voxel_mesh, voxel_mesh_arrays

pytestmark = pytest.mark.mpi

SPACING = (0.5, 0.6, 0.7)


def random_mask(seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.random((6, 7, 8)) < 0.6


def test_voxel_mesh_volume_equals_mask_volume(comm) -> None:
    m = random_mask()
    img = Image(np.zeros(m.shape), spacing=SPACING, origin=(1.0, 2.0, 3.0))
    bone, arrays = voxel_mesh(comm, img, m, check=True, connectivity="none")  # every voxel
    v = 0.5 * 0.6 * 0.7
    assert bone.num_cells_global == m.sum()
    assert bone.volume() == pytest.approx(m.sum() * v, rel=1e-12)
    # box-face areas: bone voxels in the first/last layer times the face area
    assert bone.area("xmin") == pytest.approx(m[:, :, 0].sum() * 0.6 * 0.7, rel=1e-12)
    assert bone.area("xmax") == pytest.approx(m[:, :, -1].sum() * 0.6 * 0.7, rel=1e-12)
    assert bone.area("ymin") == pytest.approx(m[:, 0, :].sum() * 0.5 * 0.7, rel=1e-12)
    assert bone.area("zmax") == pytest.approx(m[-1].sum() * 0.5 * 0.6, rel=1e-12)
    # the whole boundary: every bone/non-bone voxel face
    p = np.pad(m, 1)
    faces = {0: 0.5 * 0.6, 1: 0.5 * 0.7, 2: 0.6 * 0.7}
    total = sum(np.count_nonzero(np.diff(p.astype(int), axis=a)) * faces[a] for a in range(3))
    area = sum(bone.area(s) for s in bone.surfaces)
    assert area == pytest.approx(total, rel=1e-12)
    # a node of voxel (k, j, i) = (0, 0, 0): its lower corner at origin - spacing / 2
    lo, hi = bone.bounding_box()
    assert np.allclose(lo, np.array([1.0, 2.0, 3.0]) - 0.5 * np.array(SPACING))
    assert np.allclose(hi, lo + np.array(SPACING) * [8, 7, 6])
    if comm.rank == 0:
        assert arrays is not None and arrays.volume == pytest.approx(m.sum() * v)
        # shared nodes: the node count of a full block would be (n+1)³
        assert np.unique(arrays.cells).size == arrays.points.shape[0]


def test_coarsened_mesh_labels_and_values(comm) -> None:
    lab = np.zeros((8, 8, 8), np.int32)
    lab[:, :, :4] = 1
    lab[:, :, 4:] = 2
    lab[:2, :2, 4:6] = 0  # one 2x2x2 block empty
    lab[4:6, 4:6, 4:6] = 0
    lab[4, 4, 4] = 2  # a block with 1/8 bone: dropped at min_fraction 0.5
    seg = Segmentation(lab, {"cortical": 1, "trabecular": 2})
    img = Image(np.zeros(lab.shape), spacing=(1.0, 1.0, 1.0))
    bone, arrays = voxel_mesh(comm, img, seg, coarsen=2, min_fraction=0.5)
    assert bone.num_cells_global == 64 - 2
    assert bone.volume() == pytest.approx(62 * 8.0)
    assert bone.volume("cortical") == pytest.approx(32 * 8.0)
    assert bone.volume("trabecular") == pytest.approx(30 * 8.0)
    # per-cell values of the voxel mesh directly: block means through original_cell_index
    field = np.broadcast_to(np.arange(8.0)[None, None, :], lab.shape)
    mean, _ = block_average(field, 2, mask=lab != 0)
    blocks = comm.bcast(None if arrays is None else arrays.blocks, root=0)
    vals = cell_values(bone, mean[tuple(blocks.T)])
    n = bone.num_cells_local
    mid = bone.mesh.geometry.x[np.asarray(bone.mesh.geometry.dofmaps[0])[:n]].mean(axis=1)
    # block c along x covers voxels 2c, 2c+1 -> mean 2c + 0.5, its centre at x = 2c + 0.5
    assert np.allclose(vals[:n], mid[:, 0])
    one_voxel = np.zeros(lab.shape, bool)
    one_voxel[0, 0, 0] = True  # bone fraction 1/8 in its block
    with pytest.raises(InputError, match="no element") as err:
        voxel_mesh_arrays(img, one_voxel, coarsen=2, min_fraction=0.5)
    assert err.value.field == "min_fraction"
    assert voxel_mesh_arrays(img, one_voxel, coarsen=2, min_fraction=0.1).cells.shape == (1, 8)


def test_empty_mask_is_an_input_error(comm) -> None:
    img = Image(np.zeros((3, 3, 3)), spacing=(1.0, 1.0, 1.0), source="scan.nii.gz")
    with pytest.raises(InputError, match="empty"):
        voxel_mesh(comm, img, np.zeros((3, 3, 3), bool))


def test_qct_phantom_element_mapping_within_1_percent(comm) -> None:
    ph = qct_phantom()
    cal = Calibration.fit(
        [float(np.mean(ph.image.array[_rod(ph, c)])) for c in ph.rod_centers], ph.rod_densities
    )
    rho = to_density(ph.image.array, calibration=cal)
    labels = ph.segmentation.labels
    true_rho = np.select(
        [labels == 1, labels == 2], [ph.densities["cortical"], ph.densities["trabecular"]], 0.0
    )

    def region_means(bone, val):
        n = bone.num_cells_local
        out = {}
        for name in ph.densities:
            cells = bone.region_cells(name)
            cells = cells[cells < n]
            s = comm.allreduce(float(np.sum(val[cells])), op=MPI.SUM)
            c = comm.allreduce(int(cells.size), op=MPI.SUM)
            out[name] = s / c
        return out

    # k = 1: one element per voxel, each region's mean within 1 % of the known density
    bone1, _ = voxel_mesh(comm, ph.image, ph.segmentation)
    val1, _ = element_values(bone1, ph.image, rho, mask=ph.segmentation.mask, n=2)
    for name, mean in region_means(bone1, val1).items():
        assert mean == pytest.approx(ph.densities[name], rel=0.01), name
    # k = 2: elements mix cortex and core at the endosteum; the mapped field matches the
    # known field integrated the same way within 1 % per region
    bone, _ = voxel_mesh(comm, ph.image, ph.segmentation, coarsen=2, min_fraction=0.5)
    val, frac = element_values(bone, ph.image, rho, mask=ph.segmentation.mask, n=4)
    ref, _ = element_values(bone, ph.image, true_rho, mask=ph.segmentation.mask, n=4)
    got, want = region_means(bone, val), region_means(bone, ref)
    for name in ph.densities:
        assert got[name] == pytest.approx(want[name], rel=0.01), name
    n = bone.num_cells_local
    # partial volume: the outer elements are partly soft tissue, yet keep cortical values
    outer = frac[:n] < 1.0
    assert comm.allreduce(int(outer.sum()), op=MPI.SUM) > 0
    cort = np.isin(np.arange(n), bone.region_cells("cortical")) & outer
    low = comm.allreduce(float(val[:n][cort].min()) if cort.any() else 9.0, op=MPI.MIN)
    assert low > 0.9  # not diluted towards 0 g/cm³ by the soft tissue


def _rod(ph, c):
    from bonefem.imaging.density import cylinder_mask

    return cylinder_mask(ph.image, c, ph.rod_radius - 1.0)


def block_mesh(comm):
    m = np.ones((6, 5, 4), bool)  # 4 x 5 x 6 voxels of 1 mm
    img = Image(np.zeros(m.shape), spacing=(1.0, 1.0, 1.0), origin=(0.5, 0.5, 0.5))
    return voxel_mesh(comm, img, m)[0]  # box [0, 4] x [0, 5] x [0, 6] mm


def test_selectors_areas(comm) -> None:
    bone = block_mesh(comm)
    area = lambda f: selectors.selection_area(bone, f)  # noqa: E731
    assert area(selectors.plane(bone, [0, 0, 1], 6.0, 1e-6)) == pytest.approx(20.0)
    assert area(selectors.plane(bone, [0, 0, -2], 0.0, 1e-6)) == pytest.approx(20.0)
    assert area(selectors.extreme(bone, [1, 0, 0], 1e-6)) == pytest.approx(30.0)
    # extreme with a band of 1 mm along z: the top (20) + 1 mm strip of the 4 sides (18)
    assert area(selectors.extreme(bone, [0, 0, 1], 1.0)) == pytest.approx(20.0 + 18.0)
    assert area(selectors.box(bone, [-1, -1, -1], [5, 2, 0.1])) == pytest.approx(8.0)
    # sphere of radius 1.2 about (2, 2.5, 0): the bottom facets (1 mm²) whose midpoints
    # lie within 1.2 mm (counted on the 4 x 5 grid of midpoints)
    f = selectors.sphere(bone, [2.0, 2.5, 0.0], 1.2)
    assert area(f) == pytest.approx(_count_bottom_within(2.0, 2.5, 1.2))
    # patch: nearest boundary point to a point below the bottom, radius 1.2
    f = selectors.patch(bone, [2.0, 2.5, -10.0], 1.2)
    # the nearest bottom-facet midpoint is (1.5, 2.5, 0) (ties resolved to one of
    # (1.5|2.5, 2.5)); by symmetry both give the same count
    assert area(f) == pytest.approx(_count_bottom_within(1.5, 2.5, 1.2))
    tag = selectors.add_surface(bone, "top", selectors.plane(bone, [0, 0, 1], 6.0, 1e-6))
    assert bone.surfaces["top"] == tag and bone.area("top") == pytest.approx(20.0)
    assert bone.area("zmax") == pytest.approx(0.0)  # the facets moved to 'top'
    assert bone.area("zmin") == pytest.approx(20.0)


def _count_bottom_within(x: float, y: float, r: float) -> float:
    cx, cy = np.meshgrid(np.arange(4) + 0.5, np.arange(5) + 0.5, indexing="ij")
    return float(np.count_nonzero((cx - x) ** 2 + (cy - y) ** 2 <= r * r))


@pytest.mark.parametrize(
    ("name", "call"),
    [
        ("plane", lambda b: selectors.plane(b, [0, 0, 1], 100.0, 0.5)),
        ("box", lambda b: selectors.box(b, [10, 10, 10], [11, 11, 11])),
        ("sphere", lambda b: selectors.sphere(b, [2, 2.5, 3], 0.4)),
        ("patch", lambda b: selectors.patch(b, [2, 2.5, -1], 1e-9)),
    ],
)
def test_selector_selecting_nothing_is_an_input_error(comm, name, call) -> None:
    bone = block_mesh(comm)
    if name == "patch":
        # the nearest midpoint is (1.5|2.5, 2.5, 0): radius 1e-9 still holds it -> select 1
        assert comm.allreduce(call(bone).size, op=MPI.SUM) == 1
        return
    with pytest.raises(InputError, match="selects no boundary facet") as err:
        call(bone)
    assert err.value.field == name and "0, 0, 0" in str(err.value)


def test_map_density_chain_on_voxel_mesh(comm) -> None:
    from bonefem.imaging.density import SCHILEO_2008, map_density

    ph = qct_phantom(noise_hu=0.0)
    with pytest.raises(InputError, match="no calibration"):
        map_density(None, ph.image)  # checked before the mesh is used
    bone, _ = voxel_mesh(comm, ph.image, ph.segmentation)
    out = map_density(bone, ph.image, calibration=ph.calibration, mask=ph.segmentation.mask)
    n = bone.num_cells_local
    cort = bone.region_cells("cortical")
    cort = cort[cort < n]
    # noise-free: HU are rounded to integers (±0.5 HU = ±0.0004 g/cm³)
    assert np.allclose(out["rho_qct"][cort], 1.0, atol=5e-4)
    assert np.allclose(out["rho_app"][cort], (0.877 * out["rho_qct"][cort] + 0.079) / 0.6)
    assert np.allclose(out["bvtv"][cort], SCHILEO_2008.bvtv(out["rho_qct"][cort]))
    assert np.all(out["bone_fraction"][:n] == 1.0)


def test_apply_selections_from_tables(comm) -> None:
    from bonefem.imaging.selector_schema import apply_selections

    bone = block_mesh(comm)
    tags = apply_selections(
        bone,
        [
            {"name": "top", "type": "extreme", "direction": [0, 0, 1], "band": 0.01},
            {"name": "plate", "type": "plane", "normal": [1, 0, 0], "offset": 0.0, "band": 0.01},
        ],
    )
    assert set(tags) == {"top", "plate"}
    assert bone.area("top") == pytest.approx(20.0) and bone.area("plate") == pytest.approx(30.0)
    with pytest.raises(InputError, match="selections"):
        apply_selections(bone, [{"name": "x", "type": "cone", "radius": 1.0}])
    with pytest.raises(InputError, match="selects no boundary facet"):
        apply_selections(bone, [{"name": "y", "type": "sphere", "center": [9, 9, 9],
                                 "radius": 1.0}])  # fmt: skip


@pytest.mark.parametrize("coarsen", [1, 2])
def test_elements_hanging_on_an_edge_are_left_out(coarsen: int) -> None:
    """An element touching the bone by an edge only (a hinge: singular stiffness) is
    dropped with connectivity 'face' and kept with 'none', at the voxel and block level."""
    k = coarsen
    mask = np.zeros((4 * k, 4 * k, 4 * k), dtype=bool)
    mask[: 2 * k, : 2 * k, : 2 * k] = True  # a 2 x 2 x 2 cube of elements
    mask[2 * k : 3 * k, 2 * k : 3 * k, :k] = True  # one element on the cube's z-edge
    image = Image(np.zeros(mask.shape), (0.5, 0.5, 0.5))
    face = voxel_mesh_arrays(image, mask, coarsen=k, min_fraction=0.5, connectivity="face")
    every = voxel_mesh_arrays(image, mask, coarsen=k, min_fraction=0.5, connectivity="none")
    assert every.cells.shape[0] == 9 and face.cells.shape[0] == 8
    assert face.removed_elements == 1 and every.removed_elements == 0
    assert face.volume == pytest.approx(8 * (0.5 * k) ** 3)
