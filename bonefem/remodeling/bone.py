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

    F = S_V(f) * (k_form * OBa + F_mod) * g_form(f)   formed bone volume per total volume and day
    R = S_V(f) * k_res  * OCa * g_res(f)           resorbed bone volume per total volume and day
    df/dt = F - R                                  (Scheiner 2013 Eq. (1) in volume fractions,
                                                    with the surface scaling of Lerebours 2016)
    dm/dt = (F/f) * (m_prim - m) + k_sec * (m_max - m)     (mean-field mineralisation)

``F_mod`` (mm/day) is modelling-based formation on quiescent surfaces, independent of
resorption (intermittent PTH; ``Effects.modelling_formation``, 0 otherwise). ``g_form``
and ``g_res`` switch formation off linearly within ``bound_width`` of ``f_max`` and
resorption off within ``bound_width`` of ``f_min`` so that f stays in [f_min, f_max].
k_form is set by the cell model from its steady state (k_form OBa_ss = k_res OCa_ss), so
every f is an equilibrium of the healthy model.

The mineralisation equation is a mean-field reduction of the Martínez-Reina et al. (2019,
Bone 125:87-95) queue algorithm (parameters from their Table 2: primary content 0.121
reached within 22 days, secondary saturation towards 0.442 with rate 0.007 /day):
new bone enters with the primary mineral content (ASSUMPTION: the 12-day lag and the
10-day primary phase are short against the years-long BMD responses and are lumped into an
instantaneous primary step), all existing bone mineralises as a single cohort towards
m_max (ASSUMPTION: mean-field), and osteoclasts resorb bone of mean mineral content
(as in the queue algorithm, which removes the same fraction of every age).
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


DEFAULT_REMODELING = RemodelingParameters()


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
            modelling: modelling-based formation per unit bone surface F_mod (mm/day).
        """
        sv = specific_surface(f)
        g_form, g_res = self.bound_factors(f)
        form = sv * (self.k_form * OBa + modelling) * g_form
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
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Return (df/dt, dm/dt, F/f) in 1/day for the given cells and bone state.

        ``modelling`` is the modelling-based formation per unit surface (mm/day).
        """
        form, res = self.formation_resorption(f, OBa, OCa, resorption_factor, modelling)
        p = self.params
        form_rel = form / f
        dm = form_rel * (p.m_primary - m) + p.k_sec * (p.m_max - m)
        return form - res, dm, form_rel

    def mineral_steady_state(self, f: FloatArray, OBa: FloatArray) -> FloatArray:
        """Mean mineral content m (dimensionless) at steady state for the given f and OBa."""
        p = self.params
        form, _ = self.formation_resorption(f, OBa, np.zeros_like(OBa))
        form_rel = form / f
        return np.asarray((form_rel * p.m_primary + p.k_sec * p.m_max) / (form_rel + p.k_sec))


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
