"""Sympathetic (beta-adrenergic) tone.

Level ``sympathetic_tone`` (dimensionless, 1 = reference; the active period's tone).
Effect term: beta2-adrenergic signalling raises RANKL expression (Elefteriou et al. 2005,
Nature 434:514): extra RANKL production ``SYMPATHETIC_RANKL_FRACTION`` max(0, tone - 1)
times the calibrated ``rankl_estrogen`` (pM/day; size ASSUMPTION).
"""

from __future__ import annotations

from collections.abc import Mapping

from bonefem.biology.agents._base import Agent, EffectTerms, LevelFunction, Levels, register

__all__ = ["SYMPATHETIC_RANKL_FRACTION", "SympatheticAgent"]

SYMPATHETIC_RANKL_FRACTION = 0.1
"""RANKL production per unit tone above reference, of ``rankl_estrogen`` (ASSUMPTION)."""


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
        """RANKL production above the reference tone."""
        excess = max(0.0, lv["sympathetic_tone"] - 1.0)
        terms.add(
            "rankl_production",
            self.ctx.constants.rankl_estrogen * (SYMPATHETIC_RANKL_FRACTION * excess),
        )

    def outputs(self) -> Mapping[str, LevelFunction]:
        """Column ``sympathetic_tone`` (dimensionless)."""
        return {"sympathetic_tone": lambda lv: lv["sympathetic_tone"]}
