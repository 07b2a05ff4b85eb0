"""MPI reductions of per-cell values: weighted means per region, weighted quantiles.

All inputs are per *owned* cell; every result is reduced over the communicator, so the
numbers are the same on any number of ranks.
"""

from __future__ import annotations

from mpi4py import MPI

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def weighted_means(
    comm: MPI.Comm,
    values: npt.ArrayLike,
    weights: npt.ArrayLike,
    region_index: npt.ArrayLike,
    region_names: Sequence[str],
) -> dict[str, float]:
    """Weighted mean of ``values`` over the whole bone (key ``""``) and per region.

    Args:
        comm: communicator to reduce over.
        values: one value per owned cell.
        weights: one weight per owned cell (e.g. cell volume in mm³).
        region_index: region index per owned cell (into ``region_names``; -1: none).
        region_names: names of the regions.

    Returns:
        ``{"": mean over all cells, name: mean over the region, ...}``; NaN for empty regions.
    """
    v = np.asarray(values, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    idx = np.asarray(region_index)
    nreg = len(region_names)
    sums = np.zeros((nreg + 1, 2))
    sums[nreg] = [np.dot(v, w), w.sum()]
    valid = idx >= 0
    sums[:nreg, 0] = np.bincount(idx[valid], weights=(v * w)[valid], minlength=nreg)[:nreg]
    sums[:nreg, 1] = np.bincount(idx[valid], weights=w[valid], minlength=nreg)[:nreg]
    total = comm.allreduce(sums, op=MPI.SUM)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = total[:, 0] / total[:, 1]
    out = {"": float(means[nreg])}
    out.update({name: float(means[i]) for i, name in enumerate(region_names)})
    return out


def weighted_upper_quantile(
    comm: MPI.Comm, values: npt.ArrayLike, weights: npt.ArrayLike, fraction: float
) -> float:
    """The value exceeded by ``fraction`` of the total weight (distributed bisection).

    Returns the smallest v such that the weight of cells with value > v is at most
    ``fraction`` of the total weight, to a relative precision of 1e-10.
    """
    x = np.asarray(values, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    total = comm.allreduce(float(w.sum()), op=MPI.SUM)
    lo = comm.allreduce(float(x.min()) if x.size else np.inf, op=MPI.MIN)
    hi = comm.allreduce(float(x.max()) if x.size else -np.inf, op=MPI.MAX)
    target = fraction * total
    for _ in range(200):
        if hi - lo <= 1e-10 * max(abs(hi), 1e-300):
            break
        mid = 0.5 * (lo + hi)
        above = comm.allreduce(float(w[x > mid].sum()), op=MPI.SUM)
        if above > target:
            lo = mid
        else:
            hi = mid
    return hi


def percent_change(value: float, baseline: float) -> float:
    """Percent change of ``value`` from ``baseline`` (%); NaN if the baseline is 0 or NaN."""
    if not np.isfinite(baseline) or baseline == 0.0:
        return float("nan")
    return 100.0 * (value - baseline) / baseline
