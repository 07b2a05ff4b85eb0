"""Intermittent PTH: receptor-exposure split, modelling-based formation, calibration pin."""

from __future__ import annotations

import math

import pytest

from bonefem.biology.agents.teriparatide import ANABOLIC_WINDOW_DAYS, catabolic_weight
from bonefem.biology.calibrated import CALIBRATED
from bonefem.biology.drugs import TeriparatidePK
from bonefem.biology.signals import build_signals
from bonefem.config.scenario import PTHConfig, ScenarioConfig, TeriparatideConfig


def test_catabolic_weight_follows_exposure_duration() -> None:
    """Frolik 2003: anabolic up to 2 h/day, catabolic from 6 h/day, linear between."""
    assert catabolic_weight(0.0) == 0.0
    assert catabolic_weight(2.0) == 0.0
    assert catabolic_weight(4.0) == pytest.approx(0.5)
    assert catabolic_weight(6.0) == 1.0
    assert catabolic_weight(24.0) == 1.0  # continuous exposure


def test_pulse_exposure_from_the_bateman_curve() -> None:
    """The hours above a threshold bracket the curve's crossings; a larger dose lasts longer
    (log-linear tail: + ln 2 / k_e hours per doubling, k_e = 0.693/h -> +1.0 h)."""
    pk20, pk40 = TeriparatidePK(dose_ug=20.0), TeriparatidePK(dose_ug=40.0)
    thr = 250.0 / 86.0
    h20, h40 = pk20.hours_above(thr), pk40.hours_above(thr)
    assert h40 - h20 == pytest.approx(math.log(2.0) / pk20.k_e, abs=0.02)
    assert pk20.hours_above(2.0 * pk20.peak_pm) == 0.0


def test_modelling_formation_wanes_and_skips_continuous_pth() -> None:
    """One anabolic window for the modelling-based formation and the remodelling-based
    terms (osteoblast recruitment and survival): each falls by 1/e in tau_w, while the
    catabolic exposure stays."""
    course = TeriparatideConfig(start_days=100.0, stop_days=1000.0)
    sig = build_signals(ScenarioConfig(teriparatide=[course]))
    first, later = sig.effects(100.0), sig.effects(100.0 + ANABOLIC_WINDOW_DAYS)
    assert first.modelling_formation > 0.0
    assert later.modelling_formation == pytest.approx(first.modelling_formation / math.e)
    base = build_signals(ScenarioConfig()).effects(100.0)
    for name in ("obu_factor", "oba_apoptosis_factor"):
        b = getattr(base, name)
        gain0 = getattr(first, name) / b
        gain1 = getattr(later, name) / b
        x0 = gain0 - 1.0 if name == "obu_factor" else 1.0 / gain0 - 1.0
        x1 = gain1 - 1.0 if name == "obu_factor" else 1.0 / gain1 - 1.0
        assert x0 > 0.1
        assert x1 == pytest.approx(x0 / math.e, rel=1e-12)
    assert later.pth_production == pytest.approx(first.pth_production, rel=1e-12)
    assert sig.effects(1000.0).modelling_formation == 0.0  # course over
    cont = build_signals(ScenarioConfig(pth=PTHConfig(continuous_excess_fold=3.0)))
    assert cont.effects(10.0).modelling_formation == 0.0


def test_modelling_formation_calibration_pin() -> None:
    """k_mod reproduces its mechanistic target: cancellous BFR/BS 2x placebo at day 40
    (Cosman et al. 2016): fitted to the root finder's tolerance on the cohort of the previous
    0-D round; the last 0-D fit moved the ratio by 0.4 % (docs/calibration.md), 6e-3 allows
    that and the 0-D integrator's step-size noise."""
    from bonefem.biology.calibration_mechanistic import COSMAN_BFR_RATIO, teriparatide_bfr_ratio

    assert teriparatide_bfr_ratio(CALIBRATED) == pytest.approx(COSMAN_BFR_RATIO, rel=6e-3)


def test_modelling_formation_acts_on_cancellous_not_haversian_surfaces() -> None:
    """F_mod forms bone on trabecular surfaces in full, on Haversian canal surfaces not at
    all, and on the trabecularised blend in proportion 1 - w(f) (Cosman et al. 2016: BFR/BS
    doubled in the cancellous and endocortical envelopes of the femoral neck only)."""
    import numpy as np

    from bonefem.biology.parameters import remodeling_parameters
    from bonefem.remodeling.bone import CellDrivenRemodeling, bone_surface, haversian_weight

    p = remodeling_parameters(CALIBRATED)
    law = CellDrivenRemodeling(p, k_form=0.0)  # formation = F_mod alone
    f = np.array([0.15, 0.8, 0.95])
    form, _ = law.formation_resorption(f, np.zeros(3), np.zeros(3), modelling=1e-4)
    g_form, _ = law.bound_factors(f)
    expected = bone_surface(f, p) * 1e-4 * (1.0 - haversian_weight(f, p)) * g_form
    np.testing.assert_allclose(form, expected, rtol=1e-14)
    assert form[0] == pytest.approx(bone_surface(f, p)[0] * 1e-4 * g_form[0], rel=1e-14)
    assert form[2] == 0.0
    assert 0.0 < form[1] < bone_surface(f, p)[1] * 1e-4


def test_teriparatide_does_not_fill_the_cortical_porosity() -> None:
    """21 months of 20 µg/day in the 0-D cohort 18 years past the FMP: cancellous bone gains
    (+21 % mineral), the cortex at BV/TV 0.95 gains at most a little (+1.2 % mineral; HR-pQCT
    finds cortical porosity *rising* on teriparatide, e.g. Hansen et al. 2013, J Bone Miner
    Res 28:736), where F_mod on Haversian surfaces filled it (+5.3 % BV/TV)."""
    from bonefem.biology.zerod import RunConfig, run_zero_d
    from bonefem.config.scenario import EstrogenConfig

    year = 365.25
    scenario = ScenarioConfig(
        age_at_start_years=69.0,
        history_from_age_years=46.0,
        estrogen=EstrogenConfig(menopause="natural", menopause_time_days=-18 * year),
        teriparatide=[TeriparatideConfig(start_days=0.0, stop_days=2 * year)],
    )
    r = run_zero_d(scenario, 21 / 12 * year + 1.0, run=RunConfig(step_days=14.0))
    t = 21 / 12 * year
    assert r.at("mineral_mass_change_pct_trab", t) > 15.0
    assert r.at("bvtv_change_pct_cort", t) < 2.5
    assert r.at("mineral_mass_change_pct_cort", t) < 2.5
