"""The case file is read once, on rank 0, and every rank validates the same text.

A rank that cannot see the file (a node-local folder on a cluster) or reads it while it is
being rewritten must not fail alone: it would leave the other ranks waiting in the run's
first collective. Under ``mpiexec -n 2`` rank 1 is given a path that does not exist.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bonefem._dolfinx import MPI
from bonefem.config.case import load_case
from bonefem.errors import InputError
from tests.helpers.cases import write_case

pytestmark = pytest.mark.mpi


def test_every_rank_gets_rank_0s_case(mpi_tmp_path: Path) -> None:
    comm = MPI.COMM_WORLD
    real = mpi_tmp_path / "tiny.toml"
    if comm.rank == 0:
        write_case(mpi_tmp_path, duration=123.0, step=7.0)
    comm.Barrier()
    # what the other ranks would see on a node without the file
    path = real if comm.rank == 0 else mpi_tmp_path / "elsewhere" / "tiny.toml"
    case = load_case(path, ["run.duration_days=150.0"], comm)
    assert case.run.duration_days == 150.0 and case.run.biology_step_days == 7.0
    assert comm.allgather(case.model_dump_json()) == [case.model_dump_json()] * comm.size


def test_a_missing_case_file_fails_on_every_rank(mpi_tmp_path: Path) -> None:
    comm = MPI.COMM_WORLD
    missing = mpi_tmp_path / "missing.toml"
    try:
        load_case(missing, (), comm)
        message = ""
    except InputError as exc:
        message = str(exc)
    assert "case file not found" in message and "missing.toml" in message
    assert comm.allgather(message) == [message] * comm.size  # no rank left waiting
