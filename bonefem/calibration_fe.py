"""Calibration of the finite-element model's estrogen-deficiency drive on SWAN.

Why a second calibration: the 0-D calibration (:mod:`bonefem.biology.calibration`) assumes
that a point carries a constant habitual stress, so bone loss raises its strain energy
density and the mechanostat brakes the loss strongly. In the finite-element vertebra the
cortical shell and endplates carry a large share of the load in parallel with the
trabecular centrum: as trabecular bone is lost its strain stays nearly the same and its
strain energy density *falls*, so the mechanical brake is much weaker and the same
estrogen drive removes about 2.5 times more bone. The FE model is therefore calibrated
on the same SWAN target with the FE model itself.

Target (calibration data only): SWAN lumbar-spine areal BMD change over the 10 years
around the final menstrual period, −10.6 % (Greendale et al. 2012, J Bone Miner Res
27:111), from 2 years before to 8 years after the FMP. Model output: the DXA-like areal
BMD (antero-posterior projection) of the bundled case ``cases/menopause_vertebra.toml``
itself (natural menopause with the FMP at 2 years, 10 years; fields written once). One
parameter is fitted: the factor
on the 0-D-calibrated RANKL production at full estrogen deficiency
(``CalibratedConstants.fe_rankl_estrogen_factor``), by the secant method on the log of
the factor.

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
given; a secant that does not reach its target within 0.05 percentage points stops with
one line naming the constant, the target and the last tries, exit code 2).
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

from bonefem.biology.calibrated import CALIBRATED, CalibratedConstants
from bonefem.errors import CalibrationError

#: SWAN lumbar-spine aBMD change over 10 years around the FMP (%), Greendale et al. 2012.
SWAN_LS_10Y = -10.6


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


def _final_abmd_change(
    name: str, folder: Path, run: str, k: CalibratedConstants, overrides: list[str]
) -> float:
    """ABMD change (%) at the end of bundled case ``name`` run with the constants ``k``."""
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
    return float(read_metrics(out / "metrics.csv")[-1]["abmd_pct_change"])


def loss_for(factor: float, folder: Path, step: float | None = None) -> float:
    """10-year aBMD change (%) of the bundled menopause vertebra with the given factor.

    ``step``: the coupled step (days); None keeps the case's own (``run.biology_step_days``).
    """
    k = dataclasses.replace(CALIBRATED, fe_rankl_estrogen_factor=factor)
    overrides = ["output.fields_every_days=3652.5"]
    if step is not None:
        overrides.append(f"run.biology_step_days={step}")
    return _final_abmd_change("menopause_vertebra", folder, f"run_{factor:.6f}", k, overrides)


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


def calibrate(
    folder: Path,
    step: float | None = None,
    tol: float = 0.05,
    start: tuple[float, float] = (1.0, 0.4),
) -> dict[str, Any]:
    """The FE factor by :func:`log_secant` until the 10-year loss is within ``tol`` of SWAN."""
    return log_secant(
        lambda factor: loss_for(factor, folder, step),
        SWAN_LS_10Y,
        start,
        constant="fe_rankl_estrogen_factor",
        target_text=f"the SWAN lumbar-spine aBMD change {SWAN_LS_10Y} % over 10 years",
        tol=tol,
        max_step=1.5,
    )


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
    parser.add_argument(
        "--start", type=float, nargs=2, default=(1.0, 0.4), help="first two factors to try"
    )
    parser.add_argument("--target", choices=("swan", "disuse"), default="swan", help="what to fit")
    args = parser.parse_args(argv)
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="bonefem-fe-cal-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        if args.target == "disuse":
            result = calibrate_disuse(work)
        else:
            result = calibrate(work, args.step, start=(args.start[0], args.start[1]))
    except CalibrationError as exc:
        print(f"calibration failed: {exc}", file=sys.stderr)
        return 2
    json.dump(result, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
