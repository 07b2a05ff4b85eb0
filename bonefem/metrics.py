"""Clinical and mechanical metrics of a bone state, reduced over MPI ranks (numpy only).

* Volumetric BMD (QCT-like, g/cm³ of mineral) and BV/TV: volume-weighted means per region
  and over the whole bone.
* Areal BMD (DXA-like, g/cm²): aBMD = BMC / projected area, the way DXA reports it (bone
  mineral content of the region of interest over the area of the bone's projection along
  the beam; Blake & Fogelman 2007, Postgrad Med J 83:509). The ROI is a rectangle in the
  image plane. The projected area is that of the pixels the bone's boundary projects onto
  (computed once per geometry); the BMC sums the mineral mass of the cells projecting into
  the ROI.
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
from typing import Any

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
    """Flat pixel index of the points that project into the ROI, and their mask.

    The ROI is the pixel grid, a rectangle in the image plane: like DXA, everything along
    the beam counts. A point on the grid's upper edge belongs to the next (outside) pixel.
    """
    image_axes = [a for a in range(3) if a != projection.axis]
    ij = np.floor((points[:, image_axes] - np.asarray(projection.lower)) / projection.pixel)
    nu, nv = projection.shape
    inside = (ij[:, 0] >= 0) & (ij[:, 0] < nu) & (ij[:, 1] >= 0) & (ij[:, 1] < nv)
    ij = ij[inside].astype(np.int64)
    return ij[:, 0] * nv + ij[:, 1], inside


def facet_points(facet_vertices: FloatArray, order: int) -> FloatArray:
    """Lattice points on triangles or quadrilaterals (edges and vertices included).

    Args:
        facet_vertices: (n, 3, 3) triangles or (n, 4, 3) quadrilaterals (DOLFINx order), mm.
        order: subdivisions per edge.

    Returns:
        Points, shape (n * k, 3).
    """
    nv = facet_vertices.shape[1]
    if nv == 3:
        i, j = np.meshgrid(np.arange(order + 1), np.arange(order + 1), indexing="ij")
        keep = i + j <= order
        a, b = i[keep] / order, j[keep] / order
        w = np.column_stack([1.0 - a - b, a, b])
    elif nv == 4:
        t = np.arange(order + 1) / order
        a, b = (g.ravel() for g in np.meshgrid(t, t, indexing="ij"))
        w = np.column_stack([(1 - a) * (1 - b), a * (1 - b), (1 - a) * b, a * b])
    else:
        raise ValueError(f"facets with {nv} vertices are not supported")
    return np.einsum("kv,nvd->nkd", w, facet_vertices).reshape(-1, 3)


def projected_area(comm: MPI.Comm, boundary_facets: FloatArray, projection: Projection) -> float:
    """Area (cm²) of the pixels inside the ROI that the bone projects onto.

    A ray meets the bone if and only if it meets its boundary, so the projection is the
    union of the projected boundary facets; each facet is sampled on a lattice finer than
    half a pixel. Computed once per geometry (the outline does not change in remodelling).

    Args:
        comm: communicator.
        boundary_facets: (n_facets, 3 or 4, 3) vertex coordinates of the exterior facets
            this rank holds (mm); duplicates across ranks are harmless.
        projection: the projection set-up.
    """
    nu, nv = projection.shape
    hit = np.zeros(nu * nv, dtype=np.int32)
    if boundary_facets.shape[0]:
        x = boundary_facets
        edge = np.max(
            [
                np.linalg.norm(x[:, a] - x[:, (a + 1) % x.shape[1]], axis=1)
                for a in range(x.shape[1])
            ],
            axis=0,
        )
        orders = np.maximum(np.ceil(2.0 * edge / projection.pixel), 1).astype(int)
        for order in np.unique(orders):
            flat, _ = _pixel_index(facet_points(x[orders == order], int(order)), projection)
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
    """Pixel grid of a DXA-like projection with beam direction ``axis`` (0, 1, 2 = x, y, z).

    Without an ROI the grid covers the whole bounding box (mm); with one, the grid covers
    the ROI's rectangle in the image plane (the ROI's extent along the beam is ignored).
    """
    box_lo = np.asarray(bbox_lower, dtype=float)
    box_hi = np.asarray(bbox_upper, dtype=float)
    image_axes = [a for a in range(3) if a != axis]
    lo = box_lo if roi_lower is None else np.asarray(roi_lower, dtype=float)
    hi = box_hi if roi_upper is None else np.asarray(roi_upper, dtype=float)
    shape = np.maximum(np.ceil((hi[image_axes] - lo[image_axes]) / pixel - 1e-9).astype(int), 1)
    lower = lo[image_axes]
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


# ------------------------------------------------------------------ run evaluation
#: Columns of the virtual mechanical tests (NaN in rows where the tests are not evaluated).
TEST_KEYS = ("apparent_stiffness", "failure_load", "fracture_risk_index")


def virtual_tests_due(
    t: float, *, tests_every: float | None, metrics_every: float, end: float, tol: float = 1e-6
) -> bool:
    """Whether the virtual tests run in the metrics row at time ``t`` (days).

    A function of time only (the same on every rank and after a restart): always at t = 0
    and at the end of the run (``end``, days); otherwise at the metrics rows whose time is a
    multiple of ``tests_every`` (None: at every row). ``tests_every`` is a multiple of
    ``metrics_every`` (checked when the case is read); the row index t / metrics_every is
    compared, so that times accumulated in floating point still match.
    """
    if tests_every is None or t <= tol or abs(t - end) <= tol:
        return True
    rows = t / metrics_every
    index = round(rows)
    if abs(rows - index) * metrics_every > tol:
        return False  # off the regular metrics grid (only the end row can be: see above)
    ratio = max(round(tests_every / metrics_every), 1)
    return index % ratio == 0


#: Metrics whose percent change from baseline is reported as ``<name>_pct_change``.
PCT_CHANGE_KEYS = (
    "bmd_vol_mean",
    "bvtv_mean",
    "density_app_mean",
    "abmd",
    "bmc",
    "apparent_stiffness",
    "failure_load",
)


class MetricsEvaluator:
    """Evaluates the metrics of a running :class:`~bonefem.simulation.Simulation`.

    Columns (units): ``time_days`` (days), ``time_years`` (years), ``step``;
    ``bmd_vol_mean`` (mineral density, g/cm³), ``bvtv_mean`` (-), ``density_app_mean``
    (apparent density, g/cm³), ``youngs_modulus_mean`` (MPa), ``OBa_mean``, ``OCa_mean``
    (pM) -- each also per region with the region name as suffix; ``abmd`` (g/cm²), ``bmc``
    (g), ``projected_area`` (cm²); ``apparent_stiffness`` (N/mm); ``failure_load`` (N),
    ``fracture_risk_index`` (-); ``tests_evaluated`` (1 if the virtual tests ran in this
    row, else 0: see ``metrics.tests_every_days``; the test columns are NaN then);
    ``<metric>_pct_change`` (%) from the first row; ``signal_*`` systemic signal levels;
    ``mechanics_solves``, ``ksp_iterations``.
    """

    def __init__(self, sim: Any) -> None:
        self.sim = sim
        bone = sim.bone
        mesh = bone.mesh
        n = bone.num_cells_local
        self.comm = bone.comm
        lo, hi = bone.bounding_box()
        dxa = sim.case.metrics.dxa
        self.projection = make_projection(
            lo, hi, "xyz".index(dxa.axis), dxa.pixel_mm, dxa.roi_lower, dxa.roi_upper
        )
        vertices = mesh.geometry.x[mesh.geometry.dofmaps[0][:n]]
        self.area = projected_area(self.comm, _exterior_facets(mesh), self.projection)
        self.points, self.samples = lattice_points(vertices, 2)
        self.yield_strain = np.array([law.yield_strain for law in sim.laws])[sim.region_index]

    def virtual_tests_due(self, t: float) -> bool:
        """Whether the virtual tests run in the metrics row at time t (days).

        See :func:`virtual_tests_due`; the settings come from the case.
        """
        case = self.sim.case
        return virtual_tests_due(
            t,
            tests_every=case.metrics.tests_every_days,
            metrics_every=case.output.metrics_every_days,
            end=case.run.duration_days,
        )

    def evaluate(self, due: bool | None = None) -> dict[str, float]:
        """One metrics row at the simulation's current time.

        Args:
            due: solve the virtual tests (stiffness test, fracture load case) in this row;
                None: by the case's schedule (:meth:`virtual_tests_due`). Without them the test
                columns are NaN.
        """
        from bonefem.remodeling import mineral_density

        sim = self.sim
        comm = self.comm
        lp = sim.loop
        st = sim.state
        params = sim.model.remodeling.params
        vol = sim.volumes
        idx = sim.region_index
        names = sim.region_names
        row: dict[str, float] = {"time_days": lp.t, "time_years": lp.t / 365.25, "step": lp.step}
        mineral = mineral_density(st[3], st[4], params)
        fields = {
            "bmd_vol_mean": mineral,
            "bvtv_mean": st[3],
            "density_app_mean": sim.density(st),
            "youngs_modulus_mean": sim.E,
            "OBa_mean": st[1],
            "OCa_mean": st[2],
        }
        for key, values in fields.items():
            for region, mean in weighted_means(comm, values, vol, idx, names).items():
                row[f"{key}_{region}" if region else key] = mean
        bmc = bone_mineral_content(
            comm, self.points, self.samples, mineral * vol / MM3_PER_CM3, self.projection
        )
        row["bmc"] = bmc
        row["projected_area"] = self.area
        row["abmd"] = bmc / self.area if self.area > 0 else float("nan")
        mech = sim.mech
        tests = sim.case.metrics
        configured = tests.stiffness_test is not None or tests.fracture is not None
        run_tests = configured and (self.virtual_tests_due(lp.t) if due is None else due)
        # the columns exist in every row (NaN where the tests do not run): a stable header
        if tests.stiffness_test is not None:
            row["apparent_stiffness"] = float("nan")
        if tests.fracture is not None:
            row["failure_load"] = float("nan")
            row["fracture_risk_index"] = float("nan")
        row["tests_evaluated"] = 1.0 if run_tests else 0.0
        if run_tests:
            mech.set_modulus(sim.E)
        if run_tests and tests.stiffness_test is not None:
            name = tests.stiffness_test.name
            mech.solve(name, step=lp.step, time=lp.t)
            row["apparent_stiffness"] = mech.apparent_stiffness(name)
        if run_tests and tests.fracture is not None:
            lc = tests.fracture.load_case
            mech.solve(lc.name, step=lp.step, time=lp.t)
            applied = float(
                np.linalg.norm(np.sum([ld.force for ld in lc.loads if ld.type == "force"], axis=0))
            )
            est = failure_estimate(
                comm,
                mech.strain_energy_density(lc.name),
                sim.E,
                self.yield_strain,
                st[3] * vol,
                applied,
                tests.fracture.critical_fraction,
            )
            row["failure_load"] = est.failure_load
            row["fracture_risk_index"] = est.risk_index
        for key, value in sim.signals.values(lp.t).items():
            row[f"signal_{key}"] = float(value)
        row["mechanics_solves"] = lp.mechanics_solves
        row["ksp_iterations"] = lp.ksp_iterations
        if not lp.baseline:
            lp.baseline = {k: float(v) for k, v in row.items()}
        for key in list(row):
            base = key if key in PCT_CHANGE_KEYS else None
            if base is None and "_" in key:
                stem = next((p for p in PCT_CHANGE_KEYS if key.startswith(p + "_")), None)
                base = key if stem is not None and not key.endswith("_pct_change") else None
            if base is not None:
                row[f"{key}_pct_change"] = percent_change(row[key], lp.baseline.get(key, np.nan))
        return row


def _exterior_facets(mesh: Any) -> FloatArray:
    """Vertex coordinates (n, 3|4, 3) of the exterior facets of the local mesh (mm)."""
    from bonefem._dolfinx import dolfinx

    tdim = mesh.topology.dim
    mesh.topology.create_connectivity(tdim - 1, tdim)
    facets = dolfinx.mesh.exterior_facet_indices(mesh.topology)
    nodes = dolfinx.mesh.entities_to_geometry(mesh, tdim - 1, facets)
    return np.asarray(mesh.geometry.x[nodes])
