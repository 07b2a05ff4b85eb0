"""Deterministic rank-0 gmsh sessions and their distribution with ``model_to_mesh``.

A generator describes its geometry in a ``build`` function that runs on rank 0 only, in a
fresh gmsh model with fixed options (one thread, Delaunay 3-D, fixed random seed), so the
same parameters give the same mesh bit for bit. :func:`build_bone_mesh` meshes the model,
checks it, optionally writes it as ``.msh``, and distributes it over the communicator with
:func:`dolfinx.io.gmsh.model_to_mesh`. Errors on rank 0 are broadcast so every rank raises
the same :class:`~bonefem.errors.InputError` instead of hanging.

Regions are 3-D physical groups (``"cortical"`` = 1, ``"trabecular"`` = 2); surfaces are
2-D physical groups numbered from 1 in the order the generator names them. The original
cell index of the distributed mesh is the order in which ``model_to_mesh`` received the
cells (region by region, in gmsh element order), which is fixed for given parameters.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bonefem._dolfinx import MPI, dolfinx
from bonefem.errors import InputError
from bonefem.mesh.bonemesh import BoneMesh

logger = logging.getLogger(__name__)

#: Region tag values shared by all generators.
REGION_TAGS: dict[str, int] = {"cortical": 1, "trabecular": 2}

#: gmsh options fixed for every generator (determinism and quiet operation).
GMSH_OPTIONS: dict[str, float] = {
    "General.Terminal": 0,
    "General.Verbosity": 1,
    "General.NumThreads": 1,
    "Geometry.OCCParallel": 0,
    "Mesh.MaxNumThreads1D": 1,
    "Mesh.MaxNumThreads2D": 1,
    "Mesh.MaxNumThreads3D": 1,
    "Mesh.RandomSeed": 1,
    "Mesh.Algorithm": 6,  # Frontal-Delaunay (2-D)
    "Mesh.Algorithm3D": 1,  # Delaunay (3-D), sequential and deterministic
    "Mesh.Optimize": 1,
    "Mesh.OptimizeNetgen": 0,
    "Mesh.ElementOrder": 1,
    "Mesh.MeshSizeFromPoints": 0,
    "Mesh.MeshSizeFromCurvature": 0,
    "Mesh.MeshSizeExtendFromBoundary": 0,
    "Mesh.SaveAll": 0,
    "Mesh.MshFileVersion": 4.1,
}


@dataclass
class GmshGroups:
    """What a ``build`` function reports back (rank 0 only).

    Attributes:
        regions: region name -> 3-D physical group tag.
        surfaces: surface name -> 2-D physical group tag.
        after_mesh: optional function run after meshing (e.g. to tag load patches on the
            boundary triangles); it returns further surface name -> tag entries.
    """

    regions: dict[str, int]
    surfaces: dict[str, int]
    after_mesh: Callable[[], dict[str, int]] | None = field(default=None)


def _gmsh() -> Any:
    import gmsh

    return gmsh


def set_volume_sizes(sizes: Sequence[tuple[Sequence[int], float]]) -> None:
    """Set a constant mesh size (mm) in groups of volumes (and on their boundaries).

    Where groups meet (e.g. the cortical/trabecular interface) the smaller size wins.
    """
    gmsh = _gmsh()
    fields = []
    for volumes, h in sizes:
        if not volumes:
            continue
        f = gmsh.model.mesh.field.add("Constant")
        gmsh.model.mesh.field.setNumber(f, "VIn", float(h))
        gmsh.model.mesh.field.setNumbers(f, "VolumesList", [int(v) for v in volumes])
        gmsh.model.mesh.field.setNumber(f, "IncludeBoundary", 1)
        fields.append(f)
    fmin = gmsh.model.mesh.field.add("Min")
    gmsh.model.mesh.field.setNumbers(fmin, "FieldsList", fields)
    gmsh.model.mesh.field.setAsBackgroundMesh(fmin)
    gmsh.option.setNumber("Mesh.MeshSizeMax", max(float(h) for _, h in sizes))


def fragment_shell(
    outer: list[tuple[int, int]], inner: list[tuple[int, int]]
) -> tuple[list[int], list[int]]:
    """Fragment an outer solid with an inner solid inside it: (shell volumes, core volumes).

    The two become conforming volumes sharing their interface, so the shell is meshed on
    its own and has at least one layer of cells everywhere.
    """
    gmsh = _gmsh()
    occ = gmsh.model.occ
    _, children = occ.fragment(outer, inner)
    occ.synchronize()
    core = sorted({t for child in children[len(outer) :] for _, t in child})
    every = sorted({t for child in children for _, t in child})
    shell = [t for t in every if t not in core]
    return shell, core


def boundary_surfaces(volumes: Sequence[int]) -> list[int]:
    """Tags of the surfaces on the outer boundary of a set of volumes."""
    gmsh = _gmsh()
    bnd = gmsh.model.getBoundary([(3, int(v)) for v in volumes], combined=True, oriented=False)
    return sorted({abs(t) for _, t in bnd})


def surface_nodes(surface: int) -> npt.NDArray[np.float64]:
    """Coordinates (mm, shape (n, 3)) of the mesh nodes or sample points of a surface."""
    gmsh = _gmsh()
    _, coords, _ = gmsh.model.mesh.getNodes(2, surface, includeBoundary=True)
    if len(coords) == 0:  # not meshed yet: sample the CAD surface
        lo = gmsh.model.getParametrizationBounds(2, surface)
        u = np.linspace(lo[0][0], lo[1][0], 7)
        v = np.linspace(lo[0][1], lo[1][1], 7)
        uv = np.array([[a, b] for a in u for b in v]).ravel()
        coords = gmsh.model.getValue(2, surface, uv)
    return np.asarray(coords, dtype=np.float64).reshape(-1, 3)


def classify_surfaces(
    surfaces: Sequence[int], rules: Mapping[str, Callable[[npt.NDArray[np.float64]], bool]]
) -> dict[str, list[int]]:
    """Sort CAD surfaces into named groups by predicates on their points (first match wins).

    Surfaces matching no rule are left out. Raises ``RuntimeError`` if a rule matches none.
    """
    out: dict[str, list[int]] = {name: [] for name in rules}
    for s in surfaces:
        pts = surface_nodes(s)
        for name, rule in rules.items():
            if rule(pts):
                out[name].append(int(s))
                break
    empty = [n for n, v in out.items() if not v]
    if empty:
        raise RuntimeError(f"no boundary surface found for {', '.join(empty)}")
    return out


def add_groups(regions: Mapping[str, list[int]], surfaces: Mapping[str, list[int]]) -> GmshGroups:
    """Create named physical groups: regions (3-D) and disjoint surfaces (2-D)."""
    gmsh = _gmsh()
    seen: set[int] = set()
    for name, tags in surfaces.items():
        dup = seen.intersection(tags)
        if dup:
            raise RuntimeError(f"surface group '{name}' overlaps another group")
        seen.update(tags)
    rtags: dict[str, int] = {}
    for name, vols in regions.items():
        tag = REGION_TAGS.get(name, len(REGION_TAGS) + len(rtags) + 1)
        gmsh.model.addPhysicalGroup(3, list(vols), tag, name=name)
        rtags[name] = tag
    stags: dict[str, int] = {}
    for i, (name, surfs) in enumerate(surfaces.items(), start=1):
        gmsh.model.addPhysicalGroup(2, list(surfs), i, name=name)
        stags[name] = i
    return GmshGroups(regions=rtags, surfaces=stags)


def boundary_triangles(
    volumes: Sequence[int],
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.uint64], npt.NDArray[np.float64]]:
    """Triangles on the boundary of ``volumes``: (CAD surface per triangle, nodes, centroids)."""
    gmsh = _gmsh()
    node_tags, coords, _ = gmsh.model.mesh.getNodes()
    order = np.argsort(node_tags)
    sorted_tags = np.asarray(node_tags)[order]
    xyz = np.asarray(coords).reshape(-1, 3)[order]
    surf_ids, nodes = [], []
    for s in boundary_surfaces(volumes):
        _, ntags = gmsh.model.mesh.getElementsByType(2, s)
        tri = np.asarray(ntags, dtype=np.uint64).reshape(-1, 3)
        surf_ids.append(np.full(tri.shape[0], s, dtype=np.int32))
        nodes.append(tri)
    tri_nodes = np.concatenate(nodes)
    centroid = xyz[np.searchsorted(sorted_tags, tri_nodes)].mean(axis=1)
    return np.concatenate(surf_ids), tri_nodes, centroid


def add_triangle_groups(
    tri_nodes: npt.NDArray[np.uint64], labels: npt.NDArray[np.int32], names: Sequence[str]
) -> dict[str, int]:
    """Put labelled boundary triangles into new discrete surfaces with named physical groups.

    ``labels[i]`` is the index into ``names`` of triangle ``i`` (-1: no group). Each group
    becomes one discrete gmsh surface holding copies of its triangles and a 2-D physical
    group ``k + 1`` named ``names[k]``. Raises ``RuntimeError`` if a group gets no triangle.
    """
    gmsh = _gmsh()
    next_tag = int(gmsh.model.mesh.getMaxElementTag()) + 1
    out = {}
    for k, name in enumerate(names):
        sel = tri_nodes[labels == k]
        if sel.shape[0] == 0:
            raise RuntimeError(f"surface '{name}' has no boundary triangle")
        entity = gmsh.model.addDiscreteEntity(2)
        etags = np.arange(next_tag, next_tag + sel.shape[0], dtype=np.uint64)
        next_tag += sel.shape[0]
        gmsh.model.mesh.addElementsByType(entity, 2, etags, sel.ravel())
        gmsh.model.addPhysicalGroup(2, [entity], k + 1, name=name)
        out[name] = k + 1
    return out


#: Radius ratio (gmsh's "gamma", 3 r_in / r_out) below which a tetrahedron counts as a
#: sliver, as in the projection guard of the parallel refinement (docs/meshes.md).
SLIVER_RADIUS_RATIO = 0.02


def remove_slivers() -> tuple[int, int]:
    """Rank 0: Netgen's optimiser on the volumes that hold slivers; (slivers before, after).

    gmsh's 3-D Delaunay with its own optimiser (``Mesh.Optimize``) can leave a few
    near-flat tetrahedra: the femur at ``refine`` 1.5 and 2 had one each, radius ratio
    7e-4 and 1e-3, smallest dihedral angle 1.0 and 1.4 degrees. Netgen's optimiser (edge
    swaps, node moves and collapses inside the volume; the surface meshes, so the named
    surfaces and the region interfaces, stay as they are) removes them. It runs only on the
    volumes that hold a sliver: a mesh without one -- every bundled mesh, radius ratio at
    least 0.11 -- is not touched. Deterministic (one thread, like the meshing).
    """
    gmsh = _gmsh()
    before, volumes = _slivers()
    if volumes:
        gmsh.model.mesh.optimize("Netgen", dimTags=[(3, v) for v in volumes])
        after, _ = _slivers()
        logger.info("Netgen optimiser on volumes %s: slivers %d -> %d", volumes, before, after)
        return before, after
    return 0, 0


def _slivers() -> tuple[int, list[int]]:
    """Rank 0: number of tetrahedra below :data:`SLIVER_RADIUS_RATIO`, volumes holding them."""
    gmsh = _gmsh()
    count, volumes = 0, []
    for _, tag in gmsh.model.getEntities(3):
        _, tags, _ = gmsh.model.mesh.getElements(3, tag)
        n = 0
        for t in tags:
            if len(t):
                q = np.asarray(gmsh.model.mesh.getElementQualities(t, "gamma"))
                n += int(np.count_nonzero(q < SLIVER_RADIUS_RATIO))
        if n:
            count += n
            volumes.append(int(tag))
    return count, volumes


def _count_cells_and_check() -> int:
    gmsh = _gmsh()
    types, tags, _ = gmsh.model.mesh.getElements(3)
    if not types:
        raise RuntimeError("gmsh produced no volume cells")
    if any(int(t) != 4 for t in types):
        raise RuntimeError(f"gmsh produced non-tetrahedral cells (types {list(types)})")
    return int(sum(len(t) for t in tags))


def _open_model(gmsh: Any, name: str) -> bool:
    """Rank 0: initialise gmsh if needed, set :data:`GMSH_OPTIONS`, add a fresh model.

    Returns whether this call initialised gmsh (and so must finalise it).
    """
    owns_gmsh = not gmsh.isInitialized()
    if owns_gmsh:
        gmsh.initialize(readConfigFiles=False, interruptible=False)
    for key, value in GMSH_OPTIONS.items():
        gmsh.option.setNumber(key, value)
    gmsh.model.add(f"bonefem-{name}")
    return owns_gmsh


def _close_model(gmsh: Any, owns_gmsh: bool) -> None:
    """Rank 0: remove the current model; finalise gmsh if :func:`_open_model` started it."""
    if gmsh is not None:
        gmsh.model.remove()
        if owns_gmsh:
            gmsh.finalize()


def _mesh_model(
    gmsh: Any,
    build: Callable[[], GmshGroups],
    name: str,
    msh_file: str | Path | None,
    t0: float,
) -> tuple[tuple[str, str] | None, tuple[dict[str, int], dict[str, int]] | None]:
    """Rank 0: build, mesh in 3-D, check, tag after meshing, write ``msh_file``.

    Returns (error, None) with error = (kind, message) on failure, else (None, groups).
    """
    try:
        g = build()
        gmsh.model.mesh.generate(3)
        remove_slivers()
        ncells = _count_cells_and_check()
        if g.after_mesh is not None:
            g.surfaces.update(g.after_mesh())
        groups = (g.regions, g.surfaces)
        if msh_file is not None:
            Path(msh_file).parent.mkdir(parents=True, exist_ok=True)
            gmsh.write(str(msh_file))
        logger.info("gmsh built '%s': %d cells in %.2f s", name, ncells, time.perf_counter() - t0)
    except InputError as exc:
        return ("input", str(exc)), None
    except Exception as exc:  # gmsh/OpenCASCADE failures on odd parameters
        return ("gmsh", f"gmsh could not build the '{name}' geometry: {exc}"), None
    return None, groups


def _bone_from_model(
    data: Any,
    groups: tuple[dict[str, int], dict[str, int]],
    source: str,
    landmarks: Mapping[str, tuple[float, float, float]] | None,
) -> BoneMesh:
    """The BoneMesh of DOLFINx's ``model_to_mesh`` result with the named groups."""
    mesh = data.mesh
    tdim = mesh.topology.dim
    cell_tags = data.cell_tags
    facet_tags = data.facet_tags
    if facet_tags is None:
        facet_tags = dolfinx.mesh.meshtags(
            mesh, tdim - 1, np.empty(0, np.int32), np.empty(0, np.int32)
        )
    cell_tags.name = "regions"
    facet_tags.name = "surfaces"
    mesh.topology.create_connectivity(tdim - 1, tdim)
    return BoneMesh(
        mesh=mesh,
        cell_tags=cell_tags,
        facet_tags=facet_tags,
        regions=dict(groups[0]),
        surfaces=dict(groups[1]),
        source=source,
        landmarks=dict(landmarks or {}),
    )


def build_bone_mesh(
    comm: MPI.Intracomm,
    build: Callable[[], GmshGroups],
    *,
    name: str,
    source: str,
    landmarks: Mapping[str, tuple[float, float, float]] | None = None,
    msh_file: str | Path | None = None,
) -> BoneMesh:
    """Build a gmsh model on rank 0, mesh it and distribute it as a :class:`BoneMesh`.

    Args:
        comm: communicator of the distributed mesh.
        build: creates the geometry, the named physical groups and the size fields in the
            current gmsh model (called on rank 0 only).
        name: generator name (for messages and the gmsh model name).
        source: description stored in :attr:`BoneMesh.source`.
        landmarks: named points (mm) and unit directions of the geometry.
        msh_file: if given, rank 0 also writes the gmsh mesh with its physical groups there.

    Returns:
        The distributed mesh with region and surface tags by name.
    """
    gmsh = _gmsh() if comm.rank == 0 else None
    owns_gmsh = False
    error: tuple[str, str] | None = None
    groups: tuple[dict[str, int], dict[str, int]] | None = None
    t0 = time.perf_counter()
    if gmsh is not None:
        owns_gmsh = _open_model(gmsh, name)
        error, groups = _mesh_model(gmsh, build, name, msh_file, t0)
    error = comm.bcast(error, root=0)
    if error is not None:
        _close_model(gmsh, owns_gmsh)
        raise InputError(error[1], field="mesh.parameters")
    groups = comm.bcast(groups, root=0)
    assert groups is not None
    try:
        data = dolfinx.io.gmsh.model_to_mesh(
            gmsh.model if gmsh is not None else None, comm, rank=0, gdim=3
        )
    finally:
        _close_model(gmsh, owns_gmsh)
    bone = _bone_from_model(data, groups, source, landmarks)
    logger.info(
        "mesh '%s': %d cells on %d rank(s) in %.2f s",
        name,
        bone.num_cells_global,
        comm.size,
        time.perf_counter() - t0,
    )
    return bone


def unit(v: Sequence[float] | npt.NDArray[np.float64]) -> tuple[float, float, float]:
    """A 3-vector scaled to unit length."""
    a = np.asarray(v, dtype=np.float64)
    a = a / np.linalg.norm(a)
    return (float(a[0]), float(a[1]), float(a[2]))


def point(v: Sequence[float] | npt.NDArray[np.float64]) -> tuple[float, float, float]:
    """A 3-tuple of floats (for landmarks)."""
    return (float(v[0]), float(v[1]), float(v[2]))


def describe(name: str, params: Any) -> str:
    """``name(key=value, ...)`` of a generator call, for :attr:`BoneMesh.source`."""
    items = ", ".join(f"{k}={v!r}" for k, v in params.model_dump().items())
    return f"{name}({items})"
