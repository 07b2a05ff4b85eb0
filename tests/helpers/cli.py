"""Run the bonefem command line in a subprocess (serial or under mpiexec)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT, mpiexec


def run_bonefem(args: list[str], nprocs: int = 1, env: dict[str, str] | None = None) -> int:
    """Run ``python -m bonefem.cli -q ARGS``; return its exit code (a SIGKILL is allowed)."""
    cmd = [sys.executable, "-m", "bonefem.cli", "-q", *args]
    if nprocs > 1:
        cmd = [mpiexec(), "-n", str(nprocs), *cmd]
    full_env = {**os.environ, **(env or {})}
    full_env.pop("PMI_RANK", None)
    full_env.pop("PMI_SIZE", None)
    proc = subprocess.run(cmd, cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=600)
    if proc.returncode not in (0, -9, 137):
        raise AssertionError(f"{cmd} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc.returncode
