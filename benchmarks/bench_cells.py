"""One cell-model substep per cell, an old version against this one, side by side (issue 15).

    .venv/bin/python benchmarks/bench_cells.py --points 31000 150000 800000 --repeat 6

A substep is what the coupled loop pays per cell-model substep: the two ROS2 stages
(linearisation with the dual-number Jacobian, the F_t difference, the stage right-hand
side, the 3x3 solves) and the final update, on a realistic state: 10 000 points (60 %
trabecular BV/TV 0.15, 25 % cortical 0.95, 15 % posterior 0.5, each +-10 %) advanced
through 5 years of natural menopause (FMP at 2 years) in 14-day steps under a
load-controlled stimulus Psi/Psi_ss = base * E_solved / E(f, m) with the bundled cases'
density-modulus laws (the coupled loop's ``StressUpdate``), then tiled to the requested
number of points (perturbed by 1e-3 relative). One substep of 14 days is timed.

The old version's ``bonefem/biology/cells.py`` and ``integrator.py`` are loaded from git
(``--old``, default the commit before issue 15's cell-model work) into their own modules;
both versions run in this process, alternating (old, new, new, old, ...), and the CPU time
(``time.process_time``) of each substep is recorded: the ratio old/new is the median over
the repeats. The new substep's state is compared with the old one (a pure refactoring must
agree bit for bit). Results: ``benchmarks/results/cells_substep.json``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import statistics
import subprocess
import sys
import time
import types
from pathlib import Path
from typing import Any

import numpy as np

from bonefem.biology import cells as new_cells
from bonefem.biology import integrator as new_integrator
from bonefem.biology.signals import build_signals
from bonefem.config.scenario import EstrogenConfig, ScenarioConfig
from bonefem.coupling.material import BoneMaterial
from bonefem.coupling.stimulus import StressUpdate
from bonefem.material import ModulusLaw

ROOT = Path(__file__).resolve().parents[1]
OLD = "1b7dd7e"
T0, H = 1834.0, 14.0
LAWS = [
    ModulusLaw(preset="morgan2003_vertebra"),
    ModulusLaw(preset="carter_hayes1977"),
    ModulusLaw(preset="carter_hayes1977"),
]


def load_old(rev: str) -> tuple[types.ModuleType, types.ModuleType]:
    """``integrator`` and ``cells`` of revision ``rev`` as modules of their own."""
    mods = []
    for name in ("integrator", "cells"):
        src = subprocess.run(
            ["git", "show", f"{rev}:bonefem/biology/{name}.py"],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        spec = importlib.util.spec_from_loader(f"old_{name}", loader=None)
        assert spec is not None
        mod = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = mod
        exec(compile(src, f"{rev}:{name}.py", "exec"), mod.__dict__)
        mods.append(mod)
    return mods[0], mods[1]


def stimulus(model: Any, region: np.ndarray, f: np.ndarray, m: np.ndarray, base: np.ndarray) -> Any:
    """Psi/Psi_ss(f) = base E_solved / E(f, m_now): the coupled loop's load-controlled update."""
    material = BoneMaterial(model.remodeling.params, region, LAWS)
    e_solved, m_now, update = material.modulus(f, m), m.copy(), StressUpdate()
    return lambda f_now: update.ratio(base, e_solved, lambda: material.modulus(f_now, m_now))


def realistic_state(n: int, signals: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """State (8, n), region index and stimulus base after 5 years of menopause (module doc)."""
    model = new_cells.BoneCellModel()
    rng = np.random.default_rng(0)
    n0 = 10_000
    region = rng.choice(3, n0, p=[0.6, 0.25, 0.15]).astype(np.int32)
    f0 = np.array([0.15, 0.95, 0.5])[region] * rng.uniform(0.9, 1.03, n0)
    base = rng.uniform(0.97, 1.03, n0)
    state, t, h = model.healthy_state(f0), 0.0, None
    while t < T0:
        res = model.advance(
            state, t, H, signals, stimulus(model, region, state[3], state[4], base), h_init=h
        )
        state, h, t = res.state, res.h_next, t + H
    k = -(-n // n0)
    big = np.tile(state, k)[:, :n] * np.random.default_rng(1).uniform(0.999, 1.001, (8, n))
    return big, np.tile(region, k)[:n], np.tile(base, k)[:n]


def bench(n: int, repeat: int, old: tuple[Any, Any], signals: Any) -> dict[str, Any]:
    old_integrator, old_cells = old
    y, region, base = realistic_state(n, signals)
    versions = {}
    for name, cells in (("old", old_cells), ("new", new_cells)):
        model = cells.BoneCellModel()
        stim = stimulus(model, region, y[3], y[4], base)
        versions[name] = (cells.CellProblem(model, signals, stim), name)

    def substep(problem: Any, name: str) -> np.ndarray:
        if name == "old":
            k1, k2, _ = old_integrator.ros2_stages(problem, T0, y, H)
            return problem.update(y, H, old_integrator.ros2_increment(k1, k2), True)
        incr, _, _ = new_integrator.ros2_substep(problem, T0, y, H)
        return problem.update(y, H, incr, True)

    y_old, y_new = substep(*versions["old"]), substep(*versions["new"])
    rel = float(np.max(np.abs(y_new - y_old) / np.maximum(np.abs(y_old), 1e-300)))
    cpu: dict[str, list[float]] = {"old": [], "new": []}
    for r in range(repeat):
        for name in ("old", "new") if r % 2 == 0 else ("new", "old"):
            c = time.process_time()
            substep(*versions[name])
            cpu[name].append(time.process_time() - c)
    med = {k: statistics.median(v) for k, v in cpu.items()}
    return {
        "points": n,
        "cpu_s_old": cpu["old"],
        "cpu_s_new": cpu["new"],
        "us_per_cell_old": med["old"] / n * 1e6,
        "us_per_cell_new": med["new"] / n * 1e6,
        "ratio_old_over_new": med["old"] / med["new"],
        "max_rel_diff": rel,
        "bitwise_equal": bool(np.array_equal(y_old, y_new)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, nargs="+", default=[31_000, 150_000, 800_000])
    ap.add_argument("--repeat", type=int, default=6)
    ap.add_argument("--old", default=OLD, help="git revision of the old version")
    ap.add_argument("--json", default=str(ROOT / "benchmarks/results/cells_substep.json"))
    args = ap.parse_args()
    old = load_old(args.old)
    signals = build_signals(
        ScenarioConfig(estrogen=EstrogenConfig(menopause="natural", menopause_time_days=730.5))
    )
    rows = []
    for n in args.points:
        row = bench(n, args.repeat, old, signals)
        rows.append(row)
        print(
            f"{n:>8d} points: old {row['us_per_cell_old']:.3f} us/cell, new "
            f"{row['us_per_cell_new']:.3f} us/cell, old/new {row['ratio_old_over_new']:.2f} "
            f"(CPU, median of {args.repeat}); max rel diff {row['max_rel_diff']:.1e}",
            flush=True,
        )
    out = {
        "old": args.old,
        "new": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "substep_days": H,
        "results": rows,
    }
    Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
