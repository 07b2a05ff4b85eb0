"""Testosterone (men): age-related decline (andropause), hypogonadism and TRT.

Level ``testosterone`` (dimensionless, 1 = young-adult male reference; 1 for women): on
TRT the therapy level; otherwise, with andropause, a linear decline of
``decline_per_year`` from ``onset_days`` (free T about 2 %/y, Harman et al. 2001, JCEM
86:724) down to ``floor``.

Effect term: androgens stimulate osteoblast differentiation (Manolagas et al. 2013, Nat
Rev Endocrinol 9:699), D_OBp multiplied by 1 + ``OBP_PER_TESTOSTERONE`` (T - 1); their
larger bone-protective action in men runs through aromatisation to estrogen (the
``estrogen`` level of men follows T, :mod:`bonefem.biology.agents.estrogen`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from bonefem.biology.agents._base import Agent, EffectTerms, LevelFunction, Levels, register
from bonefem.config.scenario import TestosteroneConfig

__all__ = ["OBP_PER_TESTOSTERONE", "TestosteroneAgent", "andropause_level", "days_to_floor"]

OBP_PER_TESTOSTERONE = 0.2
"""Relative D_OBp change per unit change of T (dimensionless, ASSUMPTION)."""


def andropause_level(tt: TestosteroneConfig, t: float) -> float:
    """Untreated testosterone level (dimensionless) at t (days).

    1 before the onset, then 1 - decline_per_year (t - onset)/365.25 down to the floor;
    1 at every t without andropause.
    """
    if not tt.andropause or t < tt.onset_days:
        return 1.0
    return max(tt.floor, 1.0 - tt.decline_per_year * (t - tt.onset_days) / 365.25)


def days_to_floor(tt: TestosteroneConfig) -> float:
    """Days from the onset until :func:`andropause_level` reaches its floor (inf: no decline)."""
    if tt.decline_per_year <= 0.0:
        return math.inf
    return (1.0 - tt.floor) / tt.decline_per_year * 365.25


@register
class TestosteroneAgent(Agent):
    """Testosterone and TRT (scenario fields ``testosterone`` and ``trt``)."""

    key = "testosterone"
    order = 20.0

    def level(self, t: float) -> float:
        """Testosterone level (dimensionless) at t (days), TRT included."""
        c = self.scenario
        if c.sex == "female":
            return 1.0
        for w in c.trt:
            if w.active(t):
                return w.testosterone_level
        return andropause_level(c.testosterone, t)

    def levels(self) -> Mapping[str, LevelFunction]:
        """``testosterone``."""
        return {"testosterone": lambda lv: self.level(lv.t)}

    def contribute(self, lv: Levels, terms: EffectTerms) -> None:
        """OBp differentiation follows T."""
        terms.scale("obp_factor", 1.0 + OBP_PER_TESTOSTERONE * (lv["testosterone"] - 1.0))

    def outputs(self) -> Mapping[str, LevelFunction]:
        """Column ``testosterone`` (dimensionless)."""
        return {"testosterone": lambda lv: lv["testosterone"]}
