"""Cohorts at any age (issue 13 item 7): the state at t = 0 from a 0-D history."""

from __future__ import annotations

import numpy as np
import pytest

from bonefem.biology.zerod import RunConfig, run_zero_d
from bonefem.config.scenario import DenosumabConfig, EstrogenConfig, ScenarioConfig

YEAR = 365.25


def _woman(age: float, fmp_years: float, history_from: float | None = None, **kw) -> ScenarioConfig:
    return ScenarioConfig(
        age_at_start_years=age,
        history_from_age_years=history_from,
        estrogen=EstrogenConfig(menopause="natural", menopause_time_days=fmp_years * YEAR),
        **kw,
    )


def test_history_equals_the_long_run() -> None:
    """A 70-year-old started from a 30-year history (age 40, FMP at 51) continues exactly as
    a run from age 40 does after its 30th year: same cells, BV/TV and mineral at 73 (the
    integrator restarts at t = 0; 1e-3 is the cell model's error control, rtol 3 % on
    ln x per substep over ~1000 substeps, measured 2e-4)."""
    run = RunConfig(step_days=28.0)
    long = run_zero_d(_woman(40.0, 11.0), 33 * YEAR, run=run)
    cohort = run_zero_d(_woman(70.0, -19.0, history_from=40.0), 3 * YEAR, run=run)
    for key in ("bvtv_trab", "bvtv_cort", "mineral_trab", "OCa_pM_trab", "OBa_pM_cort"):
        assert cohort.at(key, 0.0) == pytest.approx(long.at(key, 30 * YEAR), rel=1e-3), key
        assert cohort.at(key, 3 * YEAR) == pytest.approx(long.at(key, 33 * YEAR), rel=1e-3), key
    # changes are reported from t = 0, the cohort's baseline
    assert cohort["bvtv_change_pct_trab"][0] == 0.0
    expected = 100.0 * (long.at("bvtv_trab", 33 * YEAR) / long.at("bvtv_trab", 30 * YEAR) - 1)
    assert cohort.at("bvtv_change_pct_trab", 3 * YEAR) == pytest.approx(expected, abs=0.05)


def test_placebo_arm_loses_bone_and_treatment_starts_from_it() -> None:
    """An elderly placebo arm is not flat (issue 13): 72-year-old women 21 years past the FMP
    lose hip bone; denosumab from the same baseline gains."""
    run = RunConfig(step_days=28.0)
    placebo = run_zero_d(_woman(72.0, -21.0, history_from=45.0), 3 * YEAR, run=run)
    dmab = run_zero_d(
        _woman(
            72.0,
            -21.0,
            history_from=45.0,
            denosumab=[DenosumabConfig(start_days=0.0, stop_days=3 * YEAR)],
        ),
        3 * YEAR,
        run=run,
    )
    hip = "abmd_change_pct_total_hip"
    assert placebo.at(hip, 3 * YEAR) < -0.3
    assert dmab.at(hip, 3 * YEAR) > 2.0
    np.testing.assert_allclose(placebo["OCa_pM_trab"][0], dmab["OCa_pM_trab"][0], rtol=1e-12)


def test_history_must_start_before_the_run() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="history_from_age_years"):
        ScenarioConfig(age_at_start_years=50.0, history_from_age_years=60.0)
