"""A restarted run goes on with the calibrated constants it was started with.

The shipped calibration changes between versions (a refit moves every constant a little).
A run records the constants it uses in ``calibration.json``; a restart without explicit
constants adopts the record, so a recalibration between the start and the restart does
not change the biology in the middle of the run (``bonefem.driver._run_constants``,
``bonefem.biology.calibrated.adopt_recorded_constants``).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from bonefem._dolfinx import MPI
from bonefem.biology.calibrated import CALIBRATED, adopt_recorded_constants, constants_record
from bonefem.driver import CALIBRATION_FILE, run_case
from bonefem.output.run_folder import read_metrics
from tests.helpers.cases import MENOPAUSE, write_case
from tests.helpers.cli import run_bonefem, run_main
from tests.helpers.compare import assert_columns_close

QUARTER = 91.3125
#: an older calibration: a stronger estrogen drive (1.3x) and another brake
OLDER = dataclasses.replace(
    CALIBRATED,
    rankl_estrogen=1.3 * CALIBRATED.rankl_estrogen,
    mechano_lambda=1.1 * CALIBRATED.mechano_lambda,
)


def _rows(folder: Path) -> dict[str, np.ndarray]:
    rows = read_metrics(folder / "metrics.csv")
    return {k: np.array([float(r[k]) for r in rows]) for k in rows[0] if k != "case"}


def _case(folder: Path, quarters: int) -> Path:
    folder.mkdir()
    return write_case(folder, "cal", duration=quarters * QUARTER, biology=MENOPAUSE,
                      checkpoint_every=QUARTER)  # fmt: skip


def test_the_record_is_adopted_constant_by_constant() -> None:
    same, lines = adopt_recorded_constants(CALIBRATED, constants_record(CALIBRATED))
    assert same == CALIBRATED and lines == []
    record = constants_record(OLDER)
    del record["constants"]["zoledronate_potency"]  # added by a later version
    record["constants"]["retired_constant"] = 1.0  # removed by a later version
    got, lines = adopt_recorded_constants(CALIBRATED, record)
    assert got == OLDER  # zoledronate_potency: this version's (OLDER has it unchanged)
    assert len(lines) == 4
    assert any(x.startswith("rankl_estrogen: ") and "kept" in x for x in lines)
    assert any(x.startswith("zoledronate_potency: not recorded") for x in lines)
    assert any(x.startswith("retired_constant: ") and "ignored" in x for x in lines)
    for bad, word in (({"constants": {"mechano_lambda": "1.2"}}, "mechano_lambda"),
                      ({"constants": {"mechano_lambda": True}}, "mechano_lambda"),
                      ({"other": {}}, "constants"), ([], "constants")):  # fmt: skip
        with pytest.raises(ValueError, match=word):
            adopt_recorded_constants(CALIBRATED, bad)


@pytest.mark.serial
def test_a_restart_goes_on_with_the_constants_the_run_was_started_with(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    run_case(_case(tmp_path / "a", 2), output=run, comm=MPI.COMM_SELF, progress=False,
             constants=OLDER)  # fmt: skip
    recorded = json.loads((run / CALIBRATION_FILE).read_text())["constants"]
    assert recorded["rankl_estrogen"] == OLDER.rankl_estrogen
    longer = _case(tmp_path / "b", 3)
    whole = run_case(longer, output=tmp_path / "whole", comm=MPI.COMM_SELF, progress=False,
                     constants=OLDER)  # fmt: skip
    shipped = run_case(longer, output=tmp_path / "shipped", comm=MPI.COMM_SELF, progress=False)
    code, _, err = run_main(
        ["run", str(longer), "--output", str(run), "--restart", "--no-progress"], capsys
    )
    assert code == 0, err
    assert f"rankl_estrogen: {OLDER.rankl_estrogen!r} kept" in err
    got, ref, other = _rows(run), _rows(whole), _rows(shipped)
    for key in ("abmd", "bvtv_mean_trabecular", "apparent_stiffness"):
        np.testing.assert_allclose(got[key], ref[key], rtol=1e-9, err_msg=key)
        # the shipped calibration gives another run: the test can tell them apart
        assert abs(other[key][-1] / ref[key][-1] - 1.0) > 1e-4, key
    assert json.loads((run / CALIBRATION_FILE).read_text())["constants"] == recorded


@pytest.mark.serial
def test_a_folder_without_a_record_goes_on_with_this_versions_constants(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    run_case(_case(tmp_path / "a", 1), output=run, comm=MPI.COMM_SELF, progress=False)
    (run / CALIBRATION_FILE).unlink()
    longer = _case(tmp_path / "b", 2)
    code, _, err = run_main(
        ["run", str(longer), "--output", str(run), "--restart", "--no-progress"], capsys
    )
    assert code == 0, err
    assert f"has no {CALIBRATION_FILE}" in err
    record = json.loads((run / CALIBRATION_FILE).read_text())
    assert record == json.loads(json.dumps(constants_record(CALIBRATED)))
    # a broken record is refused, naming the file and the entry
    record["constants"]["mechano_lambda"] = "fast"
    (run / CALIBRATION_FILE).write_text(json.dumps(record))
    code, _, err = run_main(
        ["run", str(longer), "--output", str(run), "--restart", "--no-progress"], capsys
    )
    assert code != 0
    assert CALIBRATION_FILE in err and "constants.mechano_lambda" in err


@pytest.mark.serial
def test_a_two_rank_restart_adopts_the_record(tmp_path: Path) -> None:
    """The same on 2 ranks: rank 0 reads the record and broadcasts it, every rank goes on
    with the recorded constants and the run reproduces the 1-rank one-go run."""
    run = tmp_path / "run"
    run_case(_case(tmp_path / "a", 2), output=run, comm=MPI.COMM_SELF, progress=False,
             constants=OLDER)  # fmt: skip
    longer = _case(tmp_path / "b", 3)
    whole = run_case(longer, output=tmp_path / "whole", comm=MPI.COMM_SELF, progress=False,
                     constants=OLDER)  # fmt: skip
    run_bonefem(["run", str(longer), "--output", str(run), "--restart", "--no-progress"],
                nprocs=2)  # fmt: skip
    assert_columns_close(
        _rows(run), _rows(whole), ("abmd", "bvtv_mean", "bmd_vol_mean", "apparent_stiffness")
    )
