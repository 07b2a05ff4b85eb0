"""The QCT-FE convention's virtual tests (``metrics.qct_fe``): the same stiffness test and
fracture load case with each cell's modulus from its mineral density alone."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from bonefem._dolfinx import MPI
from bonefem.config.case import load_case
from bonefem.driver import run_case
from bonefem.material import PRESETS
from bonefem.output.run_folder import read_metrics
from tests.helpers.cases import MENOPAUSE, write_case

R = 0.5  # the ash-to-apparent ratio of the test (the default is 0.6)


def _with_qct(case: Path, extra: str) -> Path:
    text = case.read_text().replace(
        "[metrics.stiffness_test]",
        f"[metrics]\nqct_fe = true\nqct_ash_to_apparent = {R}\n{extra}\n[metrics.stiffness_test]",
    )
    # the scaling law below is exact: checked with the tests solved to 1e-9, not to the
    # default solver.test_rtol = 1e-6 (failure load within ~2e-7)
    case.write_text(text + "\n[solver]\ntest_rtol = 1e-9\n")
    return case


@pytest.fixture(scope="module")
def qct_run() -> Iterator[list[dict[str, str]]]:
    """Three quarters of menopause on the trabecular cube, quarterly rows, the tests every
    half year (and at the end), on every rank of COMM_WORLD (1 in the serial suite, 2
    under mpiexec: the same assertions hold on both)."""
    comm = MPI.COMM_WORLD
    folder = Path(comm.bcast(tempfile.mkdtemp(prefix="bonefem-qct-") if comm.rank == 0 else None))
    if comm.rank == 0:
        _with_qct(write_case(folder, "qct", duration=273.9375, biology=MENOPAUSE),
                  "tests_every_days = 182.625")  # fmt: skip
    comm.Barrier()
    out = run_case(folder / "qct.toml", output=folder / "run", progress=False, comm=comm)
    yield read_metrics(out / "metrics.csv")
    comm.Barrier()
    if comm.rank == 0:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.mpi
def test_at_t0_the_qct_tests_scale_by_the_law_of_the_ratio(qct_run) -> None:
    """The cube starts uniform (one BV/TV, one mineral content): its own modulus is
    E = a ρ_app^b and the QCT-FE one a (ρ_min / r)^b, so every cell's modulus, and with it
    the stiffness and (through the strains) the Pistoia failure load, scale by
    (ρ_min / (r ρ_app))^b, b = 1.56 (Morgan et al. 2003, vertebral trabecular)."""
    row = qct_run[0]
    b = PRESETS["morgan2003_vertebra"][1]
    expected = (float(row["bmd_vol_mean"]) / (R * float(row["density_app_mean"]))) ** b
    assert abs(expected - 1.0) > 0.05  # a ratio that tells the two readings apart
    stiffness = float(row["qct_fe_stiffness"]) / float(row["apparent_stiffness"])
    failure = float(row["qct_fe_failure_load"]) / float(row["failure_load"])
    assert stiffness == pytest.approx(expected, rel=1e-7)
    assert failure == pytest.approx(expected, rel=1e-7)


@pytest.mark.mpi
def test_qct_columns_follow_the_tests_cadence_and_the_mineral(qct_run) -> None:
    """NaN where the tests do not run; at the end the QCT-FE stiffness has changed as the
    mineral density to the power b would on a uniform cube (the cube stays nearly uniform
    under its uniform compression: within 2 % of the change), and it falls faster than
    the model's own stiffness, because the menopausal loss lowers the mineral content
    of the tissue as well as its volume."""
    evaluated = [float(r["tests_evaluated"]) for r in qct_run]
    assert evaluated == [1.0, 0.0, 1.0, 1.0]  # 0, 1/4, 1/2 year and the end (3/4)
    assert np.isnan(float(qct_run[1]["qct_fe_stiffness"]))
    assert np.isnan(float(qct_run[1]["qct_fe_failure_load_pct_change"]))
    end = qct_run[-1]
    b = PRESETS["morgan2003_vertebra"][1]
    mineral = float(end["bmd_vol_mean_pct_change"]) / 100.0
    qct = float(end["qct_fe_stiffness_pct_change"])
    assert qct < -0.5
    assert qct == pytest.approx(100.0 * ((1.0 + mineral) ** b - 1.0), rel=0.02)
    assert qct < float(end["apparent_stiffness_pct_change"]) < 0.0


def test_qct_settings_are_validated(tmp_path: Path) -> None:
    case = _with_qct(write_case(tmp_path, "bad"), "")
    case.write_text(
        case.read_text().replace(f"qct_ash_to_apparent = {R}", "qct_ash_to_apparent = 1.5")
    )
    with pytest.raises(Exception, match="qct_ash_to_apparent") as info:
        load_case(case)
    assert "1.5" in str(info.value)
