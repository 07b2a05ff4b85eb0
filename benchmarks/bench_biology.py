"""Throughput of the vectorised cell model: point-steps per second on one core.

A "step" is one outer step of the coupled loop: ``BoneCellModel.advance`` over dt = 7 days
(error-controlled ROS2 substeps inside). Two regimes are timed at 1e5 and 1e6 points:

* ``menopause``: natural-menopause signals around the FMP (slow systemic change, the typical
  regime of a coupled run), with a per-point stimulus array;
* ``transient``: a strong RANKL block (denosumab-like) switched on at the start; the cells
  and bone keep adapting during the timed steps.

Both start from the healthy state with a per-point stimulus Psi/Psi_ss in [1, 1.02]; the
first ``--warmup`` steps (the fast initial response, ~8 substeps/step) are not timed.

Usage: ``python benchmarks/bench_biology.py [--points 100000 1000000] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np

from bonefem.biology.cells import BoneCellModel
from bonefem.biology.effects import ConstantSignals, Effects, SystemicSignals
from bonefem.biology.signals import build_signals
from bonefem.config.scenario import EstrogenConfig, ScenarioConfig

DT = 7.0


def bench(n: int, regime: str, n_steps: int, n_warmup: int) -> dict[str, float | str]:
    model = BoneCellModel()
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
    ap.add_argument("--json", default="bench_biology.json")
    args = ap.parse_args()
    rows = []
    for n in args.points:
        for regime in ("menopause", "transient"):
            row = bench(n, regime, args.steps, args.warmup)
            rows.append(row)
            print(
                f"{n:>9d} points  {regime:<9s}  {row['substeps_per_step']:.2f} substeps/step  "
                f"{row['point_steps_per_s']:.3g} point-steps/s"
            )
    out = {"python": platform.python_version(), "numpy": np.__version__, "results": rows}
    with open(args.json, "w") as fh:
        json.dump(out, fh, indent=2)
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
