"""1-rank vs 2-rank agreement of the elasticity results (to solver tolerance).

The 1-rank problem is solved on ``MPI.COMM_SELF`` inside the ``mpiexec -n 2`` job (marker
``mpi_only``): each rank solves it alone, then both solve it together.
"""

from __future__ import annotations

import pytest

from bonefem._dolfinx import MPI
from tests.helpers.elasticity_case import run


@pytest.mark.mpi
@pytest.mark.mpi_only
@pytest.mark.parametrize("cell_type", ["tetrahedron", "hexahedron"])
def test_one_and_two_ranks_agree(cell_type: str) -> None:
    serial = run(MPI.COMM_SELF, cell_type)
    parallel = run(MPI.COMM_WORLD, cell_type)
    assert parallel.keys() == serial.keys()
    for key, value in serial.items():
        scale = max(abs(serial[k]) for k in serial if k.split("_")[0] == key.split("_")[0])
        assert parallel[key] == pytest.approx(value, rel=1e-7, abs=1e-9 * scale), key
