"""Phenomenological adaptive remodelling with a lazy zone (Huiskes et al. 1987).

Huiskes, Weinans, Grootenboer, Dalstra, Fudala & Slooff (1987), J Biomech 20:1135, with
the strain-energy-per-unit-mass stimulus S = Ψ/ρ of Weinans, Huiskes & Grootenboer (1992,
J Biomech 25:1425)::

    dρ/dt = B (S − (1 + s) K)   if S > (1 + s) K
    dρ/dt = B (S − (1 − s) K)   if S < (1 − s) K
    dρ/dt = 0                   otherwise (lazy zone)

ρ apparent density (g/cm³), Ψ daily strain energy density (MPa), K each cell's initial S
(so t = 0 is an equilibrium, as for the cell model), s the lazy-zone half-width, B the
rate ((g/cm³)²/(MPa·day)). The mineral content stays constant; ρ is converted to the bone
volume fraction f = ρ/ρ_tissue(m) and bounded like the cell-driven law. No biology: the
hormones and drugs of the case have no effect (the cell populations stay at their
initial values). Integrated with explicit midpoint substeps of at most 1 day; the loop's
stop event is checked after every substep.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from bonefem.remodeling.bone import RemodelingParameters, tissue_density
from bonefem.remodeling.law import (
    Drive,
    FloatArray,
    LawContext,
    LawStep,
    ReduceMax,
    StopEvent,
    register_law,
)


@dataclass
class HuiskesLaw:
    """The Huiskes law (module docstring).

    Args:
        rate: B in (g/cm³)²/(MPa·day).
        lazy_zone: s (dimensionless).
        params: bone composition and bounds of f.
        initial_cells: f0 -> initial state (8, n) (the cell model's healthy state: the
            population rows stay constant, this law has no cells).
    """

    rate: float
    lazy_zone: float
    params: RemodelingParameters
    initial_cells: Callable[[FloatArray], FloatArray]

    def density_rate(self, rho: FloatArray, psi: FloatArray, K: FloatArray) -> FloatArray:
        """dρ/dt in g/cm³/day for densities ρ (g/cm³), stimuli Ψ (MPa), references K."""
        S = psi / rho
        hi = (1.0 + self.lazy_zone) * K
        lo = (1.0 - self.lazy_zone) * K
        return np.asarray(
            self.rate * (np.where(hi < S, S - hi, 0.0) + np.where(lo > S, S - lo, 0.0))
        )

    def initial_state(self, f0: FloatArray) -> FloatArray:
        """State (8, n) at BV/TV f0: the cell model's healthy state (m, Ds steady)."""
        return np.asarray(self.initial_cells(f0))

    def initial_ratio(self, f0: FloatArray) -> FloatArray | None:
        """None: the Huiskes law starts at its reference stimulus (no cohort history)."""
        return None

    def advance(
        self,
        cells: FloatArray,
        t: float,
        t_end: float,
        drive: Drive,
        *,
        reduce_max: ReduceMax,
        h_init: float | None,
        stop: StopEvent,
    ) -> LawStep:
        """Midpoint substeps of at most 1 day from t to t_end; only f (row 3) changes."""
        p = self.params
        K = drive.reference_sed_per_mass
        rho_t = tissue_density(cells[4], p)
        f = cells[3].copy()
        n_sub = max(1, math.ceil(t_end - t))
        h = (t_end - t) / n_sub
        out = cells.copy()
        for k in range(n_sub):
            k1 = self.density_rate(f * rho_t, drive.apparent_sed(f), K) / rho_t
            mid = np.clip(f + 0.5 * h * k1, p.f_min, p.f_max)
            k2 = self.density_rate(mid * rho_t, drive.apparent_sed(mid), K) / rho_t
            f = np.clip(f + h * k2, p.f_min, p.f_max)
            if k + 1 < n_sub and stop(f, cells[4]):
                out[3] = f
                return LawStep(out, t + (k + 1) * h, True)
        out[3] = f
        return LawStep(out, t_end, False)

    def derived(self, cells: FloatArray, t: float, ratio: FloatArray) -> Mapping[str, FloatArray]:
        """No cell signalling in this law: no derived fields."""
        return {}

    def turnover(self, cells: FloatArray, t: float) -> tuple[FloatArray, FloatArray] | None:
        """No osteoblasts and osteoclasts in this law: None (only the net rate exists)."""
        return None


@register_law("huiskes")
def _huiskes(context: LawContext) -> HuiskesLaw:
    s = context.settings.huiskes
    model = context.cell_model
    return HuiskesLaw(s.rate, s.lazy_zone, model.remodeling.params, model.healthy_state)
