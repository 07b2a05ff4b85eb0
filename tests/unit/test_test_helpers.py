"""The subprocess helpers of the suite fail on every exit but the expected one (issue 18);
the rank-0 helper of ``mpi_only`` tests fails every rank when rank 0 fails."""

from __future__ import annotations

import subprocess

import pytest

from bonefem._dolfinx import MPI
from tests.conftest import rank_0_result
from tests.helpers import cli


def _exits(monkeypatch: pytest.MonkeyPatch, code: int) -> None:
    def fake(cmd: list[str], nprocs: int) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(cmd, code, stdout="", stderr="")

    monkeypatch.setattr(cli, "_run", fake)


@pytest.mark.parametrize("code", [-9, 137, 1, 2])
def test_a_killed_or_failed_cli_run_fails_the_test(
    monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    """An out-of-memory kill (SIGKILL: -9, or 137 through a shell) is a failure."""
    _exits(monkeypatch, code)
    with pytest.raises(AssertionError, match=f"failed \\({code}\\)"):
        cli.run_bonefem(["version"])


def test_a_cli_run_passes_on_exit_0(monkeypatch: pytest.MonkeyPatch) -> None:
    _exits(monkeypatch, 0)
    assert cli.run_bonefem(["version"]) == 0


@pytest.mark.parametrize("code", [0, 1])
def test_the_deliberate_kill_must_be_a_kill(monkeypatch: pytest.MonkeyPatch, code: int) -> None:
    """run_killed, and only it, expects SIGKILL; a run that finishes or fails instead fails."""
    _exits(monkeypatch, code)
    with pytest.raises(AssertionError, match="should have been killed"):
        cli.run_killed("case.toml", "out", 3)
    _exits(monkeypatch, -9)
    cli.run_killed("case.toml", "out", 3)


@pytest.mark.mpi
@pytest.mark.mpi_only
def test_rank_0_result_is_rank_0s_on_every_rank_and_so_is_its_failure() -> None:
    """The value of rank 0 everywhere; a failure on rank 0 alone raised on every rank (the
    other ranks would otherwise wait in the test's next collective)."""
    assert rank_0_result(lambda: MPI.COMM_WORLD.rank) == 0

    def fails() -> None:  # called on rank 0 only
        assert MPI.COMM_WORLD.rank != 0, "a check that fails on rank 0"

    with pytest.raises(AssertionError, match="on rank 0: AssertionError: a check that fails"):
        rank_0_result(fails)
    MPI.COMM_WORLD.Barrier()  # every rank got here
