"""Insulin resistance / adipokine imbalance.

Level ``insulin_resistance`` (0 none .. 1 severe, dimensionless), summed over the active
periods. Effects (sizes ASSUMPTIONS): low-grade inflammation, a cytokine-index term
``INSULIN_RESISTANCE_CYTOKINE`` x (:mod:`~bonefem.biology.agents.inflammation`), and
reduced osteoblastogenesis, D_OBu times 1 - ``INSULIN_RESISTANCE_OBU`` x.
"""

from __future__ import annotations

from collections.abc import Mapping

from bonefem.biology.agents._base import Agent, EffectTerms, LevelFunction, Levels, register

__all__ = ["INSULIN_RESISTANCE_CYTOKINE", "INSULIN_RESISTANCE_OBU", "MetabolicAgent"]

INSULIN_RESISTANCE_CYTOKINE = 0.5
"""Cytokine index at full insulin resistance (dimensionless, ASSUMPTION)."""
INSULIN_RESISTANCE_OBU = 0.2
"""Relative D_OBu reduction at full insulin resistance (dimensionless, ASSUMPTION)."""


@register
class MetabolicAgent(Agent):
    """Insulin-resistance periods (scenario field ``metabolic``)."""

    key = "metabolic"
    order = 60.0

    def levels(self) -> Mapping[str, LevelFunction]:
        """``insulin_resistance``."""
        return {
            "insulin_resistance": lambda lv: sum(
                w.insulin_resistance for w in self.scenario.metabolic if w.active(lv.t)
            )
        }

    def level_terms(self) -> Mapping[str, LevelFunction]:
        """Cytokine-index term of insulin resistance."""
        return {"cytokine_index": lambda lv: INSULIN_RESISTANCE_CYTOKINE * lv["insulin_resistance"]}

    def contribute(self, lv: Levels, terms: EffectTerms) -> None:
        """Fewer osteoblast precursors recruited."""
        terms.scale("obu_factor", 1.0 - INSULIN_RESISTANCE_OBU * lv["insulin_resistance"])

    def outputs(self) -> Mapping[str, LevelFunction]:
        """Column ``insulin_resistance`` (dimensionless)."""
        return {"insulin_resistance": lambda lv: lv["insulin_resistance"]}
