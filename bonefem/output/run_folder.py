"""The run folder: case as run, manifest, metrics CSV; never silently overwritten.

Layout of ``runs/<name>/``::

    case.toml            the case file exactly as given
    case_resolved.json   the validated case with every default filled in
    calibration.json     the calibrated constants the run uses (a restart goes on with them)
    manifest.json        versions, ranks, git revision, wall time per phase, status
    metrics.csv          one row per metrics time (header row first)
    fields.pvd, fields_*.pvtu/vtu   ParaView time series
    mesh/mesh.xdmf|h5|json   the mesh the run used (restarts read it back)
    checkpoints/step_*/  restart checkpoints
    figures/             created by ``bonefem report``
    .bonefem.lock        host and PID of the run using the folder (:mod:`bonefem.output.lock`)

Only rank 0 touches these files (except the collective mesh, field and checkpoint
writers). Every file is replaced atomically, and ``metrics.csv`` is appended line by line
with a flush and fsync, so a run killed at any moment leaves complete, parseable files.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bonefem.errors import InputError
from bonefem.output.atomic import write_text_atomic
from bonefem.output.lock import LOCK_NAME, RunLock

MANIFEST = "manifest.json"
METRICS = "metrics.csv"
#: The record of the calibrated constants a run uses (``bonefem.driver``; a restart goes on
#: with them).
CALIBRATION_FILE = "calibration.json"


def choose_run_folder(
    requested: str | Path | None,
    name: str,
    *,
    restart: bool = False,
    overwrite: bool = False,
    base: str | Path = "runs",
) -> tuple[Path, RunLock]:
    """Pick the run folder and lock it (rank 0 only; broadcast the path).

    * ``requested`` given: it must be new or empty, unless ``restart`` (resume it) or
      ``overwrite`` (delete its contents first).
    * not given: ``<base>/<name>``; if that exists, ``restart`` resumes it, ``overwrite``
      replaces it, otherwise the first free ``<base>/<name>-2``, ``-3``, ... is used.

    The folder's :class:`~bonefem.output.lock.RunLock` is taken before anything in it is
    read or deleted; the caller releases it when the run ends.

    Raises:
        InputError: the folder is in use by a live run; it exists and is not empty (and no
            ``restart``/``overwrite``); ``restart`` of a folder without checkpoint;
            ``overwrite`` of a folder bonefem did not make; it is a file or not writable.
    """
    if requested is not None:
        folder = Path(requested)
    else:
        folder = Path(base) / name
        if _nonempty(folder) and not (restart or overwrite):
            n = 2
            while (Path(base) / f"{name}-{n}").exists():
                n += 1
            folder = Path(base) / f"{name}-{n}"
    if folder.exists() and not folder.is_dir():
        raise InputError(
            "the output folder is a file, not a folder; give a folder with --output", file=folder
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            f"the output folder is not writable (cannot create it): {exc.strerror}", file=folder
        ) from None
    lock = RunLock(folder).acquire()
    try:
        _check_folder(folder, restart=restart, overwrite=overwrite)
    except BaseException:
        lock.release()
        raise
    return folder, lock


#: What a run writes before its first result: a folder holding nothing else, with the
#: ``case_resolved.json`` only bonefem writes, is a run that failed in its set-up (a missing
#: mesh file, an unknown surface); it holds no results and a new run may take it over.
SETUP_ARTEFACTS = frozenset(
    {LOCK_NAME, "case.toml", "case_resolved.json", CALIBRATION_FILE, "mesh"}
)


def _setup_only(folder: Path) -> bool:
    """Whether ``folder`` holds only what a failed set-up leaves (no results)."""
    if not folder.is_dir():
        return False
    names = {p.name for p in folder.iterdir()}
    return "case_resolved.json" in names and names <= SETUP_ARTEFACTS


def _nonempty(folder: Path) -> bool:
    """Whether ``folder`` holds anything a new run must not replace (results, user files)."""
    if _setup_only(folder):
        return False
    return folder.is_dir() and any(p.name != LOCK_NAME for p in folder.iterdir())


def _clear(folder: Path) -> None:
    """Delete everything in a locked run folder but its lock."""
    for child in folder.iterdir():
        if child.name == LOCK_NAME:
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def _check_folder(folder: Path, *, restart: bool, overwrite: bool) -> None:
    """Refuse, resume or clear a locked run folder (see :func:`choose_run_folder`)."""
    if not restart and _setup_only(folder):
        _clear(folder)  # a failed set-up's inputs: no results to keep
    if _nonempty(folder) and not (restart or overwrite):
        raise InputError(
            "the output folder exists and is not empty; a run never overwrites another "
            "run. Use --restart to resume it, --overwrite to replace it, or another --output",
            file=folder,
        )
    if restart and not (folder / "checkpoints" / "LATEST").exists():
        raise InputError(
            "--restart: the run folder has no checkpoint to resume from (the run did not get "
            "past its set-up); start it again without --restart",
            file=folder,
        )
    if overwrite and not restart and _nonempty(folder):
        made_by_bonefem = any((folder / f).exists() for f in (MANIFEST, "case_resolved.json"))
        if not made_by_bonefem:
            raise InputError(
                "--overwrite only replaces bonefem run folders (this one has neither "
                "manifest.json nor case_resolved.json)",
                file=folder,
            )
        _clear(folder)
    try:
        probe = folder / ".write-test"
        probe.write_text("ok", encoding="utf-8")
        probe.unlink()
    except OSError as exc:
        raise InputError(
            f"the output folder is not writable: {exc.strerror}", file=folder
        ) from None


def git_revision(path: Path) -> str | None:
    """Git commit (with '-dirty') of the repository holding ``path``.

    Falls back to ``$BONEFEM_GIT_REVISION`` (set by the container images, which carry no
    ``.git``), else None.
    """
    env = os.environ.get("BONEFEM_GIT_REVISION") or None
    try:
        rev = subprocess.run(
            ["git", "-C", str(path), "describe", "--always", "--dirty", "--abbrev=12"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return env
    return rev.stdout.strip() or env


class Manifest:
    """``manifest.json``: provenance and timing of a run, rewritten atomically (rank 0)."""

    def __init__(self, folder: Path, data: Mapping[str, Any] | None = None) -> None:
        self.path = folder / MANIFEST
        self.data: dict[str, Any] = dict(data or {})

    @classmethod
    def load(cls, folder: Path) -> Manifest:
        """Read an existing manifest (empty if absent)."""
        path = folder / MANIFEST
        data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        return cls(folder, data)

    def update(self, **items: Any) -> None:
        """Merge items and rewrite the file."""
        self.data.update(items)
        self.data["updated"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        self.data.setdefault("host", socket.gethostname())
        write_text_atomic(self.path, json.dumps(self.data, indent=1, default=str) + "\n")


class MetricsLog:
    """``metrics.csv``: a header row, then one row per metrics time, appended durably.

    Args:
        folder: the run folder.
        columns: column names; ``time_days`` must be first.
        restart_time: when resuming, rows after this time (days) are dropped (the file is
            rewritten atomically); ``None`` starts a new file.
    """

    def __init__(
        self, folder: Path, columns: Sequence[str], restart_time: float | None = None
    ) -> None:
        self.path = folder / METRICS
        self.columns = list(columns)
        if restart_time is not None and self.path.exists():
            rows = read_metrics(self.path)
            kept = [r for r in rows if float(r["time_days"]) <= restart_time + 1e-9]
            buf = io.StringIO()
            writer = csv.DictWriter(buf, fieldnames=self.columns, extrasaction="ignore")
            writer.writeheader()
            for r in kept:
                writer.writerow(r)
            write_text_atomic(self.path, buf.getvalue())
        else:
            buf = io.StringIO()
            csv.writer(buf).writerow(self.columns)
            write_text_atomic(self.path, buf.getvalue())

    def append(self, row: Mapping[str, float | int | str]) -> None:
        """Append one row (missing columns are left empty) and flush it to disk."""
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=self.columns, extrasaction="ignore")
        writer.writerow({k: _fmt(v) for k, v in row.items()})
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(buf.getvalue())
            fh.flush()
            os.fsync(fh.fileno())


def _fmt(value: float | int | str) -> str:
    if isinstance(value, float):
        return f"{value:.10g}"
    return str(value)


def read_metrics(path: str | Path) -> list[dict[str, str]]:
    """Read a metrics.csv into a list of rows (dicts of strings)."""
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def safe_name(text: str) -> str:
    """A file-name-safe version of ``text``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "run"
