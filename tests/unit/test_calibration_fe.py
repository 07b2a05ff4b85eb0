"""The FE calibration's secant (``bonefem.calibration_fe``), without FE runs.

The FE constants are fitted by a secant on the log of the constant, each try one run of
a bundled case (minutes); here the same iteration on closed-form models whose roots are
known, and the command's error path. The FE fits themselves are recorded in
docs/calibration.md (history of every try).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from bonefem import calibration_fe as fe
from bonefem.errors import CalibrationError


def test_log_secant_is_exact_for_a_model_linear_in_ln_x() -> None:
    """f = 10 ln x - 3: one secant step lands on x = e^0.3."""
    out = fe.log_secant(
        lambda x: 10.0 * math.log(x) - 3.0, 0.0, (1.0, 0.4), constant="c", target_text="t"
    )
    assert out["c"] == pytest.approx(math.exp(0.3), rel=1e-12)
    assert len(out["history"]) == 3
    assert out["model"] == pytest.approx(0.0, abs=1e-12)


def test_log_secant_saturating_loss() -> None:
    """A loss that saturates in the drive, like the 10-year aBMD change in the factor:
    -12 x / (1 + x) = -10.6 at x = 10.6 / 1.4."""
    out = fe.log_secant(
        lambda x: -12.0 * x / (1.0 + x),
        -10.6,
        (1.0, 0.4),
        constant="fe_rankl_estrogen_factor",
        target_text="SWAN",
        tol=1e-9,
    )
    assert out["fe_rankl_estrogen_factor"] == pytest.approx(10.6 / 1.4, rel=1e-7)
    assert out["target"] == -10.6


@pytest.mark.parametrize(
    ("model", "max_iter", "last"),
    [
        (
            lambda x: -5.0,
            12,
            "2 tries did not reach the SWAN change within 0.05 (last: 1 -> -5, 0.4 -> -5)",
        ),
        (lambda x: -12.0 * x / (1.0 + x), 1, "3 tries did not reach the SWAN change"),
    ],
    ids=["model-stopped-responding", "too-few-tries"],
)
def test_log_secant_names_what_it_did_not_reach(model: Any, max_iter: int, last: str) -> None:
    with pytest.raises(CalibrationError) as info:
        fe.log_secant(
            model,
            -10.6,
            (1.0, 0.4),
            constant="fe_rankl_estrogen_factor",
            target_text="the SWAN change",
            max_iter=max_iter,
        )
    assert str(info.value).startswith(f"fe_rankl_estrogen_factor: {last}")


def test_loss_for_keeps_the_case_step_unless_given(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []

    def fake(name: str, folder: Path, run: str, k: Any, overrides: list[str]) -> float:
        seen.append(overrides)
        return -10.0

    monkeypatch.setattr(fe, "_final_abmd_change", fake)
    fe.loss_for(0.5, Path("."))
    fe.loss_for(0.5, Path("."), 14.0)
    assert not any(o.startswith("run.biology_step_days") for o in seen[0])
    assert "run.biology_step_days=14.0" in seen[1]


def test_command_reports_a_failed_fit(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    def fail(*_: object, **__: object) -> None:
        raise CalibrationError("mechano_rankl_max: 14 tries did not reach the bed-rest change")

    monkeypatch.setattr(fe, "calibrate_disuse", fail)
    assert fe.main(["--target", "disuse", "--work", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert (
        err == "calibration failed: mechano_rankl_max: 14 tries did not reach the bed-rest change"
    )
