"""Calibration of the finite-element model's estrogen-deficiency drive on SWAN.

Why a second calibration: the 0-D calibration (:mod:`bonefem.biology.calibration`) assumes
that a point carries a constant habitual stress, so bone loss raises its strain energy
density and the mechanostat brakes the loss strongly. In the finite-element vertebra the
cortical shell and endplates carry a large share of the load in parallel with the
trabecular centrum: as trabecular bone is lost its strain stays nearly the same and its
strain energy density *falls*, so the mechanical brake is much weaker and the same
estrogen drive removes about 2.5 times more bone. The FE model is therefore calibrated
on the same SWAN target with the FE model itself.

Targets (calibration data only), read from the DXA-like areal BMD (antero-posterior
projection) of the bundled case ``cases/menopause_vertebra.toml`` itself (natural
menopause with the FMP at 2 years, 10 years; fields written once): the SWAN lumbar-spine
aBMD change over the 10 years around the final menstrual period, −10.6 % (Greendale et al.
2012, J Bone Miner Res 27:111), from 2 years before to 8 years after the FMP, and the three
lumbar-spine stage rates of the 0-D calibration (Sowers et al. 2010, J Clin Endocrinol Metab
95:2155, the Michigan cohort: −1.7 %/y over [FMP−2, FMP], −3.3 %/y over [FMP, FMP+2], −1.1
%/y over [FMP+2, FMP+7]). One parameter is fitted: the factor on the 0-D-calibrated RANKL
production at full estrogen deficiency (``CalibratedConstants.fe_rankl_estrogen_factor``),
by weighted least squares (:func:`swan_objective`): each residual in units of its acceptance
band (issue 13: ±1 percentage point for a calibration point, ±0.7 %/y for a stage rate).
The rates and the total are not mutually consistent (the chained rates lose 12.6 % over
[FMP−2, FMP+5], SWAN 10.6 % over a window that contains it; :mod:`bonefem.biology.calibration`),
and one factor scales the drive without shaping its course: until December 2026 the
factor was fitted to the total alone and the rate after the FMP came out at −2.52 %/y.

Second target, the size of the disuse drive (issue 13 item 4;
``CalibratedConstants.mechano_rankl_slope``, kappa in pM/day): bed-rest hip loss. LeBlanc et
al. (1990, J Bone Miner Res 5:843) measured -3.6 % (femoral neck) and -4.6 % (trochanter)
areal BMD after 17 weeks of bed rest; we fit the bundled disuse femur (habitual loads at 30
%, ``cases/disuse_femur.toml``) to their mean, -4.1 % total-hip aBMD at 119 days, by the
secant method on ln kappa, in Scheiner's linear law kappa (1 - Psi/Psi_ss) (no saturation,
P_max = inf: the production is graded over partial unloading, as bone loss is, Ellman et
al. 2013, J Bone Miner Res 28:875; until December 2026 P_max was fitted under Scheiner's
kappa = 1e5, which made the production a step at 3 % under-stimulation). Spaceflight rates
(LeBlanc et al. 2000, J Musculoskelet Neuronal Interact 1:157: neck -1.15, trochanter
-1.56 %/month) are the upper end of the published range. ASSUMPTION: bed rest reduces the
habitual hip stress to about 30 % (no weight bearing; muscle forces remain). Kappa is
fitted first (the disuse femur has healthy hormones), then the estrogen factor (the FE
vertebra's trabecular bone is under-stimulated in menopause, so kappa acts there too).

Run: ``python -m bonefem.calibration_fe [--target swan|disuse] [--step DAYS]`` (a few
runs of the bundled case for each target, at its own coupling step unless ``--step`` is
given; the disuse secant that does not reach its target within 0.05 percentage points,
or a SWAN fit whose optimum lies on a bound of the factor, stops with one line naming the
constant, the target and the last tries, exit code 2).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bonefem.biology.calibrated import CALIBRATED, CalibratedConstants
from bonefem.biology.calibration import TARGETS
from bonefem.errors import CalibrationError

#: SWAN lumbar-spine aBMD change over 10 years around the FMP (%), Greendale et al. 2012
#: (the 0-D calibration's target, read here over the bundled case's FMP-2..FMP+8).
SWAN_LS_10Y = TARGETS["swan_total_10y"][0]

#: The points of the SWAN fit: name -> (t0, t1 in days of the bundled case, whose FMP is at
#: 730.5; target; acceptance band; True for a rate in %/y, False for a change in %). The
#: targets are the 0-D calibration's (:data:`bonefem.biology.calibration.TARGETS`): the
#: total Greendale et al. 2012, the rates Sowers et al. 2010 (the Michigan cohort); the
#: bands: issue 13's acceptance (±1 pp, ±0.7 %/y).
SWAN_POINTS: dict[str, tuple[float, float, float, float, bool]] = {
    "total_10y": (0.0, 3652.5, SWAN_LS_10Y, 1.0, False),
    "rate_pre": (0.0, 730.5, TARGETS["swan_rate_pre"][0], 0.7, True),
    "rate_post": (730.5, 1461.0, TARGETS["swan_rate_post"][0], 0.7, True),
    "rate_late": (1461.0, 3287.25, TARGETS["swan_rate_late"][0], 0.7, True),
}


def _bundled(name: str, folder: Path) -> Path:
    """Copy of ``cases/<name>.toml`` in ``folder`` with its mesh settings path made absolute."""
    root = Path(__file__).resolve().parents[1]
    text = (root / "cases" / f"{name}.toml").read_text(encoding="utf-8")
    start = text.index('settings = "') + len('settings = "')
    end = text.index('"', start)
    text = text[:start] + str(root / "meshes" / text[start:end]) + text[end:]
    path = folder / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _abmd_course(
    name: str, folder: Path, run: str, k: CalibratedConstants, overrides: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Times (days) and aBMD relative to the start (-) of bundled case ``name`` run with ``k``."""
    from bonefem.driver import run_case
    from bonefem.output.run_folder import read_metrics

    out = run_case(
        _bundled(name, folder),
        output=folder / run,
        overwrite=True,
        progress=False,
        constants=k,
        overrides=overrides,
    )
    rows = read_metrics(out / "metrics.csv")
    t = np.array([float(r["time_days"]) for r in rows])
    abmd = 1.0 + np.array([float(r["abmd_pct_change"]) for r in rows]) / 100.0
    return t, abmd


def _final_abmd_change(
    name: str, folder: Path, run: str, k: CalibratedConstants, overrides: list[str]
) -> float:
    """ABMD change (%) at the end of bundled case ``name`` run with the constants ``k``."""
    _, abmd = _abmd_course(name, folder, run, k, overrides)
    return float(100.0 * (abmd[-1] - 1.0))


def swan_values(t: np.ndarray, abmd: np.ndarray) -> dict[str, float]:
    """The model's value of each point of :data:`SWAN_POINTS` from an aBMD course.

    ``t``: times (days); ``abmd``: aBMD relative to any reference (-), linearly
    interpolated. A change is 100 (abmd(t1)/abmd(t0) - 1) (%), a rate that change over
    (t1 - t0)/365.25 (%/y), as ``scripts/run_validation.py`` reads them.
    """
    out = {}
    for name, (t0, t1, _, _, rate) in SWAN_POINTS.items():
        change = 100.0 * (float(np.interp(t1, t, abmd)) / float(np.interp(t0, t, abmd)) - 1.0)
        out[name] = change / ((t1 - t0) / 365.25) if rate else change
    return out


def swan_objective(values: dict[str, float]) -> float:
    """Sum of squared residuals of :data:`SWAN_POINTS`, each in units of its band (-)."""
    return sum(
        ((values[name] - target) / band) ** 2
        for name, (_, _, target, band, _) in SWAN_POINTS.items()
    )


def swan_for(factor: float, folder: Path, step: float | None = None) -> dict[str, float]:
    """The SWAN points (:func:`swan_values`) of the bundled menopause vertebra at ``factor``.

    ``step``: the coupled step (days); None keeps the case's own (``run.biology_step_days``).
    """
    k = dataclasses.replace(CALIBRATED, fe_rankl_estrogen_factor=factor)
    overrides = ["output.fields_every_days=3652.5"]
    if step is not None:
        overrides.append(f"run.biology_step_days={step}")
    t, abmd = _abmd_course("menopause_vertebra", folder, f"run_{factor:.6f}", k, overrides)
    return swan_values(t, abmd)


#: Bed-rest hip aBMD change at 17 weeks (%): mean of neck -3.6 and trochanter -4.6
#: (LeBlanc et al. 1990).
BEDREST_HIP_17WK = -4.1
BEDREST_DAYS = 119.0


def disuse_loss_for(
    slope: float, folder: Path, constants: CalibratedConstants | None = None
) -> float:
    """Total-hip aBMD change (%) after 119 days of the bundled disuse femur with kappa.

    ``slope``: kappa (pM/day), the disuse RANKL production per unit under-stimulation;
    the saturation P_max is the constants' (the shipped set: none, Scheiner's linear law).
    """
    base = constants if constants is not None else CALIBRATED
    k = dataclasses.replace(base, mechano_rankl_slope=slope)
    run, overrides = f"disuse_{slope:.1f}", [f"run.duration_days={BEDREST_DAYS}"]
    return _final_abmd_change("disuse_femur", folder, run, k, overrides)


def log_secant(
    model: Callable[[float], float],
    target: float,
    start: tuple[float, float],
    *,
    constant: str,
    target_text: str,
    tol: float = 0.05,
    max_step: float = 1.5,
    max_iter: int = 12,
) -> dict[str, Any]:
    """Secant iteration on ln(x) until ``model(x)`` is within ``tol`` of ``target``.

    Each new ln(x) moves at most ``max_step`` from the last. Returns the constant's value
    (under the key ``constant``), the model value reached (``"model"``), the target and
    the history of (x, model(x)). Raises :class:`~bonefem.errors.CalibrationError` naming
    the constant, the target and the last two tries when it does not get within ``tol``
    (the model stopped responding to x, or ``max_iter`` tries were not enough).
    """
    x0, x1 = math.log(start[0]), math.log(start[1])
    f0 = model(math.exp(x0)) - target
    f1 = model(math.exp(x1)) - target
    history = [(math.exp(x0), f0 + target), (math.exp(x1), f1 + target)]
    for _ in range(max_iter):
        if abs(f1) < tol or f1 == f0:
            break
        x2 = x1 - f1 * (x1 - x0) / (f1 - f0)
        x0, f0, x1 = x1, f1, max(min(x2, x1 + max_step), x1 - max_step)
        f1 = model(math.exp(x1)) - target
        history.append((math.exp(x1), f1 + target))
        print(f"{constant} {math.exp(x1):.6g}: {f1 + target:+.3f} (target {target:+.3f})")
    if not abs(f1) < tol:
        tries = ", ".join(f"{x:.6g} -> {v:+.4g}" for x, v in history[-2:])
        raise CalibrationError(
            f"{constant}: {len(history)} tries did not reach {target_text} within {tol:g} "
            f"(last: {tries})"
        )
    return {constant: math.exp(x1), "model": f1 + target, "target": target, "history": history}


def calibrate_disuse(
    folder: Path, tol: float = 0.05, start: tuple[float, float] = (1.0e3, 2.0e3)
) -> dict[str, Any]:
    """Kappa (pM/day) by :func:`log_secant` until the 17-week hip loss is on target."""
    return log_secant(
        lambda slope: disuse_loss_for(slope, folder),
        BEDREST_HIP_17WK,
        start,
        constant="mechano_rankl_slope",
        target_text=f"the bed-rest hip aBMD change {BEDREST_HIP_17WK} % at 17 weeks",
        tol=tol,
        max_step=2.0,
    )


def fit_factor(
    model: Callable[[float], dict[str, float]],
    bounds: tuple[float, float] = (0.3, 3.0),
    xatol: float = 2e-3,
) -> dict[str, Any]:
    """The factor minimising :func:`swan_objective` of ``model(factor)`` within ``bounds``.

    Bounded Brent search on ln(factor) (scipy ``minimize_scalar``), absolute tolerance
    ``xatol`` in ln(factor). Returns ``fe_rankl_estrogen_factor``, the points reached
    (``"model"``), the targets, the objective and the history of (factor, points). Raises
    :class:`~bonefem.errors.CalibrationError` when the optimum lies on a bound (the model
    stopped responding to the factor, or the bounds are too narrow).
    """
    from scipy.optimize import minimize_scalar

    history: list[tuple[float, dict[str, float]]] = []

    def objective(x: float) -> float:
        values = model(math.exp(x))
        history.append((math.exp(x), values))
        text = ", ".join(f"{n} {v:+.3f}" for n, v in values.items())
        print(f"fe_rankl_estrogen_factor {math.exp(x):.6g}: {text}", flush=True)
        return swan_objective(values)

    lo, hi = math.log(bounds[0]), math.log(bounds[1])
    res = minimize_scalar(objective, bounds=(lo, hi), method="bounded", options={"xatol": xatol})
    if min(res.x - lo, hi - res.x) < 2.0 * xatol:
        raise CalibrationError(
            f"fe_rankl_estrogen_factor: the SWAN fit's optimum {math.exp(res.x):.6g} lies on a "
            f"bound of {bounds} after {len(history)} tries"
        )
    best = min(history, key=lambda h: swan_objective(h[1]))
    return {
        "fe_rankl_estrogen_factor": best[0],
        "model": best[1],
        "target": {n: p[2] for n, p in SWAN_POINTS.items()},
        "objective": swan_objective(best[1]),
        "history": history,
    }


def calibrate(folder: Path, step: float | None = None) -> dict[str, Any]:
    """The FE factor by :func:`fit_factor` on runs of the bundled menopause vertebra."""
    return fit_factor(lambda factor: swan_for(factor, folder, step))


def main(argv: list[str] | None = None) -> int:
    """Command line: run the calibration and print the result as JSON."""
    parser = argparse.ArgumentParser(prog="python -m bonefem.calibration_fe", description=__doc__)
    parser.add_argument(
        "--step",
        type=float,
        default=None,
        help="coupled step (days; default: the bundled case's own run.biology_step_days)",
    )
    parser.add_argument("--work", default=None, help="folder for the runs (default: temporary)")
    parser.add_argument("--target", choices=("swan", "disuse"), default="swan", help="what to fit")
    args = parser.parse_args(argv)
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="bonefem-fe-cal-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        if args.target == "disuse":
            result: dict[str, Any] = calibrate_disuse(work)
        else:
            result = calibrate(work, args.step)
    except CalibrationError as exc:
        print(f"calibration failed: {exc}", file=sys.stderr)
        return 2
    json.dump(result, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
