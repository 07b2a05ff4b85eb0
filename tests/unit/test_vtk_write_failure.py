"""A field write that fails on one rank fails on every rank, at once (no hang).

The last rank's piece path is made a directory, so only that rank's write raises; the
other ranks must not wait in a barrier it never reaches (issue 16). Serially the same path
is the only rank's. The step is not recorded, and the next write of the series works.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bonefem._dolfinx import MPI
from bonefem.mesh import box
from bonefem.output.vtk import ParaViewSeries

pytestmark = pytest.mark.mpi


def test_a_failed_piece_raises_on_every_rank(mpi_tmp_path: Path) -> None:
    comm = MPI.COMM_WORLD
    bone = box(comm, (2.0, 2.0, 2.0), (2, 2, 2))
    series = ParaViewSeries(bone, mpi_tmp_path / "out", "fields")
    blocker = mpi_tmp_path / "out" / f"fields_000000_p{comm.size - 1}.vtu"
    if comm.rank == comm.size - 1:
        blocker.mkdir()
    comm.Barrier()
    tags = np.zeros(series.n_cells, dtype=np.int32)
    with pytest.raises(OSError):
        series.write(0.0, cell_data={"region": tags})
    assert series.entries == []
    comm.Barrier()
    if comm.rank == comm.size - 1:
        blocker.rmdir()
    comm.Barrier()
    pvtu = series.write(0.0, cell_data={"region": tags})
    assert pvtu.name == "fields_000000.pvtu" and series.entries == [(0.0, pvtu.name)]
    if comm.rank == 0:
        assert 'file="fields_000000.pvtu"' in (mpi_tmp_path / "out" / "fields.pvd").read_text()
