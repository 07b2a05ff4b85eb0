"""Shared fixtures: MPI-safe temporary folders, rank helpers, ParaView discovery.

The suite runs twice: serially (every test) and under ``mpiexec -n 2`` (tests marked
``mpi``). Tests compare 1-rank and 2-rank results either inside one MPI run (reduced
quantities against analytic values) or by launching ``mpiexec -n 2`` from a serial test
(:func:`run_mpi`).
"""

from __future__ import annotations

import gc
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _comm():
    from bonefem._dolfinx import MPI

    return MPI.COMM_WORLD


@pytest.fixture(scope="session")
def comm():
    return _comm()


@pytest.fixture
def mpi_tmp_path(request: pytest.FixtureRequest) -> Iterator[Path]:
    """A temporary folder shared by all ranks (rank 0 creates it and broadcasts the path)."""
    comm = _comm()
    path = tempfile.mkdtemp(prefix=f"bonefem-{request.node.name[:40]}-") if comm.rank == 0 else None
    path = comm.bcast(path, root=0)
    yield Path(path)
    comm.Barrier()
    if comm.rank == 0:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(autouse=True)
def _collect_and_sync() -> Iterator[None]:
    """Under mpiexec, collect garbage collectively after each test (PETSc objects are
    collective); a serial run needs neither (saves about 0.08 s per test)."""
    yield
    if "mpi4py.MPI" in sys.modules and sys.modules["mpi4py.MPI"].COMM_WORLD.size > 1:
        gc.collect()
        sys.modules["mpi4py.MPI"].COMM_WORLD.Barrier()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under mpiexec, skip tests marked ``serial``."""
    if "mpi4py.MPI" not in sys.modules and os.environ.get("PMI_SIZE", "1") == "1":
        return
    size = _comm().size
    if size > 1:
        skip = pytest.mark.skip(reason="serial-only test (launched under MPI)")
        for item in items:
            if "serial" in item.keywords:
                item.add_marker(skip)


def mpiexec() -> str:
    """The mpiexec that belongs to this Python's mpi4py (the MPICH wheel's, or the system's)."""
    here = Path(sys.executable).parent / "mpiexec"
    return str(here) if here.exists() else (shutil.which("mpiexec") or "mpiexec")


def run_mpi(nprocs: int, args: list[str], cwd: Path | None = None, timeout: float = 600.0) -> str:
    """Run ``python args...`` under ``mpiexec -n nprocs`` and return its stdout; fail loudly."""
    env = dict(os.environ)
    env.pop("PMI_RANK", None)
    env.pop("PMI_SIZE", None)
    cmd = [mpiexec(), "-n", str(nprocs), sys.executable, *args]
    proc = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        )
    return proc.stdout


def pvbatch() -> str | None:
    """Path of pvbatch, or None; with BONEFEM_REQUIRE_PARAVIEW=1 its absence fails the test."""
    found = shutil.which("pvbatch")
    if found is None and os.environ.get("BONEFEM_REQUIRE_PARAVIEW") == "1":
        pytest.fail("pvbatch not found but BONEFEM_REQUIRE_PARAVIEW=1 (install Debian's paraview)")
    return found
