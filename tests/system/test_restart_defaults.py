"""A run started by an older version restarts with the defaults it was started with.

The habitual solves' ``solver.rtol`` default went from 1e-8 to 1e-6 (December 2026). A run
folder whose recorded case (``case_resolved.json``) has 1e-8, restarted with a case file
that does not set the field, goes on at 1e-8 (:mod:`bonefem.config.restart`) and gives the
rows of the same run made in one go at 1e-8; a case file that sets another value is refused
naming the field.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bonefem._dolfinx import MPI
from bonefem.driver import run_case
from bonefem.output.run_folder import read_metrics
from tests.helpers.cases import MENOPAUSE, write_case
from tests.helpers.cli import run_bonefem, run_main
from tests.helpers.compare import assert_columns_close

QUARTER = 91.3125


def _rows(folder: Path) -> dict[str, np.ndarray]:
    rows = read_metrics(folder / "metrics.csv")
    return {k: np.array([float(r[k]) for r in rows]) for k in rows[0]}


def _case(folder: Path, quarters: int) -> Path:
    folder.mkdir()
    return write_case(folder, "old", duration=quarters * QUARTER, biology=MENOPAUSE,
                      checkpoint_every=QUARTER)  # fmt: skip


def _older_run(tmp_path: Path) -> tuple[Path, Path, Path]:
    """Two quarters at 1e-8, as an older version ran them (it recorded 1e-8 as its
    default); the case file for three quarters; the three quarters at 1e-8 in one go.
    Returns (run folder, longer case, one-go run folder)."""
    run = tmp_path / "run"
    run_case(_case(tmp_path / "a", 2), output=run, comm=MPI.COMM_SELF, progress=False,
             overrides=["solver.rtol=1e-8"])  # fmt: skip
    assert json.loads((run / "case_resolved.json").read_text())["solver"]["rtol"] == 1e-8
    longer = _case(tmp_path / "b", 3)
    whole = run_case(longer, output=tmp_path / "whole", comm=MPI.COMM_SELF, progress=False,
                     overrides=["solver.rtol=1e-8"])  # fmt: skip
    return run, longer, whole


@pytest.mark.serial
def test_an_older_runs_recorded_tolerance_is_kept_on_restart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run, longer, whole = _older_run(tmp_path)
    code, _, err = run_main(
        ["run", str(longer), "--output", str(run), "--restart", "--no-progress"], capsys
    )
    assert code == 0, err
    assert "solver.rtol: 1e-08 kept (this version's default: 1e-06)" in err
    assert json.loads((run / "case_resolved.json").read_text())["solver"]["rtol"] == 1e-8
    # the same rows as the whole run at 1e-8 in one go
    got, ref = _rows(run), _rows(whole)
    for key in ("abmd", "bvtv_mean_trabecular", "apparent_stiffness"):
        np.testing.assert_allclose(got[key], ref[key], rtol=1e-9, err_msg=key)

    # a case file that sets the field itself to another value is refused, naming it
    explicit = _case(tmp_path / "c", 3)
    explicit.write_text(explicit.read_text() + "\n[solver]\nrtol = 1e-6\n")
    code, _, err = run_main(
        ["run", str(explicit), "--output", str(run), "--restart", "--no-progress"], capsys
    )
    assert code != 0
    assert "solver.rtol: 1e-08 -> 1e-06" in err


@pytest.mark.serial
def test_the_recorded_tolerance_is_kept_by_a_two_rank_restart(tmp_path: Path) -> None:
    """The same on 2 ranks: every rank adopts the recorded value (rank 0 reads the folder's
    case and broadcasts it), the run goes on at 1e-8 and reproduces the 1-rank run."""
    run, longer, whole = _older_run(tmp_path)
    run_bonefem(["run", str(longer), "--output", str(run), "--restart", "--no-progress"],
                nprocs=2)  # fmt: skip
    assert json.loads((run / "case_resolved.json").read_text())["solver"]["rtol"] == 1e-8
    got, ref = _rows(run), _rows(whole)
    assert_columns_close(got, ref, ("abmd", "bvtv_mean", "bmd_vol_mean", "apparent_stiffness"))
