"""Bisphosphonate (oral alendronate): skeletal retention and osteoclast apoptosis.

Level ``alendronate_bound_mg``: drug bound to the skeleton
(:class:`~bonefem.biology.drugs.BisphosphonatePK`; Gertz et al. 1995, Khan et al. 1997).
Effect terms: osteoclast apoptosis (Hughes et al. 1995, JBMR 10:1478), saturating in the
bound amount (Calvo-Gallego et al. 2022, Front Bioeng Biotechnol 10:940620: the effect
saturates within weeks): with occupancy b / (b + ``BP_HALF_MG``), A_OCa times
1 + ``BP_EMAX`` occupancy, and the resorption per osteoclast times 1 - ``BP_RESORPTION``
occupancy (off: a lower resorption per osteoclast without a matching lower TGF-beta
release lets the coupled formation outrun resorption without bound, the mechanical disuse
term then raising turnover further). Sizes are ASSUMPTIONS. Milestones: intakes at least
28 days apart (daily or weekly intakes are smooth at the 1-10 day step scale).
"""

from __future__ import annotations

from collections.abc import Mapping

from bonefem.biology.agents._base import (
    Agent,
    AgentContext,
    EffectTerms,
    LevelFunction,
    Levels,
    register,
)
from bonefem.biology.drugs import BisphosphonatePK, dose_times
from bonefem.config.scenario import ScenarioConfig

__all__ = ["BP_EMAX", "BP_HALF_MG", "BP_RESORPTION", "BisphosphonateAgent"]

BP_EMAX = 3.0
"""Maximal relative increase of A_OCa (dimensionless, ASSUMPTION)."""
BP_HALF_MG = 0.5
"""Bone-bound alendronate for half-maximal effect (mg, ASSUMPTION)."""
BP_RESORPTION = 0.0
"""Relative reduction of the resorption per osteoclast at saturation (off, see module)."""


@register
class BisphosphonateAgent(Agent):
    """Bisphosphonate courses (scenario field ``bisphosphonate``)."""

    key = "bisphosphonate"
    order = 90.0

    def __init__(self, scenario: ScenarioConfig, ctx: AgentContext) -> None:
        super().__init__(scenario, ctx)
        self.pk = [
            BisphosphonatePK(dose_times(b.start_days, b.stop_days, b.interval_days), b.dose_mg)
            for b in scenario.bisphosphonate
        ]

    def levels(self) -> Mapping[str, LevelFunction]:
        """``alendronate_bound_mg`` (mg)."""
        return {"alendronate_bound_mg": lambda lv: sum(pk.bound_mg(lv.t) for pk in self.pk)}

    def contribute(self, lv: Levels, terms: EffectTerms) -> None:
        """Osteoclast apoptosis (and resorption per osteoclast, off)."""
        b = lv["alendronate_bound_mg"]
        occupancy = b / (b + BP_HALF_MG)
        terms.scale("oca_apoptosis_factor", 1.0 + BP_EMAX * occupancy)
        terms.scale("resorption_factor", 1.0 - BP_RESORPTION * occupancy)

    def outputs(self) -> Mapping[str, LevelFunction]:
        """Column ``alendronate_bound_mg`` (mg)."""
        return {"alendronate_bound_mg": lambda lv: lv["alendronate_bound_mg"]}

    def milestones(self) -> list[float]:
        """Intake times of courses with intakes at least 28 days apart (days)."""
        return [
            x
            for w, pk in zip(self.scenario.bisphosphonate, self.pk, strict=True)
            if w.interval_days >= 28.0
            for x in pk.times_days.tolist()
        ]
