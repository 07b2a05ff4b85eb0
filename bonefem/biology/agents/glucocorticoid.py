"""Glucocorticoid therapy (or endogenous excess), in prednisolone equivalents.

Level ``glucocorticoid_strength`` s = dose / (dose + ``GC_HALF_DOSE_MG``) (dimensionless),
the dose summed over the active courses (mg/day). Effect terms (Weinstein et al. 1998,
JCI 102:274: osteoblast apoptosis and fewer osteoblasts; Hofbauer et al. 1999,
Endocrinology 140:4367: RANKL up, OPG down), all sizes ASSUMPTIONS: D_OBp times
(1 - ``GC_OBP`` s), A_OBa times (1 + ``GC_OBA_APOPTOSIS`` s), OPG production times
(1 - ``GC_OPG`` s), extra RANKL production ``GC_RANKL_FRACTION`` s times the calibrated
``rankl_estrogen`` (pM/day).
"""

from __future__ import annotations

from collections.abc import Mapping

from bonefem.biology.agents._base import Agent, EffectTerms, LevelFunction, Levels, register

__all__ = [
    "GC_HALF_DOSE_MG",
    "GC_OBA_APOPTOSIS",
    "GC_OBP",
    "GC_OPG",
    "GC_RANKL_FRACTION",
    "GlucocorticoidAgent",
]

GC_HALF_DOSE_MG = 7.5
"""Prednisolone-equivalent dose for half-maximal effect (mg/day, ASSUMPTION)."""
GC_OBP = 0.5
"""Relative D_OBp reduction at s = 1 (dimensionless, ASSUMPTION)."""
GC_OBA_APOPTOSIS = 1.0
"""Relative A_OBa increase at s = 1 (dimensionless, ASSUMPTION)."""
GC_OPG = 0.3
"""Relative OPG production reduction at s = 1 (dimensionless, ASSUMPTION)."""
GC_RANKL_FRACTION = 0.1
"""RANKL production at s = 1, as a fraction of ``rankl_estrogen`` (dimensionless, ASSUMPTION)."""


@register
class GlucocorticoidAgent(Agent):
    """Glucocorticoid courses (scenario field ``glucocorticoid``)."""

    key = "glucocorticoid"
    order = 40.0

    def strength(self, t: float) -> float:
        """Effect strength s = dose / (dose + 7.5 mg) (dimensionless) at t (days)."""
        dose = sum(w.dose_mg_per_day for w in self.scenario.glucocorticoid if w.active(t))
        return dose / (dose + GC_HALF_DOSE_MG)

    def levels(self) -> Mapping[str, LevelFunction]:
        """``glucocorticoid_strength``."""
        return {"glucocorticoid_strength": lambda lv: self.strength(lv.t)}

    def contribute(self, lv: Levels, terms: EffectTerms) -> None:
        """RANKL up, OPG down, fewer and shorter-lived osteoblasts."""
        s = lv["glucocorticoid_strength"]
        terms.add("rankl_production", self.ctx.constants.rankl_estrogen * (GC_RANKL_FRACTION * s))
        terms.scale("opg_factor", 1.0 - GC_OPG * s)
        terms.scale("obp_factor", 1.0 - GC_OBP * s)
        terms.scale("oba_apoptosis_factor", 1.0 + GC_OBA_APOPTOSIS * s)

    def outputs(self) -> Mapping[str, LevelFunction]:
        """Column ``glucocorticoid_strength`` (dimensionless)."""
        return {"glucocorticoid_strength": lambda lv: lv["glucocorticoid_strength"]}
