"""Elasticity solver cost per phase: cold solve vs remodelling updates, per mesh size.

For each mesh (a bonefem generator at a ``refine`` factor, from the mesh cache) and each
solver *variant* (PETSc option overrides), in one process, side by side:

* **cold**: assemble the operator, set up GAMG, solve from a zero guess (the cost of a
  from-scratch elasticity solve), then the strain energy density per cell (the stimulus);
* **updates**: a sequence of remodelling-like modulus changes — a smooth drift
  E_k = E_0·(1 − δ·k·w(x)), w ∈ [0, 1], so every update changes E by up to δ per cell
  (δ = 2 %, the default ``coupling.modulus_tolerance``) — solved with

  - ``fresh``: a new preconditioner and a zero guess at every update (= cold),
  - ``previous``: the kept preconditioner, previous solution as the guess,
  - ``extrapolate``: the kept preconditioner, energy-optimal extrapolation of the last
    solutions (the default of :class:`bonefem.mechanics.ElasticityProblem`);

* **random**: one update with E changed randomly by up to 3 % per cell (the issue's
  reference point), kept preconditioner and previous solution.

Every phase is timed (max over ranks): operator assembly, right-hand side, initial guess,
preconditioner set-up, Krylov solve and its iterations, stimulus. Memory: peak RSS per
rank after the first cold solve. Run under MPI for several ranks::

    .venv/bin/python benchmarks/bench_mechanics.py --refine 2 --json out.json
    .venv/bin/mpiexec -n 2 .venv/bin/python benchmarks/bench_mechanics.py --refine 4.5
    .venv/bin/python benchmarks/bench_mechanics.py --refine 2 \\
        --variant default --variant "thr0:pc_gamg_threshold=0.0"
"""

from __future__ import annotations

import argparse
import gc
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import (
    RESULTS,
    load_mesh,
    machine,
    maxrss_bytes,
    memory_summary,
    parse_options,
    rank0_print,
    reduce_max,
    write_json,
)
from bonefem._dolfinx import MPI, dolfinx
from bonefem.config.loading import LoadCase
from bonefem.mechanics import ElasticityProblem

#: A habitual load case per generator: (supports, loads) on the generator's surfaces.
LOAD_CASES: dict[str, dict[str, Any]] = {
    "femur": {
        "supports": [{"type": "fixed", "surface": "distal"}],
        "loads": [
            {"type": "force", "surface": "head_contact", "force": [-404.0, 0.0, -1507.0]},
            {"type": "force", "surface": "abductor_insertion", "force": [311.0, 0.0, 855.0]},
        ],
    },
    "vertebra": {
        "supports": [{"type": "fixed", "surface": "caudal_endplate"}],
        "loads": [{"type": "force", "surface": "cranial_endplate", "force": [0.0, 0.0, -800.0]}],
    },
    "specimen": {
        "supports": [{"type": "fixed", "surface": "bottom"}],
        "loads": [{"type": "force", "surface": "top", "force": [0.0, 0.0, -100.0]}],
    },
    "diaphysis": {
        "supports": [{"type": "fixed", "surface": "distal"}],
        "loads": [{"type": "force", "surface": "proximal", "force": [0.0, 100.0, -2000.0]}],
    },
}

#: Young's modulus by region (MPa) before the smooth spatial variation.
REGION_E = {"cortical": 17000.0, "trabecular": 800.0}

PHASES = ("assemble", "rhs", "guess", "setup", "solve")

#: Clocks of the phase times (``--clock``), passed to the problem as ``clock=``.
CLOCKS: dict[str, Callable[[], float]] = {"cpu": time.process_time, "wall": time.perf_counter}


def modulus_fields(bone: Any, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """E₀ (heterogeneous), the drift pattern w ∈ [0, 1] and a random ±1 field, per owned cell."""
    n = bone.num_cells_local
    tdim = bone.mesh.topology.dim
    mid = dolfinx.mesh.compute_midpoints(bone.mesh, tdim, np.arange(n, dtype=np.int32)).T
    names = bone.region_names
    idx = bone.cell_region_index()[:n]
    base = np.array([REGION_E.get(r, 5000.0) for r in names])[idx]
    E0 = base * (1.0 + 0.3 * np.sin(mid[0] / 9.0) * np.cos(mid[1] / 13.0 + mid[2] / 17.0))
    w = 0.5 * (1.0 + np.sin(mid[0] / 7.0 + mid[2] / 11.0))
    # partition-independent pseudo-random field from the original cell index
    orig = bone.mesh.topology.original_cell_index[:n].astype(np.float64)
    rnd = np.sin(orig * 12.9898 + seed * 78.233) * 43758.5453
    rnd = 2.0 * (rnd - np.floor(rnd)) - 1.0
    return E0, w, rnd


def solve_record(prob: ElasticityProblem, name: str) -> dict[str, Any]:
    """Solve and return the phase times (max over ranks) and statistics.

    Phase times use the problem's clock (``--clock``: CPU time by
    default — on a shared, loaded machine wall time scatters by a factor of several, CPU
    time far less); ``cpu`` and ``wall`` are both clocks around the whole solve.
    """
    c0, w0 = time.process_time(), time.perf_counter()
    prob.solve(name)
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    st = prob.last_stats(name)
    rec: dict[str, Any] = {
        "assemble": reduce_max(st.assemble_seconds),
        "rhs": reduce_max(st.rhs_seconds),
        "guess": reduce_max(st.guess_seconds),
        "setup": reduce_max(st.setup_seconds),
        "solve": reduce_max(st.solve_seconds),
        "iterations": st.iterations,
        "initial_residual": st.initial_residual,
        "pc_setup": st.pc_setup,
    }
    rec["total"] = sum(rec[k] for k in PHASES)
    rec["cpu"] = reduce_max(cpu)
    rec["wall"] = reduce_max(wall)
    return rec


def reset(prob: ElasticityProblem, E0: np.ndarray, guess: str) -> dict[str, Any]:
    """Back to E₀ with a fresh preconditioner and no history; returns the cold solve."""
    prob.initial_guess = guess
    prob.forget_solutions()
    prob.set_modulus(E0)
    prob.refresh_preconditioners()
    return solve_record(prob, "habitual")


def mean(records: list[dict[str, Any]], key: str) -> float:
    return float(np.mean([r[key] for r in records])) if records else math.nan


def run_variant(
    bone: Any,
    name: str,
    options: dict[str, Any],
    args: argparse.Namespace,
    lc: LoadCase,
) -> dict[str, Any]:
    comm = bone.comm
    clock = CLOCKS[args.clock]
    E0, w, rnd = modulus_fields(bone)
    out: dict[str, Any] = {"variant": name, "petsc_options": options}
    t0 = time.perf_counter()
    prob = ElasticityProblem(
        bone,
        [lc],
        poisson_ratio=0.3,
        petsc_options={"ksp_rtol": args.rtol, **options},
        options_prefix=f"bench_{name}_",
        refresh_factor=args.refresh_factor,
        clock=clock,
    )
    out["problem_setup_s"] = reduce_max(time.perf_counter() - t0)
    out["dofs"] = prob.num_dofs_global
    prob.set_modulus(E0)
    cold = solve_record(prob, "habitual")
    comm.Barrier()
    t0 = clock()
    sed = prob.strain_energy_density("habitual")
    out["stimulus_s"] = reduce_max(clock() - t0)
    out["memory_after_cold"] = memory_summary()
    energy0 = prob.strain_energy("habitual")
    out["cold"] = cold
    out["strain_energy_mJ"] = energy0
    del sed
    rank0_print(
        f"  [{name}] cold: assemble {cold['assemble']:.2f} s, setup {cold['setup']:.2f} s, "
        f"solve {cold['solve']:.2f} s ({cold['iterations']} its), stimulus "
        f"{out['stimulus_s']:.2f} s"
    )

    modes = {"fresh": "zero", "previous": "previous", "extrapolate": "extrapolate"}
    energies: dict[str, float] = {}
    out["updates"] = {}
    for mode in args.modes:
        reset(prob, E0, modes[mode])
        recs = []
        n_updates = min(args.updates, args.fresh_updates) if mode == "fresh" else args.updates
        for k in range(1, n_updates + 1):
            prob.set_modulus(E0 * (1.0 - args.delta * k * w))
            if mode == "fresh":
                prob.refresh_preconditioners()
            recs.append(solve_record(prob, "habitual"))
        energies[mode] = prob.strain_energy("habitual") if n_updates == args.updates else math.nan
        # the first update after a reset has no history to extrapolate from: skip it
        steady = recs[1:] if len(recs) > 1 else recs
        summary = {
            "records": recs,
            "mean_total_s": mean(steady, "total"),
            "mean_iterations": mean(steady, "iterations"),
            "mean_initial_residual": float(
                np.exp(np.mean([np.log(max(r["initial_residual"], 1e-300)) for r in steady]))
            ),
            "pc_setups": sum(bool(r["pc_setup"]) for r in recs),
            "ratio_to_cold": mean(steady, "total") / cold["total"],
            "mean_cpu_s": mean(steady, "cpu"),
            "cpu_ratio_to_cold": mean(steady, "cpu") / cold["cpu"],
        }
        for ph in PHASES:
            summary[f"mean_{ph}_s"] = mean(steady, ph)
        out["updates"][mode] = summary
        rank0_print(
            f"  [{name}] {mode:<11s}: {summary['mean_total_s']:.2f} s/update "
            f"({summary['mean_iterations']:.1f} its, r0 {summary['mean_initial_residual']:.1e}, "
            f"{summary['pc_setups']} PC set-ups) = {summary['ratio_to_cold']:.3f} x cold "
            f"(CPU time: {summary['cpu_ratio_to_cold']:.3f})"
        )
    # Same final E by every mode: the energies must agree to the solver tolerance.
    ref = energies.get("previous", math.nan)
    out["final_energy_rel_diff"] = {
        m: abs(e / ref - 1.0) for m, e in energies.items() if math.isfinite(e) and ref
    }
    if "random" in args.extra:
        reset(prob, E0, "previous")
        prob.set_modulus(E0 * (1.0 + 0.03 * rnd))
        rec = solve_record(prob, "habitual")
        rec["ratio_to_cold"] = rec["total"] / cold["total"]
        out["random_3pct_update"] = rec
        rank0_print(
            f"  [{name}] random 3 %: {rec['total']:.2f} s ({rec['iterations']} its) = "
            f"{rec['ratio_to_cold']:.3f} x cold"
        )
    prob.destroy()
    del prob
    gc.collect()
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--generator", default="femur", choices=sorted(LOAD_CASES))
    ap.add_argument("--refine", type=float, nargs="+", default=[2.0])
    ap.add_argument("--mesh-param", action="append", default=[], help="generator key=value")
    ap.add_argument(
        "--variant",
        action="append",
        default=[],
        help="NAME or NAME:key=value,key=value (PETSc option overrides); repeatable",
    )
    ap.add_argument("--rtol", type=float, default=1e-8)
    ap.add_argument("--refresh-factor", type=float, default=1.5)
    ap.add_argument("--updates", type=int, default=6)
    ap.add_argument("--fresh-updates", type=int, default=2)
    ap.add_argument("--delta", type=float, default=0.02)
    ap.add_argument(
        "--modes",
        nargs="*",
        default=["fresh", "previous", "extrapolate"],
        choices=["fresh", "previous", "extrapolate"],
    )
    ap.add_argument("--extra", nargs="*", default=["random"], choices=["random"])
    ap.add_argument(
        "--clock",
        choices=["cpu", "wall"],
        default="cpu",
        help="clock of the phase times: CPU (process) time or wall time",
    )
    ap.add_argument("--json", default=None, help="results file (default benchmarks/results/...)")
    args = ap.parse_args(argv)
    variants: list[tuple[str, dict[str, Any]]] = []
    for v in args.variant or ["default"]:
        vname, _, opts = v.partition(":")
        variants.append((vname, parse_options([o for o in opts.split(",") if o])))
    comm = MPI.COMM_WORLD
    lc = LoadCase(name="habitual", **LOAD_CASES[args.generator])
    results: dict[str, Any] = {
        "benchmark": "mechanics",
        "machine": machine(),
        "command": "bench_mechanics.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "settings": {k: v for k, v in vars(args).items() if k != "json"},
        "meshes": [],
    }
    rss_start = maxrss_bytes()
    for refine in args.refine:
        t0 = time.perf_counter()
        params = parse_options(args.mesh_param)
        bone = load_mesh(args.generator, refine, params)
        t_mesh = reduce_max(time.perf_counter() - t0)
        entry: dict[str, Any] = {
            "generator": args.generator,
            "refine": refine,
            "cells": bone.num_cells_global,
            "ranks": comm.size,
            "mesh_load_s": t_mesh,
            "rss_before_mesh_total_mb": comm.allreduce(rss_start, op=MPI.SUM) / 2**20,
            "variants": [],
        }
        rank0_print(f"{args.generator} refine {refine}: {bone.num_cells_global} cells")
        for vname, opts in variants:
            res = run_variant(bone, vname, opts, args, lc)
            entry["dofs"] = res["dofs"]
            entry["variants"].append(res)
        mem = entry["variants"][0]["memory_after_cold"]["peak_rss_total_mb"]
        entry["bytes_per_dof"] = mem * 2**20 / entry["dofs"]
        results["meshes"].append(entry)
        del bone
        gc.collect()
    tag = "-".join(f"{r:g}" for r in args.refine)
    path = args.json or RESULTS / f"mechanics_{args.generator}_r{tag}_np{comm.size}.json"
    write_json(path, results)
    return results


if __name__ == "__main__":
    main()
