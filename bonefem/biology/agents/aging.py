"""Age-related, non-hormonal bone loss (both sexes).

Level ``age_years``: age at time t, ``age_at_start_years`` + t / 365.25 (years).

With age, oxidative stress and cellular senescence shorten the working life of
osteoblasts independently of sex steroids (Manolagas 2010, Endocr Rev 31:266; Almeida et
al. 2007, J Biol Chem 282:27285: osteoblast apoptosis rises with age in mice of both
sexes). Effect term: A_OBa multiplied by::

    1 + c_age * ((age - AGE_ONSET) / AGE_SCALE)^2     for age > AGE_ONSET, 1 otherwise

with AGE_ONSET = 50 y and AGE_SCALE = 30 y, so c_age is the relative increase at 80 y.
ASSUMPTION (shape): no non-hormonal loss before 50 (the healthy adult stays at steady
state, calibration-data.md) and loss rates that rise with age, as hip loss does in older
women (Ensrud et al. 1995, J Am Geriatr Soc 43:1; -0.2 %/y at 67-69 to -1.2 %/y at 85+)
and men (MrOS). c_age (``CalibratedConstants.age_oba_apoptosis``) is fitted to the
FREEDOM placebo arm (total hip -1.4 % in 36 months at a mean age of 72; Cummings et al.
2009), calibration data; :mod:`bonefem.biology.calibration`.
"""

from __future__ import annotations

from collections.abc import Mapping

from bonefem.biology.agents._base import Agent, EffectTerms, LevelFunction, Levels, register

__all__ = ["AGE_ONSET_YEARS", "AGE_SCALE_YEARS", "AgingAgent", "age_factor"]

AGE_ONSET_YEARS = 50.0
"""Age from which the non-hormonal loss acts (years, ASSUMPTION)."""
AGE_SCALE_YEARS = 30.0
"""Age span over which the A_OBa increase reaches c_age (years)."""


def age_factor(age_years: float, c_age: float) -> float:
    """A_OBa factor (dimensionless) at ``age_years`` for the coefficient ``c_age``."""
    x = max(0.0, age_years - AGE_ONSET_YEARS) / AGE_SCALE_YEARS
    return 1.0 + c_age * x * x


@register
class AgingAgent(Agent):
    """Age-related osteoblast loss (scenario field ``age_at_start_years``)."""

    key = "aging"
    order = 200.0

    def levels(self) -> Mapping[str, LevelFunction]:
        """``age_years`` (years)."""
        a0 = self.scenario.age_at_start_years
        return {"age_years": lambda lv: a0 + lv.t / 365.25}

    def contribute(self, lv: Levels, terms: EffectTerms) -> None:
        """Osteoblast apoptosis rises with age."""
        c = self.ctx.constants.age_oba_apoptosis
        terms.scale("oba_apoptosis_factor", age_factor(lv["age_years"], c))

    def outputs(self) -> Mapping[str, LevelFunction]:
        """Column ``age_years``."""
        return {"age_years": lambda lv: lv["age_years"]}
