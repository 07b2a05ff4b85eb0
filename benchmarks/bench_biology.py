"""Throughput of the vectorised cell model: point-steps per second on one core.

A "step" is one outer step of the coupled loop: ``BoneCellModel.advance`` over dt = 7 days
(error-controlled ROS2 substeps inside). Two regimes are timed at 1e5 and 1e6 points:

* ``menopause``: natural-menopause signals around the FMP (slow systemic change, the typical
  regime of a coupled run), with a per-point stimulus array;
* ``transient``: a strong RANKL block (denosumab-like) switched on at the start; the cells
  and bone keep adapting during the timed steps.

Both start from the healthy state with a per-point stimulus Psi/Psi_ss in [1, 1.02]; the
first ``--warmup`` steps (the fast initial response, ~8 substeps/step) are not timed.

``--law both`` times the bone-volume law of issue 13 (slow mineralisation, remodelling
period, Haversian surface: 8 state rows) and bonefem 0.1's (5 rows of work, the new terms
off) side by side, alternating, in one run.

Usage: ``python benchmarks/bench_biology.py [--points 100000 1000000] [--law issue13|0.1|both]
[--json out.json]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from bonefem.biology.cells import DEFAULT_REMODELING_CELLS, BoneCellModel
from bonefem.biology.effects import ConstantSignals, Effects, SystemicSignals
from bonefem.biology.signals import build_signals
from bonefem.config.scenario import EstrogenConfig, ScenarioConfig

RESULTS = Path(__file__).resolve().parent / "results"
"""Where the results go by default (benchmarks/results/, not the working folder)."""

DT = 7.0


#: the bone-volume law with issue 13's terms (default) and with them off (bonefem 0.1's)
LAWS = {
    "issue13": DEFAULT_REMODELING_CELLS,
    "0.1": replace(
        DEFAULT_REMODELING_CELLS, slow_share=0.0, canal_density=0.0, formation_delay_days=0.0
    ),
}


def bench(
    n: int, regime: str, n_steps: int, n_warmup: int, law: str = "issue13"
) -> dict[str, float | str]:
    model = BoneCellModel(remodeling=LAWS[law])
    rng = np.random.default_rng(0)
    state = model.healthy_state(rng.uniform(0.1, 0.9, n))
    psi = rng.uniform(1.0, 1.02, n)  # mild overload: no disuse RANKL burst
    sig: SystemicSignals
    if regime == "menopause":
        sig = build_signals(
            ScenarioConfig(estrogen=EstrogenConfig(menopause="natural", menopause_time_days=0.0))
        )
        t0_sim = -200.0
    else:
        sig = ConstantSignals(Effects(rankl_decoy=50.0))  # denosumab-like RANKL block
        t0_sim = 0.0
    # warm-up steps (not timed): the initial response to the per-point stimulus
    t = t0_sim
    for _ in range(n_warmup):
        state = model.advance(state, t, DT, sig, psi).state
        t += DT
    substeps = 0
    start = time.perf_counter()
    for _ in range(n_steps):
        res = model.advance(state, t, DT, sig, psi)
        state = res.state
        substeps += res.n_accepted + res.n_rejected
        t += DT
    wall = time.perf_counter() - start
    out: dict[str, float | str] = {
        "points": n,
        "regime": regime,
        "law": law,
        "dt_days": DT,
        "steps": n_steps,
        "warmup_steps": n_warmup,
        "substeps_per_step": substeps / n_steps,
        "wall_s": wall,
        "point_steps_per_s": n * n_steps / wall,
    }
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--law", choices=("issue13", "0.1", "both"), default="issue13")
    ap.add_argument("--json", default=str(RESULTS / "bench_biology.json"))
    args = ap.parse_args()
    laws = ["issue13", "0.1"] if args.law == "both" else [args.law]
    rows = []
    for n in args.points:
        for regime in ("menopause", "transient"):
            for law in laws:
                row = bench(n, regime, args.steps, args.warmup, law)
                rows.append(row)
                print(
                    f"{n:>9d} points  {regime:<9s}  law {law:<7s}  "
                    f"{row['substeps_per_step']:.2f} substeps/step  "
                    f"{row['point_steps_per_s']:.3g} point-steps/s"
                )
    out = {"python": platform.python_version(), "numpy": np.__version__, "results": rows}
    with open(args.json, "w") as fh:
        json.dump(out, fh, indent=2)
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
