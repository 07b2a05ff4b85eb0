"""Smooth tetrahedral meshes from a mask (marching cubes + gmsh); serial and 2 ranks."""

from __future__ import annotations

import numpy as np
import pytest

from bonefem.errors import InputError
from bonefem.imaging.image import Image
from bonefem.imaging.phantoms import qct_phantom
from bonefem.imaging.tetmesh import tet_mesh, tet_mesh_arrays

pytestmark = pytest.mark.mpi


def test_phantom_tet_mesh_volume_within_1_percent(comm) -> None:
    ph = qct_phantom()
    bone, arrays = tet_mesh(comm, ph.image, ph.segmentation, max_size=2.0)
    v = 0.75**3
    assert bone.volume() == pytest.approx(ph.segmentation.count() * v, rel=0.01)
    for name in ("cortical", "trabecular"):
        assert bone.volume(name) == pytest.approx(ph.segmentation.count(name) * v, rel=0.02)
    # the shaft is cut by the image at z = -0.375 and 17.625 mm: flat end faces, their area
    # the 12 mm disc less the corners the contour cuts (πr² = 452.4 mm²)
    lo, hi = bone.bounding_box()
    assert lo[2] == pytest.approx(-0.375) and hi[2] == pytest.approx(17.625)
    for face in ("zmin", "zmax"):
        assert bone.area(face) == pytest.approx(np.pi * 12.0**2, rel=0.08)
    volume = bone.volume()  # collective: outside the rank-0 block
    if comm.rank == 0:
        assert arrays is not None
        assert arrays.volume == pytest.approx(volume, rel=1e-12)
        assert arrays.surface_volume == pytest.approx(arrays.volume, rel=1e-9)


def test_sphere_volume_and_sizes(comm) -> None:
    n, h, r = 32, 0.5, 6.0
    img = Image(np.zeros((n, n, n)), spacing=(h, h, h))
    x = img.voxel_centers() - (n - 1) * h / 2
    mask = np.sum(x**2, axis=-1) <= r * r
    bone, _ = tet_mesh(comm, img, mask, max_size=1.0)
    assert bone.volume() == pytest.approx(mask.sum() * h**3, rel=0.01)
    # and close to the ball itself (voxelisation error ~ h / r)
    assert bone.volume() == pytest.approx(4 / 3 * np.pi * r**3, rel=0.02)
    assert set(bone.surfaces) == {"surface"}


def test_bad_input() -> None:
    img = Image(np.zeros((4, 4, 4)), spacing=(1.0, 1.0, 1.0), source="scan.mha")
    with pytest.raises(InputError, match="empty"):
        tet_mesh_arrays(img, np.zeros((4, 4, 4), bool))
    m = np.zeros((4, 4, 4), bool)
    m[1:3, 1:3, 1:3] = True
    with pytest.raises(InputError, match="max_size"):
        tet_mesh_arrays(img, m, max_size=0.0)
