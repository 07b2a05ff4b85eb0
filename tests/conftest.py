"""Shared fixtures: MPI-safe temporary folders, rank helpers, ParaView discovery.

The suite runs twice: serially (every test) and under ``mpiexec -n 2`` (tests marked
``mpi``). Tests compare 1-rank and 2-rank results in one of three ways: inside one MPI run
against analytic values; inside one MPI run against the same computation on
``MPI.COMM_SELF`` (tests marked ``mpi_only``, skipped on one rank: no process is started
for the 1-rank side or the 2-rank side); or, where the command line itself is under test
(exit codes, signals, files of a whole run), by launching ``mpiexec -n 2`` from a serial
test (:func:`run_mpi`, tests/helpers/cli.py).
"""

from __future__ import annotations

import faulthandler
import gc
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from bonefem.errors import BonefemError, on_rank_0

if TYPE_CHECKING:
    from bonefem.mesh import BoneMesh

ROOT = Path(__file__).resolve().parents[1]

#: a test whose call takes longer than this (s) belongs under the ``slow`` marker
SLOW_SECONDS = 20.0
#: a ``slow`` test faster than this (s) is marked wrongly (the marker would hide a cheap test)
FAST_SECONDS = 2.0


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
def _collect_and_sync(request: pytest.FixtureRequest) -> Iterator[None]:
    """Under mpiexec, after each ``mpi`` test, collect garbage collectively (PETSc objects
    are collective) and synchronise; serial runs and other tests need neither (about 0.08 s
    per test)."""
    yield
    if _ranks() > 1 and request.node.get_closest_marker("mpi"):
        gc.collect()
        sys.modules["mpi4py.MPI"].COMM_WORLD.Barrier()


@pytest.fixture(autouse=True)
def _restore_root_logger() -> Iterator[None]:
    """Put back the root logger's handlers and level after each test: ``bonefem.cli.main``
    called in process replaces them (its handler would keep writing to that test's
    captured, then closed, stream, and its level would leak into later tests)."""
    import logging

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    if root.handlers != handlers or root.level != level:
        for h in list(root.handlers):
            root.removeHandler(h)
        for h in handlers:
            root.addHandler(h)
        root.setLevel(level)


@pytest.fixture(scope="session")
def bone_mesh() -> Callable[..., BoneMesh]:
    """``bone_mesh(name, **parameters)``: a generated mesh on COMM_WORLD, made once per
    test session and shared by every test asking for the same geometry and parameters.

    The meshes are read-only for the tests (a test that changes one makes its own with
    :func:`bonefem.mesh.generate`). Every rank requests them in the same order (tests run
    in the same order on all ranks), so the collective generation stays matched.
    """
    from bonefem._dolfinx import MPI
    from bonefem.mesh import generate

    cache: dict[tuple[str, tuple[tuple[str, Any], ...]], BoneMesh] = {}

    def get(name: str, **parameters: Any) -> BoneMesh:
        key = (name, tuple(sorted(parameters.items())))
        if key not in cache:
            cache[key] = generate(name, MPI.COMM_WORLD, parameters)
        return cache[key]

    return get


#: call time (s) and ``slow`` marker of every test that ran, by node id
_durations: dict[str, tuple[float, bool]] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Call time per test, for the ``slow`` marker audit (set-up time is left out: a
    module- or session-scoped fixture is paid by whichever test runs first).

    Read from the report, not the collected items: under pytest-xdist (``-n``) the
    controller collects nothing and receives the workers' reports here.
    """
    if report.when == "call":
        _durations[report.nodeid] = (report.duration, "slow" in report.keywords)
    if report.failed and _ranks() > 1:
        # Under mpiexec, say at once which rank failed and why: a rank that fails alone
        # leaves the others in a collective, and pytest's summary would never be printed
        # (scripts/mpi_pytest.py hides rank 1's output until the end of the session).
        rank = sys.modules["mpi4py.MPI"].COMM_WORLD.rank
        print(
            f"\n===== rank {rank} FAILED {report.nodeid} ({report.when}) =====\n"
            f"{report.longreprtext}\n",
            file=sys.__stderr__,
            flush=True,
        )


def _ranks() -> int:
    """The number of ranks of the job (1 when mpi4py is not imported)."""
    mpi = sys.modules.get("mpi4py.MPI")
    return 1 if mpi is None else int(mpi.COMM_WORLD.size)


#: an ``mpi`` test under mpiexec that takes longer than this (s) ends the job: every rank
#: prints its traceback and exits with status 1. A rank that fails alone inside a
#: collective leaves the others waiting forever; without this watchdog, CI would only learn
#: of it when its own time limit ran out.
MPI_TEST_TIMEOUT = float(os.environ.get("BONEFEM_MPI_TEST_TIMEOUT", 600))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """Under mpiexec, re-arm the watchdog for each test (set-up, call and tear-down)."""
    if _ranks() > 1:
        faulthandler.dump_traceback_later(MPI_TEST_TIMEOUT, exit=True, file=2)  # stderr fd
    yield


def _marker_audit() -> tuple[list[str], list[str]]:
    """Tests slower than SLOW_SECONDS without ``slow``, and ``slow`` tests that are fast."""
    unmarked, wrongly = [], []
    for nodeid, (took, slow) in sorted(_durations.items()):
        if took > SLOW_SECONDS and not slow:
            unmarked.append(f"{nodeid} ({took:.1f} s)")
        elif slow and took < FAST_SECONDS:
            wrongly.append(f"{nodeid} ({took:.1f} s)")
    return unmarked, wrongly


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Report tests whose duration contradicts their ``slow`` marker.

    ``-m "not slow"`` (``scripts/test.sh --quick``) is the fast loop while developing; it
    is only useful when the marker is right. Durations depend on the machine's load, so
    this is reported, not failed.
    """
    unmarked, wrongly = _marker_audit()
    if unmarked or wrongly:
        terminalreporter.section("slow marker audit")
        for line in unmarked:
            terminalreporter.write_line(
                f"slower than {SLOW_SECONDS:.0f} s, not marked slow: {line}"
            )
        for line in wrongly:
            terminalreporter.write_line(f"marked slow, took < {FAST_SECONDS:.0f} s: {line}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under mpiexec, skip tests marked ``serial``; on one rank, tests marked ``mpi_only``."""
    one_rank = "mpi4py.MPI" not in sys.modules and os.environ.get("PMI_SIZE", "1") == "1"
    size = 1 if one_rank else _comm().size
    if size > 1:
        skip = pytest.mark.skip(reason="serial-only test (launched under MPI)")
        marker = "serial"
    else:
        skip = pytest.mark.skip(reason="compares 1 rank with 2: runs under mpiexec -n 2")
        marker = "mpi_only"
    for item in items:
        if marker in item.keywords:
            item.add_marker(skip)


class RankZeroFailure(BonefemError, AssertionError):
    """A failure of the rank-0 part of a test (:func:`rank_0_result`), raised on every rank."""


def rank_0_result[T](fn: Callable[[], T]) -> T:
    """Collective under mpiexec: ``fn()`` on rank 0 alone (e.g. the 1-rank side of an
    ``mpi_only`` test, on ``MPI.COMM_SELF``), its result broadcast to every rank, or its
    failure raised on every rank (a failure on rank 0 alone would leave the other ranks
    waiting in the test's next collective). Any failure, assertions included, becomes a
    :class:`RankZeroFailure` that :func:`bonefem.errors.on_rank_0` shares."""

    def guarded() -> T:
        try:
            return fn()
        except Exception as exc:
            raise RankZeroFailure(f"on rank 0: {type(exc).__name__}: {exc}") from exc

    return on_rank_0(_comm(), guarded)


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
