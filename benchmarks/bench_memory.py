"""Resident memory per rank, phase by phase, of a cold elasticity solve (issue 19).

For a femur (or another generator) from the bonefem mesh cache, in one process, the
resident set size (RSS) and its peak of every rank are sampled after each phase:

* ``start`` (Python, DOLFINx, PETSc imported), ``mesh`` (mesh read / generated and
  distributed), ``problem`` (spaces, forms, matrix pattern, unit-modulus operators),
  ``modulus`` (E set), ``assemble`` (operator), ``rhs``, ``guess``, ``setup`` (GAMG
  hierarchy), ``solve`` (CG), ``stimulus`` (strain energy density per cell);

the peak of each phase is read from ``VmHWM`` of ``/proc/self/status``, which is reset
before each phase (``/proc/self/clear_refs``, Linux ≥ 4.0), so every phase has its own
peak. Reported per rank (MB); with ``-log_view -memory_view`` PETSc prints its own
accounting at the end. Run::

    .venv/bin/python benchmarks/bench_memory.py --refine 2
    .venv/bin/mpiexec -n 2 .venv/bin/python benchmarks/bench_memory.py --refine 2 \\
        --galerkin-product allatonce --variant "pc_gamg_aggressive_square_graph=false"
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_mechanics import LOAD_CASES, modulus_fields
from benchmarks.common import (
    RESULTS,
    load_mesh,
    machine,
    parse_options,
    rank0_print,
    result_tag,
    write_json,
)
from bonefem._dolfinx import MPI
from bonefem.config.loading import LoadCase
from bonefem.mechanics import ElasticityProblem

#: phase names of the samples taken by the problem's clock inside one cold solve
SOLVE_PHASES = ("assemble", "rhs", "guess", "setup", "solve")


def status_mb() -> tuple[float, float]:
    """(VmRSS, VmHWM) of this process (MB)."""
    rss = hwm = 0.0
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = float(line.split()[1]) / 1024
            elif line.startswith("VmHWM:"):
                hwm = float(line.split()[1]) / 1024
    return rss, hwm


def reset_peak() -> None:
    """Reset VmHWM to the current RSS (no-op where not permitted)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


class Sampler:
    """Records (phase, rss, peak) of this rank; usable as the problem's clock."""

    def __init__(self) -> None:
        self.samples: list[tuple[str, float, float]] = []
        self.solve_samples: list[tuple[float, float]] = []

    def mark(self, phase: str) -> None:
        rss, hwm = status_mb()
        self.samples.append((phase, rss, hwm))
        reset_peak()

    def clock(self) -> float:
        rss, hwm = status_mb()
        self.solve_samples.append((rss, hwm))
        reset_peak()
        return time.process_time()


def gathered(comm: Any, samples: list[tuple[str, float, float]]) -> list[dict[str, Any]]:
    """Per phase: RSS and peak of every rank (MB)."""
    allr = comm.gather(samples, root=0)
    if comm.rank != 0:
        return []
    rows = []
    for i, (phase, _, _) in enumerate(samples):
        rows.append(
            {
                "phase": phase,
                "rss_mb": [round(s[i][1], 1) for s in allr],
                "peak_mb": [round(s[i][2], 1) for s in allr],
            }
        )
    return rows


def run(args: argparse.Namespace) -> dict[str, Any]:
    comm = MPI.COMM_WORLD
    s = Sampler()
    reset_peak()
    s.mark("start")
    bone = load_mesh(args.generator, args.refine, parse_options(args.mesh_param))
    gc.collect()
    s.mark("mesh")
    options = parse_options([o for o in args.variant.split(",") if o])
    lc = LoadCase(name="habitual", **LOAD_CASES[args.generator])
    prob = ElasticityProblem(
        bone,
        [lc],
        poisson_ratio=0.3,
        petsc_options={"ksp_rtol": args.rtol, **options},
        options_prefix="mem_",
        clock=s.clock,
        assembly=args.assembly,
        galerkin_product=args.galerkin_product,
    )
    s.mark("problem")
    E0, _, _ = modulus_fields(bone)
    prob.set_modulus(E0)
    s.mark("modulus")
    prob.solve("habitual")
    # clock samples: t0, after assembly, after rhs, [guess start, after guess, after
    # set-up, after solve]; the peak of each sample covers the phase before it
    ss = s.solve_samples
    for name, (rss, hwm) in zip(SOLVE_PHASES, [ss[1], ss[2], ss[4], ss[5], ss[6]], strict=True):
        s.samples.append((name, rss, hwm))
    reset_peak()
    prob.strain_energy_density("habitual")
    s.mark("stimulus")
    its = prob.last_stats("habitual").iterations
    out = {
        "benchmark": "memory",
        "machine": machine(),
        "command": "bench_memory.py " + " ".join(sys.argv[1:]),
        "ranks": comm.size,
        "cells": bone.num_cells_global,
        "cells_per_rank": comm.gather(bone.num_cells_local, root=0),
        "dofs": prob.num_dofs_global,
        "iterations": its,
        "variant": args.variant,
        "galerkin_product": args.galerkin_product,
        "phases": gathered(comm, s.samples),
    }
    if comm.rank == 0:
        for row in out["phases"]:
            print(f"  {row['phase']:<10s} rss {row['rss_mb']}  peak {row['peak_mb']}", flush=True)
    rank0_print(f"  {out['cells']} cells, {out['dofs']} dofs, {its} iterations")
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--generator", default="femur", choices=sorted(LOAD_CASES))
    ap.add_argument("--refine", type=float, default=2.0)
    ap.add_argument("--mesh-param", action="append", default=[], help="generator key=value")
    ap.add_argument("--variant", default="", help="PETSc overrides key=value,key=value")
    ap.add_argument("--assembly", default="auto")
    ap.add_argument("--galerkin-product", default="scalable", choices=["scalable", "allatonce"])
    ap.add_argument("--rtol", type=float, default=1e-8)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    out = run(args)
    comm = MPI.COMM_WORLD
    tag = result_tag(args.refine, args.mesh_param, comm.size)
    write_json(args.json or RESULTS / f"memory_{args.generator}_{tag}.json", out)
    return out


if __name__ == "__main__":
    main()
