"""Teriparatide (PTH 1-34) s.c. injections: intermittent, anabolic PTH.

Level ``teriparatide_pM``: pulse-averaged concentration (AUC per dosing interval /
interval, pM) of the active courses (:class:`~bonefem.biology.drugs.TeriparatidePK`;
Martonova et al. 2023 after the Forteo label). ``teriparatide_exposure_h``: hours per
pulse above the endogenous PTH level beta_PTH/D_PTH (2.9 pM), the receptor-exposure
measure below (4.1 h for 20 µg).

Whether PTH builds or removes bone depends on how long the PTH1 receptor sees it each
day, not on the mean concentration (Frolik et al. 2003, Bone 33:372: in rats, the same
daily dose of hPTH(1-34) was anabolic when the serum level returned to baseline within
about 2 h and catabolic when it stayed raised for 6 h or more). The catabolic weight is
therefore (ASSUMPTION: linear between Frolik's two durations)::

    w_cat = clip((T_exp - 2 h) / (6 h - 2 h), 0, 1)

Effect terms (C = pulse-averaged concentration, pM):

* catabolic path: the PTH production rises by D_PTH * w_cat * C (pM/day), i.e. the
  RANKL/OPG response sees w_cat C, not C (continuous PTH excess is the w_cat = 1 limit,
  :mod:`bonefem.biology.agents.pth`);
* remodelling-based anabolic action of the pulses (weight 1 - w_cat): osteoblast
  recruitment (Dobnig & Turner 1995), D_OBu times 1 + ``PTH_PULSE_OBU_PER_PM`` C_w, and
  survival (Jilka et al. 1999, JCI 104:439), A_OBa divided by
  1 + ``PTH_PULSE_OBA_SURVIVAL_PER_PM`` C_w, with C_w = (1 - w_cat) C exp(-t_on / tau_w):
  the anabolic window closes on these terms as on the modelling-based formation below
  (formation markers peak after 6-12 months and decline on continued treatment, Yu et al.
  2011, Bone 48:713; Glover et al. 2009, Bone 45:1053; no new constant). ASSUMPTION, round
  a-priori sizes (no teriparatide BMD data may be fitted);
* modelling-based formation on quiescent surfaces, independent of resorption (Lindsay et
  al. 2006, J Bone Miner Res 21:366; Ma et al. 2006, J Bone Miner Res 21:855):
  F_mod = k_mod C_a exp(-t_on / tau_w) (mm/day per unit bone surface; t_on days since the
  course started, tau_w = ``ANABOLIC_WINDOW_DAYS``: the anabolic window), k_mod =
  ``CalibratedConstants.pth_modelling_formation`` (mm/(day*pM)), calibrated on a mechanistic
  datum, not a BMD endpoint: bone formation rate per bone surface in cancellous bone
  twice that of placebo after about 40 days of 20 µg/day (Cosman et al. 2016, J Clin
  Endocrinol Metab 101:1498, femoral-neck biopsies; docs/calibration.md).
"""

from __future__ import annotations

import math
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

__all__ = [
    "ANABOLIC_HOURS",
    "ANABOLIC_WINDOW_DAYS",
    "CATABOLIC_HOURS",
    "PTH_PULSE_OBA_SURVIVAL_PER_PM",
    "PTH_PULSE_OBU_PER_PM",
    "TeriparatideAgent",
    "catabolic_weight",
]

PTH_PULSE_OBU_PER_PM = 0.1
"""Relative D_OBu increase per pM of anabolic pulse exposure (1/pM, ASSUMPTION)."""
PTH_PULSE_OBA_SURVIVAL_PER_PM = 0.1
"""Relative A_OBa decrease (survival) per pM of anabolic pulse exposure (1/pM, ASSUMPTION)."""
ANABOLIC_HOURS = 2.0
"""Daily exposure up to which PTH is purely anabolic (hours; Frolik et al. 2003)."""
CATABOLIC_HOURS = 6.0
"""Daily exposure from which PTH is purely catabolic (hours; Frolik et al. 2003)."""
ANABOLIC_WINDOW_DAYS = 365.25
"""tau_w, time constant of the anabolic window: the waning of the modelling-based formation
and of the remodelling-based anabolic terms on continued treatment (days; ASSUMPTION:
formation markers peak within the first 6-12 months of teriparatide and decline on
continued treatment, Glover et al. 2009, Bone 45:1053; Yu et al. 2011, Bone 48:713)."""


def catabolic_weight(exposure_h: float) -> float:
    """w_cat (dimensionless) for a daily receptor exposure of ``exposure_h`` hours."""
    w = (exposure_h - ANABOLIC_HOURS) / (CATABOLIC_HOURS - ANABOLIC_HOURS)
    return min(1.0, max(0.0, w))


@register
class TeriparatideAgent(Agent):
    """Teriparatide courses (scenario field ``teriparatide``)."""

    key = "teriparatide"
    order = 100.0

    def __init__(self, scenario: ScenarioConfig, ctx: AgentContext) -> None:
        super().__init__(scenario, ctx)
        baseline = ctx.params.beta_PTH / ctx.params.D_PTH
        self.pk = []
        for w in scenario.teriparatide:
            pk = TeriparatidePK(dose_ug=w.dose_ug, interval_days=w.interval_days)
            exposure = pk.hours_above(baseline) / w.interval_days  # hours per day
            self.pk.append((w, pk, catabolic_weight(exposure)))

    def levels(self) -> Mapping[str, LevelFunction]:
        """``teriparatide_pM`` (pulse-averaged, pM) and its catabolic part (pM)."""
        return {
            "teriparatide_pM": lambda lv: sum(pk.mean_pm for w, pk, _ in self.pk if w.active(lv.t)),
            "teriparatide_catabolic_pM": lambda lv: sum(
                pk.mean_pm * wc for w, pk, wc in self.pk if w.active(lv.t)
            ),
            "teriparatide_anabolic_pM": lambda lv: sum(
                pk.mean_pm * (1.0 - wc) * math.exp(-(lv.t - w.start_days) / ANABOLIC_WINDOW_DAYS)
                for w, pk, wc in self.pk
                if w.active(lv.t)
            ),
        }

    def contribute(self, lv: Levels, terms: EffectTerms) -> None:
        """Catabolic PTH exposure; osteoblast recruitment, survival, modelling formation."""
        c_cat = lv["teriparatide_catabolic_pM"]
        # the anabolic exposure within its window, (1 - w_cat) C exp(-t_on / tau_w)
        c_win = lv["teriparatide_anabolic_pM"]
        terms.add("pth_production", self.ctx.params.D_PTH * c_cat)
        terms.scale("obu_factor", 1.0 + PTH_PULSE_OBU_PER_PM * c_win)
        terms.divide("oba_apoptosis_factor", 1.0 + PTH_PULSE_OBA_SURVIVAL_PER_PM * c_win)
        terms.add("modelling_formation", self.ctx.constants.pth_modelling_formation * c_win)
