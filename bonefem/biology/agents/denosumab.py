"""Denosumab: s.c. injections, serum PK and RANKL neutralisation.

Level ``denosumab_pM``: serum concentration of all doses superposed
(:class:`~bonefem.biology.drugs.DenosumabPK`, Martínez-Reina & Pivonka 2019, Bone 125:87,
Eq. (21), Table 3). Effect term: an extra binding term of RANKL, ``rankl_decoy`` =
chi K_den C_den (dimensionless), with K_den = ``K_DENOSUMAB_PER_PM`` (Martínez-Reina 2019,
Table 3) and chi, the fraction reaching RANKL in bone, calibrated on FREEDOM
(:attr:`~bonefem.biology.calibrated.CalibratedConstants.denosumab_accessibility`).
Milestones: every injection (absorption restarts).
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
from bonefem.biology.drugs import DenosumabPK, dose_times
from bonefem.config.scenario import ScenarioConfig

__all__ = ["K_DENOSUMAB_PER_PM", "DenosumabAgent"]

K_DENOSUMAB_PER_PM = 0.333
"""Binding constant of denosumab to RANKL (1/pM; Martínez-Reina 2019, Table 3)."""


@register
class DenosumabAgent(Agent):
    """Denosumab courses (scenario field ``denosumab``)."""

    key = "denosumab"
    order = 80.0

    def __init__(self, scenario: ScenarioConfig, ctx: AgentContext) -> None:
        super().__init__(scenario, ctx)
        self.pk = [
            DenosumabPK(
                dose_times(d.start_days, d.stop_days, d.interval_days), d.dose_mg, d.body_mass_kg
            )
            for d in scenario.denosumab
        ]

    def levels(self) -> Mapping[str, LevelFunction]:
        """``denosumab_pM`` (serum concentration, pM)."""
        return {"denosumab_pM": lambda lv: sum(pk.concentration_pm(lv.t) for pk in self.pk)}

    def contribute(self, lv: Levels, terms: EffectTerms) -> None:
        """RANKL decoy binding."""
        chi = self.ctx.constants.denosumab_accessibility
        terms.add("rankl_decoy", chi * K_DENOSUMAB_PER_PM * lv["denosumab_pM"])

    def outputs(self) -> Mapping[str, LevelFunction]:
        """Column ``denosumab_ng_per_mL`` (serum concentration)."""
        return {
            "denosumab_ng_per_mL": lambda lv: sum(pk.concentration_ng_ml(lv.t) for pk in self.pk)
        }

    def milestones(self) -> list[float]:
        """Injection times (days)."""
        return [x for pk in self.pk for x in pk.times_days.tolist()]
