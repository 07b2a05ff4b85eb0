"""Run the whole benchmark suite and write the tables of docs/performance.md.

One command::

    .venv/bin/python benchmarks/run_all.py            # full suite (about 1.5-2 h on 2 cores)
    .venv/bin/python benchmarks/run_all.py --quick    # small meshes only (a few minutes)

Each benchmark is its own process (``mpiexec -n RANKS python benchmarks/...``) under
``/usr/bin/time -v`` when available, so that the peak memory of a mesh size is not
polluted by a larger one; every process writes its JSON to ``benchmarks/results/`` and this
script then calls :mod:`benchmarks.report` to rebuild the results block of
``docs/performance.md``. The benchmarks run one after the other: never time two at once
on a 2-core machine.

Stages (``--only`` picks some):

* ``streams``: memory bandwidth (numpy triad) on 1 and 2 ranks, the bound of any
  sparse-solver speed-up;
* ``mechanics``: elasticity phases vs mesh size (femur, refine 1 … 5.8, i.e. about 27k to
  2.3M dofs) on 1 and 2 ranks;
* ``biology``: the cell model alone, 1e5 and 1e6 points (benchmarks/bench_biology.py);
* ``coupled``: the tolerance check — the 10-year natural-menopause femur run with the
  production settings vs a tight-tolerance reference (refine 1), on 2 ranks — and the
  production run on a femur of ≥ 1M dofs (refine 4.5) for ``--big-years`` (default 1 year,
  about 15 min; 10 for the whole target run, several hours on 2 cores).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
PY = sys.executable

#: femur refinement factors -> about 27k, 127k, 344k, 699k, 1.0M, 2.2M dofs
FULL_REFINE = [1.0, 2.0, 3.0, 4.0, 4.5, 6.0]
QUICK_REFINE = [1.0, 2.0]

#: production settings of the coupled run (target e)
PRODUCTION = [
    "--step",
    "91",
    "--rtol",
    "1e-6",
    "--modulus-tolerance",
    "0.02",
    "--metrics-every",
    "365.25",
    "--fields-every",
    "1826.25",
    "--checkpoint-every",
    "1826.25",
]
#: tight-tolerance reference of the coupled run
REFERENCE = [
    "--step",
    "7",
    "--rtol",
    "1e-10",
    "--modulus-tolerance",
    "0.005",
    "--metrics-every",
    "365.25",
    "--fields-every",
    "1826.25",
    "--checkpoint-every",
    "1826.25",
]


def mpiexec() -> str:
    cand = Path(PY).with_name("mpiexec")
    return str(cand) if cand.exists() else (shutil.which("mpiexec") or "mpiexec")


def run(cmd: list[str], ranks: int, log: Path) -> int:
    """Run a benchmark process (under /usr/bin/time -v if present), log to ``log``."""
    full = [mpiexec(), "-n", str(ranks), PY, *cmd] if ranks > 1 else [PY, *cmd]
    if Path("/usr/bin/time").exists():
        full = ["/usr/bin/time", "-v", *full]
    print("$", " ".join(full), flush=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    with open(log, "w", encoding="utf-8") as fh:
        rc = subprocess.run(full, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT, env=env).returncode
    print(f"  -> exit {rc} in {time.perf_counter() - t0:.0f} s (log {log})", flush=True)
    return rc


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small meshes, short coupled run")
    ap.add_argument("--only", nargs="*", default=["streams", "mechanics", "biology", "coupled"])
    ap.add_argument("--ranks", type=int, nargs="*", default=[1, 2])
    ap.add_argument("--refine", type=float, nargs="*", default=None, help="mechanics meshes")
    ap.add_argument(
        "--big-years",
        type=float,
        default=1.0,
        help="simulated years of the >= 1M-dof coupled run (10 for the full target run)",
    )
    ap.add_argument("--no-report", action="store_true")
    args = ap.parse_args()
    logs = RESULTS / "logs"
    failures = 0
    refines = args.refine or (QUICK_REFINE if args.quick else FULL_REFINE)
    if "streams" in args.only:
        for ranks in args.ranks:
            out = RESULTS / f"streams_np{ranks}.json"
            cmd = ["benchmarks/bench_streams.py", "--json", str(out)]
            failures += run(cmd, ranks, logs / f"streams_np{ranks}.log") != 0
    if "mechanics" in args.only:
        for ranks in args.ranks:
            for r in refines:
                out = RESULTS / f"mechanics_femur_r{r:g}_np{ranks}.json"
                cmd = ["benchmarks/bench_mechanics.py", "--refine", f"{r:g}", "--json", str(out)]
                cmd += ["--updates", "4", "--fresh-updates", "1"]
                failures += run(cmd, ranks, logs / f"mechanics_r{r:g}_np{ranks}.log") != 0
    if "biology" in args.only:
        points = ["100000"] if args.quick else ["100000", "1000000"]
        cmd = ["benchmarks/bench_biology.py", "--points", *points]
        cmd += ["--json", str(RESULTS / "biology.json")]
        failures += run(cmd, 1, logs / "biology.log") != 0
    if "coupled" in args.only:
        ranks = max(args.ranks)
        if args.quick:
            check_refine, check_years, big_refine, big_years = 1.0, 1.0, 2.0, 1.0
        else:
            check_refine, check_years, big_refine, big_years = 1.0, 10.0, 4.5, args.big_years
        ref = RESULTS / f"coupled_reference_r{check_refine:g}_np{ranks}.json"
        prod = RESULTS / f"coupled_production_r{check_refine:g}_np{ranks}.json"
        big = RESULTS / f"coupled_production_r{big_refine:g}_{big_years:g}y_np{ranks}.json"
        check = ["--refine", f"{check_refine:g}", "--duration", f"{365.25 * check_years:g}"]
        large = ["--refine", f"{big_refine:g}", "--duration", f"{365.25 * big_years:g}"]
        steps = [
            (ref, check, REFERENCE, ["--label", "reference"]),
            (prod, check, PRODUCTION, ["--label", "production", "--compare", str(ref)]),
            (big, large, PRODUCTION, ["--label", "production"]),
        ]
        for out, mesh, settings, extra in steps:
            cmd = ["benchmarks/bench_coupled.py", *mesh, *settings, *extra, "--json", str(out)]
            failures += run(cmd, ranks, logs / f"{out.stem}.log") != 0
    if not args.no_report:
        failures += run(["benchmarks/report.py", "--write"], 1, logs / "report.log") != 0
    print(f"{failures} failed stage(s); results in {RESULTS}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
