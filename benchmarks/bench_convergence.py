"""Convergence of the coupled loop on a bundled case (issue 18; the short version is
tests/system/test_coupled_convergence.py).

Level k halves the biology step and tightens the modulus tolerance and the cell-model
tolerances together: step 28/2^k days, ``coupling.modulus_tolerance`` 0.04/2^k,
``remodeling.cell_rtol`` 0.03/2^k, ``remodeling.bone_rtol`` 3e-4/2^k. For each final
metric the script reports the differences of consecutive levels d_k, the observed order
log2(d_k/d_{k+1}) and the Richardson error estimate of each level, d_k/(1 - 2^-p), with
the number of elasticity solves and the wall time of each level.

    python benchmarks/bench_convergence.py [--case menopause_vertebra] [--years 2] [--levels 4]

Writes benchmarks/results/convergence_<case>_<years>y.json.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import RESULTS, ROOT, machine, rank0_print, write_json

QUANTITIES = ("abmd", "bmd_vol_mean", "apparent_stiffness", "failure_load")


def run_level(case: Path, folder: Path, k: int, days: float) -> dict[str, float]:
    """Final metrics, solves and wall time (s) of level k."""
    from bonefem.driver import run_case
    from bonefem.output.run_folder import read_metrics

    overrides = [
        f"run.duration_days={days}",
        f"run.biology_step_days={28.0 / 2**k}",
        f"coupling.modulus_tolerance={0.04 / 2**k}",
        f"remodeling.cell_rtol={0.03 / 2**k}",
        f"remodeling.bone_rtol={3e-4 / 2**k}",
        f"output.fields_every_days={days}",
        f"output.checkpoint_every_days={days}",
    ]
    t0 = time.perf_counter()
    out = run_case(case, output=folder / f"level{k}", progress=False, overrides=overrides)
    wall = time.perf_counter() - t0
    row = read_metrics(out / "metrics.csv")[-1]
    return {**{q: float(row[q]) for q in QUANTITIES}, "solves": float(row["mechanics_solves"]),
            "wall_s": wall}  # fmt: skip


def analyse(levels: list[dict[str, float]]) -> dict[str, Any]:
    """Consecutive differences, observed orders and Richardson error estimates."""
    out: dict[str, Any] = {}
    for q in QUANTITIES:
        v = np.array([lv[q] for lv in levels])
        d = np.abs(np.diff(v)) / abs(v[-1])
        orders = np.log2(d[:-1] / d[1:]) if d.size > 1 else np.array([])
        p = float(np.mean(orders)) if orders.size else 1.0
        factor = 1.0 / (1.0 - 2.0**-p) if p > 0 else math.inf
        out[q] = {"differences": d.tolist(), "orders": orders.tolist(), "order": p,
                  "error_estimate": (factor * d).tolist()}  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--case", default="menopause_vertebra", help="bundled case name")
    ap.add_argument("--years", type=float, default=2.0, help="simulated years")
    ap.add_argument("--levels", type=int, default=4, help="number of levels (>= 3)")
    args = ap.parse_args(argv)
    case = ROOT / "cases" / f"{args.case}.toml"
    days = 365.25 * args.years
    with tempfile.TemporaryDirectory() as tmp:
        levels = []
        for k in range(args.levels):
            levels.append(run_level(case, Path(tmp), k, days))
            rank0_print(f"level {k}: {levels[-1]}")
    result = {"case": args.case, "years": args.years, "levels": levels,
              "analysis": analyse(levels), "machine": machine()}  # fmt: skip
    write_json(RESULTS / f"convergence_{args.case}_{args.years:g}y.json", result)
    for q, a in result["analysis"].items():
        rank0_print(
            q, "orders", np.round(a["orders"], 2), "errors", np.round(a["error_estimate"], 6)
        )
    return result


if __name__ == "__main__":
    main()
