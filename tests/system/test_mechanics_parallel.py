"""1-rank vs 2-rank agreement of the elasticity results (to solver tolerance)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import ROOT, run_mpi
from tests.helpers.elasticity_case import run


@pytest.mark.serial
@pytest.mark.parametrize("cell_type", ["tetrahedron", "hexahedron"])
def test_one_and_two_ranks_agree(comm, cell_type: str) -> None:
    serial = run(comm, cell_type)
    out = run_mpi(2, ["-m", "tests.helpers.elasticity_case", cell_type], cwd=ROOT)
    parallel = json.loads(out.strip().splitlines()[-1])
    assert parallel.keys() == serial.keys()
    for key, value in serial.items():
        scale = max(abs(serial[k]) for k in serial if k.split("_")[0] == key.split("_")[0])
        assert parallel[key] == pytest.approx(value, rel=1e-7, abs=1e-9 * scale), key
