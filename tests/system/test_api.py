"""The Python API (bonefem.run / load_run / RunResult): light import, DataFrames with units,
clear errors, and a run on every rank under MPI."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

import bonefem
from bonefem.api import load_run, metrics_frame, override_strings
from bonefem.metrics import columns as C
from bonefem.output.run_folder import MetricsLog
from tests.helpers.cases import write_case


def test_import_bonefem_is_light() -> None:
    code = (
        "import sys, bonefem\n"
        "bad = ('dolfinx', 'petsc4py', 'mpi4py', 'pandas', 'pyvista', 'bonefem.driver', "
        "'bonefem.api', 'bonefem.coupling')\n"
        "print(sorted(m for m in sys.modules if m.startswith(bad)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_lazy_exports() -> None:
    assert bonefem.run.__module__ == "bonefem.api"
    assert bonefem.load_run is load_run
    assert "run" in bonefem.__all__ and "load_run" in bonefem.__all__
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        _ = bonefem.nothing


@pytest.mark.parametrize(
    ("column", "unit"),
    [
        ("time_days", "days"),
        ("bmd_vol_mean_trabecular", "g/cm^3"),
        ("youngs_modulus_mean_cortical", "MPa"),
        ("abmd", "g/cm^2"),
        ("abmd_pct_change", "%"),
        ("apparent_stiffness", "N/mm"),
        ("failure_load", "N"),
        ("fracture_risk_index", "-"),
        ("signal_pth_pM", "pM"),
        ("signal_denosumab_ng_per_mL", "ng/mL"),
        ("signal_estrogen", "-"),
        ("ksp_iterations", "1"),
    ],
)
def test_units_of_the_metrics_columns(column: str, unit: str) -> None:
    assert C.unit(column) == unit


def test_metrics_frame_is_numeric_with_units(tmp_path: Path) -> None:
    log = MetricsLog(tmp_path, ["time_days", "time_years", "abmd", "apparent_stiffness"])
    log.append({"time_days": 0.0, "time_years": 0.0, "abmd": 0.9, "apparent_stiffness": 1e3})
    log.append({"time_days": 91.3125, "time_years": 0.25, "abmd": 0.89})  # no test this row
    df = metrics_frame(tmp_path / "metrics.csv")
    assert all(df[c].dtype.kind == "f" for c in df.columns)
    assert math.isnan(df["apparent_stiffness"].iloc[1])
    assert df.attrs["units"] == {
        "time_days": "days",
        "time_years": "years",
        "abmd": "g/cm^2",
        "apparent_stiffness": "N/mm",
    }
    assert load_run(tmp_path).final["apparent_stiffness"] == 1e3  # last evaluated value


def test_load_run_of_a_folder_that_is_not_a_run(tmp_path: Path) -> None:
    with pytest.raises(bonefem.InputError, match="not a bonefem run folder"):
        load_run(tmp_path)


def test_overrides_from_python_values() -> None:
    got = override_strings(
        {"run.duration_days": 730.5, "remodeling.law": "huiskes", "a.b": [1, 2], "c": True}
    )
    assert got == ["run.duration_days=730.5", 'remodeling.law="huiskes"', "a.b=[1, 2]", "c=true"]
    assert override_strings(["run.duration_days=1.0"]) == ["run.duration_days=1.0"]
    with pytest.raises(bonefem.InputError, match="overrides"):
        override_strings({"x": None})


def test_bad_case_arguments_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(bonefem.InputError, match="a case is a TOML file"):
        bonefem.run(42)  # type: ignore[arg-type]
    with pytest.raises(bonefem.InputError, match="case file not found"):
        bonefem.run(tmp_path / "missing.toml")
    with pytest.raises(bonefem.InputError, match=r"^case dict, field 'run\."):
        bonefem.run({"run": {"nme": "x"}}, output=tmp_path / "run")
    assert not list(tmp_path.glob(".bonefem-case-*"))


@pytest.mark.mpi
def test_run_from_a_file_on_every_rank(mpi_tmp_path: Path) -> None:
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    case = mpi_tmp_path / "api.toml"
    if comm.rank == 0:
        write_case(mpi_tmp_path, "api", duration=91.3125, step=30.0)
    comm.Barrier()
    result = bonefem.run(
        case, output=mpi_tmp_path / "run", overrides={"output.fields_every_days": 91.3125}
    )
    assert result.folder == mpi_tmp_path / "run"
    assert result.status == "finished"
    assert result.manifest["ranks"] == comm.size
    assert result.manifest["overrides"] == ["output.fields_every_days=91.3125"]
    df = result.metrics
    assert list(df["time_days"]) == [0.0, 91.3125]
    assert df.attrs["units"]["bmd_vol_mean"] == "g/cm^3"
    cells = result.fields.cell_data(-1)
    assert len(cells) == result.manifest["mesh"]["cells"]  # every rank's piece
    assert cells.attrs["units"]["density"] == "g/cm^3"
    assert result.fields.times_days == (0.0, 91.3125)
    comm.Barrier()


def test_run_from_a_validated_case_object(tmp_path: Path) -> None:
    from bonefem.config import load_case

    case = load_case(write_case(tmp_path, "obj", duration=30.4375, step=30.4375))
    result = bonefem.run(case, output=tmp_path / "run", overrides=["run.name=renamed"])
    assert result.case["run"]["name"] == "renamed" and result.status == "finished"
    assert result.metrics["time_days"].iloc[-1] == 30.4375
    assert "[run]" in (result.folder / "case.toml").read_text()  # the case as TOML


def test_case_dictionaries_with_numpy_values_are_written_as_toml() -> None:
    import tomllib

    import numpy as np

    from bonefem import _toml

    doc = {
        "run": {"name": "n", "duration_days": np.float64(10.5), "steps": np.int64(3)},
        "output": {"fields": ("density", "bvtv")},
        "load_cases": [{"name": "a", "force": [0.0, np.float32(-1.5)]}],
        "biology": {"hrt": [{"start_days": 0.0, "stop_days": float("inf")}]},
    }
    back = tomllib.loads(_toml.dumps(doc))
    assert back["run"] == {"name": "n", "duration_days": 10.5, "steps": 3}
    assert back["output"]["fields"] == ["density", "bvtv"]
    assert back["load_cases"][0]["force"] == [0.0, -1.5]
    assert back["biology"]["hrt"][0]["stop_days"] == float("inf")
