"""Young-adult references, T-scores and the peak-bone-mass factor of a baseline T-score."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bonefem.biology.calibrated import CALIBRATED
from bonefem.biology.densitometry import (
    SITE_TRABECULAR_SHARE,
    YOUNG_ADULT_REFERENCE,
    peak_scale_for_t_score,
    relative_abmd,
    t_score,
)
from bonefem.biology.signals import build_signals
from bonefem.biology.zerod import RunConfig, load_zero_d_case, make_model, run_zero_d
from bonefem.config.scenario import ScenarioConfig
from bonefem.errors import InputError

CASES = Path(__file__).resolve().parents[2] / "cases" / "biology"


def test_t_score_and_relative_abmd_are_inverse() -> None:
    """T = -2.5 at the total hip is 0.942 - 2.5 * 0.122 g/cm^2 (NHANES III), and back."""
    assert relative_abmd(-2.5, "total_hip") == pytest.approx((0.942 - 2.5 * 0.122) / 0.942)
    for site in YOUNG_ADULT_REFERENCE:
        assert float(t_score(np.array(relative_abmd(-1.7, site)), site)) == pytest.approx(-1.7)


def test_peak_scale_without_history_hits_the_t_score_exactly() -> None:
    """Without a history the person is at her healthy steady state at k f: the site's f m
    over the mean young adult's is the T-score's ratio (to the solver's 1e-9); T = 0 is the
    mean young adult herself, k = 1."""
    scenario = ScenarioConfig(age_at_start_years=30.0)
    model = make_model(RunConfig())
    signals = build_signals(scenario, CALIBRATED, model.params)
    f = np.array([0.15, 0.95])
    ref = model.healthy_state(f)
    for site, target_t in (("total_hip", -2.5), ("lumbar_spine", -1.0), ("femoral_neck", 0.0)):
        scale = peak_scale_for_t_score(model, signals, (0.15, 0.95), 0.0, target_t, site)
        s = model.healthy_state(scale.k * f)
        r = s[3] * s[4] / (ref[3] * ref[4])
        w = SITE_TRABECULAR_SHARE[site]
        assert w * r[0] + (1 - w) * r[1] == pytest.approx(relative_abmd(target_t, site), rel=1e-8)
        assert scale.mean_person_t_score == 0.0
    assert peak_scale_for_t_score(model, signals, (0.15, 0.95), 0.0, 0.0, "total_hip").k == 1.0


def test_zero_d_cohort_starts_at_its_t_score() -> None:
    """The FREEDOM-age cohort (72, 21 y past the FMP, history from 45): the mean person's
    spine T-score at t = 0 is below 0 (her 27 years of loss); with baseline_t_score = -2.5
    the run starts at -2.5 at the spine, lower at the other sites too, with the young-adult
    BV/TV lowered by one factor, and loses bone from there."""
    case = load_zero_d_case(CASES / "elderly_placebo.toml")
    mean = run_zero_d(case.scenario, 365.25, run=case.run)
    t_mean = mean["t_score_lumbar_spine"][0]
    assert -2.0 < t_mean < -0.5
    scenario = case.scenario.model_copy(
        update={"baseline_t_score": -2.5, "baseline_site": "lumbar_spine"}
    )
    low = run_zero_d(scenario, 365.25, run=case.run)
    assert low["t_score_lumbar_spine"][0] == pytest.approx(-2.5, abs=1e-6)
    for site in ("total_hip", "femoral_neck"):
        assert low[f"t_score_{site}"][0] < mean[f"t_score_{site}"][0] - 0.5
    k_trab = low["bvtv_trab"][0] / mean["bvtv_trab"][0]
    assert 0.7 < k_trab < 0.95
    assert low["t_score_lumbar_spine"][-1] < -2.5  # the placebo arm goes on losing


def test_young_healthy_run_has_t_score_zero() -> None:
    """A healthy young adult (no history, no T-score) is the reference: T = 0 everywhere."""
    result = run_zero_d(ScenarioConfig(age_at_start_years=30.0), 91.3125)
    for site in SITE_TRABECULAR_SHARE:
        assert result[f"t_score_{site}"][0] == pytest.approx(0.0, abs=1e-12)


def test_unreachable_t_score_names_the_field_and_the_range() -> None:
    """Above the cohort's mean the cortical BV/TV (0.95) would pass 0.98: refused, naming
    the field, the value and the allowed factors."""
    scenario = ScenarioConfig(age_at_start_years=30.0, baseline_t_score=1.5)
    with pytest.raises(InputError) as err:
        run_zero_d(scenario, 30.0)
    text = str(err.value)
    assert "scenario.baseline_t_score" in text and "1.5" in text
    assert "between 0.1333 and 1.032" in text
