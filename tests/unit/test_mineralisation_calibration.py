"""Alendronate's suppression and the slow secondary mineralisation hit their mechanistic
targets (issue 13 items 1 and 8).

* Alendronate 10 mg/day lowers the cancellous activation frequency by Chavassieux et al.'s
  (1997) 87 % at 2 years (the fitted E_max), the osteoclasts (resorption side) by as much
  within 0.015, and the suppression holds at 3 years (same magnitude in their 36-month
  biopsies).

* The healthy trabecular tissue closes the fraction of the secondary mineral gap of the
  reference BMDD (Roschger et al. 2003 mean calcium between Ruffoni's primary and maximum):
  exact by construction of k_slow, checked on the model's own healthy state.
* Alendronate 10 mg/day for 3 years raises the mean mineral content over placebo by Boivin
  et al.'s (2000) +11.4 %, within 0.15 (fitted to 0.01, then the cohort moved with the
  last 0-D fit, docs/calibration.md); the 2-year value is a check
  (Boivin +7.3 %, model about +9.5 %; docs/calibration.md).
* The single-phase law of bonefem 0.1 cannot reach the 3-year value (+9.1 %: its gap closes
  within months, then nothing is left to mineralise).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from bonefem.biology.calibrated import CALIBRATED
from bonefem.biology.calibration_mechanistic import (
    BMDD_SECONDARY_PROGRESS,
    BOIVIN_DMB,
    CHAVASSIEUX_ACF_RATIO,
    RECKER_ACF_RATIO,
    alendronate_activation_frequency,
    alendronate_dmb,
    slow_rate_for_share,
    zoledronate_activation_frequency,
)
from bonefem.biology.cells import BoneCellModel
from bonefem.biology.parameters import remodeling_parameters


def test_healthy_trabecular_tissue_matches_the_reference_bmdd() -> None:
    k = CALIBRATED
    assert k.mineral_slow_rate == pytest.approx(slow_rate_for_share(k.mineral_slow_share), rel=1e-9)
    model = BoneCellModel(remodeling=remodeling_parameters(k))
    m = float(model.healthy_state(np.array([0.15]))[4, 0])
    p = model.remodeling.params
    progress = (m - p.m_primary) / (p.m_max - p.m_primary)
    assert progress == pytest.approx(BMDD_SECONDARY_PROGRESS, abs=2e-3)  # 25.07 vs 25 %/y


def test_alendronate_raises_the_degree_of_mineralisation_as_measured() -> None:
    got = alendronate_dmb(CALIBRATED)
    # fitted to 0.01 on the cohort of the previous 0-D round; the last 0-D fit moved it 0.08
    assert got[3.0] == pytest.approx(BOIVIN_DMB[3.0], abs=0.15)
    # check, not fitted: +9.84 integrated accurately (ROS34PW2, or ROS2 at tolerances / 30);
    # ROS2 at its default tolerances gave +9.80
    assert BOIVIN_DMB[2.0] < got[2.0] < BOIVIN_DMB[2.0] + 2.6
    single = dataclasses.replace(CALIBRATED, mineral_slow_share=0.0)
    assert alendronate_dmb(single)[3.0] < 9.5  # 0.1's law saturates within months (+9.1 %)


def test_alendronate_suppresses_the_activation_frequency_as_measured() -> None:
    got = alendronate_activation_frequency(CALIBRATED, (2.0, 3.0))
    assert got[2.0]["acf"] == pytest.approx(CHAVASSIEUX_ACF_RATIO, abs=0.005)
    assert got[2.0]["oca"] == pytest.approx(got[2.0]["acf"], abs=0.015)
    assert got[3.0]["acf"] == pytest.approx(CHAVASSIEUX_ACF_RATIO, abs=0.02)


def test_zoledronate_suppresses_the_activation_frequency_as_in_horizon_biopsies() -> None:
    """Recker et al. 2008: Ac.f 63 % below placebo a year after the third yearly infusion
    (fitted). Each infusion's effect wanes within its year (the surface-bound drug is
    buried or released; the recycled drug remains): resorption deepest months after it,
    recovering by the next, and deeper at year 3 than at year 1 as the buried drug
    accumulates; at the year's end resorption has recovered a little more than formation,
    which follows it a remodelling period later. The in-vitro potency (15) suppresses deeper
    than daily alendronate (the reason for the fit)."""
    got = zoledronate_activation_frequency(CALIBRATED, (0.5, 1.0, 3.0))
    assert got[3.0]["acf"] == pytest.approx(RECKER_ACF_RATIO, abs=0.005)
    assert got[3.0]["acf"] < got[3.0]["oca"] < got[3.0]["acf"] + 0.05
    assert got[0.5]["oca"] < got[1.0]["oca"] < 0.6
    assert RECKER_ACF_RATIO < got[1.0]["acf"] < 0.7
    in_vitro = dataclasses.replace(CALIBRATED, zoledronate_potency=15.0)
    saturated = zoledronate_activation_frequency(in_vitro)[3.0]["acf"]
    assert saturated < CHAVASSIEUX_ACF_RATIO
