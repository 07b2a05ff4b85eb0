"""Sympathetic (beta-adrenergic) tone.

Level ``sympathetic_tone`` (dimensionless, 1 = reference; the active period's tone).
Effect term: beta2-adrenergic signalling raises RANKL expression (Elefteriou et al. 2005,
Nature 434:514): extra RANKL production ``SYMPATHETIC_RANKL_FRACTION`` (tone - 1) times the
calibrated ``rankl_estrogen`` (pM/day; size ASSUMPTION), in both directions. A tone below
the reference (beta-blockade) lowers the RANKL production: propranolol prevented the bone
loss of ovariectomised mice (Elefteriou 2005), and postmenopausal women on beta-blockers
have higher BMD and better microarchitecture (Bonnet et al. 2007, J Bone Miner Res 22:578;
Reid et al. 2005, J Bone Miner Res 20:613). Before December 2026 the term was
max(0, tone - 1), so a low tone changed nothing (issue 13). The production stays positive:
at tone 0 it is lowered by 0.1 P_RANKL,E (44 pM/day), against beta_RANKL = 168.4 pM/day.
At the healthy set point the mechanostat takes the lower RANKL back (0-D, tone 0.3 for 5
years from 40: total hip +0.04 %); past menopause, below the set point, it does not (from
60, 9 years past the FMP: total hip +0.70 percentage points over 5 years against the
reference tone).
"""

from __future__ import annotations

from collections.abc import Mapping

from bonefem.biology.agents._base import Agent, EffectTerms, LevelFunction, Levels, register

__all__ = ["SYMPATHETIC_RANKL_FRACTION", "SympatheticAgent"]

SYMPATHETIC_RANKL_FRACTION = 0.1
"""RANKL production per unit tone away from reference, of ``rankl_estrogen`` (ASSUMPTION)."""


@register
class SympatheticAgent(Agent):
    """Periods of altered sympathetic tone (scenario field ``sympathetic``)."""

    key = "sympathetic"
    order = 70.0

    def tone(self, t: float) -> float:
        """Sympathetic tone relative to reference (dimensionless) at t (days)."""
        for w in self.scenario.sympathetic:
            if w.active(t):
                return w.tone
        return 1.0

    def levels(self) -> Mapping[str, LevelFunction]:
        """``sympathetic_tone``."""
        return {"sympathetic_tone": lambda lv: self.tone(lv.t)}

    def contribute(self, lv: Levels, terms: EffectTerms) -> None:
        """RANKL production up above the reference tone, down below it."""
        excess = lv["sympathetic_tone"] - 1.0
        terms.add(
            "rankl_production",
            self.ctx.constants.rankl_estrogen * (SYMPATHETIC_RANKL_FRACTION * excess),
        )

    def outputs(self) -> Mapping[str, LevelFunction]:
        """Column ``sympathetic_tone`` (dimensionless)."""
        return {"sympathetic_tone": lambda lv: lv["sympathetic_tone"]}
