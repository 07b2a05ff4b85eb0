"""Mesh quality, validity checks and summaries (vectorised numpy, MPI-reduced).

Quality measures, per cell (1 = ideal, 0 = degenerate):

* tetrahedra: the normalised radius ratio ``3 r_in / R_circ`` (Liu & Joe 1994,
  "Relationship between tetrahedron shape measures", BIT 34:268-287), and the dihedral
  angles (a regular tetrahedron has 70.5 deg; slivers approach 0 and 180 deg);
* hexahedra: the scaled Jacobian, the minimum over the eight corners of
  ``det(e1, e2, e3) / (|e1||e2||e3|)`` for the three edges at the corner (Knupp 2000,
  "Achieving finite element mesh quality via optimization of the Jacobian matrix norm and
  associated quantities", Int J Numer Meth Eng 48:1165-1185).

A cell is *inverted* when its orientation (sign of the Jacobian) is opposite to that of
the majority of the mesh, or, for a hexahedron, when its Jacobian changes sign inside the
cell (tangled). A cell is *degenerate* when its quality is below a threshold (default
1e-6: zero or near-zero volume). Both make the mesh unusable and raise
:class:`~bonefem.errors.InputError`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from bonefem._dolfinx import MPI, dolfinx
from bonefem.errors import InputError
from bonefem.mesh.bonemesh import BoneMesh

logger = logging.getLogger(__name__)

#: Cells with quality below this are degenerate (an error).
DEGENERATE_QUALITY = 1.0e-6
#: Below this minimum quality a warning is logged (the solve may converge slowly).
POOR_QUALITY = 1.0e-2

# Tetrahedron: vertex pairs of the six edges, and the face opposite each vertex.
_TET_FACES = np.array([[1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 2]])
_TET_FACE_PAIRS = np.array([[i, j] for i in range(4) for j in range(i + 1, 4)])


def _owned_cell_nodes(mesh: dolfinx.mesh.Mesh) -> npt.NDArray[np.float64]:
    """Node coordinates of the owned cells, shape (n, nodes_per_cell, 3), mm."""
    n = mesh.topology.index_map(mesh.topology.dim).size_local
    dofmap = mesh.geometry.dofmaps[0][:n]
    return np.asarray(mesh.geometry.x[dofmap], dtype=np.float64)


def tetrahedron_quality(x: npt.NDArray[np.float64]) -> dict[str, npt.NDArray[np.float64]]:
    """Quality of tetrahedra with vertices ``x`` (shape (n, 4, 3), mm).

    Returns:
        ``volume`` (signed, mm³), ``quality`` (normalised radius ratio 3 r/R in [0, 1]),
        ``min_dihedral`` and ``max_dihedral`` (deg).
    """
    d1, d2, d3 = x[:, 1] - x[:, 0], x[:, 2] - x[:, 0], x[:, 3] - x[:, 0]
    vol = np.einsum("ij,ij->i", d1, np.cross(d2, d3)) / 6.0
    absvol = np.abs(vol)
    # face normals (outward) and areas
    f = x[:, _TET_FACES]  # (n, 4, 3 vertices, 3)
    nrm = np.cross(f[:, :, 1] - f[:, :, 0], f[:, :, 2] - f[:, :, 0])  # (n, 4, 3)
    area2 = np.linalg.norm(nrm, axis=2)  # twice the face area
    outward = np.sign(np.einsum("nfk,nfk->nf", nrm, f[:, :, 0] - x))  # opposite vertex behind
    with np.errstate(invalid="ignore", divide="ignore"):
        unit = nrm * (outward / area2)[:, :, None]
        cosang = np.einsum(
            "npk,npk->np", unit[:, _TET_FACE_PAIRS[:, 0]], unit[:, _TET_FACE_PAIRS[:, 1]]
        )
        dihedral = 180.0 - np.degrees(np.arccos(np.clip(cosang, -1.0, 1.0)))
        r_in = 3.0 * absvol / (0.5 * area2.sum(axis=1))
        # circumradius from the products of opposite edge lengths
        a = np.linalg.norm(d1, axis=1) * np.linalg.norm(x[:, 3] - x[:, 2], axis=1)
        b = np.linalg.norm(d2, axis=1) * np.linalg.norm(x[:, 3] - x[:, 1], axis=1)
        c = np.linalg.norm(d3, axis=1) * np.linalg.norm(x[:, 2] - x[:, 1], axis=1)
        prod = (a + b + c) * (a + b - c) * (a - b + c) * (-a + b + c)
        r_circ = np.sqrt(np.maximum(prod, 0.0)) / (24.0 * absvol)
        quality = 3.0 * r_in / r_circ
    quality = np.nan_to_num(quality, nan=0.0, posinf=0.0)
    dihedral = np.nan_to_num(dihedral, nan=0.0)
    return {
        "volume": vol,
        "quality": np.clip(quality, 0.0, 1.0),
        "min_dihedral": dihedral.min(axis=1) if len(x) else np.zeros(0),
        "max_dihedral": dihedral.max(axis=1) if len(x) else np.zeros(0),
    }


def hexahedron_quality(x: npt.NDArray[np.float64]) -> dict[str, npt.NDArray[np.float64]]:
    """Quality of trilinear hexahedra, vertices ``x`` in DOLFINx order (shape (n, 8, 3), mm).

    Returns:
        ``volume`` (signed, mm³, exact for trilinear cells), ``quality`` (scaled Jacobian,
        min over corners, in [-1, 1]), ``min_jacobian_sign`` (sign of the smallest corner
        Jacobian relative to the cell's volume: negative = tangled), NaN dihedral angles.
    """
    corners = np.arange(8)
    bits = np.stack([(corners >> k) & 1 for k in range(3)], axis=1)  # (8, 3) x, y, z bits
    e = []
    for k in range(3):
        lo = corners & ~(1 << k)
        hi = corners | (1 << k)
        e.append(x[:, hi] - x[:, lo])  # (n, 8, 3): edge along direction k at each corner
    det = np.einsum("nci,nci->nc", e[0], np.cross(e[1], e[2]))
    norms = (
        np.linalg.norm(e[0], axis=2) * np.linalg.norm(e[1], axis=2) * np.linalg.norm(e[2], axis=2)
    )
    # exact volume: 2x2x2 Gauss quadrature of det J of the trilinear map on [0, 1]^3
    g = 0.5 + np.array([-1.0, 1.0]) / (2.0 * np.sqrt(3.0))
    vol = np.zeros(x.shape[0])
    for gx in g:
        for gy in g:
            for gz in g:
                p = np.array([gx, gy, gz])
                w = np.where(bits == 1, p, 1.0 - p)  # (8, 3) weights per corner and axis
                jac = []
                for k in range(3):
                    dw = np.where(bits[:, k] == 1, 1.0, -1.0) * np.prod(
                        np.delete(w, k, axis=1), axis=1
                    )
                    jac.append(np.einsum("c,nci->ni", dw, x))
                vol += np.einsum("ni,ni->n", jac[0], np.cross(jac[1], jac[2])) / 8.0
    with np.errstate(invalid="ignore", divide="ignore"):
        sj = np.nan_to_num(det / norms, nan=0.0)
    orient = np.where(vol < 0.0, -1.0, 1.0)
    oriented = sj * orient[:, None]
    nan = np.full(x.shape[0], np.nan)
    return {
        "volume": vol,
        "quality": oriented.min(axis=1) if len(x) else np.zeros(0),
        "min_dihedral": nan,
        "max_dihedral": nan,
    }


#: cells per block of the quality measures: their temporaries (up to 36 doubles a cell)
#: stay in the cache instead of being fresh pages of a few hundred MB at 1M cells, which
#: cost more to fault in than to compute (0.83M tetrahedra: 2.7-6.4 s -> 1.0 s)
_QUALITY_BLOCK = 32768


def _in_blocks(
    measure: Callable[[npt.NDArray[np.float64]], dict[str, npt.NDArray[np.float64]]],
    x: npt.NDArray[np.float64],
) -> dict[str, npt.NDArray[np.float64]]:
    """``measure(x)`` over blocks of cells, concatenated (the same values)."""
    if x.shape[0] <= _QUALITY_BLOCK:
        return measure(x)
    parts = [measure(x[i : i + _QUALITY_BLOCK]) for i in range(0, x.shape[0], _QUALITY_BLOCK)]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def cell_quality(mesh: dolfinx.mesh.Mesh) -> dict[str, npt.NDArray[np.float64]]:
    """Per owned cell: signed ``volume`` (mm³), ``quality`` (1 ideal) and dihedral angles."""
    x = _owned_cell_nodes(mesh)
    ct = mesh.topology.cell_type
    if ct == dolfinx.mesh.CellType.tetrahedron and x.shape[1] == 4:
        return _in_blocks(tetrahedron_quality, x)
    if ct == dolfinx.mesh.CellType.hexahedron and x.shape[1] == 8:
        return _in_blocks(hexahedron_quality, x)
    raise InputError(
        f"unsupported cell type {ct.name} with {x.shape[1]} nodes; "
        "supported: linear tetrahedra (4 nodes) and trilinear hexahedra (8 nodes)"
    )


@dataclass(frozen=True)
class QualityStats:
    """Global quality statistics of a mesh (all ranks agree).

    Attributes:
        measure: name of the quality measure (``"radius ratio"`` or ``"scaled Jacobian"``).
        num_cells: number of cells.
        min_quality: worst cell quality (1 = ideal).
        mean_quality: mean cell quality.
        min_dihedral: smallest dihedral angle (deg; NaN for hexahedra).
        max_dihedral: largest dihedral angle (deg; NaN for hexahedra).
        min_volume: smallest |cell volume| (mm³).
        max_volume: largest |cell volume| (mm³).
        num_inverted: cells with the minority orientation (or tangled hexahedra).
        num_degenerate: cells with quality below the threshold.
        worst_cell_centre: centre (mm) of the worst cell.
    """

    measure: str
    num_cells: int
    min_quality: float
    mean_quality: float
    min_dihedral: float
    max_dihedral: float
    min_volume: float
    max_volume: float
    num_inverted: int
    num_degenerate: int
    worst_cell_centre: tuple[float, float, float] = field(default=(0.0, 0.0, 0.0))

    def as_dict(self) -> dict[str, Any]:
        """Plain dictionary (for JSON)."""
        return asdict(self)


def quality_stats(
    mesh: dolfinx.mesh.Mesh, *, degenerate_threshold: float = DEGENERATE_QUALITY
) -> QualityStats:
    """Quality statistics of ``mesh``, reduced over all ranks (collective)."""
    comm = mesh.comm
    q = cell_quality(mesh)
    vol, qual = q["volume"], q["quality"]
    n = int(comm.allreduce(vol.size, op=MPI.SUM))
    sign_sum = comm.allreduce(float(np.sign(vol).sum()), op=MPI.SUM)
    majority = 1.0 if sign_sum >= 0 else -1.0
    is_hex = mesh.topology.cell_type == dolfinx.mesh.CellType.hexahedron
    if is_hex:
        inverted = (np.sign(vol) * majority < 0) | (qual < 0)
    else:
        inverted = (np.sign(vol) * majority < 0) & (qual >= degenerate_threshold)
    degenerate = np.abs(qual) < degenerate_threshold
    big = np.finfo(np.float64).max

    def red(values: npt.NDArray[np.float64], op: MPI.Op, empty: float) -> float:
        finite = values[np.isfinite(values)]
        local = float(finite.min() if op == MPI.MIN else finite.max()) if finite.size else empty
        return float(comm.allreduce(local, op=op))

    qmin_local = float(qual.min()) if qual.size else big
    qmin = float(comm.allreduce(qmin_local, op=MPI.MIN))
    # centre of the worst cell (rank with the minimum reports it)
    owner = comm.allreduce((qmin_local, comm.rank), op=MPI.MINLOC)[1]
    centre = (0.0, 0.0, 0.0)
    if comm.rank == owner and qual.size:
        x = _owned_cell_nodes(mesh)[int(np.argmin(qual))]
        c = x.mean(axis=0)
        centre = (float(c[0]), float(c[1]), float(c[2]))
    centre = comm.bcast(centre, root=owner)
    min_dih = red(q["min_dihedral"], MPI.MIN, big)
    max_dih = red(q["max_dihedral"], MPI.MAX, -big)
    return QualityStats(
        measure="scaled Jacobian" if is_hex else "radius ratio",
        num_cells=n,
        min_quality=qmin,
        mean_quality=float(comm.allreduce(float(qual.sum()), op=MPI.SUM)) / max(n, 1),
        min_dihedral=float("nan") if is_hex or min_dih == big else min_dih,
        max_dihedral=float("nan") if is_hex or max_dih == -big else max_dih,
        min_volume=red(np.abs(vol), MPI.MIN, big),
        max_volume=red(np.abs(vol), MPI.MAX, 0.0),
        num_inverted=int(comm.allreduce(int(inverted.sum()), op=MPI.SUM)),
        num_degenerate=int(comm.allreduce(int(degenerate.sum()), op=MPI.SUM)),
        worst_cell_centre=centre,
    )


def check_volume_mesh(mesh: dolfinx.mesh.Mesh, *, source: str | None = None) -> None:
    """Raise :class:`InputError` unless ``mesh`` is a 3-D mesh of tetrahedra or hexahedra."""
    tdim, gdim = mesh.topology.dim, mesh.geometry.dim
    if tdim != 3 or gdim != 3:
        raise InputError(
            f"a 3-D volume mesh is needed, this one has topological dimension {tdim} and "
            f"geometric dimension {gdim} (a surface or 2-D mesh?)",
            file=source,
        )
    ct = mesh.topology.cell_type
    if ct not in (dolfinx.mesh.CellType.tetrahedron, dolfinx.mesh.CellType.hexahedron):
        raise InputError(
            f"unsupported cell type {ct.name}; supported: tetrahedra and hexahedra", file=source
        )
    if mesh.geometry.cmaps[0].degree != 1:
        raise InputError(
            f"unsupported geometry degree {mesh.geometry.cmaps[0].degree}; supported: linear "
            "(4-node tetrahedra, 8-node hexahedra)",
            file=source,
        )


def check_cells(
    mesh: dolfinx.mesh.Mesh,
    *,
    source: str | None = None,
    degenerate_threshold: float = DEGENERATE_QUALITY,
) -> QualityStats:
    """Raise :class:`InputError` for inverted or degenerate cells; return the statistics."""
    check_volume_mesh(mesh, source=source)
    stats = quality_stats(mesh, degenerate_threshold=degenerate_threshold)
    where = ", ".join(f"{c:.4g}" for c in stats.worst_cell_centre)
    if stats.num_inverted:
        raise InputError(
            f"{stats.num_inverted} inverted cell(s) of {stats.num_cells} (orientation opposite "
            f"to the rest of the mesh, or tangled); worst {stats.measure} {stats.min_quality:.3g} "
            f"in the cell centred at ({where}) mm. Repair or remesh the geometry.",
            file=source,
        )
    if stats.num_degenerate:
        raise InputError(
            f"{stats.num_degenerate} degenerate cell(s) of {stats.num_cells} (zero or near-zero "
            f"volume); worst {stats.measure} {stats.min_quality:.3g} (threshold "
            f"{degenerate_threshold:g}, 1 = ideal) in the cell centred at ({where}) mm. "
            "Repair or remesh the geometry.",
            file=source,
        )
    if stats.min_quality < POOR_QUALITY and mesh.comm.rank == 0:
        logger.warning(
            "%s: poor cells, worst %s %.3g at (%s) mm; the solver may converge slowly",
            source or "mesh",
            stats.measure,
            stats.min_quality,
            where,
        )
    return stats


def region_at_points(bone: BoneMesh, points: npt.ArrayLike) -> list[str | None]:
    """Name of the region containing each point (mm), or None outside the mesh (collective).

    Every rank must pass the same points.
    """
    mesh = bone.mesh
    tdim = mesh.topology.dim
    pts = np.ascontiguousarray(np.asarray(points, dtype=np.float64).reshape(-1, 3))
    n_owned = mesh.topology.index_map(tdim).size_local
    tree = dolfinx.geometry.bb_tree(mesh, tdim, entities=np.arange(n_owned, dtype=np.int32))
    candidates = dolfinx.geometry.compute_collisions_points(tree, pts)
    hits = dolfinx.geometry.compute_colliding_cells(mesh, candidates, pts)
    offsets = np.asarray(hits.offsets)
    found = offsets[1:] > offsets[:-1]
    first = np.asarray(hits.array)[offsets[:-1][found]]
    index = np.full(pts.shape[0], -1, dtype=np.int32)
    index[found] = bone.cell_region_index()[first]
    found_index = np.empty_like(index)
    mesh.comm.Allreduce(index, found_index, op=MPI.MAX)
    index = found_index
    names = bone.region_names
    return [names[i] if i >= 0 else None for i in index]


@dataclass
class MeshSummary:
    """What ``bonefem mesh`` reports about a mesh (global values, identical on all ranks).

    Attributes:
        source: where the mesh came from.
        cell_type: ``"tetrahedron"`` or ``"hexahedron"``.
        num_cells: number of cells.
        num_vertices: number of vertices.
        num_ranks: number of MPI ranks it is distributed over.
        bounding_box: ((xmin, ymin, zmin), (xmax, ymax, zmax)), mm.
        volume: total volume, mm³.
        regions: name -> {"tag", "cells", "volume" (mm³)}.
        surfaces: name -> {"tag", "facets", "area" (mm²)}.
        quality: the quality statistics.
        landmarks: named points (mm) and unit directions.
    """

    source: str
    cell_type: str
    num_cells: int
    num_vertices: int
    num_ranks: int
    bounding_box: tuple[tuple[float, ...], tuple[float, ...]]
    volume: float
    regions: dict[str, dict[str, float]]
    surfaces: dict[str, dict[str, float]]
    quality: QualityStats
    landmarks: dict[str, tuple[float, float, float]]

    def as_dict(self) -> dict[str, Any]:
        """Plain dictionary (for JSON)."""
        out = asdict(self)
        out["quality"] = self.quality.as_dict()
        return out

    def format(self) -> str:
        """Human-readable multi-line report."""
        q = self.quality
        lo, hi = self.bounding_box
        lines = [
            f"mesh: {self.source}",
            f"  {self.num_cells} {self.cell_type} cells, {self.num_vertices} vertices "
            f"({self.num_ranks} rank(s))",
            "  bounding box: ("
            + ", ".join(f"{v:.4g}" for v in lo)
            + ") .. ("
            + ", ".join(f"{v:.4g}" for v in hi)
            + ") mm",
            f"  volume: {self.volume:.6g} mm³",
            "  regions:",
        ]
        for name, r in self.regions.items():
            lines.append(
                f"    {name:<22} tag {int(r['tag']):>3}  {int(r['cells']):>9} cells  "
                f"{r['volume']:.6g} mm³"
            )
        lines.append("  surfaces:")
        for name, s in self.surfaces.items():
            lines.append(
                f"    {name:<22} tag {int(s['tag']):>3}  {int(s['facets']):>9} facets "
                f"{s['area']:.6g} mm²"
            )
        lines.append(
            f"  quality ({q.measure}, 1 = ideal): min {q.min_quality:.3g}, mean "
            f"{q.mean_quality:.3g}"
        )
        if np.isfinite(q.min_dihedral):
            lines.append(
                f"  dihedral angles: min {q.min_dihedral:.3g} deg, max {q.max_dihedral:.3g} deg"
            )
        lines.append(
            f"  cell volume: min {q.min_volume:.3g} mm³, max {q.max_volume:.3g} mm³; "
            f"inverted {q.num_inverted}, degenerate {q.num_degenerate}"
        )
        if self.landmarks:
            lines.append("  landmarks:")
            for name, v in self.landmarks.items():
                lines.append(f"    {name:<26} (" + ", ".join(f"{c:.4g}" for c in v) + ")")
        return "\n".join(lines)


def summarize(bone: BoneMesh, stats: QualityStats | None = None) -> MeshSummary:
    """Cells, vertices, region volumes, surface areas and quality of a mesh (collective)."""
    mesh, comm = bone.mesh, bone.comm
    tdim = mesh.topology.dim
    n_cells = bone.num_cells_local
    mesh.topology.create_entities(tdim - 1)
    n_facets = mesh.topology.index_map(tdim - 1).size_local
    regions = {}
    for name in bone.region_names:
        tag = bone.regions[name]
        cells = bone.cell_tags.find(tag)
        count = int(comm.allreduce(int((cells < n_cells).sum()), op=MPI.SUM))
        regions[name] = {"tag": tag, "cells": count, "volume": bone.volume(name)}
    surfaces = {}
    for name in bone.surface_names:
        tag = bone.surfaces[name]
        facets = bone.facet_tags.find(tag)
        count = int(comm.allreduce(int((facets < n_facets).sum()), op=MPI.SUM))
        surfaces[name] = {"tag": tag, "facets": count, "area": bone.area(name)}
    lo, hi = bone.bounding_box()
    return MeshSummary(
        source=bone.source,
        cell_type=mesh.topology.cell_type.name,
        num_cells=bone.num_cells_global,
        num_vertices=int(mesh.topology.index_map(0).size_global),
        num_ranks=comm.size,
        bounding_box=(tuple(float(v) for v in lo), tuple(float(v) for v in hi)),
        volume=bone.volume(),
        regions=regions,
        surfaces=surfaces,
        quality=stats or quality_stats(mesh),
        landmarks=dict(bone.landmarks),
    )
