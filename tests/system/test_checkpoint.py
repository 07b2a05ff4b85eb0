"""Checkpoints written on N ranks restart on M ranks; writes are atomic; old ones pruned."""

from __future__ import annotations

import pytest

from bonefem._dolfinx import MPI
from tests.conftest import rank_0_result
from tests.helpers.checkpoint_case import save, verify


@pytest.mark.mpi
def test_save_and_load_same_ranks(mpi_tmp_path) -> None:
    save(str(mpi_tmp_path), MPI.COMM_WORLD)
    verify(str(mpi_tmp_path), MPI.COMM_WORLD)
    if MPI.COMM_WORLD.rank == 0:
        kept = sorted(p.name for p in mpi_tmp_path.glob("step_*"))
        assert kept == ["step_000002", "step_000003"]
        assert not list(mpi_tmp_path.glob(".*tmp"))


@pytest.mark.mpi
@pytest.mark.mpi_only
@pytest.mark.parametrize(("writers", "readers"), [(2, 1), (1, 2)])
def test_restart_on_another_number_of_ranks(mpi_tmp_path, writers: int, readers: int) -> None:
    """Written by the job's ranks and read by rank 0 alone (``MPI.COMM_SELF``), or the
    other way round."""
    folder = str(mpi_tmp_path)
    if writers == 1:
        rank_0_result(lambda: save(folder, MPI.COMM_SELF))
    else:
        save(folder, MPI.COMM_WORLD)
    if readers == 1:
        rank_0_result(lambda: verify(folder, MPI.COMM_SELF))
    else:
        verify(folder, MPI.COMM_WORLD)
