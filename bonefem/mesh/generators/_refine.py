"""Uniform refinement of a distributed generated mesh, with projection onto the exact geometry.

gmsh meshes on rank 0 alone (one thread, deterministic), which takes minutes to half an
hour for millions of cells. This module takes the coarse mesh a generator built that way,
after its distribution, and refines it *in parallel* with DOLFINx (Plaza algorithm,
:func:`dolfinx.mesh.refine`; every level splits each tetrahedron into 8), keeping

* the **regions**: every child cell gets its parent's cell tag
  (:func:`dolfinx.mesh.transfer_meshtag`);
* the **surfaces**: child facets inside a parent facet get its facet tag; a generator may
  instead re-apply its own patch rule to the refined boundary (the femur does, so that a
  patch edge follows the fine triangles exactly as in a directly generated fine mesh);
* the **geometry**: the new nodes of every level lie on edge midpoints, i.e. on the chords
  of the coarse, faceted surface. The generator describes its solids as implicit
  primitives (planes, spheres, cylinders, ellipsoids; :mod:`._shapes`), and every node of
  the outer boundary and of the internal cortical/trabecular interface is moved onto the
  exact primitive its facets lie on, or onto the intersection curve of two primitives
  where its facets lie on two (e.g. the circle where the distal cut meets the shaft), by
  vectorised Newton steps on every rank. Curved surfaces therefore converge with
  refinement instead of staying faceted at the coarse size.

Each boundary and interface facet of the coarse mesh is first assigned to its primitive
(the one on which its three nodes lie, and nearest its centroid); that assignment is a facet
tag carried to the children like the named surfaces. Which primitives a node lies on is
gathered over ranks (a vector on the geometry index map), and the owner's coordinates are
sent to the other ranks, so shared nodes get the same coordinates everywhere.

Inverted cells and slivers are guarded against: after each projection, cells whose signed
volume changed sign or fell below :data:`MIN_VOLUME_RATIO` of their volume before the
projection, or whose radius ratio fell below :data:`QUALITY_FLOOR` and below half its value
before, get the displacement of their nodes halved (up to :data:`MAX_BACKTRACK` times; what
is left is reverted). The counts are logged and returned in :class:`RefineReport`.

The refined mesh keeps its cells on the rank of their parent (no repartitioning, no ghost
cells) and is finally rebuilt once with every tetrahedron positively oriented (Plaza
refinement leaves about half of the children negatively oriented). Its original cell index
is the order of the cells over the ranks. A refined mesh generated on another number of
ranks has the same nodes, volumes and areas, but Plaza breaks ties between equally long
octahedron diagonals by global vertex numbers (about 0.6 % of the children differ) and
the cell order follows the ranks; the mesh cache key therefore holds the number of ranks,
and runs read their mesh back from their own mesh file, so checkpoints are unaffected.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from bonefem._dolfinx import MPI, dolfinx
from bonefem.mesh.bonemesh import BoneMesh
from bonefem.mesh.generators._shapes import Primitive, onto_curve, onto_surface
from bonefem.mesh.quality import tetrahedron_quality

logger = logging.getLogger(__name__)

#: A projected cell must keep at least this fraction of its signed volume before projection.
MIN_VOLUME_RATIO = 0.05
#: A projected cell whose radius ratio falls below this and below half its value before
#: the projection is a sliver: the moves of its nodes are cut.
QUALITY_FLOOR = 0.02
#: How often the displacement of the nodes of a bad cell is halved before it is reverted.
MAX_BACKTRACK = 6
#: A coarse facet whose nodes are further than this from every primitive (relative to the
#: size of the mesh) is not projected (it is not on the geometry).
CLASSIFY_TOLERANCE = 1e-5


@dataclass(frozen=True)
class Geometry:
    """The exact surfaces a generator's mesh is projected onto.

    Attributes:
        outer: primitives of the outer boundary.
        interface: primitives of the internal boundary between regions.
    """

    outer: tuple[Primitive, ...]
    interface: tuple[Primitive, ...] = ()

    @property
    def primitives(self) -> tuple[Primitive, ...]:
        """All primitives; the facet tag of primitive ``k`` is ``k + 1``."""
        return self.outer + self.interface


#: Re-labels the boundary facets of the refined mesh: (primitive index per facet, centroid
#: per facet, mm) -> surface tag value per facet (0: untagged).
Relabel = Callable[[npt.NDArray[np.int32], npt.NDArray[np.float64]], npt.NDArray[np.int32]]


@dataclass
class RefineReport:
    """What a refinement did (global counts)."""

    levels: int
    cells: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    projected_nodes: list[int] = field(default_factory=list)
    max_displacement: list[float] = field(default_factory=list)
    backtracked_nodes: list[int] = field(default_factory=list)
    unclassified_facets: int = 0
    rebuild_seconds: float = 0.0


def _region_facets(
    mesh: dolfinx.mesh.Mesh, cell_tags: dolfinx.mesh.MeshTags
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32]]:
    """Local (exterior facets, interface facets between two cell tag values)."""
    tdim = mesh.topology.dim
    mesh.topology.create_connectivity(tdim - 1, tdim)
    exterior = dolfinx.mesh.exterior_facet_indices(mesh.topology)
    fmap = mesh.topology.index_map(tdim - 1)
    ncells = mesh.topology.index_map(tdim).size_local + mesh.topology.index_map(tdim).num_ghosts
    tag = np.zeros(ncells, dtype=np.int64)
    tag[cell_tags.indices] = cell_tags.values
    values = np.unique(cell_tags.values)
    c2f = mesh.topology.connectivity(tdim, tdim - 1)
    cf = c2f.array.reshape(ncells, -1)
    vec = dolfinx.la.vector(fmap, bs=len(values), dtype=np.float64)
    arr = vec.array.reshape(-1, len(values))
    arr[:] = 0.0
    for k, v in enumerate(values):
        np.add.at(arr[:, k], cf[tag == v].ravel(), 1.0)
    vec.scatter_reverse(dolfinx.la.InsertMode.add)
    vec.scatter_forward()
    interface = np.flatnonzero((arr > 0).sum(axis=1) >= 2).astype(np.int32)
    return exterior.astype(np.int32), interface


def _facet_meshtags(
    mesh: dolfinx.mesh.Mesh, facets: npt.NDArray[np.int32], values: npt.NDArray[np.int32]
) -> dolfinx.mesh.MeshTags:
    keep = values > 0
    f, v = facets[keep], values[keep]
    order = np.argsort(f, kind="stable")
    return dolfinx.mesh.meshtags(
        mesh, mesh.topology.dim - 1, f[order].astype(np.int32), v[order].astype(np.int32)
    )


def _classify(
    mesh: dolfinx.mesh.Mesh, facets: npt.NDArray[np.int32], prims: Sequence[Primitive], first: int
) -> npt.NDArray[np.int32]:
    """Primitive tag (``first`` + index) of each facet; 0 where its nodes are on none."""
    if facets.size == 0 or not prims:
        return np.zeros(facets.size, dtype=np.int32)
    x = mesh.geometry.x[dolfinx.mesh.entities_to_geometry(mesh, mesh.topology.dim - 1, facets)]
    pts = np.concatenate([x, x.mean(axis=1, keepdims=True)], axis=1).reshape(-1, 3)
    score = np.empty((len(prims), facets.size))
    on_nodes = np.empty((len(prims), facets.size))
    for k, prim in enumerate(prims):
        f = np.abs(prim.value_and_gradient(pts)[0]).reshape(-1, 4)
        on_nodes[k] = f[:, :3].max(axis=1)
        score[k] = f.max(axis=1)
    best = np.argmin(score, axis=0)
    tag = (best + first).astype(np.int32)
    scale = float(np.abs(mesh.geometry.x).max(initial=1.0))
    tag[on_nodes[best, np.arange(facets.size)] > CLASSIFY_TOLERANCE * scale] = 0
    return tag


def _node_membership(
    mesh: dolfinx.mesh.Mesh, prim_tags: dolfinx.mesh.MeshTags, n: int
) -> npt.NDArray[np.bool_]:
    """(nodes, n): whether a geometry node lies on a facet of each primitive.

    Gathered over ranks, so every rank holding a node sees the same row.
    """
    gmap = mesh.geometry.index_map()
    vec = dolfinx.la.vector(gmap, bs=n, dtype=np.float64)
    arr = vec.array.reshape(-1, n)
    arr[:] = 0.0
    if prim_tags.indices.size:
        nodes = dolfinx.mesh.entities_to_geometry(mesh, mesh.topology.dim - 1, prim_tags.indices)
        cols = prim_tags.values.astype(np.int64) - 1
        np.add.at(arr, (nodes.ravel(), np.repeat(cols, nodes.shape[1])), 1.0)
    vec.scatter_reverse(dolfinx.la.InsertMode.add)
    vec.scatter_forward()
    return np.asarray(arr > 0.0)


def _projected(
    x: npt.NDArray[np.float64], member: npt.NDArray[np.bool_], prims: Sequence[Primitive]
) -> npt.NDArray[np.float64]:
    """Nodes on one primitive moved onto it, on two onto their intersection curve.

    Nodes on three or more primitives (corners of the CAD model, never new nodes) and
    nodes whose Newton iteration did not converge keep their place.
    """
    out = x.copy()
    on = np.flatnonzero(member.any(axis=1))
    if on.size == 0:
        return out
    signatures, inverse = np.unique(member[on], axis=0, return_inverse=True)
    inverse = np.asarray(inverse).ravel()
    for k, sig in enumerate(signatures):
        idx = on[inverse == k]
        which = np.flatnonzero(sig)
        if which.size == 1:
            p, ok = onto_surface(prims[which[0]], x[idx])
        elif which.size == 2:
            p, ok = onto_curve(prims[which[0]], prims[which[1]], x[idx])
        else:
            continue
        out[idx[ok]] = p[ok]
    return out


def _signed_volumes(
    x: npt.NDArray[np.float64], dofmap: npt.NDArray[np.int32]
) -> npt.NDArray[np.float64]:
    c = x[dofmap]
    d1, d2, d3 = c[:, 1] - c[:, 0], c[:, 2] - c[:, 0], c[:, 3] - c[:, 0]
    return np.asarray(np.einsum("ij,ij->i", d1, np.cross(d2, d3)) / 6.0)


def _sync_nodes(mesh: dolfinx.mesh.Mesh, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Coordinates with the owner's values on every rank's ghost nodes."""
    gmap = mesh.geometry.index_map()
    vec = dolfinx.la.vector(gmap, bs=3, dtype=np.float64)
    arr = vec.array.reshape(-1, 3)
    arr[:] = x[: arr.shape[0]]
    vec.scatter_forward()
    return np.asarray(arr.copy())


def _mark_nodes(mesh: dolfinx.mesh.Mesh, nodes: npt.NDArray[np.int32]) -> npt.NDArray[np.bool_]:
    """Whether each local node is among ``nodes`` on any rank."""
    vec = dolfinx.la.vector(mesh.geometry.index_map(), bs=1, dtype=np.float64)
    vec.array[:] = 0.0
    vec.array[nodes] = 1.0
    vec.scatter_reverse(dolfinx.la.InsertMode.add)
    vec.scatter_forward()
    return np.asarray(vec.array > 0.0)


def _guarded_move(
    mesh: dolfinx.mesh.Mesh, x0: npt.NDArray[np.float64], x1: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.float64], int]:
    """``x1`` with the moves of nodes of spoilt cells halved, and finally undone.

    A cell touching a moved node is spoilt if it inverted or lost most of its volume
    (signed volume below :data:`MIN_VOLUME_RATIO` of the one before the move), or became a
    sliver (radius ratio below :data:`QUALITY_FLOOR` and below half its value before).
    Returns the coordinates and the number of nodes whose move was cut (global).
    """
    comm = mesh.comm
    n = mesh.topology.index_map(mesh.topology.dim).size_local
    dofmap = np.asarray(mesh.geometry.dofmaps[0][:n])
    scale = float(np.abs(x0).max(initial=1.0))
    moved = np.linalg.norm(x1 - x0, axis=1) > 1e-9 * scale  # not the old nodes (round-off)
    cells = dofmap[moved[dofmap].any(axis=1)]
    before = tetrahedron_quality(x0[cells])
    x = x1.copy()
    cut = np.zeros(x.shape[0], dtype=bool)
    for attempt in range(MAX_BACKTRACK + 1):
        after = tetrahedron_quality(x[cells])
        bad = (after["volume"] / before["volume"] < MIN_VOLUME_RATIO) | (
            (after["quality"] < QUALITY_FLOOR) & (after["quality"] < 0.5 * before["quality"])
        )
        if not comm.allreduce(bool(bad.any()), op=MPI.LOR):
            break
        marked = _mark_nodes(mesh, np.unique(cells[bad]).astype(np.int32)) & moved
        cut |= marked
        factor = 0.0 if attempt == MAX_BACKTRACK else 0.5
        x[marked] = x0[marked] + factor * (x[marked] - x0[marked])
    owned = mesh.geometry.index_map().size_local
    return x, int(comm.allreduce(int(cut[:owned].sum()), op=MPI.SUM))


def _one_level(
    mesh: dolfinx.mesh.Mesh, tags: Sequence[dolfinx.mesh.MeshTags], prims: Sequence[Primitive]
) -> tuple[dolfinx.mesh.Mesh, list[dolfinx.mesh.MeshTags], tuple[int, float, int]]:
    """Refine once, carry the tags (cells first, then facet tags), project, guard.

    The last of ``tags`` is the primitive facet tag. Returns the mesh, the tags and
    (nodes on the geometry, largest move in mm, nodes whose move was cut), global.
    """
    comm = mesh.comm
    tdim = mesh.topology.dim
    mesh.topology.create_entities(1)
    fine, parent_cell, parent_facet = dolfinx.mesh.refine(
        mesh, partitioner=None, option=dolfinx.mesh.RefinementOption.parent_cell_and_facet
    )
    fine.topology.create_connectivity(tdim - 1, tdim)
    new_tags = [
        dolfinx.mesh.transfer_meshtag(t, fine, parent_cell, parent_facet if t.dim < tdim else None)
        for t in tags
    ]
    x0 = np.array(fine.geometry.x, dtype=np.float64)
    if not prims:
        return fine, new_tags, (0, 0.0, 0)
    member = _node_membership(fine, new_tags[-1], len(prims))
    x1 = _sync_nodes(fine, _projected(x0, member, prims))
    x, cut = _guarded_move(fine, x0, x1)
    fine.geometry.x[:] = x
    owned = fine.geometry.index_map().size_local
    move = float(np.linalg.norm(x[:owned] - x0[:owned], axis=1).max(initial=0.0))
    stats = (
        int(comm.allreduce(int(np.count_nonzero(member[:owned].any(axis=1))), op=MPI.SUM)),
        float(comm.allreduce(move, op=MPI.MAX)),
        cut,
    )
    return fine, new_tags, stats


def _coarse_primitive_tags(bone: BoneMesh, geometry: Geometry) -> tuple[dolfinx.mesh.MeshTags, int]:
    """The primitive of every boundary and interface facet of the coarse mesh."""
    ext, itf = _region_facets(bone.mesh, bone.cell_tags)
    values = np.concatenate(
        [
            _classify(bone.mesh, ext, geometry.outer, 1),
            _classify(bone.mesh, itf, geometry.interface, 1 + len(geometry.outer)),
        ]
    )
    nf = bone.mesh.topology.index_map(bone.mesh.topology.dim - 1).size_local
    facets = np.concatenate([ext, itf])
    missed = int(bone.comm.allreduce(int(((values == 0) & (facets < nf)).sum()), op=MPI.SUM))
    return _facet_meshtags(bone.mesh, facets, values), missed


def _relabelled(
    mesh: dolfinx.mesh.Mesh, prim_tags: dolfinx.mesh.MeshTags, n_outer: int, relabel: Relabel
) -> dolfinx.mesh.MeshTags:
    """Surface tags from the generator's own patch rule applied to the refined boundary."""
    keep = prim_tags.values <= n_outer
    facets = prim_tags.indices[keep]
    nodes = dolfinx.mesh.entities_to_geometry(mesh, mesh.topology.dim - 1, facets)
    centroid = mesh.geometry.x[nodes].mean(axis=1)
    labels = relabel((prim_tags.values[keep] - 1).astype(np.int32), centroid)
    return _facet_meshtags(mesh, facets, labels.astype(np.int32))


def refine_bone(
    bone: BoneMesh, levels: int, geometry: Geometry, *, relabel: Relabel | None = None
) -> tuple[BoneMesh, RefineReport]:
    """Refine a generated mesh ``levels`` times in parallel, projecting onto its geometry.

    Args:
        bone: the coarse, distributed mesh (as built by the generator with gmsh).
        levels: number of uniform refinements (cells x 8 each).
        geometry: the primitives of the outer boundary and of the region interfaces.
        relabel: optional patch rule for the named surfaces of the refined boundary;
            without it the surface tags are carried from the parent facets.

    Returns:
        The refined mesh (same region and surface names, landmarks and source) and a report.
    """
    comm = bone.comm
    report = RefineReport(levels=levels)
    if levels <= 0:
        return bone, report
    prim_tags, report.unclassified_facets = _coarse_primitive_tags(bone, geometry)
    mesh = bone.mesh
    tags = [bone.cell_tags, bone.facet_tags, prim_tags]
    for _ in range(levels):
        t0 = time.perf_counter()
        mesh, tags, (nproj, move, cut) = _one_level(mesh, tags, geometry.primitives)
        report.cells.append(int(mesh.topology.index_map(mesh.topology.dim).size_global))
        report.seconds.append(float(comm.allreduce(time.perf_counter() - t0, op=MPI.MAX)))
        report.projected_nodes.append(nproj)
        report.max_displacement.append(move)
        report.backtracked_nodes.append(cut)
    facet_tags = tags[1]
    if relabel is not None:
        facet_tags = _relabelled(mesh, tags[2], len(geometry.outer), relabel)
    t0 = time.perf_counter()
    mesh, cell_tags, facet_tags = _rebuilt(mesh, tags[0], facet_tags)
    report.rebuild_seconds = float(comm.allreduce(time.perf_counter() - t0, op=MPI.MAX))
    if report.unclassified_facets and geometry.primitives and comm.rank == 0:
        logger.warning(
            "%d boundary/interface facets of the coarse mesh lie on no primitive and were "
            "not projected",
            report.unclassified_facets,
        )
    return _refined_bone(bone, mesh, cell_tags, facet_tags), report


def _refined_bone(
    bone: BoneMesh,
    mesh: dolfinx.mesh.Mesh,
    cell_tags: dolfinx.mesh.MeshTags,
    facet_tags: dolfinx.mesh.MeshTags,
) -> BoneMesh:
    cell_tags.name = "regions"
    facet_tags.name = "surfaces"
    mesh.topology.create_connectivity(mesh.topology.dim - 1, mesh.topology.dim)
    return BoneMesh(
        mesh=mesh,
        cell_tags=cell_tags,
        facet_tags=facet_tags,
        regions=dict(bone.regions),
        surfaces=dict(bone.surfaces),
        source=bone.source,
        landmarks=dict(bone.landmarks),
    )


def _keep_local(comm: Any, nparts: int, cell_types: Any, cells: Any) -> Any:
    """Cell partitioner for :func:`dolfinx.mesh.create_mesh`: every cell stays on its rank."""
    n = int(np.asarray(cells[0]).size) // 4
    return dolfinx.graph.adjacencylist(np.full(n, comm.rank, dtype=np.int32))._cpp_object


def _rebuilt(
    mesh: dolfinx.mesh.Mesh, cell_tags: dolfinx.mesh.MeshTags, facet_tags: dolfinx.mesh.MeshTags
) -> tuple[dolfinx.mesh.Mesh, dolfinx.mesh.MeshTags, dolfinx.mesh.MeshTags]:
    """The same mesh with every tetrahedron positively oriented, built anew (cells stay put).

    Plaza refinement orders the vertices of the children so that about half of them have a
    negative orientation; DOLFINx integrates correctly either way, but the quality checks
    (and other codes reading the file) count such cells as inverted.
    """
    comm = mesh.comm
    tdim = mesh.topology.dim
    n = mesh.topology.index_map(tdim).size_local
    gmap = mesh.geometry.index_map()
    dofmap = np.asarray(mesh.geometry.dofmaps[0][:n])
    x = np.asarray(mesh.geometry.x)
    glob = gmap.local_to_global(np.arange(gmap.size_local + gmap.num_ghosts, dtype=np.int32))
    cells = glob[dofmap].astype(np.int64)
    neg = _signed_volumes(x, dofmap) < 0
    cells[neg] = cells[neg][:, [0, 1, 3, 2]]
    new = dolfinx.mesh.create_mesh(
        comm, cells, mesh.ufl_domain(), x[: gmap.size_local], partitioner=_keep_local
    )
    offset = comm.exscan(n, op=MPI.SUM) or 0
    old_cell = np.asarray(new.topology.original_cell_index) - offset
    ctag = np.zeros(n, dtype=np.int32)
    own = cell_tags.indices < n
    ctag[cell_tags.indices[own]] = cell_tags.values[own]
    m = new.topology.index_map(tdim).size_local
    cvals = ctag[old_cell[:m]]
    keep = cvals > 0
    new_cells = dolfinx.mesh.meshtags(
        new, tdim, np.flatnonzero(keep).astype(np.int32), cvals[keep].astype(np.int32)
    )
    new.topology.create_connectivity(tdim - 1, tdim)
    owned = facet_tags.indices < mesh.topology.index_map(tdim - 1).size_local
    ents = glob[dolfinx.mesh.entities_to_geometry(mesh, tdim - 1, facet_tags.indices[owned])]
    ents, vals = dolfinx.io.distribute_entity_data(
        new, tdim - 1, ents.astype(np.int64), facet_tags.values[owned].astype(np.int32)
    )
    adj = dolfinx.graph.adjacencylist(np.asarray(ents, dtype=np.int32))
    new_facets = dolfinx.mesh.meshtags_from_entities(new, tdim - 1, adj, np.asarray(vals, np.int32))
    return new, new_cells, new_facets
