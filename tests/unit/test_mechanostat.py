"""The disuse regulation (issue 13 item 4: its size fitted to bed rest, graded over partial
unloading) and disuse in 0-D."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

from bonefem.biology.calibrated import CALIBRATED
from bonefem.biology.cells import BoneCellModel
from bonefem.biology.parameters import SCHEINER_2013, calibrated_parameters
from bonefem.biology.zerod import RunConfig, run_zero_d
from bonefem.config.case import ActivityPeriod
from bonefem.config.scenario import ScenarioConfig


def test_scheiner_set_keeps_the_linear_term() -> None:
    """Scheiner 2013 (P_max = inf): P_RANKL,mech = kappa (1 - Psi_r) exactly."""
    m = BoneCellModel(SCHEINER_2013)
    psi = np.array([0.09, 0.5, 0.99, 1.0, 1.3])
    prod = np.asarray(m._mech(psi)[1])
    np.testing.assert_allclose(prod, 1.0e5 * np.maximum(0.0, 1.0 - psi), rtol=1e-15)


def test_saturating_production() -> None:
    """kappa d / (1 + kappa d / P_max): slope kappa at d -> 0, half of P_max at kappa d = P_max,
    P_max under complete unloading to 1/(1 + P_max/kappa) (the law itself: switch width 0;
    the saturating form stays available, the shipped set is linear, P_max = inf)."""
    p_max = 888.8913794914109  # the P_max fitted under Scheiner's kappa until December 2026
    m = BoneCellModel(calibrated_parameters(CALIBRATED.mechano_lambda, p_max, switch_width=0.0))
    kappa = m.params.mechano.kappa_rankl
    d = np.array([1e-9, p_max / kappa, 1.0])
    prod = np.asarray(m._mech(1.0 - d)[1])
    assert prod[0] == pytest.approx(kappa * 1e-9, rel=1e-6)
    assert prod[1] == pytest.approx(0.5 * p_max, rel=1e-12)
    assert prod[2] == pytest.approx(p_max / (1.0 + p_max / kappa), rel=1e-12)
    # overload does not produce RANKL
    assert np.asarray(m._mech(np.array([1.5]))[1])[0] == 0.0
    # the saturation is far below Scheiner's 540 x beta_RANKL at 30 % load (issue 13)
    assert p_max < 20.0 * m.params.beta_RANKL


def _hip(activity: list[ActivityPeriod], years: float, slope: float) -> tuple[float, ...]:
    k = dataclasses.replace(CALIBRATED, mechano_rankl_slope=slope)
    r = run_zero_d(
        ScenarioConfig(name="disuse"),
        years * 365.25,
        run=RunConfig(step_days=7.0),
        constants=k,
        activity=activity,
    )
    hip = r["abmd_change_pct_total_hip"]
    return (
        r.at("abmd_change_pct_total_hip", 119.0),
        r.at("abmd_change_pct_total_hip", 365.25),
        float(hip[-1]),
    )


def test_zero_d_activity_neutral_and_disuse() -> None:
    """load_scale 1 changes nothing; 30 % load loses bone, less with the fitted slope than
    with Scheiner's 1e5 pM/day, and recovers partly after reloading."""
    neutral = _hip([ActivityPeriod(start_days=0.0, stop_days=365.25, load_scale=1.0)], 2.0, 1e3)
    assert max(abs(v) for v in neutral) < 1e-6
    bed = [ActivityPeriod(start_days=0.0, stop_days=365.25, load_scale=0.3)]
    fitted = _hip(bed, 3.0, CALIBRATED.mechano_rankl_slope)
    scheiner = _hip(bed, 3.0, 1.0e5)
    assert fitted[0] < -0.5  # bone lost in 17 weeks
    assert scheiner[1] < fitted[1] < 0.0  # Scheiner's slope loses more
    assert fitted[1] < fitted[2] < 0.0  # partial recovery after reloading, still below baseline


def test_zero_d_activity_times_are_output_times() -> None:
    """An activity change between output steps becomes an output time (no smearing)."""
    r = run_zero_d(
        ScenarioConfig(name="disuse"),
        100.0,
        run=RunConfig(step_days=28.0),
        activity=[ActivityPeriod(start_days=10.0, stop_days=50.0, load_scale=0.3)],
    )
    t = r["time_days"]
    assert 10.0 in t and 50.0 in t and 100.0 in t
    hip = r["abmd_change_pct_total_hip"]
    assert hip[t == 10.0][0] == pytest.approx(0.0, abs=1e-9)  # nothing before the change


def test_disuse_loss_is_graded_with_the_unloading() -> None:
    """Partial unloading loses bone in proportion to the unloading rather than as bed rest
    does (Ellman et al. 2013, J Bone Miner Res 28:875: losses proportional to the reduction
    of load in partial weight bearing): 0-D total hip at 17 weeks, habitual stress at
    30 / 50 / 70 / 90 % (strain energy at 9 / 25 / 49 / 81 %). The loss grows with every
    step of unloading, and 10 % less load loses less than a third of what bed rest loses.
    With Scheiner's slope kappa = 1e5 pM/day under the saturation P_max = 889 pM/day
    (bonefem before December 2026) the production saturated at 3 % under-stimulation: 90 %
    load lost 93 % of the bed-rest loss and 70 % load 99 %."""
    losses = []
    for scale in (0.3, 0.5, 0.7, 0.9):
        r = run_zero_d(
            ScenarioConfig(name="partial", age_at_start_years=40.0),
            120.0,
            run=RunConfig(step_days=7.0),
            activity=[ActivityPeriod(start_days=0.0, stop_days=400.0, load_scale=scale)],
        )
        losses.append(-r.at("abmd_change_pct_total_hip", 119.0))
    assert all(a > b > 0.0 for a, b in itertools.pairwise(losses))
    assert losses[3] < losses[0] / 3.0
    assert losses[2] < 0.85 * losses[0]
