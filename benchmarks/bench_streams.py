"""Memory bandwidth on 1 and N ranks: a STREAM-like triad in numpy (a = b + s·c).

Sparse iterative solvers are limited by memory bandwidth, not by arithmetic (PETSc users
manual, "Hints for performance tuning"), so the speed-up a node can give CG + GAMG is
bounded by how the bandwidth grows with the number of busy cores. Run it on one rank and
under ``mpiexec -n 2``: every rank runs the triad at the same time on its own arrays; the
aggregate bandwidth (GB/s) over ranks is printed and saved::

    .venv/bin/python benchmarks/bench_streams.py
    .venv/bin/mpiexec -n 2 .venv/bin/python benchmarks/bench_streams.py
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import RESULTS, machine, rank0_print, write_json
from bonefem._dolfinx import MPI


def main(argv: list[str] | None = None) -> dict[str, object]:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--mb", type=float, default=200.0, help="MB per array per rank")
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    comm = MPI.COMM_WORLD
    n = int(args.mb * 2**20 / 8)
    b = np.random.default_rng(comm.rank).random(n)
    c = np.random.default_rng(comm.rank + 100).random(n)
    a = np.empty_like(b)
    rates = []
    for _ in range(args.repeat):
        comm.Barrier()
        t0 = time.perf_counter()
        np.multiply(c, 3.0, out=a)
        np.add(a, b, out=a)
        dt = time.perf_counter() - t0
        # bytes moved: read c, write a, read a, read b, write a (numpy's two passes)
        moved = 5 * 8 * n
        total = comm.allreduce(moved / dt, op=MPI.SUM)
        rates.append(total / 1e9)
    best = max(rates)
    med = statistics.median(rates)
    rank0_print(f"{comm.size} rank(s): triad bandwidth best {best:.1f} GB/s, median {med:.1f}")
    out: dict[str, object] = {
        "benchmark": "streams",
        "machine": machine(),
        "ranks": comm.size,
        "mb_per_array": args.mb,
        "best_gb_s": best,
        "median_gb_s": med,
    }
    write_json(args.json or RESULTS / f"streams_np{comm.size}.json", out)
    return out


if __name__ == "__main__":
    main()
