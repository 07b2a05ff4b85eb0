"""Time of a generated mesh, with its cells, volumes, areas and quality (issue 19).

Generates a geometry with :func:`bonefem.mesh.generate` (gmsh on rank 0, then for
``uniform_refinements`` > 0 the parallel refinement), timed in wall time and in CPU time of
the slowest rank (the machine is shared: see docs/performance.md, *Noise and clocks*), and
saves the region volumes, surface areas, quality and peak memory as JSON, for comparing a
refined mesh with a directly generated one::

    .venv/bin/mpiexec -n 2 .venv/bin/python benchmarks/bench_mesh.py \\
        --set refine=1.25 --set uniform_refinements=2
    .venv/bin/python benchmarks/bench_mesh.py --set refine=4.5
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import (
    RESULTS,
    machine,
    memory_summary,
    parse_options,
    rank0_print,
    write_json,
)
from bonefem._dolfinx import MPI


def main(argv: list[str] | None = None) -> dict[str, object]:
    from bonefem.mesh import generate
    from bonefem.mesh.quality import quality_stats

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--generator", default="femur")
    ap.add_argument("--set", action="append", default=[], help="parameter=value")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    comm = MPI.COMM_WORLD
    logging.basicConfig(level=logging.INFO if comm.rank == 0 else logging.WARNING)
    params = parse_options(args.set)
    load = os.getloadavg()
    comm.Barrier()
    t0, c0 = time.perf_counter(), time.process_time()
    bone = generate(args.generator, comm, params)
    comm.Barrier()
    wall = time.perf_counter() - t0
    cpu = comm.allreduce(time.process_time() - c0, op=MPI.MAX)
    q = quality_stats(bone.mesh)
    out: dict[str, object] = {
        "benchmark": "mesh",
        "machine": machine(),
        "ranks": comm.size,
        "generator": args.generator,
        "parameters": params,
        "cells": bone.num_cells_global,
        "wall_s": wall,
        "cpu_s_slowest_rank": cpu,
        "load_average_before": load,
        "volumes": {r: bone.volume(r) for r in bone.region_names},
        "areas": {s: bone.area(s) for s in bone.surface_names},
        "quality": q.as_dict(),
        "memory": memory_summary(),
    }
    rank0_print(f"{out['cells']} cells in {wall:.1f} s wall, {cpu:.1f} s CPU (slowest rank)")
    tag = "_".join(f"{k}{v}" for k, v in sorted(params.items())) or "default"
    write_json(args.json or RESULTS / f"mesh_{args.generator}_{tag}_np{comm.size}.json", out)
    return out


if __name__ == "__main__":
    main()
