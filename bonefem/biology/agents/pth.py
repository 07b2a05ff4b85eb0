"""Endogenous PTH: baseline or continuous excess (hyperparathyroidism).

Level ``pth_production_excess`` (pM/day): (fold - 1) beta_PTH during the excess window,
beta_PTH of the run's cell parameter set (Pivonka et al. 2008, Table 1: 250 pM/day).
Effect term: P_PTH,d, added to the PTH production (continuous PTH is catabolic through
RANKL up and OPG down, Pivonka Eqs. (10)-(12)).

Output ``pth_pM``: the PTH concentration (beta_PTH + P_PTH,excess) / D_PTH plus the
pulse-averaged teriparatide exposure (pM; level ``teriparatide_pM`` of
:mod:`bonefem.biology.agents.teriparatide`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from bonefem.biology.agents._base import Agent, EffectTerms, LevelFunction, Levels, register

__all__ = ["PTHAgent"]


@register
class PTHAgent(Agent):
    """Continuous PTH excess (scenario field ``pth``)."""

    key = "pth"
    order = 30.0

    def excess(self, t: float) -> float:
        """Extra PTH production from continuous excess (pM/day) at t (days)."""
        p = self.scenario.pth
        if p.continuous_excess_fold > 1.0 and p.active(t):
            return (p.continuous_excess_fold - 1.0) * self.ctx.params.beta_PTH
        return 0.0

    def levels(self) -> Mapping[str, LevelFunction]:
        """``pth_production_excess`` (pM/day)."""
        return {"pth_production_excess": lambda lv: self.excess(lv.t)}

    def contribute(self, lv: Levels, terms: EffectTerms) -> None:
        """Extra PTH production."""
        terms.add("pth_production", lv["pth_production_excess"])

    def outputs(self) -> Mapping[str, LevelFunction]:
        """Column ``pth_pM``: endogenous plus pulse-averaged teriparatide (pM)."""
        p = self.ctx.params
        return {
            "pth_pM": lambda lv: (
                (p.beta_PTH + lv["pth_production_excess"]) / p.D_PTH + lv["teriparatide_pM"]
            )
        }

    def milestones(self) -> list[float]:
        """Start and end of the excess (days)."""
        p = self.scenario.pth
        if p.continuous_excess_fold > 1.0:
            return [x for x in (p.start_days, p.stop_days) if math.isfinite(x)]
        return []
