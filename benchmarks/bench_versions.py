"""Two versions of bonefem side by side on one case: wall and CPU time, pair by pair.

    .venv/bin/python benchmarks/bench_versions.py --old /path/to/old/checkout \\
        --case tests/regression/short_cases.py:menopause_vertebra --pairs 3

Each run is a fresh process (``python -m bonefem.cli run``) with ``PYTHONPATH`` pointing
at the source tree of its version (the old checkout shadows the installed package); the
two versions alternate (A B A B ...) so that a drifting machine affects both alike, and
the ratio new/old is taken pair by pair. CPU time (user + sys of the child, from
``getrusage``) is less sensitive to other load on a shared machine than wall time. The
metrics of both are compared too (same numbers expected for a pure refactoring).
"""

from __future__ import annotations

import argparse
import csv
import json
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


def _run(tree: Path, case: Path, out: Path) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "bonefem.cli",
            "-q",
            "run",
            str(case),
            "--output",
            str(out),
            "--no-progress",
        ],
        check=True,
        env=env,
        cwd=tree,
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": wall, "cpu_s": cpu}


def _metrics(folder: Path) -> list[dict[str, str]]:
    with open(folder / "metrics.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def main(argv: list[str] | None = None) -> int:
    """Command line."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--old", required=True, help="source tree of the old version")
    ap.add_argument("--new", default=str(ROOT), help="source tree of the new version")
    ap.add_argument("--case", default="tests/regression/short_cases.py:menopause_vertebra")
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bonefem-versions-"))
    case = _case(args.case, work)
    runs: dict[str, list[dict[str, float]]] = {"old": [], "new": []}
    for i in range(args.pairs + 1):  # the first pair warms the caches and is not counted
        for label in ("old", "new"):
            out = work / f"{label}_{i}"
            r = _run(Path(getattr(args, label)), case, out)
            if i:
                runs[label].append(r)
            print(f"pair {i} {label}: wall {r['wall_s']:.2f} s, cpu {r['cpu_s']:.2f} s")
    same = _metrics(work / "old_1") == _metrics(work / "new_1")
    summary: dict[str, object] = {"case": args.case, "pairs": args.pairs, "same_metrics": same}
    for key in ("wall_s", "cpu_s"):
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
