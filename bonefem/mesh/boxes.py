"""Structured box meshes with named faces, for verification and virtual tests.

The six faces are the surfaces ``xmin``, ``xmax``, ``ymin``, ``ymax``, ``zmin``, ``zmax``.
Cells are split into named regions by a user function of the cell midpoint, so that
two-material (series / parallel) bars and layered specimens can be built exactly.
All lengths in mm.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from bonefem._dolfinx import MPI, dolfinx
from bonefem.errors import InputError
from bonefem.mesh.bonemesh import BoneMesh

FACES = ("xmin", "xmax", "ymin", "ymax", "zmin", "zmax")

RegionFunction = Callable[[npt.NDArray[np.float64]], npt.NDArray[np.int32]]


_CELL_TYPES = {
    "tetrahedron": dolfinx.mesh.CellType.tetrahedron,
    "hexahedron": dolfinx.mesh.CellType.hexahedron,
}


def _region_tags(
    mesh: dolfinx.mesh.Mesh, regions: dict[str, int], region_of: RegionFunction | None
) -> dolfinx.mesh.MeshTags:
    """Region tag of every local cell: the single region, or ``region_of(midpoints)``."""
    tdim = mesh.topology.dim
    imap = mesh.topology.index_map(tdim)
    cells = np.arange(imap.size_local + imap.num_ghosts, dtype=np.int32)
    if region_of is None:
        if len(regions) != 1:
            raise InputError("several regions need a region_of function", field="regions")
        values = np.full(cells.size, next(iter(regions.values())), dtype=np.int32)
    else:
        mid = dolfinx.mesh.compute_midpoints(mesh, tdim, cells).T
        values = np.asarray(region_of(mid), dtype=np.int32)
    return dolfinx.mesh.meshtags(mesh, tdim, cells, values)


def _face_tags(
    mesh: dolfinx.mesh.Mesh, lo: npt.NDArray[np.float64], hi: npt.NDArray[np.float64]
) -> dolfinx.mesh.MeshTags:
    """Boundary facets tagged 1..6 by the face of :data:`FACES` they lie on."""
    tdim = mesh.topology.dim
    mesh.topology.create_connectivity(tdim - 1, tdim)
    facets, tags = [], []
    tol = 1e-10 * float(np.max(hi - lo))
    for i in range(len(FACES)):
        axis, side = divmod(i, 2)
        coord = hi[axis] if side else lo[axis]
        found = dolfinx.mesh.locate_entities_boundary(
            mesh, tdim - 1, lambda x, a=axis, c=coord: np.abs(x[a] - c) < tol
        )
        facets.append(found)
        tags.append(np.full(found.size, i + 1, dtype=np.int32))
    all_facets = np.concatenate(facets)
    all_tags = np.concatenate(tags)
    # An edge facet cannot lie on two faces of a box, so facets are unique.
    order = np.argsort(all_facets)
    return dolfinx.mesh.meshtags(mesh, tdim - 1, all_facets[order], all_tags[order])


def box(
    comm: MPI.Intracomm,
    lengths: Sequence[float] = (1.0, 1.0, 1.0),
    divisions: Sequence[int] = (4, 4, 4),
    *,
    cell_type: str = "tetrahedron",
    origin: Sequence[float] = (0.0, 0.0, 0.0),
    regions: dict[str, int] | None = None,
    region_of: RegionFunction | None = None,
) -> BoneMesh:
    """Build a box ``[origin, origin + lengths]`` (mm) with named faces and regions.

    Args:
        comm: MPI communicator.
        lengths: edge lengths (mm) along x, y, z.
        divisions: number of cells along x, y, z.
        cell_type: ``"tetrahedron"`` or ``"hexahedron"``.
        origin: lower corner (mm).
        regions: region name -> tag value; default ``{"bone": 1}``.
        region_of: maps cell midpoints (shape (3, n)) to tag values; default: every cell
            gets the single tag of ``regions``.

    Returns:
        The :class:`BoneMesh`.
    """
    if cell_type not in _CELL_TYPES:
        raise InputError(
            f"unsupported cell type; allowed: {', '.join(_CELL_TYPES)}",
            field="cell_type",
            value=cell_type,
        )
    lo = np.asarray(origin, dtype=np.float64)
    hi = lo + np.asarray(lengths, dtype=np.float64)
    mesh = dolfinx.mesh.create_box(
        comm,
        [lo, hi],
        [int(n) for n in divisions],
        _CELL_TYPES[cell_type],
        ghost_mode=dolfinx.mesh.GhostMode.none,
    )
    regions = dict(regions or {"bone": 1})
    cell_tags = _region_tags(mesh, regions, region_of)
    facet_tags = _face_tags(mesh, lo, hi)
    cell_tags.name = "regions"
    facet_tags.name = "surfaces"
    return BoneMesh(
        mesh=mesh,
        cell_tags=cell_tags,
        facet_tags=facet_tags,
        regions=regions,
        surfaces={name: i + 1 for i, name in enumerate(FACES)},
        source=f"box(lengths={tuple(lengths)}, divisions={tuple(divisions)}, {cell_type})",
    )
