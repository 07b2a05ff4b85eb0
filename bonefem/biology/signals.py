"""Systemic signals: hormones, cytokines and therapies as functions of time.

A scenario is described by :class:`ScenarioConfig` (pydantic v2, every field with unit,
range and default; unknown keys rejected). :func:`build_signals` turns it into a
:class:`ScenarioSignals` object, whose ``effects(t)`` gives the values of the named model
terms (:class:`~bonefem.biology.effects.Effects`) at time t (days from the start of the
simulation) and whose ``milestones(t_end)`` lists the times steps must not skip.

Hormone levels are dimensionless, relative to the young-adult reference of the person's
sex (1 = reference). How each signal acts on the cell model (mapping table of
``shared/science/models.md`` Sect. 4), with sources and assumptions, is in
``docs/model-biology.md``; the coefficients are the module constants below and the
calibrated constants of :mod:`bonefem.biology.calibrated`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from bonefem.biology.calibrated import CALIBRATED, CalibratedConstants
from bonefem.biology.drugs import BisphosphonatePK, DenosumabPK, TeriparatidePK, dose_times
from bonefem.biology.effects import Effects, merge_milestones
from bonefem.biology.parameters import SCHEINER_2013
from bonefem.config.scenario import (
    BisphosphonateConfig,
    DenosumabConfig,
    EstrogenConfig,
    GlucocorticoidConfig,
    HRTConfig,
    InflammationConfig,
    MetabolicConfig,
    PTHConfig,
    ScenarioConfig,
    SympatheticConfig,
    TeriparatideConfig,
    TestosteroneConfig,
    TRTConfig,
)

__all__ = [
    "BisphosphonateConfig",
    "DenosumabConfig",
    "EstrogenConfig",
    "GlucocorticoidConfig",
    "HRTConfig",
    "InflammationConfig",
    "MetabolicConfig",
    "PTHConfig",
    "ScenarioConfig",
    "ScenarioSignals",
    "SympatheticConfig",
    "TRTConfig",
    "TeriparatideConfig",
    "TestosteroneConfig",
    "build_signals",
]

# --------------------------------------------------------------------------- coefficients
# Estrogen deficiency d = 1 - E_eff (0 = premenopausal, 1 = no estrogen). Besides the
# calibrated RANKL production, estrogen loss lowers OPG (Hofbauer et al. 1999,
# Endocrinology 140:4367), prolongs osteoclast life (Nakamura et al. 2007, Cell 130:811)
# and raises T-cell TNF-alpha / IL-1 (Pacifici 1996 JBMR 11:1043; Weitzmann & Pacifici
# 2006 JCI 116:1186). The sizes are ASSUMPTIONS (no quantitative human data settle them).
OPG_PER_DEFICIENCY = 0.2  # relative OPG production loss at d = 1 (ASSUMPTION)
OC_LIFESPAN_PER_DEFICIENCY = 0.2  # relative A_OCa reduction at d = 1 (ASSUMPTION)
CYTOKINE_PER_DEFICIENCY = 1.0  # TNF/IL-1 fold increase minus 1 at d = 1 (ASSUMPTION, ~2x)
# Cytokine index c (fold increase of TNF-alpha / IL-1 minus 1) acts on osteoclastogenesis
# (Lam et al. 2000 JCI 106:1481: TNF-alpha potentiates RANKL) -- ASSUMPTION sizes:
OCP_PER_CYTOKINE = 0.1  # relative D_OCp increase per unit c
RANK_SENSITIVITY_PER_CYTOKINE = 0.1  # relative RANKL potency increase per unit c
# Androgens stimulate osteoblast differentiation (Manolagas et al. 2013, Nat Rev Endocrinol
# 9:699); their bone-protective action in men is largely via aromatisation to estrogen
# (Finkelstein et al. 2013, NEJM 369:1011). ASSUMPTION size:
OBP_PER_TESTOSTERONE = 0.2  # relative D_OBp change per unit change of T
# Glucocorticoids (Weinstein et al. 1998, JCI 102:274: osteoblast apoptosis; Hofbauer et
# al. 1999: RANKL up, OPG down). Strength s = dose / (dose + GC_HALF_DOSE):
GC_HALF_DOSE_MG = 7.5  # prednisolone-equivalent mg/day for half-maximal effect (ASSUMPTION)
GC_OBP = 0.5  # relative D_OBp reduction at s = 1 (ASSUMPTION)
GC_OBA_APOPTOSIS = 1.0  # relative A_OBa increase at s = 1 (ASSUMPTION)
GC_OPG = 0.3  # relative OPG production reduction at s = 1 (ASSUMPTION)
GC_RANKL_FRACTION = 0.1  # RANKL production at s = 1, as fraction of rankl_estrogen (ASSUMPTION)
# Sympathetic tone (Elefteriou et al. 2005, Nature 434:514: beta2-adrenergic RANKL up):
SYMPATHETIC_RANKL_FRACTION = 0.1  # per unit tone above reference, of rankl_estrogen (ASSUMPTION)
# Insulin resistance / adipokines: low-grade inflammation and reduced osteoblastogenesis
INSULIN_RESISTANCE_CYTOKINE = 0.5  # cytokine index at full insulin resistance (ASSUMPTION)
INSULIN_RESISTANCE_OBU = 0.2  # relative D_OBu reduction at full insulin resistance (ASSUMPTION)
# Intermittent PTH (teriparatide): anabolic action of the pulses on osteoblast
# recruitment (Dobnig & Turner 1995) and osteoblast survival (Jilka et al. 1999, JCI
# 104:439), per pM of pulse-averaged exposure. Not calibrated (no teriparatide data may be
# used): ASSUMPTION, round a-priori sizes (+25 % recruitment and survival at the 20 µg/day
# exposure of 2.5 pM). The response is strongly nonlinear in them: 0.5 / 0.2 per pM gives
# implausible gains (>50 %/y), so keep them small unless calibrated on formation data.
PTH_PULSE_OBU_PER_PM = 0.1  # relative D_OBu increase per pM of pulse-averaged PTH
PTH_PULSE_OBA_SURVIVAL_PER_PM = 0.1  # relative A_OBa decrease per pM
# Bisphosphonate PD: osteoclast apoptosis (Hughes et al. 1995, JBMR 10:1478), saturating in
# the bone-bound amount (Calvo-Gallego et al. 2022, Front Bioeng Biotechnol 10:940620: the
# effect saturates within weeks). ASSUMPTION sizes:
BP_EMAX = 3.0  # maximal relative increase of A_OCa
BP_HALF_MG = 0.5  # bone-bound alendronate for half-maximal effect (mg)
BP_RESORPTION = 0.0  # relative reduction of resorption per osteoclast (off, see note)
# Note: a lower resorption per osteoclast without a matching lower TGF-beta release lets the
# coupled formation outrun resorption without bound (the mechanical disuse term then raises
# turnover further), so bisphosphonates act through osteoclast apoptosis only.
# Denosumab binding constant to RANKL (Martínez-Reina 2019, Table 3)
K_DENOSUMAB_PER_PM = 0.333


# --------------------------------------------------------------------------- signals
def _logistic(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


@dataclass
class ScenarioSignals:
    """Time-dependent systemic signals of one scenario (see :func:`build_signals`).

    Attributes:
        config: the scenario.
        constants: calibrated constants in use.
    """

    config: ScenarioConfig
    constants: CalibratedConstants = CALIBRATED

    def __post_init__(self) -> None:
        c = self.config
        self._den = [
            DenosumabPK(
                dose_times(d.start_days, d.stop_days, d.interval_days), d.dose_mg, d.body_mass_kg
            )
            for d in c.denosumab
        ]
        self._bp = [
            BisphosphonatePK(dose_times(b.start_days, b.stop_days, b.interval_days), b.dose_mg)
            for b in c.bisphosphonate
        ]
        self._tpt = [
            (w, TeriparatidePK(dose_ug=w.dose_ug, interval_days=w.interval_days))
            for w in c.teriparatide
        ]

    # ---- hormones (dimensionless, 1 = young-adult reference)
    def ovarian_estrogen(self, t: float) -> float:
        """Ovarian estrogen level (dimensionless) at t (days)."""
        e = self.config.estrogen
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

    def testosterone(self, t: float) -> float:
        """Testosterone level (dimensionless) at t (days), TRT included."""
        c = self.config
        if c.sex == "female":
            return 1.0
        for w in c.trt:
            if w.active(t):
                return w.testosterone_level
        tt = c.testosterone
        if not tt.andropause or t < tt.onset_days:
            return 1.0
        return max(tt.floor, 1.0 - tt.decline_per_year * (t - tt.onset_days) / 365.25)

    def hrt_level(self, t: float) -> float:
        """Estrogen-equivalent level added by HRT (dimensionless) at t (days)."""
        for w in self.config.hrt:
            if w.active(t):
                lvl = w.estrogen_level
                return self.constants.hrt_estrogen_level if lvl is None else lvl
        return 0.0

    def estrogen(self, t: float) -> float:
        """Effective estrogen level (dimensionless) at t (days).

        Women: ovarian estrogen plus HRT. Men: estrogen from aromatisation of
        testosterone, proportional to T (ASSUMPTION: normalised so T = 1 gives 1).
        """
        if self.config.sex == "male":
            return self.testosterone(t)
        return self.ovarian_estrogen(t) + self.hrt_level(t)

    def deficiency_attenuation(self, t: float) -> float:
        """Attenuation of the estrogen-deficiency drive with time since menopause (-).

        1 / (1 + max(0, t - t_m) / tau_a), tau_a calibrated (ASSUMPTION: skeletal adaptation
        to estrogen deficiency; cf. the decaying PMO term of Martínez-Reina et al. 2019).
        """
        tau = self.constants.estrogen_adaptation_days
        e = self.config.estrogen
        if e.menopause == "none" or not math.isfinite(tau):
            return 1.0
        return 1.0 / (1.0 + max(0.0, t - e.menopause_time_days) / tau)

    def pth_production(self, t: float) -> float:
        """Extra PTH production from continuous excess (pM/day) at t (days)."""
        p = self.config.pth
        if p.continuous_excess_fold > 1.0 and p.start_days <= t < p.stop_days:
            return (p.continuous_excess_fold - 1.0) * SCHEINER_2013.beta_PTH
        return 0.0

    def teriparatide_mean_pm(self, t: float) -> float:
        """Pulse-averaged teriparatide concentration (pM) at t (days)."""
        return sum(pk.mean_pm for w, pk in self._tpt if w.active(t))

    def glucocorticoid_strength(self, t: float) -> float:
        """Glucocorticoid effect strength s = dose/(dose + 7.5 mg) (dimensionless)."""
        dose = sum(w.dose_mg_per_day for w in self.config.glucocorticoid if w.active(t))
        return dose / (dose + GC_HALF_DOSE_MG)

    def insulin_resistance(self, t: float) -> float:
        """Insulin-resistance index (dimensionless, 0..1) at t (days)."""
        return sum(w.insulin_resistance for w in self.config.metabolic if w.active(t))

    def cytokines(self, t: float) -> float:
        """Cytokine index c = TNF-alpha/IL-1 fold increase minus 1 (dimensionless)."""
        d = max(0.0, 1.0 - self.estrogen(t)) * self.deficiency_attenuation(t)
        c = CYTOKINE_PER_DEFICIENCY * d
        c += sum(w.cytokine_increase for w in self.config.inflammation if w.active(t))
        return c + INSULIN_RESISTANCE_CYTOKINE * self.insulin_resistance(t)

    def sympathetic_tone(self, t: float) -> float:
        """Sympathetic tone relative to reference (dimensionless)."""
        for w in self.config.sympathetic:
            if w.active(t):
                return w.tone
        return 1.0

    def denosumab_pm(self, t: float) -> float:
        """Serum denosumab concentration (pM) at t (days)."""
        return sum(pk.concentration_pm(t) for pk in self._den)

    def bisphosphonate_bound_mg(self, t: float) -> float:
        """Bone-bound alendronate (mg) at t (days)."""
        return sum(pk.bound_mg(t) for pk in self._bp)

    # ---- the named terms
    def effects(self, t: float) -> Effects:
        """Values of the named model terms at t (days); see the mapping table in the docs."""
        k = self.constants
        d = max(0.0, 1.0 - self.estrogen(t)) * self.deficiency_attenuation(t)
        tt = self.testosterone(t)
        s_gc = self.glucocorticoid_strength(t)
        ir = self.insulin_resistance(t)
        cyt = self.cytokines(t)
        tone = self.sympathetic_tone(t)
        tpt = self.teriparatide_mean_pm(t)
        bp = self.bisphosphonate_bound_mg(t)
        bp_occ = bp / (bp + BP_HALF_MG)
        rankl = k.rankl_estrogen * (
            d + GC_RANKL_FRACTION * s_gc + SYMPATHETIC_RANKL_FRACTION * max(0.0, tone - 1.0)
        )
        return Effects(
            rankl_production=rankl,
            opg_factor=(1.0 - OPG_PER_DEFICIENCY * d) * (1.0 - GC_OPG * s_gc),
            pth_production=self.pth_production(t) + SCHEINER_2013.D_PTH * tpt,
            obu_factor=(1.0 + PTH_PULSE_OBU_PER_PM * tpt) * (1.0 - INSULIN_RESISTANCE_OBU * ir),
            obp_factor=(1.0 + OBP_PER_TESTOSTERONE * (tt - 1.0)) * (1.0 - GC_OBP * s_gc),
            oba_apoptosis_factor=(1.0 + GC_OBA_APOPTOSIS * s_gc)
            / (1.0 + PTH_PULSE_OBA_SURVIVAL_PER_PM * tpt),
            ocp_factor=1.0 + OCP_PER_CYTOKINE * cyt,
            oca_apoptosis_factor=(1.0 - OC_LIFESPAN_PER_DEFICIENCY * d) * (1.0 + BP_EMAX * bp_occ),
            rank_sensitivity=1.0 + RANK_SENSITIVITY_PER_CYTOKINE * cyt,
            rankl_decoy=k.denosumab_accessibility * K_DENOSUMAB_PER_PM * self.denosumab_pm(t),
            resorption_factor=1.0 - BP_RESORPTION * bp_occ,
        )

    def values(self, t: float) -> dict[str, float]:
        """Signal levels at t (days) for output: hormones (dimensionless), drugs (units)."""
        return {
            "estrogen": self.estrogen(t),
            "testosterone": self.testosterone(t),
            "pth_pM": (SCHEINER_2013.beta_PTH + self.pth_production(t)) / SCHEINER_2013.D_PTH
            + self.teriparatide_mean_pm(t),
            "glucocorticoid_strength": self.glucocorticoid_strength(t),
            "cytokine_index": self.cytokines(t),
            "insulin_resistance": self.insulin_resistance(t),
            "sympathetic_tone": self.sympathetic_tone(t),
            "denosumab_ng_per_mL": sum(pk.concentration_ng_ml(t) for pk in self._den),
            "alendronate_bound_mg": self.bisphosphonate_bound_mg(t),
        }

    def milestones(self, t_end: float) -> list[float]:
        """Times (days) in [0, t_end] that integrator steps must not cross.

        Therapy and condition starts/stops, surgical menopause, denosumab injections
        (absorption restarts) and bisphosphonate intakes when they are at least 28 days
        apart; daily/weekly intakes are smooth enough at the 1-10 day step scale.
        """
        c = self.config
        times: list[float] = []
        for key in (
            "glucocorticoid",
            "inflammation",
            "metabolic",
            "sympathetic",
            "hrt",
            "trt",
            "denosumab",
            "bisphosphonate",
            "teriparatide",
        ):
            for w in getattr(c, key):
                times += [w.start_days, w.stop_days]
        if c.estrogen.menopause == "surgical":
            times.append(c.estrogen.menopause_time_days)
        if c.pth.continuous_excess_fold > 1.0:
            times += [c.pth.start_days, c.pth.stop_days]
        for pk in self._den:
            times += pk.times_days.tolist()
        for w, pkb in zip(c.bisphosphonate, self._bp, strict=True):
            if w.interval_days >= 28.0:
                times += pkb.times_days.tolist()
        return merge_milestones([x for x in times if math.isfinite(x)], t_end)


def build_signals(
    config: ScenarioConfig, constants: CalibratedConstants = CALIBRATED
) -> ScenarioSignals:
    """Build the time-dependent signal object of a scenario.

    Args:
        config: validated scenario.
        constants: calibrated constants (default: :data:`~bonefem.biology.calibrated.CALIBRATED`).
    """
    return ScenarioSignals(config, constants)


def sample(signals: ScenarioSignals, times_days: np.ndarray) -> dict[str, np.ndarray]:
    """Signal levels at many times (days) as arrays (for plots and CSV)."""
    rows = [signals.values(float(t)) for t in times_days]
    return {k: np.array([r[k] for r in rows]) for k in rows[0]} if rows else {}
