"""Case, test and mesh-settings files are read once, on rank 0; every rank parses that text.

A rank that cannot see a file (a node-local folder on a cluster) or reads it while it is
being rewritten must not fail alone: it would leave the other ranks waiting in the job's
first collective (bonefem.errors.on_rank_0). Under ``mpiexec -n 2`` rank 1 is given a path that
does not exist.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bonefem._dolfinx import MPI
from bonefem.config.case import load_case
from bonefem.config.mechtest import load_test_file
from bonefem.errors import InputError
from bonefem.mesh.generators.config import load_bone_mesh
from tests.helpers.cases import write_case
from tests.unit.test_mechtest import TEST_FILE

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


def test_every_rank_gets_rank_0s_test_file(mpi_tmp_path: Path) -> None:
    comm = MPI.COMM_WORLD
    real = mpi_tmp_path / "sel.toml"
    if comm.rank == 0:
        real.write_text(TEST_FILE.format(band=0.25))
    comm.Barrier()
    path = real if comm.rank == 0 else mpi_tmp_path / "elsewhere" / "sel.toml"
    spec = load_test_file(path, comm)
    assert spec.test.name == "sel"
    assert spec.mesh.select[0].model_dump()["band"] == 0.25  # rank 0's value


def test_every_rank_follows_rank_0s_mesh_settings(mpi_tmp_path: Path) -> None:
    """The settings file is found relative to rank 0's folder and read there."""
    comm = MPI.COMM_WORLD
    folder = mpi_tmp_path / "case"
    if comm.rank == 0:
        folder.mkdir()
        (folder / "rank0_cube.toml").write_text(
            '[mesh]\ngenerator = "specimen"\ncache = false\n'
            'parameters = { shape = "cube", width = 4.0, height = 4.0, mesh_size = 2.0 }\n'
        )
    comm.Barrier()
    base = folder if comm.rank == 0 else mpi_tmp_path / "elsewhere"
    bone = load_bone_mesh({"settings": "rank0_cube.toml"}, comm, base_dir=base)
    assert bone.volume() == pytest.approx(4.0**3, rel=1e-12)  # the cube rank 0 read: mm^3
