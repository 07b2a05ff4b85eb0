"""Clinical and mechanical metrics of a bone state, reduced over MPI ranks (numpy only).

* Volumetric BMD (QCT-like, g/cm³ of mineral) and BV/TV: volume-weighted means per region
  and over the whole bone.
* Areal BMD (DXA-like, g/cm²): aBMD = BMC / projected area, the way DXA reports it (bone
  mineral content of the region of interest over the area of the bone's projection along
  the beam; Blake & Fogelman 2007, Postgrad Med J 83:509). The projected area is that of the
  pixels the bone projects onto (cells densely sampled, once per geometry); the BMC sums the
  mineral mass of the cells inside the ROI.
* Failure-load estimate and fracture risk index: a linear FE solution under the applied
  load gives the energy-equivalent strain EES = √(2ψ/E) per cell. Following Pistoia et al.
  (2002, Bone 30:842), the bone fails when 2 % of the bone tissue exceeds its yield strain;
  with linear elasticity the failure load is the applied load divided by the ratio EES/ε_y
  that is exceeded in exactly 2 % of the bone-tissue volume (tissue volume = BV/TV × cell
  volume). The fracture risk index is the factor of risk Φ = applied load / failure load
  (Hayes, Piazza & Zysset 1991, Radiol Clin North Am 29:1; Keaveny & Bouxsein 2008,
  J Bone Miner Res 23:1878); Φ > 1 predicts fracture.

All inputs are per *owned* cell; every result is reduced over the communicator, so the
numbers are the same on any number of ranks. Units: mm, mm³, g, g/cm³, g/cm², N.
"""

from __future__ import annotations

from mpi4py import MPI

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
MM3_PER_CM3 = 1000.0
MM2_PER_CM2 = 100.0


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


@dataclass(frozen=True)
class FailureEstimate:
    """Pistoia-type failure estimate for one load case.

    Attributes:
        applied_load: magnitude of the applied load (N).
        failure_load: estimated failure load (N).
        risk_index: factor of risk Φ = applied / failure (dimensionless); equal to the
            EES/ε_y ratio exceeded in the critical fraction of bone tissue.
    """

    applied_load: float
    failure_load: float
    risk_index: float


def failure_estimate(
    comm: MPI.Comm,
    sed: npt.ArrayLike,
    modulus: npt.ArrayLike,
    yield_strain: npt.ArrayLike,
    tissue_volume: npt.ArrayLike,
    applied_load: float,
    critical_fraction: float = 0.02,
) -> FailureEstimate:
    """Failure load (N) and factor of risk by the Pistoia et al. (2002) criterion.

    Args:
        comm: communicator.
        sed: strain energy density per owned cell under the applied load (MPa).
        modulus: Young's modulus per owned cell (MPa).
        yield_strain: yield strain per owned cell (dimensionless).
        tissue_volume: bone tissue volume per owned cell (BV/TV × cell volume, mm³).
        applied_load: magnitude of the applied load of the FE solution (N).
        critical_fraction: fraction of bone tissue that must exceed yield (0.02).

    Returns:
        The :class:`FailureEstimate`.
    """
    ees = np.sqrt(2.0 * np.maximum(np.asarray(sed, float), 0.0) / np.asarray(modulus, float))
    ratio = ees / np.asarray(yield_strain, float)
    crit = weighted_upper_quantile(comm, ratio, tissue_volume, critical_fraction)
    failure = applied_load / crit if crit > 0 else np.inf
    return FailureEstimate(
        applied_load=float(applied_load),
        failure_load=float(failure),
        risk_index=float(crit),
    )


def lattice_points(cell_vertices: FloatArray, order: int) -> tuple[FloatArray, int]:
    """Sample points inside cells (tetrahedra or hexahedra) on a regular lattice.

    Args:
        cell_vertices: (n_cells, n_vertices, 3) vertex coordinates (mm); 4 vertices for
            tetrahedra, 8 (DOLFINx/lexicographic order) for hexahedra.
        order: lattice subdivisions per edge (>= 1).

    Returns:
        (points of shape (n_cells * k, 3), k samples per cell), cell-major.
    """
    nv = cell_vertices.shape[1]
    if nv == 4:
        # interior points of the barycentric lattice (i, j, k, l) / m, all >= 1, sum m;
        # order 1 is the centroid, order 2 gives 4 points, order 3 gives 10, ...
        m = order + 3
        i, j, k = np.meshgrid(*(np.arange(1, m),) * 3, indexing="ij")
        ll = m - i - j - k
        keep = ll >= 1
        bary = np.column_stack([i[keep], j[keep], k[keep], ll[keep]]) / float(m)
    elif nv == 8:
        t = (np.arange(order) + 0.5) / order
        a, b, c = (g.ravel() for g in np.meshgrid(t, t, t, indexing="ij"))
        bary = np.column_stack(
            [
                (1 - a) * (1 - b) * (1 - c),
                a * (1 - b) * (1 - c),
                (1 - a) * b * (1 - c),
                a * b * (1 - c),
                (1 - a) * (1 - b) * c,
                a * (1 - b) * c,
                (1 - a) * b * c,
                a * b * c,
            ]
        )
    else:
        raise ValueError(f"cells with {nv} vertices are not supported")
    pts = np.einsum("kv,nvd->nkd", bary, cell_vertices).reshape(-1, 3)
    return pts, bary.shape[0]


@dataclass(frozen=True)
class Projection:
    """A DXA-like projection set-up.

    Attributes:
        axis: ray direction index (0 = x, 1 = y, 2 = z).
        pixel: pixel edge length (mm).
        lower: lower corner of the pixel grid in the two image axes (mm).
        shape: number of pixels along the two image axes.
        roi_lower: lower corner of the 3-D region of interest (mm).
        roi_upper: upper corner of the 3-D region of interest (mm).
    """

    axis: int
    pixel: float
    lower: tuple[float, float]
    shape: tuple[int, int]
    roi_lower: tuple[float, float, float]
    roi_upper: tuple[float, float, float]


def _pixel_index(
    points: FloatArray, projection: Projection
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """Flat pixel index of the points inside the ROI, and the mask of those points."""
    lo = np.asarray(projection.roi_lower)
    hi = np.asarray(projection.roi_upper)
    inside = np.all((points >= lo) & (points <= hi), axis=1)
    image_axes = [a for a in range(3) if a != projection.axis]
    uv = points[inside][:, image_axes]
    ij = np.floor((uv - np.asarray(projection.lower)) / projection.pixel).astype(np.int64)
    nu, nv = projection.shape
    ij[:, 0] = np.clip(ij[:, 0], 0, nu - 1)
    ij[:, 1] = np.clip(ij[:, 1], 0, nv - 1)
    return ij[:, 0] * nv + ij[:, 1], inside


def projected_area(
    comm: MPI.Comm,
    cell_vertices: FloatArray,
    projection: Projection,
    order: int | None = None,
    chunk: int = 20000,
) -> float:
    """Area (cm²) of the pixels that the bone inside the ROI projects onto.

    The cells are sampled densely enough (lattice spacing below half a pixel, unless
    ``order`` is given) that the projection has no holes; the result is computed once per
    geometry since the bone outline does not change during remodelling.

    Args:
        comm: communicator.
        cell_vertices: (n_cells, n_vertices, 3) vertex coordinates of the owned cells (mm).
        projection: the projection set-up.
        order: lattice order (default: from the largest cell edge and the pixel size).
        chunk: cells sampled at a time (bounds the memory).
    """
    if order is None:
        nv = cell_vertices.shape[1]
        edges = [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)] if nv == 4 else [(0, 7), (1, 6)]
        h_local = max(
            (
                float(np.linalg.norm(cell_vertices[:, a] - cell_vertices[:, b], axis=1).max())
                for a, b in edges
                if cell_vertices.shape[0]
            ),
            default=0.0,
        )
        h = comm.allreduce(h_local, op=MPI.MAX)
        order = int(np.clip(np.ceil(2.0 * h / projection.pixel), 1, 16))
    nu, nv_ = projection.shape
    hit = np.zeros(nu * nv_, dtype=np.int32)
    for start in range(0, cell_vertices.shape[0], chunk):
        pts, _ = lattice_points(cell_vertices[start : start + chunk], order)
        flat, _ = _pixel_index(pts, projection)
        hit[flat] = 1
    comm.Allreduce(MPI.IN_PLACE, hit, op=MPI.MAX)
    return float(hit.sum()) * projection.pixel**2 / MM2_PER_CM2


def bone_mineral_content(
    comm: MPI.Comm,
    points: FloatArray,
    samples_per_cell: int,
    cell_mineral_mass: npt.ArrayLike,
    projection: Projection,
) -> float:
    """Mineral mass (g) of the bone inside the ROI (cells split among their sample points).

    Args:
        comm: communicator.
        points: sample points (n_cells * samples_per_cell, 3) in mm (see :func:`lattice_points`).
        samples_per_cell: samples per cell.
        cell_mineral_mass: mineral mass per owned cell (g).
        projection: the projection set-up (only its ROI is used).
    """
    mass = np.repeat(np.asarray(cell_mineral_mass, float) / samples_per_cell, samples_per_cell)
    _, inside = _pixel_index(points, projection)
    return float(comm.allreduce(float(mass[inside].sum()), op=MPI.SUM))


def make_projection(
    bbox_lower: npt.ArrayLike,
    bbox_upper: npt.ArrayLike,
    axis: int,
    pixel: float,
    roi_lower: npt.ArrayLike | None = None,
    roi_upper: npt.ArrayLike | None = None,
) -> Projection:
    """Pixel grid covering the ROI (default: the bone's bounding box), image normal = axis."""
    lo = np.asarray(bbox_lower if roi_lower is None else roi_lower, dtype=float)
    hi = np.asarray(bbox_upper if roi_upper is None else roi_upper, dtype=float)
    lo = np.maximum(lo, np.asarray(bbox_lower, float))
    hi = np.minimum(hi, np.asarray(bbox_upper, float))
    image_axes = [a for a in range(3) if a != axis]
    lower = lo[image_axes]
    shape = np.maximum(np.ceil((hi[image_axes] - lower) / pixel).astype(int), 1)
    return Projection(
        axis=axis,
        pixel=float(pixel),
        lower=(float(lower[0]), float(lower[1])),
        shape=(int(shape[0]), int(shape[1])),
        roi_lower=(float(lo[0]), float(lo[1]), float(lo[2])),
        roi_upper=(float(hi[0]), float(hi[1]), float(hi[2])),
    )


def percent_change(value: float, baseline: float) -> float:
    """Percent change of ``value`` from ``baseline`` (%); NaN if the baseline is 0 or NaN."""
    if not np.isfinite(baseline) or baseline == 0.0:
        return float("nan")
    return 100.0 * (value - baseline) / baseline
