"""The FE calibration's fits (``bonefem.calibration_fe``), without FE runs.

The FE constants are fitted by a secant on the log of the constant (the disuse slope) or a
band-weighted least squares (the estrogen factor), each try one run of a bundled case;
here the same iterations on closed-form models whose optima are known, and the command's
error path. The FE fits themselves are recorded in
docs/calibration.md (history of every try).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
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


def test_swan_for_keeps_the_case_step_unless_given(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []

    def fake(
        name: str, folder: Path, run: str, k: Any, overrides: list[str]
    ) -> tuple[np.ndarray, np.ndarray]:
        seen.append(overrides)
        return np.array([0.0, 3652.5]), np.array([1.0, 0.9])

    monkeypatch.setattr(fe, "_abmd_course", fake)
    assert fe.swan_for(0.5, Path("."))["total_10y"] == pytest.approx(-10.0, rel=1e-12)
    fe.swan_for(0.5, Path("."), 14.0)
    assert not any(o.startswith("run.biology_step_days") for o in seen[0])
    assert "run.biology_step_days=14.0" in seen[1]


def test_swan_values_reads_changes_and_rates_between_rows() -> None:
    """An exponential course a = exp(-r t): every change over [t0, t1] is exp(-r (t1 - t0)) - 1,
    also between rows (linear interpolation of a course sampled finely enough)."""
    r = 1.0e-4
    t = np.linspace(0.0, 3652.5, 20001)
    out = fe.swan_values(t, 2.0 * np.exp(-r * t))
    for name, (t0, t1, _, _, rate) in fe.SWAN_POINTS.items():
        change = 100.0 * math.expm1(-r * (t1 - t0))
        expected = change / ((t1 - t0) / 365.25) if rate else change
        assert out[name] == pytest.approx(expected, rel=1e-6), name


def test_fit_factor_finds_the_band_weighted_least_squares_optimum() -> None:
    """Points linear in the factor, v_i = c_i f: the optimum of sum ((c_i f - y_i)/b_i)^2 is
    f* = sum(c_i y_i / b_i^2) / sum(c_i^2 / b_i^2)."""
    slopes = {"total_10y": -12.0, "rate_pre": -1.4, "rate_post": -2.9, "rate_late": -0.75}
    out = fe.fit_factor(lambda f: {n: c * f for n, c in slopes.items()}, xatol=1e-6)
    num = sum(c * fe.SWAN_POINTS[n][2] / fe.SWAN_POINTS[n][3] ** 2 for n, c in slopes.items())
    den = sum(c**2 / fe.SWAN_POINTS[n][3] ** 2 for n, c in slopes.items())
    assert out["fe_rankl_estrogen_factor"] == pytest.approx(num / den, rel=1e-4)
    # with the 1 pp / 0.7 %/y bands the rate after the FMP weighs (1/0.7)^2 = 2 times a
    # percentage point of the total: the optimum is not the total's root 10.6/12
    assert abs(out["fe_rankl_estrogen_factor"] - 10.6 / 12.0) > 0.01


def test_fit_factor_names_an_optimum_on_a_bound() -> None:
    with pytest.raises(CalibrationError, match="lies on a bound of"):
        fe.fit_factor(lambda f: {n: -1e-3 * f for n in fe.SWAN_POINTS})


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
