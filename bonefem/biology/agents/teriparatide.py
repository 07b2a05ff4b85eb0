"""Teriparatide (PTH 1-34) s.c. injections: intermittent, anabolic PTH.

Level ``teriparatide_pM``: pulse-averaged concentration (AUC per dosing interval /
interval, pM) of the active courses (:class:`~bonefem.biology.drugs.TeriparatidePK`;
Martonova et al. 2023 after the Forteo label). Effect terms: the exposure adds
D_PTH * C to the PTH production (pM/day, so the PTH concentration rises by C), and the
pulses act anabolically on osteoblast recruitment (Dobnig & Turner 1995), D_OBu times
1 + ``PTH_PULSE_OBU_PER_PM`` C, and on osteoblast survival (Jilka et al. 1999, JCI
104:439), A_OBa divided by 1 + ``PTH_PULSE_OBA_SURVIVAL_PER_PM`` C. Not calibrated (no
teriparatide data may be used): ASSUMPTION, round a-priori sizes (+25 % recruitment and
survival at the 20 µg/day exposure of 2.5 pM). The response is strongly nonlinear in them:
0.5 / 0.2 per pM give implausible gains (> 50 %/y), so keep them small unless calibrated
on formation data.
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
from bonefem.biology.drugs import TeriparatidePK
from bonefem.config.scenario import ScenarioConfig

__all__ = ["PTH_PULSE_OBA_SURVIVAL_PER_PM", "PTH_PULSE_OBU_PER_PM", "TeriparatideAgent"]

PTH_PULSE_OBU_PER_PM = 0.1
"""Relative D_OBu increase per pM of pulse-averaged PTH (1/pM, ASSUMPTION)."""
PTH_PULSE_OBA_SURVIVAL_PER_PM = 0.1
"""Relative A_OBa decrease (survival) per pM of pulse-averaged PTH (1/pM, ASSUMPTION)."""


@register
class TeriparatideAgent(Agent):
    """Teriparatide courses (scenario field ``teriparatide``)."""

    key = "teriparatide"
    order = 100.0

    def __init__(self, scenario: ScenarioConfig, ctx: AgentContext) -> None:
        super().__init__(scenario, ctx)
        self.pk = [
            (w, TeriparatidePK(dose_ug=w.dose_ug, interval_days=w.interval_days))
            for w in scenario.teriparatide
        ]

    def levels(self) -> Mapping[str, LevelFunction]:
        """``teriparatide_pM`` (pulse-averaged, pM)."""
        return {
            "teriparatide_pM": lambda lv: sum(pk.mean_pm for w, pk in self.pk if w.active(lv.t))
        }

    def contribute(self, lv: Levels, terms: EffectTerms) -> None:
        """PTH exposure, osteoblast recruitment and survival."""
        c = lv["teriparatide_pM"]
        terms.add("pth_production", self.ctx.params.D_PTH * c)
        terms.scale("obu_factor", 1.0 + PTH_PULSE_OBU_PER_PM * c)
        terms.divide("oba_apoptosis_factor", 1.0 + PTH_PULSE_OBA_SURVIVAL_PER_PM * c)
