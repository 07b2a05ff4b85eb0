"""Two versions of bonefem side by side on one case: wall and CPU time, pair by pair.

    .venv/bin/python benchmarks/bench_versions.py --old /path/to/old/checkout \\
        --case tests/regression/short_cases.py:menopause_vertebra --pairs 3

Each run is a fresh process (``python -m bonefem.cli run``) with ``PYTHONPATH`` pointing
at the source tree of its version (the old checkout shadows the installed package); the
two versions alternate (A B A B ...) so that a drifting machine affects both alike, and
the ratio new/old is taken pair by pair. CPU time (user + sys of the child, from
``getrusage``) is less sensitive to other load on a shared machine than wall time. The
metrics of both are compared too (same numbers expected for a pure refactoring), and the
phase shares of each run are read from its manifest (``metrics`` and, where recorded,
``virtual_tests`` over ``total``; ``cold_solve_s`` and ``run_cost_cold_solves``).

    .venv/bin/python benchmarks/bench_versions.py --old /tmp/old --ranks 2 \
        --case cases/menopause_femur.toml --set run.duration_days=730.5 \
        --set biology.estrogen.menopause_time_days=182.625 --pairs 2
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _case(spec: str, folder: Path) -> Path:
    """A case file: a path, or ``tests/regression/short_cases.py:NAME`` (a short bundled case)."""
    if ":" in spec:
        sys.path.insert(0, str(ROOT))
        from tests.regression.short_cases import write_short_case

        return write_short_case(spec.split(":", 1)[1], folder)
    return Path(spec)


def _run(
    tree: Path, case: Path, out: Path, ranks: int = 1, sets: list[str] | None = None
) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    mpi = [str(Path(sys.executable).parent / "mpiexec"), "-n", str(ranks)] if ranks > 1 else []
    extra = [arg for item in sets or [] for arg in ("--set", item)]
    subprocess.run(
        [
            *mpi,
            sys.executable,
            "-m",
            "bonefem.cli",
            "-q",
            "run",
            str(case),
            "--output",
            str(out),
            "--no-progress",
            *extra,
        ],
        check=True,
        env=env,
        cwd=tree,
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": wall, "cpu_s": cpu, **_phases(out)}


def _phases(folder: Path) -> dict[str, float]:
    """Shares of the run's total time (manifest, max over ranks) and the cold-solve entries."""
    m = json.loads((folder / "manifest.json").read_text())
    ph = m["wall_time_per_phase_s"]
    out = {"total_s": ph["total"], "metrics_share": ph["metrics"] / ph["total"]}
    for key in ("virtual_tests", "mechanics", "biology", "mechanics.assemble"):
        if key in ph:
            out[f"{key}_share"] = ph[key] / ph["total"]
    for key in ("cold_solve_s", "run_cost_cold_solves"):
        if key in m:
            out[key] = m[key]
    return out


def _metrics(folder: Path) -> list[dict[str, str]]:
    with open(folder / "metrics.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _max_rel_diff(old: list[dict[str, str]], new: list[dict[str, str]]) -> dict[str, object]:
    """The largest relative difference of the metrics (columns of both, not percent changes)."""
    worst: dict[str, object] = {"value": 0.0, "column": "", "row": -1}
    for i, (o, n) in enumerate(zip(old, new, strict=True)):
        for key in set(o) & set(n):
            if key.endswith("_pct_change"):
                continue
            a, b = float(n[key]), float(o[key])
            if math.isnan(a) and math.isnan(b):
                continue
            d = abs(a - b) / max(abs(b), 1e-300)
            if not d <= float(str(worst["value"])):
                worst = {"value": d, "column": key, "row": i}
    return worst


def main(argv: list[str] | None = None) -> int:
    """Command line."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--old", required=True, help="source tree of the old version")
    ap.add_argument("--new", default=str(ROOT), help="source tree of the new version")
    ap.add_argument("--case", default="tests/regression/short_cases.py:menopause_vertebra")
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--ranks", type=int, default=1, help="MPI ranks of each run")
    ap.add_argument("--set", action="append", default=[], help="KEY=VALUE case overrides")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bonefem-versions-"))
    case = _case(args.case, work)
    runs: dict[str, list[dict[str, float]]] = {"old": [], "new": []}
    for i in range(args.pairs + 1):  # the first pair warms the caches and is not counted
        for label in ("old", "new"):
            out = work / f"{label}_{i}"
            r = _run(Path(getattr(args, label)), case, out, args.ranks, args.set)
            if i:
                runs[label].append(r)
            shares = {k: round(v, 3) for k, v in r.items() if k not in ("wall_s", "cpu_s")}
            print(f"pair {i} {label}: wall {r['wall_s']:.2f} s, cpu {r['cpu_s']:.2f} s {shares}")
    same = _metrics(work / "old_1") == _metrics(work / "new_1")
    summary: dict[str, object] = {
        "case": args.case,
        "ranks": args.ranks,
        "set": args.set,
        "pairs": args.pairs,
        "same_metrics": same,
        "max_rel_diff_metrics": _max_rel_diff(_metrics(work / "old_1"), _metrics(work / "new_1")),
    }
    for label in ("old", "new"):
        keys = sorted(set().union(*runs[label]) - {"wall_s", "cpu_s"})
        summary[f"{label}_medians"] = {
            k: statistics.median(r[k] for r in runs[label] if k in r) for k in keys
        }
    for key in ("wall_s", "cpu_s", "total_s"):
        ratios = [n[key] / o[key] for o, n in zip(runs["old"], runs["new"], strict=True)]
        summary[key] = {
            "old_median": statistics.median(r[key] for r in runs["old"]),
            "new_median": statistics.median(r[key] for r in runs["new"]),
            "ratio_new_old_median": statistics.median(ratios),
            "ratio_min": min(ratios),
            "ratio_max": max(ratios),
        }
    print(json.dumps(summary, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
