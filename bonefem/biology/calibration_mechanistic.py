"""Calibration of terms on mechanistic (not BMD-endpoint) data.

Trial BMD endpoints of drugs stay out of sample; a term whose size no calibration-data
point fixes is fitted here to a mechanistic measurement instead, in 0-D.

* ``pth_modelling_formation`` (k_mod, mm/(day*pM)), the modelling-based formation of
  intermittent PTH (:mod:`bonefem.biology.agents.teriparatide`). Target: cancellous bone
  formation rate per bone surface (BFR/BS) 100 % higher with teriparatide 20 µg/day than
  with placebo after a mean 40 days of treatment, femoral-neck biopsies of 40 women and
  men aged about 70 (Cosman et al. 2016, J Clin Endocrinol Metab 101:1498). Model: the 0-D
  trabecular point of a woman 20 years past her final menstrual period (the calibration
  cohort of :mod:`bonefem.biology.calibration`), BFR/BS = k_form OBa + F_mod (mm/day),
  treated over placebo on day 40. The ratio is linear in k_mod up to the slow change of
  BV/TV in 40 days, so a bracketing root finder converges in a few 0-D runs.

* ``mineral_slow_share`` (s_slow, -) and ``mineral_slow_rate`` (k_slow, 1/day), the slow
  phase of secondary mineralisation (:mod:`bonefem.remodeling.bone`). Target: the mean
  degree of mineralisation of bone (DMB, quantitative microradiography of iliac biopsies)
  7.3 % and 11.4 % higher than placebo after 2 and 3 years of alendronate 10 mg/day in
  osteoporotic postmenopausal women (Boivin et al. 2000, Bone 27:687). Model: mean mineral
  content m of the 0-D trabecular point, alendronate 10 mg/day from 12 years past the FMP
  (age 63, as the WHI cohort of :mod:`bonefem.biology.calibration`) over the same
  woman without it. DMB is a tissue property (mineral per bone volume), not a BMD
  endpoint. With it, the healthy reference: mean calcium of adult cancellous bone 22.20 wt%
  (Roschger et al. 2003, Bone 32:316) between the primary 11.9 and the maximum 31.1 wt% of
  Ruffoni et al. (2007): 54 % of the secondary gap closed at 25 %/y turnover. The reference
  fixes k_slow for a given share, the 3-year DMB the share; the 2-year DMB is a check. The
  DMB responds to alendronate through the size of its suppression of turnover, fitted
  first (next item): the biopsies of Boivin and of Chavassieux come from the same Phase III
  alendronate trials.

* ``bisphosphonate_oca_apoptosis_max`` (E_max, -), the increase of osteoclast apoptosis at
  saturating bone-bound bisphosphonate (:mod:`bonefem.biology.agents.bisphosphonate`).
  Target: cancellous activation frequency 87 % below placebo after 2 years of alendronate
  10 mg/day (transiliac histomorphometry, Chavassieux et al. 1997, J Clin Invest
  100:1475; mineralising surface -92 %, mineral apposition rate unchanged). Model
  quantity: the activation frequency Ac.f = BFR/BS / W.Th; the model's packets have a
  fixed wall thickness, so the ratio of Ac.f treated over untreated is the ratio of the
  bone formation rate per bone surface k_form OBa_F (OBa_F the delayed formation
  activity of the remodelling period), same cohort and trabecular point as the DMB. The
  resorption per surface k_res OCa gives the same ratio within 0.015 at 2 years (steady
  suppressed turnover). Root on ln E_max. Alendronate is dosed as the scenario default,
  70 mg once weekly, the same mean intake and bound amount as the trials' 10 mg/day.

* ``zoledronate_potency`` (-), alendronate-equivalent mg per bone-bound mg of zoledronate
  (:mod:`bonefem.biology.agents.bisphosphonate`). Target: bone turnover (activation
  frequency, transiliac histomorphometry) 63 % below placebo (median) in the HORIZON-PFT
  biopsy cohort, taken at month 36, a year after the third yearly 5-mg infusion (Recker et
  al. 2008, J Bone Miner Res 23:6, 152 women). Model: the same Ac.f ratio as for
  alendronate, 0-D trabecular point of the HORIZON-PFT cohort (22 years past the FMP, mean
  age 73), infusions at 0, 1 and 2 years, read at 3 years. It replaces the in-vitro ratio
  of the farnesyl pyrophosphate synthase inhibition (15, Dunford et al. 2001), with which
  the infusions suppressed Ac.f deeper than daily alendronate (Chavassieux: 87 %) where the
  biopsies show less. Root on ln potency; it depends on E_max, so it follows it.

The order: E_max (Chavassieux), the zoledronate potency (Recker, through that E_max), then
the mineralisation (Boivin, through E_max), then k_mod (Cosman). Run:
``python -m bonefem.biology.calibration_mechanistic`` (all four) or
``--only aln|zol|mineral|mbf``.

The whole 0-D chain (:func:`fit_chain`, ``--chain N``): these four, then the clinical fits
of :func:`bonefem.biology.calibration.fit`, repeated because each depends on the other
through the calibration cohort, until no constant moves by more than
:data:`CHAIN_RTOL` in a round (at most N rounds). It prints each round's changes and the
constants to record in :mod:`bonefem.biology.calibrated`; the FE constants follow with
``python -m bonefem.calibration_fe``.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from collections.abc import Callable

from bonefem.biology import calibration
from bonefem.biology.calibrated import CALIBRATED, CalibratedConstants
from bonefem.biology.calibration import FMP, YEAR, _menopause, bracketed_root
from bonefem.biology.parameters import remodeling_parameters
from bonefem.biology.signals import build_signals
from bonefem.biology.zerod import RunConfig, ZeroDResult, make_model, run_zero_d
from bonefem.config.scenario import BisphosphonateConfig, ScenarioConfig, TeriparatideConfig
from bonefem.errors import CalibrationError

__all__ = [
    "BMDD_SECONDARY_PROGRESS",
    "BOIVIN_DMB",
    "CHAIN_RTOL",
    "CHAVASSIEUX_ACF_RATIO",
    "COSMAN_BFR_RATIO",
    "COSMAN_DAYS",
    "HORIZON_START",
    "RECKER_ACF_RATIO",
    "RECKER_YEARS",
    "alendronate_activation_frequency",
    "alendronate_dmb",
    "fit_bisphosphonate",
    "fit_chain",
    "fit_mbf",
    "fit_mineralisation",
    "fit_zoledronate",
    "slow_rate_for_share",
    "smallest_slow_share",
    "teriparatide_bfr_ratio",
    "zoledronate_activation_frequency",
    "zoledronate_runs",
]

ALN_START = FMP + 12.0 * YEAR
BOIVIN_DMB = {2.0: 7.3, 3.0: 11.4}
"""DMB on alendronate over placebo (%) after 2 and 3 years, Boivin et al. 2000."""
CHAVASSIEUX_YEARS = 2.0
"""Treatment time at the biopsy of the activation-frequency datum (years)."""
CHAVASSIEUX_ACF_RATIO = 1.0 - 0.87
"""Cancellous activation frequency, alendronate 10 mg/day over placebo at 2 years
(dimensionless; -87 %, Chavassieux et al. 1997)."""

HORIZON_START = FMP + 22.0 * YEAR
"""Start of yearly zoledronate in the HORIZON-PFT cohort (days; mean age 73, FMP at 51)."""
RECKER_YEARS = 3.0
"""Treatment time at the HORIZON-PFT biopsies (years; a year after the third infusion)."""
RECKER_ACF_RATIO = 1.0 - 0.63
"""Bone turnover (Ac.f), zoledronate 5 mg yearly over placebo at 36 months (dimensionless;
-63 % median, Recker et al. 2008)."""

TPTD_START = FMP + 20.0 * YEAR
COSMAN_DAYS = 40.0
"""Mean treatment time at biopsy (days), Cosman et al. 2016."""
COSMAN_BFR_RATIO = 2.0
"""Cancellous BFR/BS, teriparatide over placebo (dimensionless), Cosman et al. 2016."""


def _scenario(treated: bool) -> ScenarioConfig:
    """The calibration cohort (FMP at 51), with teriparatide from 20 years after it."""
    courses = [TeriparatideConfig(start_days=TPTD_START, stop_days=TPTD_START + 2 * YEAR)]
    return _menopause(teriparatide=courses if treated else [])


def teriparatide_bfr_ratio(k: CalibratedConstants = CALIBRATED) -> float:
    """Cancellous BFR/BS on teriparatide over placebo after :data:`COSMAN_DAYS` days."""
    run = RunConfig(step_days=10.0)
    model = make_model(run, k)
    t1 = TPTD_START + COSMAN_DAYS
    bfr = []
    for treated in (True, False):
        sc = _scenario(treated)
        r = run_zero_d(sc, t1, run=run, constants=k, model=model)
        f_mod = build_signals(sc, k, model.params).effects(t1 - 1e-6).modelling_formation
        bfr.append(model.remodeling.k_form * r.at("OBa_formation_pM_trab", t1) + f_mod)
    return bfr[0] / bfr[1]


def fit_mbf(k: CalibratedConstants = CALIBRATED) -> CalibratedConstants:
    """Return ``k`` with ``pth_modelling_formation`` fitted to :data:`COSMAN_BFR_RATIO`."""

    def gap(x: float) -> float:
        kk = dataclasses.replace(k, pth_modelling_formation=x)
        return teriparatide_bfr_ratio(kk) - COSMAN_BFR_RATIO

    x = bracketed_root(
        gap,
        0.0,
        1.0e-3,
        constant="pth_modelling_formation",
        target=f"cancellous BFR/BS teriparatide over placebo {COSMAN_BFR_RATIO:g} at day "
        f"{COSMAN_DAYS:g}, Cosman 2016",
        xtol=1e-9,
        rtol=1e-6,
    )
    return dataclasses.replace(k, pth_modelling_formation=x)


def _bisphosphonate_runs(
    k: CalibratedConstants, course: BisphosphonateConfig, t_end: float
) -> tuple[ZeroDResult, ZeroDResult]:
    """0-D runs of the calibration cohort with and without ``course`` (28-day rows).

    Both end at ``t_end`` (days).
    """
    run = RunConfig(step_days=28.0)
    model = make_model(run, k)
    treated, untreated = (
        run_zero_d(_menopause(bisphosphonate=b), t_end, run=run, constants=k, model=model)
        for b in ([course], [])
    )
    return treated, untreated


def _activation_ratios(
    runs: tuple[ZeroDResult, ZeroDResult], start: float, years: tuple[float, ...]
) -> dict[float, dict[str, float]]:
    """``acf`` (k_form OBa_F) and ``oca`` treated over untreated, per year of treatment."""
    out = {}
    for y in years:
        t = start + y * YEAR
        out[y] = {
            key: runs[0].at(col, t) / runs[1].at(col, t)
            for key, col in (("acf", "OBa_formation_pM_trab"), ("oca", "OCa_pM_trab"))
        }
    return out


def _alendronate_runs(k: CalibratedConstants) -> tuple[ZeroDResult, ZeroDResult]:
    """0-D runs of the cohort with and without alendronate 10 mg/day for 3 years."""
    t_end = ALN_START + 3.0 * YEAR + 1.0
    aln = BisphosphonateConfig(drug="alendronate", start_days=ALN_START, stop_days=t_end)
    return _bisphosphonate_runs(k, aln, t_end)


def alendronate_dmb(k: CalibratedConstants = CALIBRATED) -> dict[float, float]:
    """Trabecular mean mineral content on alendronate over placebo (%) after 2 and 3 years."""
    runs = _alendronate_runs(k)
    out = {}
    for years in BOIVIN_DMB:
        t = ALN_START + years * YEAR
        out[years] = 100.0 * (runs[0].at("mineral_trab", t) / runs[1].at("mineral_trab", t) - 1.0)
    return out


def alendronate_activation_frequency(
    k: CalibratedConstants = CALIBRATED, years: tuple[float, ...] = (CHAVASSIEUX_YEARS,)
) -> dict[float, dict[str, float]]:
    """Activation frequency and osteoclasts on alendronate over placebo (dimensionless).

    Per time (years of treatment): ``acf``, the ratio of the trabecular bone formation rate
    per bone surface k_form OBa_F (= ratio of Ac.f at fixed wall thickness), and ``oca``,
    the ratio of active osteoclasts (= ratio of the resorption rate per surface).
    """
    return _activation_ratios(_alendronate_runs(k), ALN_START, years)


def _fit_acf_ratio(
    k: CalibratedConstants,
    constant: str,
    acf: Callable[[CalibratedConstants], float],
    ratio: float,
    bracket: tuple[float, float],
    target: str,
) -> CalibratedConstants:
    """Return ``k`` with ``constant`` such that ``acf(k)`` equals ``ratio``.

    A root on the log of the constant within ``bracket`` (the constant's values); the gap is
    ln(acf / ratio). ``target`` names the datum in a failure.
    """

    def gap(log_x: float) -> float:
        return math.log(acf(dataclasses.replace(k, **{constant: math.exp(log_x)})) / ratio)

    log_x = bracketed_root(
        gap,
        math.log(bracket[0]),
        math.log(bracket[1]),
        constant=f"ln {constant}",
        target=f"{target} (gap: ln of the ratio over it)",
        xtol=1e-4,
    )
    return dataclasses.replace(k, **{constant: math.exp(log_x)})


def fit_bisphosphonate(k: CalibratedConstants = CALIBRATED) -> CalibratedConstants:
    """Return ``k`` with E_max fitted to :data:`CHAVASSIEUX_ACF_RATIO` (root on ln E_max)."""
    return _fit_acf_ratio(
        k,
        "bisphosphonate_oca_apoptosis_max",
        lambda kk: alendronate_activation_frequency(kk)[CHAVASSIEUX_YEARS]["acf"],
        CHAVASSIEUX_ACF_RATIO,
        (30.0, 1.0e3),
        f"cancellous Ac.f alendronate over placebo {CHAVASSIEUX_ACF_RATIO:g} at "
        f"{CHAVASSIEUX_YEARS:g} years, Chavassieux 1997",
    )


def zoledronate_runs(k: CalibratedConstants = CALIBRATED) -> tuple[ZeroDResult, ZeroDResult]:
    """0-D runs of the HORIZON-PFT cohort with and without zoledronate (infusions at 0, 1, 2 y).

    Both end at :data:`RECKER_YEARS` years of treatment plus a day (28-day rows, as the
    alendronate runs).
    """
    zol = BisphosphonateConfig(
        drug="zoledronate", start_days=HORIZON_START, stop_days=HORIZON_START + 2.5 * YEAR
    )
    return _bisphosphonate_runs(k, zol, HORIZON_START + RECKER_YEARS * YEAR + 1.0)


def zoledronate_activation_frequency(
    k: CalibratedConstants = CALIBRATED, years: tuple[float, ...] = (RECKER_YEARS,)
) -> dict[float, dict[str, float]]:
    """Ac.f and osteoclasts on zoledronate over placebo (dimensionless), HORIZON-PFT cohort.

    As :func:`alendronate_activation_frequency`: ``acf`` the ratio of k_form OBa_F,
    ``oca`` that of the active osteoclasts, per time in years of treatment.
    """
    return _activation_ratios(zoledronate_runs(k), HORIZON_START, years)


def fit_zoledronate(k: CalibratedConstants = CALIBRATED) -> CalibratedConstants:
    """Return ``k`` with ``zoledronate_potency`` fitted to :data:`RECKER_ACF_RATIO` (ln root)."""
    return _fit_acf_ratio(
        k,
        "zoledronate_potency",
        lambda kk: zoledronate_activation_frequency(kk)[RECKER_YEARS]["acf"],
        RECKER_ACF_RATIO,
        (1.0e-5, 15.0),
        f"cancellous Ac.f zoledronate over placebo {RECKER_ACF_RATIO:g} at "
        f"{RECKER_YEARS:g} years, Recker 2008",
    )


#: Healthy adult cancellous bone: mean calcium 22.20 wt% (reference BMDD, Roschger et al.
#: 2003, Bone 32:316) between the primary 11.9 and the maximum 31.1 wt% of the mineralisation
#: law of Ruffoni et al. (2007, Bone 40:1308): the fraction of the secondary mineral gap
#: closed on average at normal turnover.
BMDD_SECONDARY_PROGRESS = (22.20 - 11.9) / (31.1 - 11.9)
#: Trabecular turnover of the healthy adult (1/day; 25 %/y, see RemodelingParameters.k_res).
TRABECULAR_TURNOVER = 0.25 / 365.25


def slow_rate_for_share(share: float, k: CalibratedConstants = CALIBRATED) -> float:
    """k_slow (1/day) that puts healthy trabecular tissue at :data:`BMDD_SECONDARY_PROGRESS`.

    At turnover r (F/f, 1/day) the steady deficits are D_i = r c_i gap / (r + k_i) with
    c_fast = 1 - share, c_slow = share (:mod:`bonefem.remodeling.bone`); the mean closes
    1 - (D_fast + D_slow)/gap of the gap, solved for k_slow.
    """
    p = remodeling_parameters(k)
    r = TRABECULAR_TURNOVER
    d_fast = r * (1.0 - share) / (r + p.k_sec)  # in units of the gap
    d_slow = (1.0 - BMDD_SECONDARY_PROGRESS) - d_fast
    q = d_slow / share  # = r / (r + k_slow)
    if not 0.0 < q < 1.0:
        raise CalibrationError(
            f"mineral_slow_rate: no slow rate puts healthy trabecular tissue at the reference "
            f"BMDD ({BMDD_SECONDARY_PROGRESS:.4f} of the secondary gap closed, Roschger 2003) "
            f"with mineral_slow_share {share:.6g}: it needs a slow-phase deficit of "
            f"{d_slow:.4f} of the gap, and only (0, {share:.6g}) is reachable"
        )
    return r * (1.0 - q) / q


def smallest_slow_share(k: CalibratedConstants = CALIBRATED) -> float:
    """The share below which no k_slow reaches the reference BMDD (dimensionless).

    :func:`slow_rate_for_share` needs d_slow < share; with d_fast = a (1 - share),
    a = r / (r + k_fast), that is share > (1 - P - a) / (1 - a), P =
    :data:`BMDD_SECONDARY_PROGRESS`. At the bound k_slow = 0 (the slow phase never acts).
    """
    p = remodeling_parameters(k)
    a = TRABECULAR_TURNOVER / (TRABECULAR_TURNOVER + p.k_sec)
    return ((1.0 - BMDD_SECONDARY_PROGRESS) - a) / (1.0 - a)


def fit_mineralisation(k: CalibratedConstants = CALIBRATED) -> CalibratedConstants:
    """Return ``k`` with the slow mineralisation phase fitted (see the module docstring).

    Two data, two constants: k_slow follows from the share through the healthy reference
    BMDD (:func:`slow_rate_for_share`); the share is the root of the 3-year DMB gain on
    alendronate over placebo minus Boivin's +11.4 %, searched from just above
    :func:`smallest_slow_share` (was 0.47, which a refit can leave above the root) to 0.999.
    The 2-year value is a check.
    """

    def with_share(share: float) -> CalibratedConstants:
        return dataclasses.replace(
            k, mineral_slow_share=share, mineral_slow_rate=slow_rate_for_share(share, k)
        )

    def gap(share: float) -> float:
        return alendronate_dmb(with_share(share))[3.0] - BOIVIN_DMB[3.0]

    share = bracketed_root(
        gap,
        smallest_slow_share(k) + 1.0e-3,
        0.999,
        constant="mineral_slow_share",
        target=f"DMB alendronate over placebo +{BOIVIN_DMB[3.0]:g} % at 3 years, Boivin 2000",
        xtol=1e-4,
    )
    return with_share(share)


#: A round of :func:`fit_chain` that moves no constant by more than this (relative) ends it.
CHAIN_RTOL = 5.0e-3


def _largest_change(old: CalibratedConstants, new: CalibratedConstants) -> tuple[str, float]:
    """The constant that moved most between ``old`` and ``new``, and its relative change."""
    moves = {
        f.name: abs(getattr(new, f.name) / getattr(old, f.name) - 1.0)
        for f in dataclasses.fields(old)
        if getattr(old, f.name) != 0.0
    }
    name = max(moves, key=lambda key: moves[key])
    return name, moves[name]


def fit_chain(
    k: CalibratedConstants = CALIBRATED, rounds: int = 4, rtol: float = CHAIN_RTOL
) -> tuple[CalibratedConstants, int, bool]:
    """The whole 0-D chain (module docstring): (constants, rounds run, converged).

    A round: E_max, the zoledronate potency, the mineralisation, k_mod, then
    ``calibration.fit`` (SWAN, c_age, WHI, FREEDOM). Converged: the last round moved no
    constant by more than ``rtol``.
    """
    for n in range(1, rounds + 1):
        new = calibration.fit(fit_mbf(fit_mineralisation(fit_zoledronate(fit_bisphosphonate(k)))))
        name, change = _largest_change(k, new)
        print(f"round {n}: largest change {name} {change:.2%}")
        k = new
        if change <= rtol:
            return k, n, True
    return k, rounds, False


def main(argv: list[str] | None = None) -> int:
    """Run the fits (``--only aln|zol|mineral|mbf``) or the whole chain (``--chain N``).

    Prints the constants and the values reached; exit code 2 when a fit fails or the chain
    does not converge in N rounds.
    """
    args = sys.argv[1:] if argv is None else argv
    only = args[1] if len(args) == 2 and args[0] == "--only" else None
    try:
        if len(args) == 2 and args[0] == "--chain":
            return _chain_and_print(int(args[1]))
        _fit_and_print(only)
    except CalibrationError as exc:
        print(f"calibration failed: {exc}", file=sys.stderr)
        return 2
    return 0


def _chain_and_print(rounds: int) -> int:
    """``--chain N``: :func:`fit_chain`, then the constants that changed and the tables."""
    k, n, converged = fit_chain(CALIBRATED, rounds)
    print(("converged" if converged else "NOT converged") + f" after {n} round(s)")
    for f in dataclasses.fields(k):
        if getattr(k, f.name) != getattr(CALIBRATED, f.name):
            print(f"    {f.name}: float = {getattr(k, f.name)!r}")
    print(calibration.error_table(k))
    acf = alendronate_activation_frequency(k)[CHAVASSIEUX_YEARS]["acf"]
    print(f"Ac.f ratio {acf:.4f} (Chavassieux {CHAVASSIEUX_ACF_RATIO:g}); DMB {alendronate_dmb(k)}")
    zol = zoledronate_activation_frequency(k)[RECKER_YEARS]["acf"]
    print(f"zoledronate Ac.f ratio {zol:.4f} (Recker {RECKER_ACF_RATIO:g})")
    print(f"BFR/BS ratio {teriparatide_bfr_ratio(k):.4f} (Cosman {COSMAN_BFR_RATIO:g})")
    return 0 if converged else 2


def _fit_and_print(only: str | None) -> None:
    """The fits of ``main`` in their order, each printed with the values it reaches."""
    k = CALIBRATED
    if only in (None, "aln"):
        k = fit_bisphosphonate(k)
        print(f"bisphosphonate_oca_apoptosis_max = {k.bisphosphonate_oca_apoptosis_max!r}")
        acf = alendronate_activation_frequency(k, (0.5, 1.0, 2.0, 3.0))
        print(f"Ac.f and OCa, alendronate over placebo: {acf} (Chavassieux 1997: 0.13 at 2 y)")
    if only in (None, "zol"):
        k = fit_zoledronate(k)
        print(f"zoledronate_potency = {k.zoledronate_potency!r}")
        acf = zoledronate_activation_frequency(k, (0.5, 1.0, 2.0, 3.0))
        print(f"Ac.f and OCa, zoledronate over placebo: {acf} (Recker 2008: 0.37 at 3 y)")
    if only in (None, "mineral"):
        k = fit_mineralisation(k)
        print(f"mineral_slow_share = {k.mineral_slow_share!r}")
        print(f"mineral_slow_rate = {k.mineral_slow_rate!r}  # 1/day")
        print(f"DMB alendronate over placebo (%): {alendronate_dmb(k)} (Boivin 2000: {BOIVIN_DMB})")
    if only in (None, "mbf"):
        k = fit_mbf(k)
        print(f"pth_modelling_formation = {k.pth_modelling_formation!r}  # mm/(day*pM)")
        print(f"BFR/BS ratio at day {COSMAN_DAYS:g}: {teriparatide_bfr_ratio(k):.4f}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
