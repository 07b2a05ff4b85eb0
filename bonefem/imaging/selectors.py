"""Geometric selectors of boundary facets, for meshes without named surfaces.

Image-derived meshes have no anatomical surface names; supports and loads are put on
boundary facets chosen by geometry. Every selector is a pure function of a distributed
DOLFINx mesh (or :class:`~bonefem.mesh.BoneMesh`) returning the **local indices of the
exterior facets** it selects on this rank (owned facets of the process's cells), tested on
each facet's **midpoint** (mm):

* :func:`plane` -- ``|n · x − offset| ≤ band`` (unit normal n, offset mm, band mm);
* :func:`box` -- ``lower ≤ x ≤ upper`` component-wise (mm);
* :func:`sphere` -- ``|x − centre| ≤ radius`` (mm);
* :func:`patch` -- the boundary point nearest to ``point`` (over all ranks), then every
  facet within ``radius`` of it (mm): a contact patch on a curved surface;
* :func:`extreme` -- ``d · x ≥ max(d · x) − band``: the extreme end of the bone in a
  direction d (max over all ranks), e.g. the distal end of a femur.

Each checks that it selects something on at least one rank (a collective call): an empty
selection raises :class:`~bonefem.errors.InputError` naming the selector, its parameters
and the mesh's bounding box. :func:`add_surface` turns a selection into a named surface of
a BoneMesh (a facet has one tag: selected facets leave the surface they were in), and
:func:`selection_area` integrates its area (mm²).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from bonefem._dolfinx import MPI, dolfinx
from bonefem.errors import InputError

__all__ = [
    "add_surface",
    "boundary_facets",
    "box",
    "extreme",
    "patch",
    "plane",
    "selection_area",
    "sphere",
]

IntArray = npt.NDArray[np.int32]


def _mesh(mesh: Any) -> Any:
    return getattr(mesh, "mesh", mesh)


def boundary_facets(mesh: Any) -> tuple[IntArray, npt.NDArray[np.float64]]:
    """Local exterior facets of the mesh and their midpoints (mm), shape (n, 3)."""
    m = _mesh(mesh)
    tdim = m.topology.dim
    m.topology.create_connectivity(tdim - 1, tdim)
    facets = dolfinx.mesh.exterior_facet_indices(m.topology).astype(np.int32)
    mid = dolfinx.mesh.compute_midpoints(m, tdim - 1, facets)
    return facets, np.asarray(mid, dtype=np.float64).reshape(-1, 3)


def _vector(v: Sequence[float], name: str, selector: str) -> npt.NDArray[np.float64]:
    a = np.asarray(v, dtype=np.float64).ravel()
    if a.shape != (3,) or not np.all(np.isfinite(a)):
        raise InputError(
            "must be 3 finite numbers (x, y, z)", field=f"{selector}.{name}", value=a.tolist()
        )
    return a


def _positive(v: float, name: str, selector: str, *, zero: bool = False) -> float:
    if not np.isfinite(v) or v < 0 or (v == 0 and not zero):
        raise InputError(
            "must be a positive length (mm)" if not zero else "must be ≥ 0 (mm)",
            field=f"{selector}.{name}",
            value=v,
        )
    return float(v)


def _bbox(m: Any) -> str:
    x = m.geometry.x
    lo = np.ascontiguousarray(np.min(x, axis=0) if x.size else np.full(3, np.inf), np.float64)
    hi = np.ascontiguousarray(np.max(x, axis=0) if x.size else np.full(3, -np.inf), np.float64)
    m.comm.Allreduce(MPI.IN_PLACE, lo, op=MPI.MIN)
    m.comm.Allreduce(MPI.IN_PLACE, hi, op=MPI.MAX)
    f = lambda v: "(" + ", ".join(f"{c:.4g}" for c in v) + ")"  # noqa: E731
    return f"{f(lo)} to {f(hi)} mm"


def _checked(m: Any, facets: IntArray, selector: str, params: dict[str, Any]) -> IntArray:
    total = m.comm.allreduce(int(facets.size), op=MPI.SUM)
    if total == 0:
        desc = ", ".join(f"{k}={v}" for k, v in params.items())
        raise InputError(
            f"the {selector} selector ({desc}) selects no boundary facet; the mesh spans "
            f"{_bbox(m)}. Move or widen it.",
            field=selector,
        )
    return np.ascontiguousarray(np.sort(facets), dtype=np.int32)


def plane(mesh: Any, normal: Sequence[float], offset: float, band: float) -> IntArray:
    """Boundary facets with ``|n̂ · x − offset| ≤ band`` (n̂ = normal / |normal|; mm).

    Args:
        mesh: DOLFINx mesh or BoneMesh.
        normal: plane normal (any length, not zero).
        offset: signed distance of the plane from the origin along n̂ (mm).
        band: half-width of the slab (mm, ≥ 0).
    """
    m = _mesh(mesh)
    n = _vector(normal, "normal", "plane")
    norm = float(np.linalg.norm(n))
    if norm == 0:
        raise InputError("the normal must not be zero", field="plane.normal", value=n.tolist())
    band = _positive(band, "band", "plane", zero=True)
    facets, mid = boundary_facets(m)
    sel = facets[np.abs(mid @ (n / norm) - offset) <= band]
    return _checked(m, sel, "plane", {"normal": n.tolist(), "offset": offset, "band": band})


def box(mesh: Any, lower: Sequence[float], upper: Sequence[float]) -> IntArray:
    """Boundary facets with ``lower ≤ midpoint ≤ upper`` in every component (mm)."""
    m = _mesh(mesh)
    lo, hi = _vector(lower, "lower", "box"), _vector(upper, "upper", "box")
    if np.any(hi < lo):
        raise InputError(
            "upper must be ≥ lower in every component",
            field="box.upper",
            value=hi.tolist(),
        )
    facets, mid = boundary_facets(m)
    sel = facets[np.all((mid >= lo) & (mid <= hi), axis=1)]
    return _checked(m, sel, "box", {"lower": lo.tolist(), "upper": hi.tolist()})


def sphere(mesh: Any, center: Sequence[float], radius: float) -> IntArray:
    """Boundary facets whose midpoint is within ``radius`` of ``center`` (mm)."""
    m = _mesh(mesh)
    c = _vector(center, "center", "sphere")
    r = _positive(radius, "radius", "sphere")
    facets, mid = boundary_facets(m)
    sel = facets[np.sum((mid - c) ** 2, axis=1) <= r * r]
    return _checked(m, sel, "sphere", {"center": c.tolist(), "radius": r})


def patch(mesh: Any, point: Sequence[float], radius: float) -> IntArray:
    """The boundary patch nearest to ``point``.

    Facets within ``radius`` (mm) of the boundary facet midpoint closest to ``point``
    (searched over all ranks).

    Args:
        mesh: DOLFINx mesh or BoneMesh.
        point: a point near the bone surface (mm), e.g. a landmark.
        radius: radius of the patch around the nearest boundary point (mm).
    """
    m = _mesh(mesh)
    p = _vector(point, "point", "patch")
    r = _positive(radius, "radius", "patch")
    facets, mid = boundary_facets(m)
    d2 = np.sum((mid - p) ** 2, axis=1)
    local = (float(d2.min()), *mid[int(np.argmin(d2))].tolist()) if d2.size else (np.inf, 0, 0, 0)
    best = min(m.comm.allgather(local), key=lambda t: t[0])
    if not np.isfinite(best[0]):
        raise InputError("the mesh has no boundary facets", field="patch")
    q = np.asarray(best[1:], dtype=np.float64)
    sel = facets[np.sum((mid - q) ** 2, axis=1) <= r * r]
    return _checked(m, sel, "patch", {"point": p.tolist(), "radius": r})


def extreme(mesh: Any, direction: Sequence[float], band: float) -> IntArray:
    """Boundary facets with ``d̂ · x ≥ max(d̂ · x) − band``: the end in direction d.

    The max is over the boundary facet midpoints of all ranks; mm.
    """
    m = _mesh(mesh)
    d = _vector(direction, "direction", "extreme")
    norm = float(np.linalg.norm(d))
    if norm == 0:
        raise InputError(
            "the direction must not be zero", field="extreme.direction", value=d.tolist()
        )
    band = _positive(band, "band", "extreme", zero=True)
    facets, mid = boundary_facets(m)
    s = mid @ (d / norm)
    top = m.comm.allreduce(float(s.max()) if s.size else -np.inf, op=MPI.MAX)
    sel = facets[s >= top - band]
    return _checked(m, sel, "extreme", {"direction": d.tolist(), "band": band})


def selection_area(mesh: Any, facets: npt.ArrayLike) -> float:
    """Area (mm²) of selected local facets, summed over ranks."""
    import ufl

    m = _mesh(mesh)
    f = np.unique(np.asarray(facets, dtype=np.int32))
    tags = dolfinx.mesh.meshtags(m, m.topology.dim - 1, f, np.ones(f.size, np.int32))
    ds = ufl.Measure("ds", domain=m, subdomain_data=tags)
    form = dolfinx.fem.form(dolfinx.fem.Constant(m, 1.0) * ds(1))
    return float(m.comm.allreduce(dolfinx.fem.assemble_scalar(form), op=MPI.SUM))


def add_surface(bone: Any, name: str, facets: npt.ArrayLike) -> int:
    """Make selected facets a named surface of a BoneMesh (in place).

    A facet has one surface tag: facets of the selection leave the surface they were in.
    The new surface gets the next free tag value (the same on every rank).

    Args:
        bone: the :class:`~bonefem.mesh.BoneMesh`.
        name: the new surface name (must not exist yet).
        facets: local facet indices (from a selector).

    Returns:
        The tag value of the new surface.
    """
    if name in bone.surfaces:
        raise InputError("a surface of this name exists already", field="surfaces", value=name)
    m = bone.mesh
    tdim = m.topology.dim
    ft = bone.facet_tags
    tag = max([0, *bone.surfaces.values()]) + 1
    sel = np.unique(np.asarray(facets, dtype=np.int32))
    keep = ~np.isin(ft.indices, sel)
    idx = np.concatenate([ft.indices[keep], sel])
    val = np.concatenate([ft.values[keep], np.full(sel.size, tag, np.int32)])
    order = np.argsort(idx)
    new = dolfinx.mesh.meshtags(m, tdim - 1, idx[order].astype(np.int32),
                                val[order].astype(np.int32))  # fmt: skip
    new.name = ft.name
    bone.facet_tags = new
    bone.surfaces = {**bone.surfaces, name: tag}
    return tag
