"""Men's estrogen deficiency adapts with the women's kernel (bonefem.biology.agents.estrogen).

The attenuation of a deficiency that grows linearly (the andropause's testosterone decline)
and then holds (its floor) is the women's kernel k(a) = 1 / (1 + a / tau_a) convolved with
the deficiency's growth: checked against numerical quadrature of that convolution, against
its limits (a step: the women's factor; early: 1), and in 0-D against MrOS's loss rate at
its mean age (Cawthon et al. 2009, J Bone Miner Res 24:1728: femoral neck −1.72 % over 4.6
years in men of 65 and over, mean 73 years, −0.37 %/y).
"""

from __future__ import annotations

import math

import pytest
from scipy.integrate import quad

from bonefem.biology import calibration as cal
from bonefem.biology.agents.estrogen import linear_decline_attenuation
from bonefem.biology.calibrated import CALIBRATED
from bonefem.biology.signals import ScenarioConfig
from bonefem.biology.signals import TestosteroneConfig as TConfig

YEAR = 365.25
TAU = 2000.0  # days, an adaptation constant of the calibrated size (a few years)


def _convolution(u: float, u_floor: float, tau: float) -> float:
    """integral_0^min(u, u_f) k(u - s) (1 / u_f) ds / D(u), D(u) = min(u, u_f) / u_f."""
    top = min(u, u_floor)
    val, _ = quad(lambda s: 1.0 / (1.0 + (u - s) / tau), 0.0, top, epsabs=1e-13, epsrel=1e-12)
    return val / top


@pytest.mark.parametrize("u", [10.0, 500.0, 4000.0, 9000.0, 13000.0, 30000.0])
def test_the_factor_is_the_kernel_convolved_with_a_linear_then_constant_deficiency(
    u: float,
) -> None:
    u_floor = 12783.75  # days: 0.7 at 2 %/y, the bundled andropause case's decline
    assert linear_decline_attenuation(u, u_floor, TAU) == pytest.approx(
        _convolution(u, u_floor, TAU), rel=1e-10
    )


def test_a_step_deficiency_gets_the_womens_factor_and_a_new_one_none() -> None:
    for u in (100.0, 3000.0, 20000.0):
        step = linear_decline_attenuation(u, 1e-3, TAU)
        assert step == pytest.approx(1.0 / (1.0 + u / TAU), rel=1e-6)
    assert linear_decline_attenuation(1e-3, 1e4, TAU) == pytest.approx(1.0, abs=1e-6)
    assert linear_decline_attenuation(-5.0, 1e4, TAU) == 1.0
    assert linear_decline_attenuation(500.0, 1e4, math.inf) == 1.0
    # a growing deficiency adapts less than a step of the same age: its increments are younger
    assert linear_decline_attenuation(5000.0, 1e5, TAU) > 1.0 / (1.0 + 5000.0 / TAU)


def _men_rates() -> dict[str, float]:
    """0-D men from 50 (testosterone −2 %/y from 50, floor 0.3) and women (FMP at 51):
    femoral-neck rates (%/y) at MrOS's mean age, 73-77.6 (its 4.6-year follow-up)."""
    men = ScenarioConfig(
        name="men",
        sex="male",
        age_at_start_years=50.0,
        testosterone=TConfig(andropause=True, decline_per_year=0.02, floor=0.3),
    )
    r = cal._run(men, 28.0 * YEAR, CALIBRATED)
    w = cal._run(cal._menopause(), (78.0 - 46.0) * YEAR, CALIBRATED)
    key = "abmd_change_pct_femoral_neck"

    def rate(res, age0: float) -> float:
        b0, b1 = (1.0 + res.at(key, (a - age0) * YEAR) / 100.0 for a in (73.0, 77.6))
        return float(100.0 * (b1 / b0 - 1.0) / 4.6)

    return {"men": rate(r, 50.0), "women": rate(w, 46.0)}


def test_men_at_mrOS_age_lose_within_twice_mros_rate() -> None:
    """Measured −0.55 %/y (MrOS −0.37); with men's deficiency unattenuated it was −0.86,
    more than twice MrOS's and 1.8 times the model's women of the same age (−0.48)."""
    rates = _men_rates()
    assert -2.0 * 0.37 < rates["men"] < -0.37 / 2.0
    assert rates["men"] == pytest.approx(-0.553, abs=0.01)
    assert rates["women"] == pytest.approx(-0.484, abs=0.01)
