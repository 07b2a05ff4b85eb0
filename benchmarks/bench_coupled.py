"""Cost of the coupled remodelling loop per phase, per step and per run.

Runs :class:`bonefem.coupling.loop.CoupledRun` on the benchmark case
(``benchmarks/cases/menopause_femur.toml``, natural menopause at the proximal femur) with
the mesh refinement, duration, step, tolerances and output intervals given on the command
line, and records for every step of the loop: its length, wall time, biology (cell model)
time and ROS2 substeps, density/modulus update, mechanics (with the elasticity solver's
own split: assembly, right-hand side, initial guess, preconditioner set-up, Krylov solve,
iterations; and the stimulus, i.e. strain energy density), metrics, field output and
checkpoint time. Output goes to a temporary run folder (removed at the end unless
``--keep``), whose size per output step is recorded too.

``--compare REF.json`` compares the metrics rows of this run with those of a reference run
(same mesh, tighter tolerances) and reports the largest relative difference per metric.

Examples::

    .venv/bin/python benchmarks/bench_coupled.py --refine 1 --duration 365.25
    .venv/bin/mpiexec -n 2 .venv/bin/python benchmarks/bench_coupled.py --refine 4.5 \\
        --step 28 --rtol 1e-6 --json benchmarks/results/coupled_femur_r4.5_np2.json
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import (
    RESULTS,
    ROOT,
    machine,
    memory_summary,
    rank0_print,
    reduce_max,
    write_json,
)
from bonefem._dolfinx import MPI
from bonefem.build import build
from bonefem.config.case import Case, parse_case
from bonefem.coupling.loop import CoupledRun, RunHooks
from bonefem.mesh import load_bone_mesh
from bonefem.output.run import RunOutput

CASE = ROOT / "benchmarks" / "cases" / "menopause_femur.toml"
MESHES = ROOT / "meshes"

#: metrics columns that are counters, times or inputs, not results
NOT_RESULTS = {"time_days", "time_years", "step", "mechanics_solves", "ksp_iterations"}


def build_case(args: argparse.Namespace) -> Case:
    case_file = Path(args.case)
    data = tomllib.loads(case_file.read_text(encoding="utf-8"))
    mesh = data["mesh"]
    if "settings" in mesh:  # inline the settings file, to set the refinement
        settings = Path(mesh.pop("settings"))
        for cand in (case_file.parent / settings, MESHES / settings, MESHES / settings.name):
            if cand.exists():
                mesh = tomllib.loads(cand.read_text(encoding="utf-8"))["mesh"]
                break
    if "generator" in mesh:
        mesh.setdefault("parameters", {})["refine"] = float(args.refine)
    data["mesh"] = mesh
    run = data["run"]
    run["duration_days"] = args.duration
    run["biology_step_days"] = args.step
    solver = data.setdefault("solver", {})
    solver["rtol"] = args.rtol
    solver["refresh_factor"] = args.refresh_factor
    data.setdefault("coupling", {})["modulus_tolerance"] = args.modulus_tolerance
    out = data.setdefault("output", {})
    out["fields_every_days"] = args.fields_every
    out["metrics_every_days"] = args.metrics_every
    out["checkpoint_every_days"] = args.checkpoint_every
    return parse_case(data, file=str(case_file))


class Recorder:
    """Per-step phase times (this rank), via the loop's progress hook."""

    def __init__(self, sim: CoupledRun) -> None:
        self.sim = sim
        self.steps: list[dict[str, Any]] = []
        self.rows: list[dict[str, float]] = []
        self.substeps = 0
        self.biology_calls = 0
        self.stimulus_s = 0.0
        self._last = dict(sim.timers.seconds)
        self._t_last = time.perf_counter()
        self._c_last = time.process_time()
        self._solves_last = self._n_stats()
        self._substeps_last = 0
        self._stim_last = 0.0
        law: Any = sim.model.law  # the "cells" law wraps the cell model
        model = law.model
        advance = model.advance
        mech = sim.model.mechanics
        sed = mech.strain_energy_density

        def counted_advance(*a: Any, **k: Any) -> Any:
            res = advance(*a, **k)
            self.substeps += res.n_accepted + res.n_rejected
            self.biology_calls += 1
            return res

        def timed_sed(name: str) -> Any:
            t0 = time.perf_counter()
            out = sed(name)
            self.stimulus_s += time.perf_counter() - t0
            return out

        model.advance = counted_advance
        mech.strain_energy_density = timed_sed  # type: ignore[method-assign]

    def _n_stats(self) -> dict[str, int]:
        return {n: len(c.stats) for n, c in self.sim.model.mechanics.cases.items()}

    def update(self, t: float, step: int, metrics: dict[str, float] | None = None) -> None:
        row = metrics
        now, cpu = time.perf_counter(), time.process_time()
        cur = dict(self.sim.timers.seconds)
        rec: dict[str, Any] = {"step": step, "t_days": t, "wall_s": now - self._t_last}
        rec["cpu_s"] = cpu - self._c_last
        self._c_last = cpu
        for k, v in cur.items():
            d = v - self._last.get(k, 0.0)
            if d > 0:
                rec[k] = d
        n_now = self._n_stats()
        solves = []
        for name, c in self.sim.model.mechanics.cases.items():
            solves += c.stats[self._solves_last.get(name, 0) : n_now[name]]
        rec["solves"] = len(solves)
        for ph in ("assemble", "rhs", "guess", "setup", "solve"):
            rec[f"mech_{ph}_s"] = sum(getattr(s, f"{ph}_seconds") for s in solves)
        rec["iterations"] = sum(s.iterations for s in solves)
        rec["pc_setups"] = sum(bool(s.pc_setup) for s in solves)
        rec["substeps"] = self.substeps - self._substeps_last
        rec["stimulus_s"] = self.stimulus_s - self._stim_last
        self.steps.append(rec)
        if row:
            self.rows.append(dict(row))
        self._last, self._t_last, self._solves_last = cur, now, n_now
        self._substeps_last, self._stim_last = self.substeps, self.stimulus_s


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def compare_rows(rows: list[dict[str, float]], ref_rows: list[dict[str, float]]) -> dict[str, Any]:
    """Largest relative difference per metric over the rows at common times.

    Percent-change columns are compared in percentage points / 100, i.e. as a fraction of
    the baseline value, so that a change near zero does not inflate the difference.
    """
    ref_by_t = {round(r["time_days"], 6): r for r in ref_rows}
    worst: dict[str, float] = {}
    final: dict[str, float] = {}
    for r in rows:
        ref = ref_by_t.get(round(r["time_days"], 6))
        if ref is None:
            continue
        for k, v in r.items():
            if k in NOT_RESULTS or k.startswith("signal_") or k not in ref:
                continue
            a, b = float(v), float(ref[k])
            if not (math.isfinite(a) and math.isfinite(b)):
                continue
            if k.endswith("_pct_change"):  # percentage points of the baseline value
                d = abs(a - b) / 100.0
            elif b == 0.0:
                continue
            else:
                d = abs(a / b - 1.0)
            worst[k] = max(worst.get(k, 0.0), d)
            final[k] = d
    top = max(worst.items(), key=lambda kv: kv[1]) if worst else ("", math.nan)
    return {
        "max_rel_diff": top[1],
        "worst_metric": top[0],
        "per_metric_max": worst,
        "per_metric_final": final,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--case", default=str(CASE), help="case file (default: femur menopause)")
    ap.add_argument("--refine", type=float, default=1.0)
    ap.add_argument("--duration", type=float, default=3652.5, help="days")
    ap.add_argument("--step", type=float, default=14.0, help="biology_step_days")
    ap.add_argument("--rtol", type=float, default=1e-8)
    ap.add_argument("--refresh-factor", type=float, default=1.5)
    ap.add_argument("--modulus-tolerance", type=float, default=0.02)
    ap.add_argument("--fields-every", type=float, default=365.25)
    ap.add_argument("--metrics-every", type=float, default=91.3125)
    ap.add_argument("--checkpoint-every", type=float, default=365.25)
    ap.add_argument("--no-output", action="store_true", help="no run folder (no file output)")
    ap.add_argument("--keep", default=None, help="keep the run folder here")
    ap.add_argument("--compare", default=None, help="reference results JSON")
    ap.add_argument("--label", default="")
    ap.add_argument(
        "--clock",
        choices=["cpu", "wall"],
        default="cpu",
        help="clock of the per-phase times (the run's wall time is recorded either way)",
    )
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    comm = MPI.COMM_WORLD
    # phase timers and solver statistics in CPU time of the rank, or wall time
    clock = time.process_time if args.clock == "cpu" else time.perf_counter

    t_all = time.perf_counter()
    case = build_case(args)
    t0 = time.perf_counter()
    bone = load_bone_mesh(case.mesh, comm)
    t_mesh = reduce_max(time.perf_counter() - t0)
    rank0_print(
        f"{case.run.name} refine {args.refine:g}: {bone.num_cells_global} cells ({t_mesh:.1f} s)"
    )
    folder: Path | None = None
    out = None
    if not args.no_output:
        name = tempfile.mkdtemp(prefix="bonefem-bench-") if comm.rank == 0 else None
        folder = Path(args.keep) if args.keep else Path(comm.bcast(name, root=0))
        if comm.rank == 0:
            folder.mkdir(parents=True, exist_ok=True)
        comm.Barrier()
        out = RunOutput(folder, comm)
    t0 = time.perf_counter()
    sim = CoupledRun(build(case, bone, clock=clock), out, RunHooks(clock=clock))
    t_init = reduce_max(time.perf_counter() - t0)
    if out is not None:
        out.attach(bone)
        out.start(case=case.run.name, ranks=comm.size, benchmark=True)
    init_stats = sim.model.mechanics.last_stats(sim.model.habitual[0])
    rec = Recorder(sim)
    t0, c0 = time.perf_counter(), time.process_time()
    last = sim.run(rec)
    t_run = reduce_max(time.perf_counter() - t0)
    cpu_run = reduce_max(time.process_time() - c0)
    if out is not None:
        out.finished(sim.loop, sim.timers.seconds)
    mem = memory_summary()
    phases = {k: reduce_max(v) for k, v in sorted(sim.timers.seconds.items())}
    steps = rec.steps
    solve_steps = [s for s in steps if s["solves"] and not s.get("metrics")]
    # sizes of one output step: every field step writes one .vtu per rank + a .pvtu
    io: dict[str, Any] = {}
    if folder is not None and comm.rank == 0:
        pieces = [p for p in folder.glob("fields_*") if p.is_file()]
        n_field_steps = len([p for p in pieces if p.suffix == ".pvtu"])
        io["fields_bytes_total"] = sum(p.stat().st_size for p in pieces)
        io["field_steps"] = n_field_steps
        io["bytes_per_field_step"] = io["fields_bytes_total"] / max(n_field_steps, 1)
        ck = folder / "checkpoints"
        cks = [p for p in ck.iterdir() if p.is_dir()] if ck.exists() else []
        io["checkpoint_bytes"] = folder_bytes(cks[-1]) if cks else 0
    io = comm.bcast(io, root=0)

    def total(key: str, rows: list[dict[str, Any]] = steps) -> float:
        return float(sum(r.get(key, 0.0) for r in rows))

    bio_density = total("biology") + total("density")
    # the phases are on the chosen clock: compare them with the run on the same clock
    step_clock = "cpu_s" if args.clock == "cpu" else "wall_s"
    run_clock = cpu_run if args.clock == "cpu" else t_run
    summary: dict[str, Any] = {
        "label": args.label,
        "cells": bone.num_cells_global,
        "dofs": sim.model.mechanics.num_dofs_global,
        "ranks": comm.size,
        "steps": len(steps),
        "mechanics_solves": sim.loop.mechanics_solves,
        "ksp_iterations": sim.loop.ksp_iterations,
        "substeps_total": rec.substeps,
        "substeps_per_step": rec.substeps / max(len(steps), 1),
        "mesh_s": t_mesh,
        "init_s": t_init,
        "init_cold_solve": {
            "assemble_s": init_stats.assemble_seconds,
            "setup_s": init_stats.setup_seconds,
            "solve_s": init_stats.solve_seconds,
            "iterations": init_stats.iterations,
        },
        "run_s": t_run,
        "run_cpu_s": cpu_run,
        "total_s": reduce_max(time.perf_counter() - t_all),
        "phases_s": phases,
        "biology_per_step_s": total("biology") / max(len(steps), 1),
        "density_per_step_s": total("density") / max(len(steps), 1),
        "clock": args.clock,
        "biology_density_share_of_run": bio_density / max(run_clock, 1e-30),
        "mechanics_update_mean_s": (
            total("mechanics", solve_steps) / len(solve_steps) if solve_steps else math.nan
        ),
        "biology_density_share_of_solve_steps": (
            (total("biology", solve_steps) + total("density", solve_steps))
            / max(total(step_clock, solve_steps), 1e-30)
            if solve_steps
            else math.nan
        ),
        "stimulus_s": reduce_max(rec.stimulus_s),
        "io": io,
        "memory": mem,
        "final_metrics": last,
    }
    results: dict[str, Any] = {
        "benchmark": "coupled",
        "machine": machine(),
        "command": "bench_coupled.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "settings": {k: v for k, v in vars(args).items() if k not in ("json", "compare")},
        "summary": summary,
        "steps": steps,
        "metrics_rows": rec.rows,
    }
    if args.compare:
        import json

        ref = json.loads(Path(args.compare).read_text(encoding="utf-8"))
        results["comparison"] = compare_rows(rec.rows, ref["metrics_rows"])
        results["comparison"]["reference"] = args.compare
    rank0_print(
        f"{len(steps)} steps, {sim.loop.mechanics_solves} mechanics solves, "
        f"{rec.substeps / max(len(steps), 1):.1f} substeps/step; run {t_run:.1f} s; "
        + ", ".join(f"{k} {v:.1f}" for k, v in phases.items())
    )
    rank0_print(
        f"biology {summary['biology_per_step_s']:.3f} s/step, density "
        f"{summary['density_per_step_s']:.4f} s/step, mechanics update "
        f"{summary['mechanics_update_mean_s']:.2f} s; biology+density share of run "
        f"{100 * summary['biology_density_share_of_run']:.1f} %"
    )
    if "comparison" in results:
        c = results["comparison"]
        rank0_print(f"vs reference: max rel diff {c['max_rel_diff']:.2e} ({c['worst_metric']})")
    path = args.json or RESULTS / f"coupled_{case.run.name}_r{args.refine:g}_np{comm.size}.json"
    write_json(path, results)
    if folder is not None and not args.keep and comm.rank == 0:
        shutil.rmtree(folder, ignore_errors=True)
    return results


if __name__ == "__main__":
    main()
