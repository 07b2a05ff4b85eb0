"""Estrogen: ovarian estrogen (natural or surgical menopause) and menopausal hormone therapy.

Levels (dimensionless, 1 = premenopausal reference):

* ``ovarian_estrogen``: natural menopause, a logistic fall around the final menstrual
  period (FMP) of width ``transition_days`` (default 200 days: in SWAN's hormone data the
  mean E2 did not change until 2.03 y before the FMP and was stable from 2.17 y after it,
  Randolph et al. 2011, JCEM 96:746; the logistic has done 2.4 % of its fall 2.03 y before
  and has 1.9 % to go 2.17 y after at 200 d; 300 d before December 2026, an a-priori width
  with 8 % of the fall outside the change points) to ``postmenopausal_level``; surgical
  menopause, an exponential fall with ``surgical_time_constant_days``.
* ``hrt_estrogen``: estrogen-equivalent level added by HRT (default calibrated to WHI
  CEE 0.625 mg + MPA, :attr:`~bonefem.biology.calibrated.CalibratedConstants.hrt_estrogen_level`).
* ``estrogen``: women, ovarian + HRT; men, bioavailable estradiol from aromatised
  testosterone, the main skeletal sex steroid of men (Finkelstein et al. 2013, NEJM
  369:1011; Khosla et al. 1998, JCEM 83:2266): E = 1 - ``BIO_E2_PER_BIO_T`` (1 - T), i.e.
  bioavailable E2 falls 0.73 times as fast as bioavailable T (Khosla 1998: -47 % and
  -64 % from age 25 to 85 in men; normalised so T = 1 gives 1).
* ``estrogen_attenuation``: 1 / (1 + max(0, t - t_m) / tau_a), tau_a calibrated
  (ASSUMPTION: skeletal adaptation to estrogen deficiency; cf. the decaying PMO term of
  Martínez-Reina et al. 2019). The adaptation is the skeleton's, so men's deficiency
  adapts with the same kernel k(a) = 1 / (1 + a / tau_a), applied to every increment of
  a deficiency that grows as testosterone declines: for the andropause's linear decline
  (onset t_0, floor reached after u_f) the attenuated deficiency is the convolution of k
  with the deficiency's growth, written as a factor on the current deficiency,
  :func:`linear_decline_attenuation` (December 2026; men's drive was unattenuated
  before, and men of 65-89 lost 1.3-2.3 times the women's rate in 0-D, where MrOS and
  SOF find men losing less than women: calibration.md, "Men's deficiency adapts too").
* ``estrogen_deficiency``: d = max(0, 1 - estrogen) * attenuation (0 = premenopausal,
  1 = no estrogen) -- the one definition every deficiency term uses.

Effect terms: extra RANKL production ``rankl_estrogen * d`` (pM/day, calibrated on SWAN);
OPG production lowered by ``OPG_PER_DEFICIENCY * d`` (Hofbauer et al. 1999, Endocrinology
140:4367); osteoclast lifespan prolonged, A_OCa lowered by ``OC_LIFESPAN_PER_DEFICIENCY * d``
(Nakamura et al. 2007, Cell 130:811); T-cell TNF-alpha / IL-1 raised, a cytokine-index
term ``CYTOKINE_PER_DEFICIENCY * d`` (Pacifici 1996, JBMR 11:1043; Weitzmann & Pacifici
2006, JCI 116:1186). The sizes are ASSUMPTIONS (no quantitative human data settle them).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from bonefem.biology.agents._base import Agent, EffectTerms, LevelFunction, Levels, register
from bonefem.biology.agents.testosterone import days_to_floor

__all__ = [
    "BIO_E2_PER_BIO_T",
    "CYTOKINE_PER_DEFICIENCY",
    "OC_LIFESPAN_PER_DEFICIENCY",
    "OPG_PER_DEFICIENCY",
    "EstrogenAgent",
    "linear_decline_attenuation",
]

BIO_E2_PER_BIO_T = 0.47 / 0.64
"""Relative fall of bioavailable E2 per relative fall of bioavailable T in men
(dimensionless; Khosla et al. 1998, JCEM 83:2266)."""
OPG_PER_DEFICIENCY = 0.2
"""Relative OPG production loss at d = 1 (dimensionless, ASSUMPTION)."""
OC_LIFESPAN_PER_DEFICIENCY = 0.2
"""Relative A_OCa reduction at d = 1 (dimensionless, ASSUMPTION)."""
CYTOKINE_PER_DEFICIENCY = 1.0
"""TNF/IL-1 fold increase minus 1 at d = 1 (dimensionless, ASSUMPTION: about 2x)."""


def _logistic(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def linear_decline_attenuation(u: float, u_floor: float, tau: float) -> float:
    """Attenuation factor (dimensionless) of a deficiency that grew linearly, then held.

    The deficiency D grows at a constant rate from u = 0 until u = ``u_floor`` (days) and
    stays constant after; each increment dD, made at time s, drives with the adaptation
    kernel k(u - s) = 1 / (1 + (u - s) / tau) (``tau`` in days, the women's
    ``estrogen_adaptation_days``). The attenuated drive is the convolution
    integral_0^min(u, u_f) k(u - s) dD(s); returned as a factor on D(u):

    * u <= u_f: (tau / u) ln(1 + u / tau);
    * u > u_f: (tau / u_f) [ln(1 + u / tau) - ln(1 + (u - u_f) / tau)];

    1 at u <= 0 or tau = inf. As u_f -> 0 (a step) it is the women's 1 / (1 + u / tau).
    """
    if u <= 0.0 or not math.isfinite(tau):
        return 1.0
    if u <= u_floor:
        return tau / u * math.log1p(u / tau)
    return tau / u_floor * (math.log1p(u / tau) - math.log1p((u - u_floor) / tau))


@register
class EstrogenAgent(Agent):
    """Ovarian estrogen and HRT (scenario fields ``estrogen`` and ``hrt``)."""

    key = "estrogen"
    order = 10.0

    def ovarian(self, t: float) -> float:
        """Ovarian estrogen level (dimensionless) at t (days)."""
        e = self.scenario.estrogen
        post = e.postmenopausal_level
        if e.menopause == "natural":
            return post + (1.0 - post) * _logistic(-(t - e.menopause_time_days) / e.transition_days)
        if e.menopause == "surgical":
            if t < e.menopause_time_days:
                return 1.0
            return post + (1.0 - post) * math.exp(
                -(t - e.menopause_time_days) / e.surgical_time_constant_days
            )
        return 1.0

    def hrt(self, t: float) -> float:
        """Estrogen-equivalent level added by HRT (dimensionless) at t (days)."""
        for w in self.scenario.hrt:
            if w.active(t):
                lvl = w.estrogen_level
                return self.ctx.constants.hrt_estrogen_level if lvl is None else lvl
        return 0.0

    def attenuation(self, t: float) -> float:
        """Attenuation of the deficiency drive (dimensionless) at t (days).

        Women: with time since menopause, 1 / (1 + (t - t_m) / tau_a). Men with andropause:
        the same kernel over the testosterone decline (:func:`linear_decline_attenuation`;
        the decline's floor time from :func:`~bonefem.biology.agents.testosterone.days_to_floor`).
        """
        tau = self.ctx.constants.estrogen_adaptation_days
        s = self.scenario
        if s.sex == "male":
            tt = s.testosterone
            if not tt.andropause or tt.decline_per_year <= 0.0:
                return 1.0
            return linear_decline_attenuation(t - tt.onset_days, days_to_floor(tt), tau)
        e = s.estrogen
        if e.menopause == "none" or not math.isfinite(tau):
            return 1.0
        return 1.0 / (1.0 + max(0.0, t - e.menopause_time_days) / tau)

    def _estrogen(self, lv: Levels) -> float:
        if self.scenario.sex == "male":
            return 1.0 - BIO_E2_PER_BIO_T * (1.0 - lv["testosterone"])
        return lv["ovarian_estrogen"] + lv["hrt_estrogen"]

    def levels(self) -> Mapping[str, LevelFunction]:
        """ovarian_estrogen, hrt_estrogen, estrogen, estrogen_attenuation, _deficiency."""
        return {
            "ovarian_estrogen": lambda lv: self.ovarian(lv.t),
            "hrt_estrogen": lambda lv: self.hrt(lv.t),
            "estrogen": self._estrogen,
            "estrogen_attenuation": lambda lv: self.attenuation(lv.t),
            "estrogen_deficiency": lambda lv: (
                max(0.0, 1.0 - lv["estrogen"]) * lv["estrogen_attenuation"]
            ),
        }

    def level_terms(self) -> Mapping[str, LevelFunction]:
        """Cytokine-index term of estrogen deficiency."""
        return {"cytokine_index": lambda lv: CYTOKINE_PER_DEFICIENCY * lv["estrogen_deficiency"]}

    def contribute(self, lv: Levels, terms: EffectTerms) -> None:
        """RANKL production up, OPG production down, osteoclast lifespan up."""
        d = lv["estrogen_deficiency"]
        terms.add("rankl_production", self.ctx.constants.rankl_estrogen * d)
        terms.scale("opg_factor", 1.0 - OPG_PER_DEFICIENCY * d)
        terms.scale("oca_apoptosis_factor", 1.0 - OC_LIFESPAN_PER_DEFICIENCY * d)

    def outputs(self) -> Mapping[str, LevelFunction]:
        """Column ``estrogen`` (dimensionless)."""
        return {"estrogen": lambda lv: lv["estrogen"]}

    def milestones(self) -> list[float]:
        """The time of a surgical menopause (days)."""
        e = self.scenario.estrogen
        return [e.menopause_time_days] if e.menopause == "surgical" else []
