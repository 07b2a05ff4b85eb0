"""Voxel hexahedral meshes from a segmentation (micro-FE and fast QCT models).

Every element is a block of ``k x k x k`` voxels (``coarsen = k``; ``k = 1``: one element
per bone voxel, the usual micro-FE model). A block becomes an element when its bone
fraction (bone voxels / k³) is at least ``min_fraction`` (default 0.5; at ``k = 1`` every
bone voxel). The arrays are padded with background to a multiple of ``k``, so the element
grid is ``⌈n/k⌉`` blocks along each axis.

* **Nodes** are the corners of the element grid, shared by neighbouring elements (each
  node once); the node of grid corner (a, b, c) (z, y, x) is at the physical point of the
  continuous image index ``(c k − ½, b k − ½, a k − ½)`` (i, j, k): element faces lie on
  voxel faces, and the element of a voxel covers that voxel exactly. Coordinates in mm.
* **Regions** (cell tags) are the segmentation's labels (majority label of a block's bone
  voxels, lowest label on ties), names from the :class:`~bonefem.imaging.segment.
  Segmentation`.
* **Surfaces** (facet tags): every exterior element face is tagged. Faces on the six faces
  of the element-grid box are ``xmin``, ``xmax``, ``ymin``, ``ymax``, ``zmin``, ``zmax``
  (tags 1-6; x, y, z are the image axes i, j, k, which are physical x, y, z for an
  identity direction matrix); all other exterior faces -- the bone surface inside the
  image -- are ``surface`` (tag 7). A facet has one tag, so the whole boundary is the
  union of the seven.
* **Distribution**: the arrays are built on rank 0 and handed to
  :func:`bonefem.mesh.io.mesh_from_arrays` (VTK hexahedron order, permuted to DOLFINx's
  tensor-product order with ``dolfinx.cpp.io.perm_vtk``), which creates the distributed
  DOLFINx mesh; the ``original_cell_index`` of a cell is its row in
  :attr:`VoxelMeshArrays.cells` (elements in C order of the block grid, z slowest).

The mesh volume equals the number of voxels it covers times the voxel volume exactly
(k = 1: the mask volume).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from bonefem.errors import InputError
from bonefem.imaging.image import Image
from bonefem.imaging.segment import Segmentation, face_connected

logger = logging.getLogger(__name__)

__all__ = [
    "BOX_FACES",
    "SURFACE",
    "VoxelMeshArrays",
    "cell_values",
    "voxel_mesh",
    "voxel_mesh_arrays",
]

#: Surface names of the six faces of the image (element-grid) box, tags 1-6.
BOX_FACES = ("xmin", "xmax", "ymin", "ymax", "zmin", "zmax")
#: Name of the other exterior faces (the bone surface inside the image), tag 7.
SURFACE = "surface"

IntArray = npt.NDArray[np.int64]

# Corner offsets (dz, dy, dx) of a hexahedron in VTK order.
_VTK = np.array(
    [[0, 0, 0], [0, 0, 1], [0, 1, 1], [0, 1, 0], [1, 0, 0], [1, 0, 1], [1, 1, 1], [1, 1, 0]]
)
# Faces: (axis in (z, y, x) array order, side, surface tag, 4 corner offsets (dz, dy, dx)).
_FACES = [
    (2, 0, 1, [[0, 0, 0], [0, 1, 0], [1, 1, 0], [1, 0, 0]]),  # xmin
    (2, 1, 2, [[0, 0, 1], [0, 1, 1], [1, 1, 1], [1, 0, 1]]),  # xmax
    (1, 0, 3, [[0, 0, 0], [0, 0, 1], [1, 0, 1], [1, 0, 0]]),  # ymin
    (1, 1, 4, [[0, 1, 0], [0, 1, 1], [1, 1, 1], [1, 1, 0]]),  # ymax
    (0, 0, 5, [[0, 0, 0], [0, 0, 1], [0, 1, 1], [0, 1, 0]]),  # zmin
    (0, 1, 6, [[1, 0, 0], [1, 0, 1], [1, 1, 1], [1, 1, 0]]),  # zmax
]


@dataclass
class VoxelMeshArrays:
    """The arrays of a voxel mesh (rank-0 data).

    Attributes:
        points: node coordinates (mm), shape (N, 3).
        cells: hexahedra, shape (C, 8), VTK node order.
        cell_values: region tag per cell.
        facets: exterior quadrilaterals, shape (F, 4).
        facet_values: surface tag per facet (1-6 box faces, 7 ``surface``).
        blocks: block index (a, b, c) = (z, y, x) of each cell, shape (C, 3).
        regions: region name -> tag.
        surfaces: surface name -> tag.
        coarsen: voxels per element edge k.
        voxels_covered: bone voxels inside the kept elements.
        element_volume: mm³ per element.
        removed_elements: elements dropped by the face-connectivity filter (not in the
            largest face-connected set).
    """

    points: npt.NDArray[np.float64]
    cells: npt.NDArray[np.int64]
    cell_values: npt.NDArray[np.int32]
    facets: npt.NDArray[np.int64]
    facet_values: npt.NDArray[np.int32]
    blocks: npt.NDArray[np.int64]
    regions: dict[str, int]
    surfaces: dict[str, int]
    coarsen: int
    voxels_covered: int
    element_volume: float
    removed_elements: int = 0

    @property
    def volume(self) -> float:
        """Total mesh volume (mm³)."""
        return float(self.cells.shape[0] * self.element_volume)


def _labels_of(seg: Segmentation | npt.ArrayLike) -> tuple[npt.NDArray[np.int32], dict[str, int]]:
    if isinstance(seg, Segmentation):
        return seg.labels, dict(seg.regions)
    lab = np.asarray(seg)
    if lab.dtype == np.bool_:
        lab = lab.astype(np.int32)
    s = Segmentation(np.asarray(lab, dtype=np.int32), {"bone": 1}, source="mask")
    present = sorted(int(v) for v in np.unique(s.labels) if v)
    regions = {"bone": 1} if present == [1] else {f"region_{v}": v for v in present}
    return s.labels, regions


def _check_grid(
    image: Image, labels: npt.NDArray[np.int32], coarsen: int, min_fraction: float
) -> int:
    """Check the segmentation's grid and the coarsening; returns k = int(coarsen)."""
    if labels.shape != image.shape:
        raise InputError(
            f"the segmentation has shape {labels.shape}, the image {image.shape}",
            file=image.source,
            field="segmentation",
        )
    k = int(coarsen)
    if k < 1:
        raise InputError(
            "the coarsening factor must be an integer ≥ 1", field="coarsen", value=coarsen
        )
    if not 0.0 < min_fraction <= 1.0:
        raise InputError(
            "the minimum bone fraction of an element must be in (0, 1]",
            field="min_fraction",
            value=min_fraction,
        )
    return k


def _block_sums(voxels: npt.NDArray[np.bool_], gshape: tuple[int, ...], k: int) -> IntArray:
    """Number of True voxels in each k x k x k block of a padded array (block grid shape)."""
    blocks6 = (gshape[0], k, gshape[1], k, gshape[2], k)
    return np.asarray(voxels.reshape(blocks6).sum(axis=(1, 3, 5)))


def _block_labels(
    lab: npt.NDArray[np.int32], gshape: tuple[int, ...], k: int, tags: list[int]
) -> npt.NDArray[np.int32]:
    """Majority label of each block's bone voxels (lowest label on ties), block grid shape."""
    if len(tags) == 1:
        return np.full(gshape, tags[0], dtype=np.int32)
    counts = np.stack([_block_sums(lab == t, gshape, k) for t in tags])
    return np.asarray(tags, dtype=np.int32)[np.argmax(counts, axis=0)]


def _node_id(corner: IntArray, nn: IntArray) -> IntArray:
    """Flat index of grid corners (a, b, c) (z, y, x) in a node grid of shape ``nn``."""
    return (corner[..., 0] * nn[1] + corner[..., 1]) * nn[2] + corner[..., 2]


def _exterior_faces(
    blocks: IntArray, keep: npt.NDArray[np.bool_], gshape: tuple[int, ...], nn: IntArray
) -> tuple[IntArray, npt.NDArray[np.int32]]:
    """Element faces with no kept neighbour: (node-grid corners (F, 4), surface tags).

    A face on the element-grid box takes its box-face tag (1-6), every other one 7.
    """
    kp = np.pad(keep, 1)
    facet_list, value_list = [], []
    for axis, side, tag, corners in _FACES:
        step = np.zeros(3, np.int64)
        step[axis] = 1 if side else -1
        nb = blocks + 1 + step
        exterior = ~kp[nb[:, 0], nb[:, 1], nb[:, 2]]
        b = blocks[exterior]
        on_box = b[:, axis] == (gshape[axis] - 1 if side else 0)
        facet_list.append(_node_id(b[:, None, :] + np.asarray(corners)[None, :, :], nn))
        value_list.append(np.where(on_box, tag, 7).astype(np.int32))
    return np.concatenate(facet_list), np.concatenate(value_list)


def _compact_nodes(
    image: Image, k: int, nn: IntArray, cells_grid: IntArray, facets_grid: IntArray
) -> tuple[npt.NDArray[np.float64], IntArray, IntArray]:
    """Number the used grid corners 0..N-1 and place them (see the module docstring).

    Returns:
        (node coordinates (mm) (N, 3), cells (C, 8), facets (F, 4)) in the new numbering;
        in a mirrored frame the cells are reordered to keep them positive.
    """
    used, inverse = np.unique(np.concatenate([cells_grid.ravel(), facets_grid.ravel()]),
                              return_inverse=True)  # fmt: skip
    cells = inverse[: cells_grid.size].reshape(cells_grid.shape)
    facets = inverse[cells_grid.size :].reshape(facets_grid.shape)
    a, rem = np.divmod(used, nn[1] * nn[2])
    b_, c_ = np.divmod(rem, nn[2])
    ijk = np.column_stack([c_ * k - 0.5, b_ * k - 0.5, a * k - 0.5])
    points = image.index_to_physical(ijk)
    if np.linalg.det(image.direction) < 0:  # a mirrored frame: keep the cells positive
        cells = cells[:, [0, 3, 2, 1, 4, 7, 6, 5]]
    return points, cells.astype(np.int64), facets.astype(np.int64)


def voxel_mesh_arrays(
    image: Image,
    segmentation: Segmentation | npt.ArrayLike,
    *,
    coarsen: int = 1,
    min_fraction: float = 0.5,
    connectivity: str = "none",
) -> VoxelMeshArrays:
    """Build the voxel-mesh arrays (vectorised; no loop over cells).

    Args:
        image: the image grid (spacing mm, origin, direction).
        segmentation: a :class:`Segmentation` or a mask / label array (z, y, x).
        coarsen: voxels per element edge k (≥ 1).
        min_fraction: keep a block when its bone fraction ≥ this (0 < f ≤ 1); ignored at
            k = 1 (every bone voxel is an element).
        connectivity: ``"face"`` keeps the largest face-connected set of elements
            (:func:`~bonefem.imaging.segment.face_connected`: elements hanging on an edge
            or a corner make the stiffness matrix singular); ``"none"`` keeps every one
            (the default here; ``[mesh.image]`` defaults to ``"face"``).

    Returns:
        The :class:`VoxelMeshArrays`.

    Raises:
        InputError: empty segmentation, no block kept, bad k, grid mismatch.
    """
    labels, regions = _labels_of(segmentation)
    k = _check_grid(image, labels, coarsen, min_fraction)
    lab = np.pad(labels, [(0, (-s) % k) for s in labels.shape])
    gshape = tuple(s // k for s in lab.shape)
    bone = _block_sums(lab != 0, gshape, k)
    keep = bone > 0 if k == 1 else bone >= min_fraction * k**3 - 1e-9
    if not np.any(keep):
        raise InputError(
            f"no element has a bone fraction ≥ {min_fraction} at coarsening {k}; lower "
            "'min_fraction' or 'coarsen'",
            file=image.source,
            field="min_fraction",
            value=min_fraction,
        )
    removed = 0
    if connectivity == "face":
        connected, removed = face_connected(keep)
        keep = connected != 0
    cv_grid = _block_labels(lab, gshape, k, sorted(regions.values()))
    blocks = np.argwhere(keep).astype(np.int64)  # (C, 3), C order
    cell_values = cv_grid[keep].astype(np.int32)
    present = set(np.unique(cell_values).tolist())
    regions = {n: t for n, t in regions.items() if t in present}
    nn = np.array(gshape) + 1  # node grid (z, y, x)
    cells_grid = _node_id(blocks[:, None, :] + _VTK[None, :, :], nn)  # (C, 8)
    facets_grid, facet_values = _exterior_faces(blocks, keep, gshape, nn)
    points, cells, facets = _compact_nodes(image, k, nn, cells_grid, facets_grid)
    surfaces = {n: i + 1 for i, n in enumerate(BOX_FACES)} | {SURFACE: 7}
    present_f = set(np.unique(facet_values).tolist())
    surfaces = {n: t for n, t in surfaces.items() if t in present_f}
    return VoxelMeshArrays(
        points=points,
        cells=cells,
        cell_values=cell_values,
        facets=facets,
        facet_values=facet_values,
        blocks=blocks,
        regions=regions,
        surfaces=surfaces,
        coarsen=k,
        voxels_covered=int(bone[keep].sum()),
        element_volume=image.voxel_volume * k**3,
        removed_elements=removed,
    )


def voxel_mesh(
    comm: Any,
    image: Image,
    segmentation: Segmentation | npt.ArrayLike | None,
    *,
    coarsen: int = 1,
    min_fraction: float = 0.5,
    check: bool = False,
    connectivity: str = "none",
) -> tuple[Any, VoxelMeshArrays | None]:
    """A distributed voxel hexahedral :class:`~bonefem.mesh.BoneMesh`.

    The arrays are built on rank 0 only (other ranks may pass ``segmentation=None``, and
    ``image`` with any array: only rank 0 reads the grid) and distributed by DOLFINx.

    Args:
        comm: MPI communicator.
        image: the image grid.
        segmentation: :class:`Segmentation` or mask / label array (rank 0).
        coarsen: voxels per element edge k.
        min_fraction: minimum bone fraction of a kept element (k > 1).
        connectivity: ``"face"`` (largest face-connected set of elements) or ``"none"``
            (every element, the default here; see :func:`voxel_mesh_arrays`).
        check: run bonefem's inverted/degenerate cell check (voxels are valid by
            construction; it costs a pass over the cells).

    Returns:
        (the BoneMesh, the arrays on rank 0 / None elsewhere). ``original_cell_index`` of a
        cell is its row in the arrays.
    """
    from bonefem.mesh._util import _on_root
    from bonefem.mesh.io import mesh_from_arrays

    source = f"voxel mesh of {image.source} (k={coarsen})"

    def build() -> VoxelMeshArrays:
        assert segmentation is not None
        arrays = voxel_mesh_arrays(
            image, segmentation, coarsen=coarsen, min_fraction=min_fraction,
            connectivity=connectivity,
        )  # fmt: skip
        if arrays.removed_elements:
            logger.warning(
                "%s: %d element(s) touching the rest of the bone by an edge or a corner only "
                "were left out (largest face-connected part kept; connectivity = 'none' keeps "
                "them, with a singular stiffness matrix)",
                source,
                arrays.removed_elements,
            )
        return arrays

    arrays = _on_root(comm, build, source=image.source)
    head = comm.bcast(None if arrays is None else (arrays.regions, arrays.surfaces), root=0)
    regions, surfaces = head
    if comm.rank == 0:
        assert arrays is not None
        bone = mesh_from_arrays(
            comm, arrays.points, arrays.cells, arrays.cell_values, arrays.facets,
            arrays.facet_values, cell_type="hexahedron", regions=regions, surfaces=surfaces,
            source=source, check=check,
        )  # fmt: skip
    else:
        bone = mesh_from_arrays(
            comm, None, None, cell_type="hexahedron", regions=regions, surfaces=surfaces,
            source=source, check=check,
        )  # fmt: skip
    return bone, arrays


def cell_values(
    bone: Any, per_element: npt.ArrayLike | Mapping[int, float]
) -> npt.NDArray[np.float64]:
    """Per local cell (owned then ghost) values of a voxel mesh from per-element values.

    Args:
        bone: the :class:`~bonefem.mesh.BoneMesh` returned by :func:`voxel_mesh`.
        per_element: one value per row of the voxel-mesh arrays (e.g.
            ``block_mean[arrays.blocks.T]`` from :func:`bonefem.imaging.density.block_average`),
            the same on every rank.

    Returns:
        The values of the local cells, through ``original_cell_index``.
    """
    vals = np.asarray(per_element, dtype=np.float64)
    m = bone.mesh
    imap = m.topology.index_map(m.topology.dim)
    n = imap.size_local + imap.num_ghosts
    orig = np.asarray(m.topology.original_cell_index, dtype=np.int64)[:n]
    return np.asarray(vals[orig])
