"""The ParaView series opens in a real ParaView (pvbatch) with non-empty, correct arrays."""

from __future__ import annotations

import pytest

from bonefem._dolfinx import MPI
from tests.conftest import ROOT, pvbatch, run_mpi
from tests.helpers.pvtools import inspect_pvd
from tests.helpers.write_series import write


@pytest.mark.paraview
@pytest.mark.serial
@pytest.mark.parametrize("cell_type", ["tetrahedron", "hexahedron"])
@pytest.mark.parametrize("nprocs", [1, 2])
def test_series_opens_in_paraview(tmp_path, cell_type: str, nprocs: int) -> None:
    exe = pvbatch()
    if exe is None:
        pytest.skip("ParaView's pvbatch is not installed")
    if nprocs == 1:
        ncells = write(str(tmp_path), cell_type, MPI.COMM_SELF)
    else:
        run_mpi(nprocs, ["-m", "tests.helpers.write_series", str(tmp_path), cell_type], cwd=ROOT)
        ncells = 40 if cell_type == "hexahedron" else 240
    seen = inspect_pvd(exe, tmp_path / "fields.pvd")
    assert seen["times"] == [0.0, 365.0]
    for step, info in enumerate(seen["steps"]):
        assert info["cells"] == ncells
        arrays = info["arrays"]
        assert set(arrays) == {"displacement [mm]", "youngs_modulus [MPa]", "region"}
        assert arrays["displacement [mm]"]["association"] == "point"
        assert arrays["displacement [mm]"]["components"] == 3
        # magnitude range: 0 at the clamp, about the imposed 0.1 mm at the pulled end
        lo, hi = arrays["displacement [mm]"]["range"]
        assert lo == pytest.approx(0.0, abs=1e-12)
        assert hi == pytest.approx(0.1, rel=0.02)
        assert arrays["youngs_modulus [MPa]"]["range"] == pytest.approx([1000.0 * (1 + step)] * 2)
        assert arrays["region"]["range"] == [1.0, 1.0]
