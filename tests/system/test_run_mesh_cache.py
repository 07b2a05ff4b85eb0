"""A run's mesh from the mesh cache: copied into the run folder, not read and written again.

The run folder of a cached generated mesh gets the cache's files (``copy_mesh_file``); a
damaged cache entry falls back to generating the mesh. All three ways give the same run.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bonefem._dolfinx import MPI
from bonefem.driver import run_case
from tests.helpers.cases import write_case
from tests.regression.short_cases import read_rows

pytestmark = pytest.mark.mpi


def test_cached_mesh_is_copied_and_a_damaged_cache_regenerated(
    mpi_tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    comm = MPI.COMM_WORLD
    cache = mpi_tmp_path / "cache"
    monkeypatch.setenv("BONEFEM_MESH_CACHE", str(cache))
    case = mpi_tmp_path / "tiny.toml"
    if comm.rank == 0:  # one writer, then every rank reads it
        write_case(mpi_tmp_path, duration=91.3125, metrics_every=91.3125)
    comm.Barrier()

    def run(name: str) -> list[dict[str, str]]:
        folder = run_case(case, output=mpi_tmp_path / name, progress=False, comm=comm)
        return read_rows(folder / "metrics.csv")

    with caplog.at_level(logging.INFO, logger="bonefem"):
        generated = run("generated")  # the cache is empty: generate, cache, write
        assert not any("copied from the cache" in r.message for r in caplog.records)
        caplog.clear()
        copied = run("copied")
        assert any("mesh copied from the cache" in r.message for r in caplog.records)
        h5 = sorted(cache.glob("specimen-*.h5"))
        assert len(h5) == 1
        comm.Barrier()
        if comm.rank == 0:
            h5[0].write_bytes(b"not HDF5")  # a damaged entry: the copy reads badly
        comm.Barrier()
        caplog.clear()
        regenerated = run("regenerated")
        assert any("could not use the cached mesh" in r.message for r in caplog.records)
    # the same mesh, cells in the same order: the same run to the last printed digit
    assert copied == generated
    assert regenerated == generated
