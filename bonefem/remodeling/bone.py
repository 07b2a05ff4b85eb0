"""The bone-volume side of cell-driven remodelling, and the bone's material composition.

The cell populations live in :mod:`bonefem.biology.cells`; this module turns their
activity into bone volume and mineral:

* :func:`specific_surface` -- bone specific surface S_V(f) (1/mm) of Martin (1984) as
  fitted by Lerebours et al. (2016), BMMB 15:43-67, Eq. (12).
* :class:`CellDrivenRemodeling` -- the mechanobiological law used with the cell model:
  bone volume fraction f (BV/TV) and mean matrix mineral content m change through the
  resorption by active osteoclasts and formation by active osteoblasts, both acting on the
  available bone surface S_V(f).
* :class:`VolumeLaw` -- the protocol of such a bone-volume law (used by the cell model).
* material helpers: matrix mineral content -> ash fraction, tissue and apparent density,
  mineral density (the quantity DXA sees).

Equations (units: days, pM, mm; f and m dimensionless)::

    F = S(f) * (k_form * OBa_F + F_mod) * g_form(f)    formed bone volume per total volume and day
    R = S(f) * k_res  * OCa * g_res(f)             resorbed bone volume per total volume and day
    df/dt = F - R                                  (Scheiner 2013 Eq. (1) in volume fractions,
                                                    with the surface scaling of Lerebours 2016)
    dm/dt = (F/f) * (m_prim - m) + k_sec * (m_max - m) + (k_slow - k_sec) * D_s
    dD_s/dt = (F/f) * (s_slow * (m_max - m_prim) - D_s) - k_slow * D_s

**Specific surface S(f)** (issue 13 item 5): Lerebours' S_V(f) for trabecular and
trabecularised bone, blended (smoothstep between f = 0.7 and 0.9) into the surface of a
Haversian canal network in compact bone, S_H(f) = 2 sqrt(pi N_H (1 - f)) (canals of
constant number N_H per mm^2 that widen as porosity rises), with N_H set so that healthy
cortical bone at f = 0.95 turns over 3 %/year (Manolagas 2000, Endocr Rev 21:115: about 3 %
of cortical and 25 % of trabecular bone are replaced each year): N_H = 8.9 /mm^2, inside
the histological range of Haversian canal densities. Porosity then feeds back on turnover:
a cortex that loses bone offers more surface and remodels faster (intracortical porosity
and endocortical trabecularisation, Zebaze et al. 2010, Lancet 375:1729).

**Remodelling period** (issue 13 item 2): osteoblasts refill a cavity weeks after it was
resorbed (resorption ~40 days, reversal ~9 days, formation ~145 days in human iliac
trabecular bone, Eriksen 1986, Endocr Rev 7:379; the mean delay from resorbing to refilling
a volume is ~100 days). The cell model's own OBp -> OBa lag is ~10 days; the rest is a
two-stage linear (Erlang) delay of the formation activity, OBa_F, with mean
``formation_delay_days`` (90 days): dz1/dt = (2/T)(OBa - z1), dz2/dt = (2/T)(z1 - z2),
OBa_F = z2. A change of turnover therefore opens (or closes) a remodelling space that
refills about a remodelling period later -- the reversible BMD transient.

``F_mod`` (mm/day) is modelling-based formation on quiescent surfaces, independent of
resorption (intermittent PTH; ``Effects.modelling_formation``, 0 otherwise), on the
cancellous and endocortical (trabecularised) surfaces, not in the Haversian canals of
compact bone: F_mod (1 - w(f)) with w the Haversian share of the surface below. In the
femoral necks of Cosman et al. (2016, J Clin Endocrinol Metab 101:1498; the datum
``pth_modelling_formation`` is fitted to) 40 days of teriparatide doubled BFR/BS in the
cancellous and endocortical envelopes (P < .05); the intracortical and periosteal ones
showed no such increase. (Before December 2026 F_mod acted on every surface, and the
cortex of 0-D runs filled its porosity: cortical BV/TV +5.3 % in 21 months.) ``g_form``
and ``g_res`` switch formation off linearly within ``bound_width`` of ``f_max`` and
resorption off within ``bound_width`` of ``f_min`` so that f stays in [f_min, f_max].
k_form is set by the cell model from its steady state (k_form OBa_ss = k_res OCa_ss), so
every f is an equilibrium of the healthy model.

**Mineralisation** (issue 13 item 1). A bone packet of age a has the mineral content
m(a) = m_max - (m_max - m_prim) [(1 - s_slow) exp(-k_sec a) + s_slow exp(-k_slow a)]: new
bone enters with the primary content m_prim (Martínez-Reina et al. 2019, Bone 125:87, Table
2: 0.121; ASSUMPTION: their 12-day lag and 10-day primary phase are lumped into an
instantaneous step), a fast secondary phase (k_sec = 0.007 /day, their Table 2) and a slow
one of years (the long secondary-mineralisation tail: Ruffoni et al. 2007, Bone 40:1308;
Fuchs et al. 2008, Matrix Biol 27:34: rabbit osteons reach 67 % of the
interstitial mineral/matrix ratio in 18 days and keep rising for a year; Bala et al. 2010,
Bone 46:1204). Osteoclasts resorb
packets of every age in proportion to their volume (as the queue algorithm does). For a
law that is a sum of exponentials the mean over the distribution of tissue ages obeys the
two ODEs above **exactly** (each exponential mode is a moment of the age distribution that
is born with formation, decays with k and is diluted by new bone), so the distribution of
tissue ages per cell costs one extra state, the slow mineral deficit D_s. s_slow and
k_slow were fitted to the rise of the degree of mineralisation under suppressed turnover
(Boivin et al. 2000, Bone 27:687: +7.3 % and +11.4 % over placebo after 2 and 3 years of
alendronate; ``bonefem.biology.calibration_mechanistic``). With s_slow = 0 the law is the
single-cohort mean field of bonefem 0.1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

__all__ = [
    "DEFAULT_REMODELING",
    "CellDrivenRemodeling",
    "RemodelingParameters",
    "VolumeLaw",
    "apparent_density",
    "ash_fraction",
    "bone_surface",
    "haversian_surface",
    "mineral_density",
    "specific_surface",
    "tissue_density",
]

FloatArray = npt.NDArray[np.float64]

# Lerebours et al. 2016 Eq. (12): S_V(f) = 32.2 f - 93.9 f^2 + 134 f^3 - 101 f^4 + 28.8 f^5
_SV_COEFFS = (28.8, -101.0, 134.0, -93.9, 32.2, 0.0)


def specific_surface(f: FloatArray | float) -> FloatArray:
    """Bone specific surface S_V(f) in 1/mm (surface per total volume).

    Martin (1984) data as fitted by Lerebours et al. (2016), Eq. (12). S_V is about
    3.1 /mm at f = 0.15 (trabecular) and 0.75 /mm at f = 0.95 (cortical).

    Args:
        f: bone volume fraction BV/TV (dimensionless, 0..1).

    Returns:
        S_V in 1/mm, same shape as ``f``.
    """
    f = np.asarray(f, dtype=float)
    return np.asarray(((((28.8 * f - 101.0) * f + 134.0) * f - 93.9) * f + 32.2) * f)


def specific_surface_derivative(f: FloatArray | float) -> FloatArray:
    """dS_V/df in 1/mm (derivative of :func:`specific_surface`)."""
    f = np.asarray(f, dtype=float)
    return np.asarray((((144.0 * f - 404.0) * f + 402.0) * f - 187.8) * f + 32.2)


@dataclass(frozen=True, slots=True, kw_only=True)
class RemodelingParameters:
    """Parameters of the cell-driven bone volume and mineralisation law.

    Attributes:
        k_res: volume resorbed per unit bone surface, per pM of active osteoclasts and per
            day (mm/(pM*day)). Default 0.33: with the Scheiner steady state (OCa 1e-4 pM)
            trabecular bone at f = 0.15 turns over 25 %/year (ASSUMPTION, typical adult
            trabecular turnover, Parfitt 1983), cortical bone at f = 0.95 about 1 %/year.
        f_min: lower bound of the bone volume fraction (dimensionless).
        f_max: upper bound of the bone volume fraction (dimensionless).
        bound_width: width of the linear switch-off zone next to each bound (dimensionless).
        m_primary: mineral volume fraction of the matrix after primary mineralisation
            (dimensionless, Martínez-Reina 2019: 0.121).
        m_max: maximum mineral volume fraction of the matrix (dimensionless, 0.442).
        k_sec: rate of secondary mineralisation (1/day, Martínez-Reina 2019: 0.007).
        rho_mineral: density of the mineral phase (g/cm³, 3.2).
        rho_organic: density of the organic phase (g/cm³, 1.1).
        v_organic: organic volume fraction of the matrix (dimensionless, 3/7).
        slow_share: share of the secondary mineral gap (m_max - m_prim) filled by the slow
            phase (dimensionless, 0 = single phase as in bonefem 0.1).
        k_slow: rate of the slow secondary phase (1/day).
        canal_density: Haversian canals per mm^2 of compact bone N_H (1/mm^2; 0 = Lerebours'
            S_V(f) everywhere).
        haversian_blend: BV/TV range (dimensionless) over which S(f) passes from S_V to the
            Haversian surface (trabecularised cortex below, canal network above).
        formation_delay_days: mean delay of the formation activity behind the active
            osteoblasts T (days; two-stage Erlang; 0 = none).
    """

    k_res: float = 0.33
    f_min: float = 0.01
    f_max: float = 0.99
    bound_width: float = 0.01
    m_primary: float = 0.121
    m_max: float = 0.442
    k_sec: float = 0.007
    rho_mineral: float = 3.2
    rho_organic: float = 1.1
    v_organic: float = 3.0 / 7.0
    slow_share: float = 0.0
    k_slow: float = 1.0e-3
    canal_density: float = 0.0
    haversian_blend: tuple[float, float] = (0.7, 0.9)
    formation_delay_days: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.slow_share < 1.0:
            raise ValueError(f"slow_share must lie in [0, 1), got {self.slow_share}")
        if self.k_slow <= 0.0 or self.canal_density < 0.0 or self.formation_delay_days < 0.0:
            raise ValueError(
                "k_slow must be > 0 (1/day), canal_density >= 0 (1/mm^2) and "
                f"formation_delay_days >= 0 (days); got {self.k_slow}, {self.canal_density}, "
                f"{self.formation_delay_days}"
            )

    @property
    def delay_rate(self) -> float:
        """Rate of each of the two stages of the formation delay, 2/T (1/day); 0 = no delay."""
        T = self.formation_delay_days
        return 2.0 / T if T > 0.0 else 0.0


DEFAULT_REMODELING = RemodelingParameters()
"""Material constants and bounds with the issue-13 terms off (bonefem 0.1's law); the
cell model's default, with them on, is :data:`bonefem.biology.cells.DEFAULT_REMODELING_CELLS`."""


def haversian_surface(f: FloatArray | float, canal_density: float) -> FloatArray:
    """Surface of a Haversian canal network per total volume, 2 sqrt(pi N_H (1 - f)) (1/mm).

    Canals of circular section, ``canal_density`` N_H per mm^2 of cross-section, porosity
    1 - f: radius r with N_H pi r^2 = 1 - f, surface N_H 2 pi r.
    """
    f = np.asarray(f, dtype=float)
    return np.asarray(2.0 * np.sqrt(np.pi * canal_density * np.clip(1.0 - f, 0.0, 1.0)))


def haversian_weight(f: FloatArray | float, params: RemodelingParameters) -> FloatArray:
    """w(f) in [0, 1]: the Haversian (intracortical) share of the remodelling surface (-).

    The smoothstep of f between the two values of ``params.haversian_blend`` (0 below:
    trabecular and trabecularised surfaces, 1 above: canal surfaces of compact bone); 0
    everywhere when ``canal_density`` is 0.
    """
    f = np.asarray(f, dtype=float)
    if params.canal_density <= 0.0:
        return np.zeros_like(f)
    lo, hi = params.haversian_blend
    x = np.clip((f - lo) / (hi - lo), 0.0, 1.0)
    return np.asarray(x * x * (3.0 - 2.0 * x))


def bone_surface(
    f: FloatArray | float, params: RemodelingParameters, w: FloatArray | None = None
) -> FloatArray:
    """Remodelling surface per total volume S(f) (1/mm): Lerebours' S_V blended into S_H.

    ``S = S_V + w (S_H - S_V)`` with w = :func:`haversian_weight` (``w``: already computed
    for these f, or None); S = S_V when ``canal_density`` is 0.
    """
    sv = specific_surface(f)
    if params.canal_density <= 0.0:
        return sv
    if w is None:
        w = haversian_weight(f, params)
    return np.asarray(sv + w * (haversian_surface(f, params.canal_density) - sv))


class VolumeLaw(Protocol):
    """A law giving the rates of change of bone volume fraction and mineral content.

    Implementations: :class:`CellDrivenRemodeling`. (The laws the coupled loop drives, the
    cell-driven one and the Huiskes law, implement :class:`bonefem.remodeling.RemodelingLaw`.)
    """

    def volume_rates(
        self, f: FloatArray, m: FloatArray, OBa: FloatArray, OCa: FloatArray
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Return (df/dt, dm/dt, formation per bone volume F/f), all in 1/day."""
        ...


class CellDrivenRemodeling:
    """Bone volume fraction and mineral content driven by active osteoblasts and osteoclasts.

    Args:
        params: the law's parameters.
        k_form: formation constant (mm/(pM*day)); set by the cell model so that
            k_form * OBa_ss = k_res * OCa_ss.
    """

    def __init__(self, params: RemodelingParameters, k_form: float) -> None:
        self.params = params
        self.k_form = float(k_form)

    def bound_factors(self, f: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Return (g_form, g_res) in [0, 1]: formation off at f_max, resorption off at f_min."""
        p = self.params
        g_form = np.clip((p.f_max - f) / p.bound_width, 0.0, 1.0)
        g_res = np.clip((f - p.f_min) / p.bound_width, 0.0, 1.0)
        return g_form, g_res

    def formation_resorption(
        self,
        f: FloatArray,
        OBa: FloatArray,
        OCa: FloatArray,
        resorption_factor: float = 1.0,
        modelling: float = 0.0,
    ) -> tuple[FloatArray, FloatArray]:
        """Bone volume formed and resorbed per total volume and day (1/day).

        Args:
            f: bone volume fraction (dimensionless).
            OBa: active osteoblasts (pM).
            OCa: active osteoclasts (pM).
            resorption_factor: multiplier of the resorption per osteoclast (dimensionless;
                bisphosphonates can lower it; 1 = untreated).
            modelling: modelling-based formation per unit bone surface F_mod (mm/day), on
                the trabecular and trabecularised surfaces only (weight 1 - w(f),
                :func:`haversian_weight`).
        """
        w = haversian_weight(f, self.params)  # once: the surface's blend and F_mod's weight
        sv = bone_surface(f, self.params, w)
        g_form, g_res = self.bound_factors(f)
        mod = modelling * (1.0 - w) if modelling else 0.0
        form = sv * (self.k_form * OBa + mod) * g_form
        res = sv * (self.params.k_res * resorption_factor) * OCa * g_res
        return form, res

    def volume_rates(
        self,
        f: FloatArray,
        m: FloatArray,
        OBa: FloatArray,
        OCa: FloatArray,
        resorption_factor: float = 1.0,
        modelling: float = 0.0,
        slow_deficit: FloatArray | None = None,
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Return (df/dt, dm/dt, F/f) in 1/day for the given cells and bone state.

        ``OBa`` is the formation activity (the delayed active osteoblasts, pM);
        ``modelling`` the modelling-based formation per unit surface (mm/day);
        ``slow_deficit`` D_s (dimensionless; None = no slow phase).
        """
        form, res = self.formation_resorption(f, OBa, OCa, resorption_factor, modelling)
        p = self.params
        form_rel = form / f
        dm = form_rel * (p.m_primary - m) + p.k_sec * (p.m_max - m)
        if slow_deficit is not None and p.slow_share > 0.0:
            dm = dm + (p.k_slow - p.k_sec) * slow_deficit
        return form - res, dm, form_rel

    def slow_deficit_rate(self, form_rel: FloatArray, slow_deficit: FloatArray) -> FloatArray:
        """dD_s/dt (1/day): the slow phase's mineral deficit, born with new bone, decaying."""
        p = self.params
        gap = p.slow_share * (p.m_max - p.m_primary)
        return np.asarray(form_rel * (gap - slow_deficit) - p.k_slow * slow_deficit)

    def mineral_steady_state(self, f: FloatArray, OBa: FloatArray) -> FloatArray:
        """Mean mineral content m (dimensionless) at steady state for the given f and OBa."""
        p = self.params
        r = self._steady_turnover(f, OBa)
        ds = self._slow_deficit(r)
        return np.asarray(
            (r * p.m_primary + p.k_sec * p.m_max + (p.k_slow - p.k_sec) * ds) / (r + p.k_sec)
        )

    def slow_deficit_steady_state(self, f: FloatArray, OBa: FloatArray) -> FloatArray:
        """Slow mineral deficit D_s (dimensionless) at steady state for the given f and OBa."""
        return self._slow_deficit(self._steady_turnover(f, OBa))

    def _steady_turnover(self, f: FloatArray, OBa: FloatArray) -> FloatArray:
        """F/f (1/day) of a point at steady state (formation = resorption)."""
        form, _ = self.formation_resorption(f, OBa, np.zeros_like(OBa))
        return np.asarray(form / f)

    def _slow_deficit(self, r: FloatArray) -> FloatArray:
        """D_s (dimensionless) at steady state for the turnover r = F/f (1/day)."""
        p = self.params
        return np.asarray(r * p.slow_share * (p.m_max - p.m_primary) / (r + p.k_slow))


def per_bone_volume_pct_per_year(rate: FloatArray | float, f: FloatArray | float) -> FloatArray:
    """A rate per total volume (1/day) as a rate per bone volume (%/year).

    100 × 365.25 × rate / f, e.g. formation as the histomorphometric BFR/BV (the turnover
    outputs: metrics, ParaView fields, 0-D columns).
    """
    return np.asarray(100.0 * 365.25 * np.asarray(rate) / np.asarray(f))


def ash_fraction(
    m: FloatArray | float, params: RemodelingParameters = DEFAULT_REMODELING
) -> FloatArray:
    """Ash (mineral mass) fraction of the bone matrix (dimensionless) from mineral content m.

    Martínez-Reina et al. (2019), Eq. (10): alpha = rho_m v_m / (rho_m v_m + rho_o v_o).
    """
    m = np.asarray(m, dtype=float)
    wm = params.rho_mineral * m
    return np.asarray(wm / (wm + params.rho_organic * params.v_organic))


def tissue_density(
    m: FloatArray | float, params: RemodelingParameters = DEFAULT_REMODELING
) -> FloatArray:
    """Bone matrix (tissue) density in g/cm³; pores of the matrix are water (1 g/cm³)."""
    m = np.asarray(m, dtype=float)
    return np.asarray(
        1.0 + (params.rho_mineral - 1.0) * m + (params.rho_organic - 1.0) * params.v_organic
    )


def apparent_density(
    f: FloatArray | float, m: FloatArray | float, params: RemodelingParameters = DEFAULT_REMODELING
) -> FloatArray:
    """Apparent (wet) density f * rho_tissue(m) in g/cm³."""
    return np.asarray(np.asarray(f, dtype=float) * tissue_density(m, params))


def mineral_density(
    f: FloatArray | float, m: FloatArray | float, params: RemodelingParameters = DEFAULT_REMODELING
) -> FloatArray:
    """Mineral mass per total volume f * rho_mineral * m in g/cm³ (what densitometry measures)."""
    return np.asarray(np.asarray(f, dtype=float) * params.rho_mineral * np.asarray(m, dtype=float))
