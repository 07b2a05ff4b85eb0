"""The mechanical stimulus the cells sense, between and at elasticity solves.

At a solve of the habitual load cases the daily stimulus combines them by their cycles
per day (Beaupré, Orr & Carter 1990, J Orthop Res 8:651)::

    Ψ = (Σ nᵢ ψᵢᵏ / Σ nᵢ)^(1/k)       (MPa; ψᵢ strain energy density of load case i)

relative to each cell's homeostatic Ψ_ss (the initial healthy state's, Scheiner et al.
2013, CMAME 254:181, Sect. 2.3), optionally smoothed by a Helmholtz filter. Two choices
are strategies here (picked in :mod:`bonefem.build`, nowhere else):

* the stimulus definition -- :class:`TissueStimulus` (SED per unit bone volume Ψ/f, the
  matrix SED of Scheiner et al. 2013) or :class:`ApparentStimulus` (continuum Ψ);
* the update between solves -- :class:`StressUpdate` (load-controlled: Ψ ∝ 1/E at fixed
  stress) or :class:`FrozenUpdate` (Ψ kept at its last solve).

The habitual loads are scaled by the activity factor s(t) (disuse, exercise); with
linear elasticity Ψ scales with s².
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from bonefem.coupling.material import BoneMaterial
from bonefem.remodeling.law import Drive
from bonefem.state import RunState

FloatArray = npt.NDArray[np.float64]


def daily_stimulus(
    sed: FloatArray, cycles_per_day: FloatArray, exponent: float = 2.0
) -> FloatArray:
    """Daily mechanical stimulus Ψ (MPa) of several load cases, per cell.

    Ψ = (Σᵢ nᵢ ψᵢᵏ / Σᵢ nᵢ)^(1/k): the cycle-weighted power mean of the strain energy
    densities ψᵢ (MPa) of the load cases with nᵢ cycles per day. With one load case Ψ = ψ.
    k = 2 corresponds to Beaupré, Orr & Carter (1990, J Orthop Res 8:651) daily stress
    stimulus with exponent m = 4, since the effective stress is ∝ √ψ.

    Args:
        sed: strain energy density per load case and cell, shape (n_cases, n_cells) (MPa).
        cycles_per_day: cycles per day of each load case (1/day).
        exponent: k (dimensionless, >= 1).
    """
    n = np.asarray(cycles_per_day, dtype=float)[:, None]
    psi = np.maximum(np.asarray(sed, dtype=float), 0.0)
    return np.asarray((np.sum(n * psi**exponent, axis=0) / n.sum()) ** (1.0 / exponent))


class StimulusDefinition(Protocol):
    """What Ψ the cells sense, relative to the apparent (continuum) Ψ."""

    def at_solve(self, ratio: FloatArray, f0: FloatArray, f_solved: FloatArray) -> FloatArray:
        """Relative stimulus from the apparent ratio Ψ/Ψ_ss at a solve (-)."""
        ...

    def between(self, r: FloatArray, f_solved: FloatArray, f: FloatArray) -> FloatArray:
        """The relative stimulus r of the solve's f carried to the current f (-)."""
        ...

    def apparent_factor(self, f: FloatArray, f0: FloatArray) -> FloatArray | float:
        """Factor from the relative stimulus at BV/TV f to the apparent Ψ/Ψ_ss (-)."""
        ...


class TissueStimulus:
    """Ψ/f relative to Ψ_ss/f₀: strain energy density per unit bone volume."""

    def at_solve(self, ratio: FloatArray, f0: FloatArray, f_solved: FloatArray) -> FloatArray:
        """(Ψ/f)/(Ψ_ss/f₀) at the solve (-)."""
        return np.asarray(ratio * f0 / f_solved)

    def between(self, r: FloatArray, f_solved: FloatArray, f: FloatArray) -> FloatArray:
        """R · f_solved / f (-): the same apparent Ψ shared by less bone."""
        return np.asarray(r * f_solved / f)

    def apparent_factor(self, f: FloatArray, f0: FloatArray) -> FloatArray | float:
        """F / f₀ (-)."""
        return np.asarray(f / f0)


class ApparentStimulus:
    """The continuum Ψ relative to Ψ_ss."""

    def at_solve(self, ratio: FloatArray, f0: FloatArray, f_solved: FloatArray) -> FloatArray:
        """Ψ/Ψ_ss (-)."""
        return ratio

    def between(self, r: FloatArray, f_solved: FloatArray, f: FloatArray) -> FloatArray:
        """R (-)."""
        return r

    def apparent_factor(self, f: FloatArray, f0: FloatArray) -> FloatArray | float:
        """1 (-)."""
        return 1.0


class LocalUpdate(Protocol):
    """How Ψ of a cell follows its own modulus between elasticity solves."""

    def ratio(
        self, base: FloatArray, E_solved: FloatArray, modulus: Callable[[], FloatArray]
    ) -> FloatArray:
        """The apparent relative stimulus now from ``base`` at the solve (-)."""
        ...


class StressUpdate:
    """Load-controlled: the cell keeps its stress, so Ψ = σ²/(2E) scales with E_solved/E."""

    def ratio(
        self, base: FloatArray, E_solved: FloatArray, modulus: Callable[[], FloatArray]
    ) -> FloatArray:
        """Base · E_solved / E (-)."""
        return np.asarray(base * E_solved / modulus())


class FrozenUpdate:
    """Ψ stays at its last solve."""

    def ratio(
        self, base: FloatArray, E_solved: FloatArray, modulus: Callable[[], FloatArray]
    ) -> FloatArray:
        """Base (-)."""
        return base


@dataclass
class StimulusModel:
    """Relative stimulus and strain energy density of every owned cell over a run.

    Args:
        definition: tissue or apparent stimulus.
        update: the update between solves.
        material: the material (E of f, m).
        cycles_per_day: cycles per day of each habitual load case (1/day).
        exponent: k of the daily stimulus.
        f0: initial BV/TV per owned cell (-), the homeostatic reference of the tissue
            stimulus.
        smooth: the Helmholtz filter of the relative stimulus, or None.
    """

    definition: StimulusDefinition
    update: LocalUpdate
    material: BoneMaterial
    cycles_per_day: FloatArray
    exponent: float
    f0: FloatArray
    smooth: Callable[[FloatArray], FloatArray] | None = None

    def daily(self, seds: FloatArray) -> FloatArray:
        """Daily Ψ (MPa) from the SED (n_cases, n) of the habitual load cases."""
        return daily_stimulus(seds, self.cycles_per_day, self.exponent)

    def at_solve(self, s: RunState) -> FloatArray:
        """Relative stimulus at the last solve (filtered, -), from ``s.psi_solved``.

        Apparent: Ψ/Ψ_ss. Tissue: (Ψ/f)/(Ψ_ss/f₀).
        """
        ratio = self.definition.at_solve(s.psi_solved / s.psi_ss, self.f0, s.f_solved)
        return ratio if self.smooth is None else self.smooth(ratio)

    def drive(self, s: RunState, scale: float) -> Drive:
        """The drive of a remodelling law from the state now at load scale ``scale``."""
        ratio = self.ratio_function(s, scale, s.m.copy())
        psi_ss, f0 = s.psi_ss, self.f0

        def apparent_sed(f: FloatArray) -> FloatArray:
            return np.asarray(psi_ss * ratio(f) * self.definition.apparent_factor(f, f0))

        return Drive(ratio, apparent_sed, s.psi_ss / s.rho0)

    def ratio_function(
        self, s: RunState, scale: float, m_now: FloatArray
    ) -> Callable[[FloatArray], FloatArray]:
        """Ψ/Ψ_ss as a function of f at load scale ``scale`` and mineral content m_now."""
        base = scale**2 * s.ratio_solved
        E_solved, f_solved = s.E_solved, s.f_solved

        def ratio(f: FloatArray) -> FloatArray:
            r = self.update.ratio(base, E_solved, lambda: self.material.modulus(f, m_now))
            return self.definition.between(r, f_solved, f)

        return ratio

    def sed(self, s: RunState, scale: float) -> FloatArray:
        """Daily strain energy density now (MPa), load-controlled from the last solve."""
        return np.asarray(scale**2 * s.psi_solved * s.E_solved / s.E)
