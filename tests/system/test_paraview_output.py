"""The ParaView series opens in a real ParaView (pvbatch) with non-empty, correct arrays."""

from __future__ import annotations

from pathlib import Path

import pytest

from bonefem._dolfinx import MPI
from bonefem.output.run_folder import read_metrics
from tests.conftest import ROOT, pvbatch, run_mpi
from tests.helpers.cases import MENOPAUSE, write_case
from tests.helpers.pvtools import inspect_pvd, inspect_pvds
from tests.helpers.write_series import write

#: the array names of a run with the default output fields, as ParaView shows them
DEFAULT_ARRAYS = {
    "displacement [mm]": "point",
    "bvtv [-]": "cell",
    "density [g/cm^3]": "cell",
    "density_change [%]": "cell",
    "OBa [pM]": "cell",
    "OCa [pM]": "cell",
    "RANKL [pM]": "cell",
    "region [-]": "cell",
    "stimulus [-]": "cell",
    "strain_energy_density [MPa]": "cell",
    "youngs_modulus [MPa]": "cell",
}


#: the series variants: (cell type, ranks, precision, files)
VARIANTS = [
    *((cell, n, "float64", "per_rank") for cell in ("tetrahedron", "hexahedron") for n in (1, 2)),
    *(("tetrahedron", n, "float32", files) for n in (1, 2) for files in ("per_rank", "single")),
]


@pytest.fixture(scope="module")
def series_seen(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple, tuple[int, dict]]:
    """Every variant's small series (tests.helpers.write_series) written — the 1-rank ones
    in this process, the 2-rank ones by one ``mpiexec -n 2`` — and opened by one pvbatch:
    variant -> (cells written, what ParaView sees). One process of each kind for the eight
    series (their start-up was most of the cost of eight separate ones)."""
    exe = pvbatch()
    if exe is None:
        pytest.skip("ParaView's pvbatch is not installed")
    root = tmp_path_factory.mktemp("series")
    folders = {v: root / "_".join(map(str, v)) for v in VARIANTS}
    ncells = {}
    for v in VARIANTS:
        cell_type, nprocs, precision, files = v
        if nprocs == 1:
            ncells[v] = write(str(folders[v]), cell_type, MPI.COMM_SELF, precision, files)
        else:
            ncells[v] = 40 if cell_type == "hexahedron" else 240
    args = ["-m", "tests.helpers.write_series"]
    for v in VARIANTS:
        if v[1] == 2:
            args += [str(folders[v]), v[0], v[2], v[3]]
    run_mpi(2, args, cwd=ROOT)
    seen = inspect_pvds(exe, [folders[v] / "fields.pvd" for v in VARIANTS])
    return {v: (ncells[v], s) for v, s in zip(VARIANTS, seen, strict=True)}


def _check_series(ncells: int, seen: dict) -> None:
    """What pvbatch read of the small series: two output times, every cell, the three
    arrays with their association, components and ranges (0 at the clamp, about the
    imposed 0.1 mm at the pulled end; E = 1000 and 2000 MPa)."""
    assert seen["times"] == [0.0, 365.0]
    for step, info in enumerate(seen["steps"]):
        assert info["cells"] == ncells
        arrays = info["arrays"]
        assert set(arrays) == {"displacement [mm]", "youngs_modulus [MPa]", "region"}
        assert arrays["displacement [mm]"]["association"] == "point"
        assert arrays["displacement [mm]"]["components"] == 3
        lo, hi = arrays["displacement [mm]"]["range"]
        assert lo == pytest.approx(0.0, abs=1e-12)
        assert hi == pytest.approx(0.1, rel=0.02)
        assert arrays["youngs_modulus [MPa]"]["range"] == pytest.approx([1000.0 * (1 + step)] * 2)
        assert arrays["region"]["range"] == [1.0, 1.0]


@pytest.mark.paraview
@pytest.mark.serial
@pytest.mark.parametrize("cell_type", ["tetrahedron", "hexahedron"])
@pytest.mark.parametrize("nprocs", [1, 2])
def test_series_opens_in_paraview(series_seen, cell_type: str, nprocs: int) -> None:
    _check_series(*series_seen[(cell_type, nprocs, "float64", "per_rank")])


@pytest.mark.paraview
@pytest.mark.serial
@pytest.mark.parametrize("nprocs", [1, 2])
@pytest.mark.parametrize("files", ["per_rank", "single"])
def test_float32_series_opens_in_paraview(series_seen, nprocs: int, files: str) -> None:
    """``output.field_precision = "float32"``, per-rank pieces or one file per write
    (``output.field_files = "single"``): the same arrays and ranges in ParaView."""
    _check_series(*series_seen[("tetrahedron", nprocs, "float32", files)])


@pytest.mark.paraview
@pytest.mark.serial
def test_fields_of_a_real_run_open_in_paraview(tmp_path: Path) -> None:
    """The fields.pvd of a real (one-year, menopause) run in pvbatch: the output times of the
    case, the default fields under their "name [unit]" labels, and values that agree with
    metrics.csv and with the load case."""
    exe = pvbatch()
    if exe is None:
        pytest.skip("ParaView's pvbatch is not installed")
    from bonefem.driver import run_case

    case = write_case(tmp_path, "pv", duration=365.25, fields_every=182.625, biology=MENOPAUSE)
    run = run_case(case, output=tmp_path / "run", comm=MPI.COMM_SELF, progress=False)
    seen = inspect_pvd(exe, run / "fields.pvd")
    rows = {float(r["time_days"]): r for r in read_metrics(run / "metrics.csv")}
    assert seen["times"] == [0.0, 182.625, 365.25]
    cells = {step["cells"] for step in seen["steps"]}
    assert len(cells) == 1 and cells.pop() > 100
    for step in seen["steps"]:
        arrays, row = step["arrays"], rows[step["time"]]
        assert {k: v["association"] for k, v in arrays.items()} == DEFAULT_ARRAYS
        assert arrays["displacement [mm]"]["components"] == 3
        # per-cell fields bracket their volume means in metrics.csv (10 significant digits)
        for label, column in (
            ("density [g/cm^3]", "density_app_mean"),
            ("bvtv [-]", "bvtv_mean"),
            ("youngs_modulus [MPa]", "youngs_modulus_mean"),
        ):
            lo, hi = arrays[label]["range"]
            mean = float(row[column])
            assert lo * (1 - 1e-9) <= mean <= hi * (1 + 1e-9), (step["time"], label)
        assert arrays["region [-]"]["range"] == [2.0, 2.0]  # all trabecular (index 2)
    first, last = seen["steps"][0]["arrays"], seen["steps"][-1]["arrays"]
    # t = 0: uniform bone, no change yet; the top of the 8-mm cube under 100 N moves by
    # F H / (E A) (uniaxial stress): the clamped base stiffens by ~1 %, the lateral Poisson
    # displacement adds < 1 % to the magnitude (measured −0.7 %), 3 % allowed
    assert first["density_change [%]"]["range"] == [0.0, 0.0]
    E = first["youngs_modulus [MPa]"]["range"][0]
    assert first["youngs_modulus [MPa]"]["range"][1] == pytest.approx(E, rel=1e-12)
    u_max = first["displacement [mm]"]["range"][1]
    assert u_max == pytest.approx(100.0 * 8.0 / (E * 64.0), rel=0.03)
    # after a year of menopause the density has fallen everywhere
    lo, hi = last["density_change [%]"]["range"]
    assert lo < hi < 0.0
    assert float(rows[365.25]["density_app_mean_pct_change"]) == pytest.approx(
        0.5 * (lo + hi), abs=hi - lo
    )
