"""Bisphosphonates (oral alendronate, intravenous zoledronate): retention, OC apoptosis.

Levels ``alendronate_bound_mg`` and ``zoledronate_bound_mg``: drug bound to the skeleton
(:class:`~bonefem.biology.drugs.BisphosphonatePK`; alendronate: Gertz et al. 1995, Khan et
al. 1997; zoledronate: Chen et al. 2002); ``alendronate_available_mg`` and
``zoledronate_available_mg``: the part on resorbing surfaces, which osteoclasts take up
(:meth:`~bonefem.biology.drugs.BisphosphonatePK.available_mg`: the fast, surface-bound
phase plus the drug remodelling releases from the buried phase and surfaces bind again;
Roelofs et al. 2006, Russell et al. 2008). The buried drug is inert until remodelling
uncovers it: so a daily intake keeps the surfaces supplied, a yearly infusion's effect
wanes within the year, and after the last dose only the recycled drug acts (FLEX, Black et
al. 2006, JAMA 296:2927: after 5 years of alendronate, stopping raised CTX by 56 %
against continuing, still below the pretreatment level; docs/calibration.md). Until
December 2026 the effect followed the whole bound amount, which saturated for decades
after a few years of treatment: stopping changed nothing.

The action is added in alendronate-equivalent mg, b = b_ALN + p_ZOL b_ZOL (available
amounts), p_ZOL = ``CalibratedConstants.zoledronate_potency`` (dimensionless), fitted to
the HORIZON-PFT biopsies (Ac.f 63 % below placebo at month 36, a year after the third
yearly infusion; Recker et al. 2008, J Bone Miner Res 23:6;
:func:`bonefem.biology.calibration_mechanistic.fit_zoledronate`). Zoledronate inhibits the
osteoclast's farnesyl pyrophosphate synthase at an about 15-fold lower concentration
(Dunford et al. 2001, J Pharmacol Exp Ther 296:235); the fitted p_ZOL is lower (about
0.24): with the in-vitro ratio the infusions suppressed Ac.f deeper than daily
alendronate, where HORIZON's biopsies show less (ASSUMPTION: the fitted factor lumps the
drugs' differences of binding and release, which the shared PK law does not have).
Effect terms: osteoclast apoptosis (Hughes et al. 1995, JBMR 10:1478), saturating in the
available amount (Calvo-Gallego et al. 2022, Front Bioeng Biotechnol 10:940620: the effect
saturates within weeks): with occupancy b / (b + ``BP_HALF_MG``), A_OCa times 1 + E_max
occupancy, and the resorption per osteoclast times 1 - ``BP_RESORPTION`` occupancy (off: a
lower resorption per osteoclast without a matching lower TGF-beta release lets the
coupled formation outrun resorption without bound, the mechanical disuse term then
raising turnover further).

E_max = ``CalibratedConstants.bisphosphonate_oca_apoptosis_max`` (dimensionless) is
calibrated on histomorphometry, a mechanistic datum: cancellous activation frequency 87 %
below placebo after 2 years of alendronate 10 mg/day (Chavassieux et al. 1997, J Clin
Invest 100:1475), :func:`bonefem.biology.calibration_mechanistic.fit_bisphosphonate`.
It is large (about 400) because the model's osteoclast apoptosis is driven by the TGF-beta
that resorption itself releases: fewer osteoclasts release less TGF-beta and die more
slowly, so OCa falls far less than in proportion; and because the available amount under
10 mg/day (about 0.7 mg) leaves the occupancy near 0.6. The half-saturation
``BP_HALF_MG`` stays an ASSUMPTION.

Milestones: intakes at least 28 days apart (daily or weekly intakes are smooth at the
1-10 day step scale; a yearly infusion is a milestone).
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
from bonefem.biology.drugs import BISPHOSPHONATE_PK, BisphosphonatePK, dose_times
from bonefem.config.scenario import ScenarioConfig

__all__ = [
    "BP_HALF_MG",
    "BP_RESORPTION",
    "ZOLEDRONATE_POTENCY_IN_VITRO",
    "BisphosphonateAgent",
]

BP_HALF_MG = 0.5
"""Bone-bound alendronate for half-maximal effect (mg, ASSUMPTION)."""
BP_RESORPTION = 0.0
"""Relative reduction of the resorption per osteoclast at saturation (off, see module)."""
ZOLEDRONATE_POTENCY_IN_VITRO = 15.0
"""Ratio of the FPPS-inhibiting concentrations, alendronate over zoledronate (dimensionless;
Dunford 2001); bonefem used it as the potency of bound zoledronate until December 2026.
Not used: the potency is ``CalibratedConstants.zoledronate_potency``."""


@register
class BisphosphonateAgent(Agent):
    """Bisphosphonate courses (scenario field ``bisphosphonate``)."""

    key = "bisphosphonate"
    order = 90.0

    def __init__(self, scenario: ScenarioConfig, ctx: AgentContext) -> None:
        super().__init__(scenario, ctx)
        self.pk = [
            (
                b.drug,
                BisphosphonatePK(
                    dose_times(b.start_days, b.stop_days, b.interval),
                    b.dose,
                    BISPHOSPHONATE_PK[b.drug],
                ),
            )
            for b in scenario.bisphosphonate
        ]

    def _bound(self, drug: str, t: float) -> float:
        return sum(pk.bound_mg(t) for d, pk in self.pk if d == drug)

    def _available(self, drug: str, t: float) -> float:
        return sum(pk.available_mg(t) for d, pk in self.pk if d == drug)

    def levels(self) -> Mapping[str, LevelFunction]:
        """Bound (``*_bound_mg``) and surface-available (``*_available_mg``) drug (mg)."""
        return {
            "alendronate_bound_mg": lambda lv: self._bound("alendronate", lv.t),
            "zoledronate_bound_mg": lambda lv: self._bound("zoledronate", lv.t),
            "alendronate_available_mg": lambda lv: self._available("alendronate", lv.t),
            "zoledronate_available_mg": lambda lv: self._available("zoledronate", lv.t),
        }

    def contribute(self, lv: Levels, terms: EffectTerms) -> None:
        """Osteoclast apoptosis (and resorption per osteoclast, off)."""
        potency = self.ctx.constants.zoledronate_potency
        b = lv["alendronate_available_mg"] + potency * lv["zoledronate_available_mg"]
        occupancy = b / (b + BP_HALF_MG)
        e_max = self.ctx.constants.bisphosphonate_oca_apoptosis_max
        terms.scale("oca_apoptosis_factor", 1.0 + e_max * occupancy)
        terms.scale("resorption_factor", 1.0 - BP_RESORPTION * occupancy)

    def outputs(self) -> Mapping[str, LevelFunction]:
        """Columns ``alendronate_bound_mg`` and ``zoledronate_bound_mg`` (mg)."""
        return {
            "alendronate_bound_mg": lambda lv: lv["alendronate_bound_mg"],
            "zoledronate_bound_mg": lambda lv: lv["zoledronate_bound_mg"],
        }

    def milestones(self) -> list[float]:
        """Intake times of courses with intakes at least 28 days apart (days)."""
        return [
            x
            for w, (_, pk) in zip(self.scenario.bisphosphonate, self.pk, strict=True)
            if w.interval >= 28.0
            for x in pk.times_days.tolist()
        ]
