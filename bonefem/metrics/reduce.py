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
    v = np.asarray(values, dtype=np.float64)[None, :]
    return weighted_means_of_fields(comm, v, weights, region_index, region_names)[0]


def _region_sums(
    comm: MPI.Comm,
    values: npt.ArrayLike,
    weights: npt.ArrayLike,
    region_index: npt.ArrayLike,
    n_regions: int,
) -> FloatArray:
    """Weighted sums of k fields per region and over all cells, reduced over ranks.

    Returns shape (k + 1, n_regions + 1): row i the sums of field i times the weights (row
    k: of the weights), column j region j (column n_regions: all cells). One buffer
    reduction (a pickled allreduce per field cost ~17 ms each on 2 ranks of the femur:
    issue 15).
    """
    v = np.atleast_2d(np.asarray(values, dtype=np.float64))
    w = np.asarray(weights, dtype=np.float64)
    idx = np.asarray(region_index)
    sums = np.zeros((v.shape[0] + 1, n_regions + 1))
    vw = np.vstack([v * w, w])
    sums[:, n_regions] = vw.sum(axis=1)
    valid = idx >= 0
    for i in range(vw.shape[0]):
        sums[i, :n_regions] = np.bincount(idx[valid], weights=vw[i, valid], minlength=n_regions)[
            :n_regions
        ]
    total = np.empty_like(sums)
    comm.Allreduce(sums, total, op=MPI.SUM)
    return total


def _by_region(table: FloatArray, region_names: Sequence[str]) -> list[dict[str, float]]:
    nreg = len(region_names)
    keys = ["", *region_names]
    cols = [nreg, *range(nreg)]
    return [{key: float(row[c]) for key, c in zip(keys, cols, strict=True)} for row in table]


def weighted_means_of_fields(
    comm: MPI.Comm,
    values: npt.ArrayLike,
    weights: npt.ArrayLike,
    region_index: npt.ArrayLike,
    region_names: Sequence[str],
) -> list[dict[str, float]]:
    """:func:`weighted_means` of several fields at once, with one reduction.

    Args:
        comm: communicator to reduce over.
        values: the fields, shape (k, owned cells).
        weights: one weight per owned cell (e.g. cell volume in mm³).
        region_index: region index per owned cell (into ``region_names``; -1: none).
        region_names: names of the regions.

    Returns:
        For each field, ``{"": mean over all cells, name: mean over the region, ...}``.
    """
    total = _region_sums(comm, values, weights, region_index, len(region_names))
    with np.errstate(invalid="ignore", divide="ignore"):
        means = total[:-1] / total[-1]
    return _by_region(means, region_names)


def weighted_sums_of_fields(
    comm: MPI.Comm,
    values: npt.ArrayLike,
    weights: npt.ArrayLike,
    region_index: npt.ArrayLike,
    region_names: Sequence[str],
) -> list[dict[str, float]]:
    """Sums Σ value × weight of several fields over the bone (key ``""``) and per region.

    As :func:`weighted_means_of_fields` (one reduction), without the division by the
    weights: e.g. a rate per total volume (1/day) times the cell volumes (mm³) gives the
    volume per day (mm³/day) of the whole bone and of each region (0 for empty regions).
    """
    total = _region_sums(comm, values, weights, region_index, len(region_names))
    return _by_region(total[:-1], region_names)


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
