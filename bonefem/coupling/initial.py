"""The initial BV/TV f₀ of every cell: per region, or per cell from the mesh (a CT scan).

A mesh may carry a per-cell initial state (:attr:`bonefem.mesh.BoneMesh.cell_data`, from
``[mesh.image.density]``, :mod:`bonefem.imaging.initial`):

* ``initial_bvtv`` (-): f₀ directly;
* ``initial_mineral_density`` ρ_min,0 (g/cm³, mineral mass per total volume, e.g. a QCT
  scan's equivalent mineral density): f₀ solves ``f₀ ρ_mineral m₀(f₀) = ρ_min,0`` where
  m₀(f) is the mineral content of the law's initial state at f (the mineralisation
  equilibrium of the healthy cell model, Martínez-Reina et al. 2019 as reduced in
  :mod:`bonefem.remodeling.bone`). The left side grows with f (f and m₀(f) both grow), so
  the root is found by a vectorised bisection to 1e-12 in f.

Without either, every cell takes its region's ``[material.regions.X].bvtv``. f₀ is kept
within the cell model's healthy range [f_min + w, f_max − w] = [0.02, 0.98]; cells
outside are moved to the bound and counted (logged). Units: f dimensionless, g/cm³.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from bonefem.errors import InputError, raise_on_every_rank
from bonefem.mesh.initial_arrays import INITIAL_BVTV, INITIAL_MINERAL_DENSITY
from bonefem.remodeling.bone import RemodelingParameters, mineral_density

__all__ = ["INITIAL_BVTV", "INITIAL_MINERAL_DENSITY", "bvtv_for_mineral_density", "initial_bvtv"]

FloatArray = npt.NDArray[np.float64]
logger = logging.getLogger("bonefem")


def bvtv_for_mineral_density(
    target: FloatArray,
    initial_mineral: Callable[[FloatArray], FloatArray],
    params: RemodelingParameters,
    lo: float,
    hi: float,
    iterations: int = 60,
) -> FloatArray:
    """BV/TV f (-) with f ρ_mineral m₀(f) = target (g/cm³), per cell, within [lo, hi].

    Args:
        target: mineral mass per total volume per cell (g/cm³).
        initial_mineral: m₀(f), the mineral content (-) of the initial state at BV/TV f.
        params: bone composition (ρ_mineral, g/cm³).
        lo: lower bound of f (-); a target below its mineral density gives lo.
        hi: upper bound of f (-); a target above its mineral density gives hi.
        iterations: bisection steps (2^-60 of the interval).
    """
    t = np.asarray(target, dtype=np.float64)
    a = np.full(t.shape, lo)
    b = np.full(t.shape, hi)
    for _ in range(iterations):  # over bisection steps, vectorised over cells
        mid = 0.5 * (a + b)
        above = mineral_density(mid, initial_mineral(mid), params) > t
        b = np.where(above, mid, b)
        a = np.where(above, a, mid)
    return np.asarray(0.5 * (a + b))


def _checked(
    values: FloatArray, name: str, source: str, upper: float | None, comm: object | None
) -> FloatArray:
    """The values, or InputError on every rank of ``comm`` if a rank has a bad one."""
    v = np.asarray(values, dtype=np.float64)
    bad = ~np.isfinite(v) | (v <= 0.0)
    if upper is not None:
        bad |= v > upper
    error = None
    if np.any(bad):
        allowed = f"in (0, {upper:g}]" if upper is not None else "finite and > 0"
        error = InputError(
            f"{int(bad.sum())} cell(s) have an initial value outside what is allowed ({allowed})",
            file=source,
            field=f"mesh cell data '{name}'",
            value=float(v[bad][0]),
        )
    raise_on_every_rank(comm, error)
    return v


def initial_bvtv(
    n: int,
    cell_data: dict[str, FloatArray],
    region_bvtv: FloatArray,
    initial_mineral: Callable[[FloatArray], FloatArray],
    params: RemodelingParameters,
    *,
    source: str = "mesh",
    comm: object | None = None,
) -> tuple[FloatArray, str]:
    """f₀ per owned cell (-) and where it came from (see the module docstring).

    Args:
        n: owned cells.
        cell_data: the mesh's per-cell arrays (local cells; the first n are owned).
        region_bvtv: f₀ of each owned cell from its region (-).
        initial_mineral: m₀(f) of the law's initial state (-).
        params: bone composition and bounds of f.
        source: the mesh, for messages.
        comm: communicator to count clipped cells over (None: this rank only).

    Raises:
        InputError: a per-cell value that is not finite, ≤ 0, or (BV/TV) > 1.
    """
    lo = params.f_min + params.bound_width
    hi = params.f_max - params.bound_width
    if INITIAL_BVTV in cell_data:
        f = _checked(cell_data[INITIAL_BVTV][:n], INITIAL_BVTV, source, 1.0, comm)
        origin = INITIAL_BVTV
    elif INITIAL_MINERAL_DENSITY in cell_data:
        rho = _checked(cell_data[INITIAL_MINERAL_DENSITY][:n], INITIAL_MINERAL_DENSITY, source,
                       None, comm)  # fmt: skip
        f = bvtv_for_mineral_density(rho, initial_mineral, params, lo, hi)
        ends = np.array([lo, hi])
        g_lo, g_hi = mineral_density(ends, initial_mineral(ends), params)
        outside = (rho < g_lo) | (rho > g_hi)
        origin = INITIAL_MINERAL_DENSITY
    else:
        return np.asarray(region_bvtv, dtype=np.float64), "regions"
    if origin == INITIAL_BVTV:
        outside = (f < lo) | (f > hi)
    clipped = int(np.count_nonzero(outside))
    if comm is not None:
        clipped = int(comm.allreduce(clipped))  # type: ignore[attr-defined]
    if clipped:
        logger.warning(
            "%s: %d cell(s) have an initial %s outside the healthy range BV/TV [%g, %g]; "
            "they start at the bound",
            source, clipped, origin, lo, hi,
        )  # fmt: skip
    return np.asarray(np.clip(f, lo, hi)), origin
