"""Run the bonefem command line in a subprocess (serial or under mpiexec)."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from tests.conftest import ROOT, mpiexec


def _run(cmd: list[str], nprocs: int) -> subprocess.CompletedProcess[str]:
    if nprocs > 1:
        cmd = [mpiexec(), "-n", str(nprocs), *cmd]
    env = dict(os.environ)
    env.pop("PMI_RANK", None)
    env.pop("PMI_SIZE", None)
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def run_bonefem(args: list[str], nprocs: int = 1) -> int:
    """Run ``python -m bonefem.cli -q ARGS``; it must exit 0."""
    cmd = [sys.executable, "-m", "bonefem.cli", "-q", *args]
    proc = _run(cmd, nprocs)
    if proc.returncode != 0:
        raise AssertionError(f"{cmd} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc.returncode


def run_killed(case: str, output: str, step: int) -> None:
    """Run a case and SIGKILL it before step ``step`` (:mod:`tests.helpers.killed_run`)."""
    cmd = [sys.executable, "-m", "tests.helpers.killed_run", case, output, str(step)]
    proc = _run(cmd, 1)
    if proc.returncode not in (-9, 137):
        raise AssertionError(
            f"{cmd} should have been killed, exit {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
        )


def run_main(args: list[str], capsys: Any) -> tuple[int, str, str]:
    """``bonefem ARGS`` through :func:`bonefem.cli.main` in this process (1 rank): exit code,
    stdout and stderr (``capsys``); argparse's usage errors give their exit code. ``main``
    replaces the root logger's handlers and level; the suite's autouse fixture
    (tests/conftest.py, ``_restore_root_logger``) puts them back after the test."""
    from bonefem.cli import main

    capsys.readouterr()
    try:
        code = main(args)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err
