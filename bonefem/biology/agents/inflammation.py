"""Systemic inflammation (e.g. rheumatoid arthritis) and the cytokine index it shares.

Level ``cytokine_index`` c = TNF-alpha / IL-1 fold increase minus 1 (dimensionless): the
sum of the level terms of every agent (:meth:`~bonefem.biology.agents.Levels.sum_of`):
the episodes' ``cytokine_increase`` here, estrogen deficiency
(:mod:`~bonefem.biology.agents.estrogen`) and insulin resistance
(:mod:`~bonefem.biology.agents.metabolic`).

Effect terms: TNF-alpha potentiates RANKL-induced osteoclastogenesis (Lam et al. 2000, JCI
106:1481): D_OCp times 1 + ``OCP_PER_CYTOKINE`` c and the RANKL-RANK potency times
1 + ``RANK_SENSITIVITY_PER_CYTOKINE`` c (sizes ASSUMPTIONS).
"""

from __future__ import annotations

from collections.abc import Mapping

from bonefem.biology.agents._base import Agent, EffectTerms, LevelFunction, Levels, register

__all__ = ["OCP_PER_CYTOKINE", "RANK_SENSITIVITY_PER_CYTOKINE", "InflammationAgent"]

OCP_PER_CYTOKINE = 0.1
"""Relative D_OCp increase per unit cytokine index (dimensionless, ASSUMPTION)."""
RANK_SENSITIVITY_PER_CYTOKINE = 0.1
"""Relative RANKL potency increase per unit cytokine index (dimensionless, ASSUMPTION)."""


@register
class InflammationAgent(Agent):
    """Inflammatory episodes (scenario field ``inflammation``); owns the cytokine index."""

    key = "inflammation"
    order = 50.0

    def levels(self) -> Mapping[str, LevelFunction]:
        """``cytokine_index``: the sum of all agents' cytokine terms."""
        return {"cytokine_index": lambda lv: lv.sum_of("cytokine_index")}

    def level_terms(self) -> Mapping[str, LevelFunction]:
        """The active episodes' cytokine increase."""
        return {
            "cytokine_index": lambda lv: sum(
                w.cytokine_increase for w in self.scenario.inflammation if w.active(lv.t)
            )
        }

    def contribute(self, lv: Levels, terms: EffectTerms) -> None:
        """More osteoclastogenesis, sensitised precursors."""
        c = lv["cytokine_index"]
        terms.scale("ocp_factor", 1.0 + OCP_PER_CYTOKINE * c)
        terms.scale("rank_sensitivity", 1.0 + RANK_SENSITIVITY_PER_CYTOKINE * c)

    def outputs(self) -> Mapping[str, LevelFunction]:
        """Column ``cytokine_index`` (dimensionless)."""
        return {"cytokine_index": lambda lv: lv["cytokine_index"]}
