"""Calibrated constants of the hormone and drug terms (values written by the calibration).

The values below were fitted by ``python -m bonefem.biology.calibration`` on the clinical
numbers of ``shared/science/calibration-data.md`` only (SWAN, WHI, FREEDOM), by
``python -m bonefem.biology.calibration_mechanistic`` on mechanistic (not BMD-endpoint) data
(histomorphometry, degree of mineralisation, reference BMDD) and by
``python -m bonefem.calibration_fe`` in FE; each docstring names the target.
``docs/calibration.md`` lists the fit error at every data point. The BMD endpoints of other
trials (teriparatide, alendronate, glucocorticoid, androgen studies) were not used: they
are out-of-sample validation (see ``docs/model-biology.md``, ``docs/validation-results.md``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

__all__ = [
    "CALIBRATED",
    "LEGACY_UNRECORDED",
    "CalibratedConstants",
    "adopt_recorded_constants",
    "constants_record",
    "fe_constants",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class CalibratedConstants:
    """Constants fitted to clinical BMD data.

    Attributes:
        rankl_estrogen: extra RANKL production at complete estrogen deficiency
            P_RANKL,E (pM/day). Target, with the next two, ``age_oba_apoptosis``,
            ``age_onset_years`` and ``hrt_estrogen_level`` in one least squares (the course
            of women without therapy and on HRT, :func:`bonefem.biology.calibration.
            fit_course`): the lumbar-spine loss rates by stage (Sowers et al. 2010, the
            Michigan Bone Health and Metabolism Study cohort, not SWAN: 1.7 %/y in the 2 y
            before FMP, 3.3 %/y in the 2 y after, 1.1 %/y from 2 to 7 y) and SWAN's 10-year
            total (Greendale et al. 2012: -10.6 %); the placebo arms of WHI (total hip +0.14
            % in 3 y from 63, Cauley et al. 2003) and FREEDOM (-1.4 % in 36 months from 72,
            Cummings et al. 2009); the acceleration of hip loss in old age (Ensrud et al.
            1995, SOF: 10.4 against 2.5 mg/cm^2/y at 85+ and 67-69); the WHI HRT difference;
            docs/calibration.md.
        estrogen_adaptation_days: time constant of the attenuation of the deficiency drive
            after menopause (days). Target: the same least squares (deceleration of the loss
            after the FMP; the placebo arms).
        hrt_estrogen_level: estrogen-equivalent level restored by HRT (CEE 0.625 mg +
            MPA 2.5 mg), relative to premenopausal (dimensionless). Target: WHI E+P total
            hip +3.7 % at 3 y vs +0.14 % placebo (Cauley et al. 2003), in the same least
            squares.
        mechano_lambda: lambda, slope of the mechanical proliferation response above the
            homeostatic stimulus (dimensionless; Scheiner 2013: 1.25). Target: the same
            least squares (it sets how fast the loss decelerates as the stimulus rises).
        denosumab_accessibility: chi, fraction of serum denosumab reaching RANKL in bone
            (dimensionless). Target: FREEDOM total hip +3.2/+4.4/+5.0 % at 12/24/36 mo and
            LS +8.8 % vs placebo at 36 mo (Cummings et al. 2009; Prolia label).
        fe_rankl_estrogen_factor: factor on ``rankl_estrogen`` in finite-element runs
            (dimensionless). Targets: SWAN lumbar-spine aBMD change over the 10 years
            around the FMP, -10.6 % (Greendale et al. 2012), and the lumbar-spine stage
            rates -1.7 / -3.3 / -1.1 %/y (Sowers et al. 2010), read from the DXA-like areal
            BMD of the bundled L3 vertebral body; least squares with each residual in units
            of its acceptance band, 1 pp and 0.7 %/y (``python -m bonefem.calibration_fe``,
            December 2026; the FE mechanics brakes the loss less than the 0-D surrogate,
            see that module). Reached: -11.09 %, -1.29 / -2.64 / -0.69 %/y.
        mechano_rankl_max: P_max, saturation of the mechanically induced RANKL production
            under disuse (pM/day). Not fitted: inf, Scheiner 2013's linear law (from
            December 2026; before, 888.9 was fitted to bed rest under Scheiner's kappa =
            1e5, which made the production a step that saturated at 3 % under-stimulation:
            10 % less load lost 93 % of what bed rest loses, docs/calibration.md).
        mechano_rankl_slope: kappa, the disuse RANKL production per unit of relative
            under-stimulation d = 1 - Psi/Psi_ss (pM/day). Target: bed-rest hip loss, -4.1
            % total-hip aBMD after 17 weeks (LeBlanc et al. 1990, J Bone Miner Res 5:843:
            neck -3.6 %, trochanter -4.6 %), reproduced by the bundled disuse femur at 30 %
            load (``python -m bonefem.calibration_fe --target disuse``). Linear, the
            production is graded over partial unloading, as bone loss is in partial weight
            bearing (Ellman et al. 2013, J Bone Miner Res 28:875: losses proportional to
            the reduction of load). A run recorded without this constant restarts with
            Scheiner's 1e5 (:data:`LEGACY_UNRECORDED`).
        pth_modelling_formation: modelling-based formation per unit bone surface per pM of
            anabolic teriparatide exposure (mm/(day*pM)). Target (mechanistic, not a BMD
            endpoint): cancellous bone formation rate per bone surface twice placebo after
            ~40 days of 20 µg/day (Cosman et al. 2016, J Clin Endocrinol Metab 101:1498),
            0-D trabecular point of a woman 20 years past menopause
            (:func:`bonefem.biology.calibration_mechanistic.fit_mbf`).
        age_oba_apoptosis: c_age, relative increase of osteoblast apoptosis at 80 years
            (dimensionless; quadratic from ``age_onset_years``,
            :mod:`bonefem.biology.agents.aging`). Target: the same least squares (mainly
            the placebo arms of FREEDOM and WHI).
        age_onset_years: age from which the age-related loss acts (years). Target: the
            same least squares (mainly the acceleration of hip loss in old age: total-hip
            aBMD loss in women aged 85+ 4.2 times that at 67-69, 10.4 against 2.5
            mg/cm^2/y; Ensrud et al. 1995, J Bone Miner Res 10:1778, Study of Osteoporotic
            Fractures).
        mineral_slow_share: share of the secondary mineral gap filled by the slow phase of
            secondary mineralisation (dimensionless), and
        mineral_slow_rate: its rate (1/day). Target (mechanistic, not a BMD endpoint): the
            degree of mineralisation of bone over placebo after 3 years of alendronate
            10 mg/day, +11.4 % in cancellous bone (Boivin et al. 2000, Bone 27:687; +7.3 %
            at 2 years, 9 biopsies, is a check, the model gives +9.7 %), with alendronate's
            suppression fitted first (``bisphosphonate_oca_apoptosis_max``), and the
            healthy reference BMDD (mean calcium
            22.20 wt%, Roschger et al. 2003, between Ruffoni's primary 11.9 and maximum 31.1
            wt%), trabecular point of the calibration cohort
            (:func:`bonefem.biology.calibration_mechanistic.fit_mineralisation`).
        bisphosphonate_oca_apoptosis_max: E_max, the relative increase of osteoclast
            apoptosis A_OCa at saturating bone-bound bisphosphonate (dimensionless,
            :mod:`bonefem.biology.agents.bisphosphonate`). Target (mechanistic, not a BMD
            endpoint): cancellous activation frequency 87 % below placebo after 2 years of
            alendronate 10 mg/day (iliac histomorphometry, Chavassieux et al. 1997, J Clin
            Invest 100:1475; mineralising surface -92 %, mineral apposition rate unchanged).
            Model: the bone formation rate per bone surface k_form OBa_F (the delayed
            formation activity; the model's packets have a fixed wall thickness, so Ac.f =
            BFR/BS / W.Th is proportional to it), treated over untreated, 0-D trabecular
            point of the calibration cohort 12 years past menopause
            (:func:`bonefem.biology.calibration_mechanistic.fit_bisphosphonate`).
        zoledronate_potency: alendronate-equivalent mg per bone-bound mg of zoledronate
            (dimensionless, :mod:`bonefem.biology.agents.bisphosphonate`). Target
            (mechanistic, not a BMD endpoint): bone turnover (activation frequency) 63 %
            below placebo (median) in the HORIZON-PFT biopsies at month 36, a year after
            the third yearly 5-mg infusion (transiliac histomorphometry, Recker et al. 2008,
            J Bone Miner Res 23:6), 0-D trabecular point of the HORIZON-PFT cohort 22 years
            past menopause (:func:`bonefem.biology.calibration_mechanistic.fit_zoledronate`).
            Below the in-vitro enzyme-inhibition ratio (15, Dunford et al. 2001), with
            which the infusions suppressed deeper than daily alendronate (the shared PK law
            has no drug-specific binding and release; docs/calibration.md).
        haversian_canal_density: Haversian canals per mm^2 of compact bone N_H (1/mm^2),
            set so that healthy cortical bone at BV/TV 0.95 turns over 3 %/year (Manolagas
            2000, Endocr Rev 21:115) (:mod:`bonefem.remodeling.bone`).
        mechano_switch_width: width of the smoothed switch between the mechanostat's two
            branches at the homeostatic stimulus, in Psi/Psi_ss (dimensionless; not fitted:
            a numerical regularisation, 0 = Scheiner's kink;
            :attr:`bonefem.biology.parameters.MechanoParameters.switch_width`).
        formation_delay_days: mean delay of bone formation behind the active osteoblasts
            (days; not fitted: the human trabecular remodelling periods of Eriksen 1986,
            Endocr Rev 7:379, less the cell model's own ~10-day lag).
    """

    rankl_estrogen: float = 435.6502766566758
    estrogen_adaptation_days: float = 2865.561015246213
    hrt_estrogen_level: float = 0.8719244215369009
    mechano_lambda: float = 0.8750393112915844
    denosumab_accessibility: float = 0.014973575160658299
    fe_rankl_estrogen_factor: float = 0.902057981033712
    mechano_rankl_max: float = math.inf
    mechano_rankl_slope: float = 989.0405653044512
    pth_modelling_formation: float = 3.681820925503544e-05
    age_oba_apoptosis: float = 0.09436586678386112
    age_onset_years: float = 59.37759522830353
    mineral_slow_share: float = 0.5127231589171274
    mineral_slow_rate: float = 0.00015083112662566287
    bisphosphonate_oca_apoptosis_max: float = 186.1369412798541
    zoledronate_potency: float = 0.5447568956580556
    haversian_canal_density: float = 8.898186882383277
    formation_delay_days: float = 90.0
    mechano_switch_width: float = 0.01


CALIBRATED = CalibratedConstants()
"""The calibrated constants in use."""


def fe_constants(constants: CalibratedConstants = CALIBRATED) -> CalibratedConstants:
    """Calibrated constants for finite-element runs (the FE factor on the estrogen drive).

    ``rankl_estrogen`` (pM/day) multiplied by ``fe_rankl_estrogen_factor`` (dimensionless),
    fitted by ``python -m bonefem.calibration_fe`` to the SWAN 10-year lumbar-spine aBMD
    change (-10.6 %, Greendale et al. 2012) on the bundled L3 vertebral body.
    """
    c = constants
    return replace(c, rankl_estrogen=c.rankl_estrogen * c.fe_rankl_estrogen_factor)


LEGACY_UNRECORDED: dict[str, float] = {"mechano_rankl_slope": 1.0e5}
"""Constants added with a change of behaviour, and the value a run recorded before they
existed goes on with: Scheiner's disuse slope kappa (pM/day) before it was tied to P_max."""


def adopt_recorded_constants(
    current: CalibratedConstants, recorded: Any
) -> tuple[CalibratedConstants, list[str]]:
    """The constants a restarted run goes on with: the ones it was started with.

    ``recorded`` is the run folder's record (``{"constants": {name: value}}``, written when
    the run started). Every constant of ``current`` that the record holds takes the
    recorded value; a constant the record lacks (added by a later version) keeps
    ``current``'s, except those of :data:`LEGACY_UNRECORDED`, which take the value the
    versions before them had; a recorded name this version no longer has is ignored. Returns the
    constants and one line per constant that differs from ``current``.

    Raises:
        ValueError: the record is not a mapping of names to numbers (the message names the
            entry).
    """
    table = recorded.get("constants") if isinstance(recorded, dict) else None
    if not isinstance(table, dict):
        raise ValueError("no 'constants' table of calibrated constants")
    known = {f.name for f in fields(current)}
    values: dict[str, float] = {}
    lines: list[str] = []
    for name, legacy in LEGACY_UNRECORDED.items():
        if name not in table and getattr(current, name) != legacy:
            values[name] = legacy
            lines.append(f"{name}: not recorded, {legacy!r} (the versions before it)")
    for name, value in table.items():
        if name not in known:
            lines.append(f"{name}: recorded, unknown to this version (ignored)")
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
            raise ValueError(f"constants.{name} = {value!r} is not a number")
        ours = getattr(current, name)
        if float(value) != ours:
            values[name] = float(value)
            lines.append(f"{name}: {value!r} kept (this version's: {ours!r})")
    for name in sorted(known - set(table) - set(LEGACY_UNRECORDED)):
        lines.append(f"{name}: not recorded, this version's {getattr(current, name)!r}")
    return replace(current, **values), lines


def constants_record(constants: CalibratedConstants) -> dict[str, Any]:
    """The run folder's record of the calibrated constants a run uses (JSON-ready)."""
    return {"constants": asdict(constants)}
