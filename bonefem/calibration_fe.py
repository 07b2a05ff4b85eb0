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

Second target, the saturation of the disuse drive (issue 13 item 4;
``CalibratedConstants.mechano_rankl_max``, P_max in pM/day): bed-rest hip loss. LeBlanc et al.
(1990, J Bone Miner Res 5:843) measured -3.6 % (femoral neck) and -4.6 % (trochanter) areal
BMD after 17 weeks of bed rest; we fit the bundled disuse femur (habitual loads at 30 %,
``cases/disuse_femur.toml``) to their mean, -4.1 % total-hip aBMD at 119 days, by the secant
method on ln P_max. Spaceflight rates (LeBlanc et al. 2000, J Musculoskelet Neuronal
Interact 1:157: neck -1.15, trochanter -1.56 %/month) are the upper end of the published
range. ASSUMPTION: bed rest reduces the habitual hip stress to about 30 % (no weight
bearing; muscle forces remain). P_max is fitted first (the disuse femur has healthy
hormones), then the estrogen factor (the FE vertebra's trabecular bone is under-stimulated
in menopause, so P_max acts there too).

Run: ``python -m bonefem.calibration_fe [--target swan|disuse|both]`` (about 10 runs of
~1 min for each target).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import tempfile
from pathlib import Path

from bonefem.biology.calibrated import CALIBRATED, CalibratedConstants

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


def loss_for(factor: float, folder: Path, step: float = 14.0) -> float:
    """10-year aBMD change (%) of the bundled menopause vertebra with the given factor."""
    k = dataclasses.replace(CALIBRATED, fe_rankl_estrogen_factor=factor)
    overrides = [f"run.biology_step_days={step}", "output.fields_every_days=3652.5"]
    return _final_abmd_change("menopause_vertebra", folder, f"run_{factor:.6f}", k, overrides)


#: Bed-rest hip aBMD change at 17 weeks (%): mean of neck -3.6 and trochanter -4.6
#: (LeBlanc et al. 1990).
BEDREST_HIP_17WK = -4.1
BEDREST_DAYS = 119.0


def disuse_loss_for(
    rankl_max: float, folder: Path, constants: CalibratedConstants | None = None
) -> float:
    """Total-hip aBMD change (%) after 119 days of the bundled disuse femur with P_max."""
    base = constants if constants is not None else CALIBRATED
    k = dataclasses.replace(base, mechano_rankl_max=rankl_max)
    run, overrides = f"disuse_{rankl_max:.1f}", [f"run.duration_days={BEDREST_DAYS}"]
    return _final_abmd_change("disuse_femur", folder, run, k, overrides)


def calibrate_disuse(
    folder: Path, tol: float = 0.05, start: tuple[float, float] = (1.0e4, 3.0e3)
) -> dict[str, float]:
    """Secant iteration on ln(P_max) (pM/day) until the 17-week hip loss is on target.

    Stops when within ``tol`` percentage points of :data:`BEDREST_HIP_17WK`.
    """
    x0, x1 = math.log(start[0]), math.log(start[1])
    f0 = disuse_loss_for(math.exp(x0), folder) - BEDREST_HIP_17WK
    f1 = disuse_loss_for(math.exp(x1), folder) - BEDREST_HIP_17WK
    history = [(math.exp(x0), f0 + BEDREST_HIP_17WK), (math.exp(x1), f1 + BEDREST_HIP_17WK)]
    for _ in range(12):
        if abs(f1) < tol or f1 == f0:
            break
        x2 = x1 - f1 * (x1 - x0) / (f1 - f0)
        x0, f0, x1 = x1, f1, max(min(x2, x1 + 2.0), x1 - 2.0)
        f1 = disuse_loss_for(math.exp(x1), folder) - BEDREST_HIP_17WK
        history.append((math.exp(x1), f1 + BEDREST_HIP_17WK))
        print(f"P_max {math.exp(x1):.1f} pM/day: 17-week hip aBMD {f1 + BEDREST_HIP_17WK:+.3f} %")
    return {
        "mechano_rankl_max": math.exp(x1),
        "abmd_change_17wk_pct": f1 + BEDREST_HIP_17WK,
        "target_pct": BEDREST_HIP_17WK,
        "history": history,  # type: ignore[dict-item]
    }


def calibrate(
    folder: Path, step: float = 14.0, tol: float = 0.05, start: tuple[float, float] = (1.0, 0.4)
) -> dict[str, float]:
    """Secant iteration on ln(factor) until the 10-year loss is within ``tol`` % of SWAN."""
    x0, x1 = math.log(start[0]), math.log(start[1])
    f0 = loss_for(math.exp(x0), folder, step) - SWAN_LS_10Y
    f1 = loss_for(math.exp(x1), folder, step) - SWAN_LS_10Y
    history = [(math.exp(x0), f0 + SWAN_LS_10Y), (math.exp(x1), f1 + SWAN_LS_10Y)]
    for _ in range(12):
        if abs(f1) < tol or f1 == f0:
            break
        x2 = x1 - f1 * (x1 - x0) / (f1 - f0)
        x2 = max(min(x2, x1 + 1.5), x1 - 1.5)
        x0, f0 = x1, f1
        x1 = x2
        f1 = loss_for(math.exp(x1), folder, step) - SWAN_LS_10Y
        history.append((math.exp(x1), f1 + SWAN_LS_10Y))
        print(f"factor {math.exp(x1):.5f}: 10-year aBMD change {f1 + SWAN_LS_10Y:+.3f} %")
    return {
        "fe_rankl_estrogen_factor": math.exp(x1),
        "abmd_change_10y_pct": f1 + SWAN_LS_10Y,
        "target_pct": SWAN_LS_10Y,
        "history": history,  # type: ignore[dict-item]
    }


def main(argv: list[str] | None = None) -> int:
    """Command line: run the calibration and print the result as JSON."""
    parser = argparse.ArgumentParser(prog="python -m bonefem.calibration_fe", description=__doc__)
    parser.add_argument("--step", type=float, default=14.0, help="coupled step (days)")
    parser.add_argument("--work", default=None, help="folder for the runs (default: temporary)")
    parser.add_argument(
        "--start", type=float, nargs=2, default=(1.0, 0.4), help="first two factors to try"
    )
    parser.add_argument("--target", choices=("swan", "disuse"), default="swan", help="what to fit")
    args = parser.parse_args(argv)
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="bonefem-fe-cal-"))
    work.mkdir(parents=True, exist_ok=True)
    if args.target == "disuse":
        result = calibrate_disuse(work)
    else:
        result = calibrate(work, args.step, start=(args.start[0], args.start[1]))
    json.dump(result, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
