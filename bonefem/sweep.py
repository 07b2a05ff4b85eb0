"""Parameter sweeps: ``bonefem sweep CASE --set key=v1,v2,v3 [--set ...] --output DIR``.

Every ``--set`` whose value lists several comma-separated values is swept; the points are
the cartesian product of those lists (``--set a=1,2 --set b=3,4`` gives four points), and a
``--set`` with one value applies to every point. Each point is a normal run of the case with
its overrides (``bonefem run CASE --set ...``), into its own folder ``DIR/NNN_<values>``.

* local (default): the points run as parallel processes, at most ``--jobs`` at a time, each
  ``bonefem sweep ... --index I`` (logs in ``DIR/logs/``);
* ``--slurm``: writes ``DIR/sweep.sbatch``, a SLURM job array whose task ``I`` runs the same
  ``bonefem sweep ... --index I`` under ``srun`` (MPI ranks from the job's ``--ntasks``);
* ``--index I``: runs point ``I`` in this process (under ``mpiexec`` too), resuming it from
  its checkpoint when it was stopped and skipping it when it has finished.

``DIR/sweep.json`` records the case, the overrides and the points (a second call with a
different sweep into the same folder is refused); ``DIR/sweep.csv`` has one row per point:
its index, the swept values, its status and folder, and the final metrics of the run (last
row of ``metrics.csv``, the virtual tests at their last evaluated value; units in the
header ``name [unit]``). Rewritten after every point, and by ``--summary``.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bonefem.errors import BonefemError, InputError

logger = logging.getLogger(__name__)

PLAN = "sweep.json"
SUMMARY = "sweep.csv"
SCRIPT = "sweep.sbatch"
REPORT_SCRIPT = "sweep-report.sbatch"


def split_values(text: str) -> list[str]:
    """Split ``v1,v2,v3`` at the commas outside brackets, braces and quotes.

    ``"[1, 2],[3, 4]"`` → ``["[1, 2]", "[3, 4]"]``; ``'"a,b",c'`` → ``['"a,b"', "c"]``.
    """
    parts: list[str] = []
    current: list[str] = []
    depth, quote = 0, ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(ch)
    parts.append("".join(current).strip())
    return parts


@dataclass(frozen=True)
class Point:
    """One run of a sweep.

    Attributes:
        index: 0, 1, ... (the SLURM array index).
        values: the swept keys and their values (TOML text) of this point.
        overrides: every ``key=value`` override of the run (swept and fixed).
        folder: its run folder, relative to the sweep folder.
    """

    index: int
    values: dict[str, str]
    overrides: list[str]
    folder: str


def _tag(values: dict[str, str]) -> str:
    text = "_".join(f"{k.rsplit('.', 1)[-1]}={v}" for k, v in values.items())
    return re.sub(r"[^A-Za-z0-9.=+-]+", "_", text).strip("_")[:80] or "point"


def _parse_sets(sets: Sequence[str]) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """The fixed ``key=value`` overrides and the swept ``(key, values)`` of ``--set`` items."""
    fixed: list[str] = []
    swept: list[tuple[str, list[str]]] = []
    seen: set[str] = set()
    for item in sets:
        key, sep, raw = item.partition("=")
        key = key.strip()
        values = split_values(raw)
        if not sep or not key or not all(values):
            raise InputError(
                "give --set as KEY=VALUE or KEY=V1,V2,V3 (TOML values), e.g. "
                "run.duration_days=365.25,730.5",
                field="--set",
                value=item,
            )
        if key in seen:
            raise InputError("the key is given twice; list its values in one --set", field=key)
        seen.add(key)
        if len(values) == 1:
            fixed.append(f"{key}={values[0]}")
        else:
            swept.append((key, values))
    return fixed, swept


def plan_points(sets: Sequence[str], zip_lists: bool = False) -> list[Point]:
    """The points of a sweep from its ``key=v1,v2,...`` settings.

    Args:
        sets: the ``--set`` items.
        zip_lists: pair the lists element by element (all of the same length) instead of
            taking their cartesian product, e.g. a course's start and stop days.

    Raises:
        InputError: a setting without ``=``, an empty value, a key given twice, lists of
            different lengths with ``zip_lists``.
    """
    fixed, swept = _parse_sets(sets)
    lists = [v for _, v in swept]
    if zip_lists and len({len(v) for v in lists}) > 1:
        raise InputError(
            "--zip pairs the lists value by value: give every swept key the same number of "
            "values (" + ", ".join(f"{k}: {len(v)}" for k, v in swept) + ")",
            field="--set",
        )
    combos: Any = zip(*lists, strict=True) if zip_lists else itertools.product(*lists)
    points = []
    for index, combo in enumerate(combos if swept else [()]):
        chosen = {k: v for (k, _), v in zip(swept, combo, strict=True)}
        overrides = [*fixed, *(f"{k}={v}" for k, v in chosen.items())]
        points.append(Point(index, chosen, overrides, f"{index:03d}_{_tag(chosen)}"))
    return points


@dataclass(frozen=True)
class Sweep:
    """A prepared sweep: case, settings, folder and points.

    Attributes:
        case: the case file (absolute).
        sets: the ``--set`` items.
        folder: the sweep folder.
        zip_lists: lists paired value by value (``--zip``), not crossed.
        points: the runs.
    """

    case: Path
    sets: tuple[str, ...]
    folder: Path
    zip_lists: bool
    points: tuple[Point, ...]

    def command(self) -> list[str]:
        """``bonefem`` arguments of this sweep (callers add ``--index`` or ``--report``)."""
        args = ["sweep", str(self.case), "--output", str(self.folder.resolve())]
        for s in self.sets:
            args += ["--set", s]
        return [*args, "--zip"] if self.zip_lists else args


def _write_atomic(path: Path, text: str) -> None:
    """Write via a unique temporary file and rename (concurrent writers never mix)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def prepare(
    case: str | Path, sets: Sequence[str], output: str | Path, zip_lists: bool = False
) -> Sweep:
    """Validate the case with the overrides of every point, write or check ``sweep.json``.

    Raises:
        InputError: a bad case or override (named with the point), or ``output`` holding a
            different sweep.
    """
    from bonefem.cli import resolve_case
    from bonefem.config.case import load_case

    path = resolve_case(str(case)).resolve()
    points = plan_points(sets, zip_lists)
    for p in points:
        try:
            load_case(path, p.overrides)
        except InputError as exc:
            raise InputError(f"sweep point {p.index} ({', '.join(p.overrides)}): {exc}") from None
    folder = Path(output)
    folder.mkdir(parents=True, exist_ok=True)
    plan = {"case": str(path), "sets": list(sets), "zip": zip_lists}
    plan_file = folder / PLAN
    if plan_file.exists():
        old = json.loads(plan_file.read_text(encoding="utf-8"))
        if {k: old.get(k) for k in plan} != plan:
            raise InputError(
                f"the folder holds another sweep (case {old.get('case')}, --set "
                f"{' '.join(old.get('sets', []))}); give another --output",
                file=folder,
            )
    else:
        plan["points"] = [p.__dict__ for p in points]
        _write_atomic(plan_file, json.dumps(plan, indent=1) + "\n")
    return Sweep(path, tuple(sets), folder, zip_lists, tuple(points))


def _status(folder: Path) -> str:
    """``finished``, ``stopped``, ``failed``, ``running`` (from the manifest), or ``pending``."""
    manifest = folder / "manifest.json"
    if not manifest.is_file():
        return "pending"
    try:
        return str(json.loads(manifest.read_text(encoding="utf-8")).get("status", "running"))
    except (OSError, ValueError):
        return "running"


def run_point(case: Path, point: Point, sweep_folder: Path, progress: bool = False) -> Path | None:
    """Run one point in this process (every MPI rank calls it); None if it had finished.

    A stopped or failed run with a checkpoint resumes from it; one without is started again.
    """
    from bonefem.driver import run_case

    folder = sweep_folder / point.folder
    status = _status(folder)
    if status == "finished":
        logger.info("sweep point %d has finished already: %s", point.index, folder)
        return None
    restart = (folder / "checkpoints" / "LATEST").exists()
    logger.info("sweep point %d: %s -> %s", point.index, " ".join(point.overrides), folder)
    return run_case(
        case,
        output=folder,
        restart=restart,
        overwrite=folder.exists() and not restart,
        progress=progress,
        overrides=point.overrides,
    )


def summary(sweep_folder: Path, points: Sequence[Point]) -> Path:
    """Write ``sweep.csv``: per point its values, status, folder and final metrics."""
    import pandas as pd

    from bonefem.api import metrics_frame

    rows: list[dict[str, Any]] = []
    units: dict[str, str] = {}
    for p in points:
        folder = sweep_folder / p.folder
        row: dict[str, Any] = {"index": p.index, **p.values}
        row["status"], row["folder"] = _status(folder), p.folder
        try:
            df = metrics_frame(folder / "metrics.csv")
        except InputError:
            df = None
        if df is not None and len(df):
            row.update(df.ffill().iloc[-1].to_dict())
            units.update(df.attrs["units"])
        rows.append(row)
    table = pd.DataFrame(rows)
    table.columns = [f"{c} [{units[c]}]" if units.get(c) else str(c) for c in table.columns]
    path = sweep_folder / SUMMARY
    _write_atomic(path, table.to_csv(index=False))
    return path


def _mpiexec() -> str:
    """The mpiexec beside this Python (the venv's MPICH), else the one on PATH."""
    import shutil

    here = Path(sys.executable).parent / "mpiexec"
    return str(here) if here.exists() else (shutil.which("mpiexec") or "mpiexec")


def run_local(sw: Sweep, jobs: int, ranks: int = 1) -> dict[int, int]:
    """Run the unfinished points as processes; the exit code of each.

    At most ``jobs`` run at a time, each on ``ranks`` MPI ranks (``mpiexec -n``).
    """
    logs = sw.folder / "logs"
    logs.mkdir(exist_ok=True)
    launcher = [_mpiexec(), "-n", str(ranks)] if ranks > 1 else []
    base = [*launcher, sys.executable, "-m", "bonefem.cli", *sw.command()]
    pending = [p for p in sw.points if _status(sw.folder / p.folder) != "finished"]
    if len(pending) < len(sw.points):
        logger.info("%d of %d points had finished", len(sw.points) - len(pending), len(sw.points))
    running: dict[int, tuple[subprocess.Popen[bytes], Any]] = {}
    codes: dict[int, int] = {}
    while pending or running:
        while pending and len(running) < max(jobs, 1):
            p = pending.pop(0)
            log = open(logs / f"{p.folder}.log", "wb")  # noqa: SIM115 - closed when it ends
            cmd = [*base, "--index", str(p.index), "--no-summary"]
            running[p.index] = (subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT), log)
        for index, (proc, log) in list(running.items()):
            if proc.poll() is not None:
                log.close()
                codes[index] = proc.returncode
                del running[index]
                state = "done" if proc.returncode == 0 else f"FAILED (exit {proc.returncode})"
                name = sw.points[index].folder
                logger.info("sweep point %d %s (log: logs/%s.log)", index, state, name)
                summary(sw.folder, sw.points)
        time.sleep(0.2)
    return codes


_SBATCH_RUN = """srun --mpi="${{BONEFEM_SRUN_MPI:-pmi2}}" "${{bonefem[@]}}" {args} &
pid=$!
# SIGTERM before the time limit / scancel: forwarded; the run checkpoints and stops (exit 143)
trap 'kill -TERM "$pid" 2>/dev/null || true' TERM
trap 'kill -USR1 "$pid" 2>/dev/null || true' USR1
rc=0
while kill -0 "$pid" 2>/dev/null; do
    wait "$pid" && rc=0 || rc=$?
done
wait "$pid" && rc=0 || rc=$?
exit "$rc"
"""


def _sbatch(sw: Sweep, what: str, directives: list[str], tail: str) -> str:
    """The text of one SLURM script of the sweep (``tail``: shell text after the arguments)."""
    quoted = " ".join(shlex.quote(a) for a in sw.command()) + " " + tail
    head = [
        "#!/usr/bin/env bash",
        f"# {what} of the bonefem sweep {sw.folder.resolve()} (written by `bonefem sweep",
        "# --slurm`; the same `bonefem sweep` command as a local sweep).",
        "# BONEFEM: the command that runs bonefem (default: bonefem on PATH), e.g.",
        '#   BONEFEM="apptainer run bonefem.sif bonefem"; BONEFEM_SRUN_MPI: srun --mpi (pmi2).',
        *(f"#SBATCH {d}" for d in directives),
        "set -euo pipefail",
        'read -r -a bonefem <<<"${BONEFEM:-bonefem}"',
    ]
    return "\n".join(head) + "\n" + _SBATCH_RUN.format(args=quoted)


def slurm_scripts(sw: Sweep, max_parallel: int | None) -> tuple[Path, Path]:
    """Write ``sweep.sbatch`` (job array; task I runs point I) and ``sweep-report.sbatch``.

    A task that finds its point finished does nothing; one that finds a checkpoint resumes
    it. The report job writes ``sweep.csv`` and a ``bonefem report`` of the finished points.
    Submit the array with ``sbatch [--ntasks=N --time=...] DIR/sweep.sbatch``.
    """
    n = len(sw.points)
    logs = (sw.folder / "logs").resolve()
    logs.mkdir(parents=True, exist_ok=True)
    array = f"0-{n - 1}" + (f"%{max_parallel}" if max_parallel else "")
    texts = {
        SCRIPT: _sbatch(
            sw,
            f"Job array: task I runs point I of {n}",
            [
                "--job-name=bonefem-sweep",
                f"--array={array}",
                "--ntasks=1",
                "--signal=B:TERM@120",
                f"--output={logs}/task-%a-%A.out",
            ],
            '--index "${SLURM_ARRAY_TASK_ID:?not a SLURM array task}"',
        ),
        REPORT_SCRIPT: _sbatch(
            sw,
            "Summary (sweep.csv) and report",
            ["--job-name=bonefem-sweep-report", "--ntasks=1", f"--output={logs}/report-%j.out"],
            "--report",
        ),
    }
    paths = []
    for name, text in texts.items():
        _write_atomic(sw.folder / name, text)
        (sw.folder / name).chmod(0o755)
        paths.append(sw.folder / name)
    return paths[0], paths[1]


def report(sw: Sweep) -> Path:
    """``sweep.csv`` and a ``bonefem report`` of the finished points in ``DIR/report``."""
    from bonefem.report import make_report

    table = summary(sw.folder, sw.points)
    done = [sw.folder / p.folder for p in sw.points if _status(sw.folder / p.folder) == "finished"]
    if not done:
        raise InputError("no point of the sweep has finished yet", file=sw.folder)
    logger.info("sweep summary: %s", table)
    return make_report(done, sw.folder / "report", render=False, labels=[d.name for d in done])


def run_sweep(
    case: str | Path,
    sets: Sequence[str],
    output: str | Path,
    *,
    jobs: int = 1,
    ranks: int = 1,
    zip_lists: bool = False,
    slurm: bool = False,
    max_parallel: int | None = None,
    index: int | None = None,
    write_summary: bool = True,
) -> Path:
    """Run (or prepare) a sweep; returns ``sweep.csv`` (``sweep.sbatch`` with ``slurm``).

    Args:
        case: the case file or bundled case name.
        sets: ``key=v1,v2,...`` settings (TOML values); lists of several values are swept.
        output: the sweep folder.
        jobs: local runs at the same time.
        ranks: MPI ranks of each local run (``mpiexec -n ranks``).
        zip_lists: pair the lists value by value instead of crossing them.
        slurm: write the SLURM scripts instead of running.
        max_parallel: SLURM array tasks at the same time (``%N``); None: no limit.
        index: run only this point, in this process (SLURM tasks, local workers).
        write_summary: rewrite ``sweep.csv`` after ``index`` has run.

    Raises:
        InputError: bad case, settings, folder or index.
        BonefemError: a point of a local sweep failed (its log is named).
    """
    sw = prepare(case, sets, output, zip_lists)
    if slurm:
        script, _ = slurm_scripts(sw, max_parallel)
        logger.info("%d points; submit with: sbatch %s", len(sw.points), script)
        return script
    if index is not None:
        if not 0 <= index < len(sw.points):
            raise InputError(
                f"the sweep has {len(sw.points)} points; give an index 0..{len(sw.points) - 1}",
                field="--index",
                value=str(index),
            )
        run_point(sw.case, sw.points[index], sw.folder)
        from mpi4py import MPI

        if write_summary and MPI.COMM_WORLD.rank == 0:
            summary(sw.folder, sw.points)
        return sw.folder / SUMMARY
    logger.info("sweep: %d points, %d at a time, into %s", len(sw.points), jobs, sw.folder)
    codes = run_local(sw, jobs, ranks)
    table = summary(sw.folder, sw.points)
    failed = [sw.points[i].folder for i, code in sorted(codes.items()) if code != 0]
    if failed:
        raise BonefemError(
            f"{sw.folder}: {len(failed)} of {len(sw.points)} sweep points failed (sweep.csv has "
            "the others): " + ", ".join(f"logs/{f}.log" for f in failed)
        )
    return table
