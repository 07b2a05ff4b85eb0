"""Run pytest on every MPI rank; only rank 0 reports, other ranks report only if they fail.

Usage: mpiexec -n 2 python scripts/mpi_pytest.py [pytest args...]
The exit status is non-zero if any rank fails (mpiexec propagates it).
"""

from __future__ import annotations

from mpi4py import MPI

import faulthandler
import io
import os
import sys
from contextlib import redirect_stderr, redirect_stdout

import pytest

import bonefem._dolfinx  # noqa: F401  (MPI first, in the wheel's required order)

rank = MPI.COMM_WORLD.rank
# A rank that fails inside a collective leaves the others waiting: never hang CI. This
# bounds collection; tests/conftest.py re-arms the same watchdog for each test.
timeout = float(os.environ.get("BONEFEM_MPI_TEST_TIMEOUT", 600))
faulthandler.dump_traceback_later(timeout, exit=True)
args = ["-p", "no:cacheprovider", *sys.argv[1:]]
if rank == 0:
    code = pytest.main(args)
else:
    buffer = io.StringIO()
    with redirect_stdout(buffer), redirect_stderr(buffer):
        code = pytest.main(args)
    if code not in (0, 5):
        print(f"\n===== rank {rank} output =====\n{buffer.getvalue()}", flush=True)
codes = MPI.COMM_WORLD.allgather(int(code))
sys.stdout.flush()
os._exit(max(codes))
