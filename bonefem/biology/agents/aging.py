"""Age-related, non-hormonal bone loss (both sexes).

Level ``age_years``: age at time t, ``age_at_start_years`` + t / 365.25 (years).

With age, oxidative stress and cellular senescence shorten the working life of
osteoblasts independently of sex steroids (Manolagas 2010, Endocr Rev 31:266; Almeida et
al. 2007, J Biol Chem 282:27285: osteoblast apoptosis rises with age in mice of both
sexes). Effect term: A_OBa multiplied by::

    1 + c_age * ((age - a_on) / (AGE_REFERENCE_YEARS - a_on))^2   for age > a_on, 1 otherwise

so c_age is the relative increase at AGE_REFERENCE_YEARS = 80 y whatever the onset a_on.
ASSUMPTION (shape): no non-hormonal loss before the onset (the healthy adult stays at
steady state, calibration-data.md) and a loss rate that rises with age, about in proportion
to (age - a_on). Both constants are fitted with the estrogen constants to the untreated
course of women (:func:`bonefem.biology.calibration.fit_course`; docs/calibration.md):

* a_on (``CalibratedConstants.age_onset_years``, about 59.4 y) mainly by how fast the loss
  accelerates in old age: total-hip aBMD fell 2.5 mg/cm^2/y in women aged 67-69 and 10.4
  mg/cm^2/y in women aged 85 or more, a ratio of 4.2 (Ensrud et al. 1995, J Bone Miner Res
  10:1778, the Study of Osteoporotic Fractures, 5698 women followed 3.55 years; a
  natural-history cohort, no therapy endpoint). An onset fixed at 50 gave a ratio of 2.5
  and a WHI placebo arm (63 y) that lost 1.2 percentage points more than WHI's.
* c_age (``CalibratedConstants.age_oba_apoptosis``) mainly by the placebo arms of FREEDOM
  (total hip -1.4 % in 36 months at a mean age of 72; Cummings et al. 2009) and WHI
  (+0.14 % in 3 years at 63; Cauley et al. 2003), calibration data.
"""

from __future__ import annotations

from collections.abc import Mapping

from bonefem.biology.agents._base import Agent, EffectTerms, LevelFunction, Levels, register

__all__ = ["AGE_REFERENCE_YEARS", "AgingAgent", "age_factor"]

AGE_REFERENCE_YEARS = 80.0
"""Age at which the A_OBa factor is 1 + c_age (years)."""


def age_factor(age_years: float, c_age: float, onset_years: float) -> float:
    """A_OBa factor (dimensionless) at ``age_years`` (years).

    ``c_age`` the relative increase at 80 years (dimensionless), ``onset_years`` the age
    from which it acts (years, below 80).
    """
    if not onset_years < AGE_REFERENCE_YEARS:
        raise ValueError(f"age onset must lie below {AGE_REFERENCE_YEARS} years, got {onset_years}")
    x = max(0.0, age_years - onset_years) / (AGE_REFERENCE_YEARS - onset_years)
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
        k = self.ctx.constants
        terms.scale(
            "oba_apoptosis_factor",
            age_factor(lv["age_years"], k.age_oba_apoptosis, k.age_onset_years),
        )

    def outputs(self) -> Mapping[str, LevelFunction]:
        """Column ``age_years``."""
        return {"age_years": lambda lv: lv["age_years"]}
