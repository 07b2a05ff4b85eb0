"""Pharmacokinetics of the bone drugs (pure functions of time; units in every name).

* :class:`DenosumabPK` -- one-compartment model with first-order absorption from the
  subcutaneous depot, Michaelis-Menten (target-mediated) plus linear elimination
  (Martínez-Reina & Pivonka 2019, Bone 125:87-95, Eq. (21) and Table 3, after
  Marathe et al. 2008/2011). Doses superpose in the depot; the concentration is continuous
  across doses and decays after the last one (unlike the public ``bone_models`` code, which
  restarts from zero at each dose and zeroes it when treatment stops).
* :class:`BisphosphonatePK` -- skeletal retention of alendronate: oral bioavailability
  0.64 % (Gertz et al. 1995, Clin Pharmacol Ther 58:288), about half of the absorbed dose
  binds to bone and the rest is excreted within days (Khan et al. 1997, JBMR 12:1700:
  ~50 % of an i.v. dose excreted in 5 days); of the bound part 17/50 = 34 % is released over
  the following 6 months (Khan 1997; ASSUMPTION: time constant 60 days) and the rest with a
  terminal half-life of about 10 years (Khan 1997: "> 10 years"). Zoledronate
  (:data:`ZOLEDRONATE_PK`): intravenous, bioavailability 1; about 60 % of the dose is
  retained in the skeleton, the rest excreted in the urine within 24 h (Chen et al. 2002,
  J Clin Pharmacol 42:1228: 39 +- 16 % renal excretion in 24 h); release as alendronate
  (ASSUMPTION: the same bone-surface binding and resorption-driven release). The drug
  that acts (:meth:`BisphosphonatePK.available_mg`) is the part on resorbing surfaces: the
  fast phase (surface-bound drug not yet buried or released) plus the drug the slow phase
  releases by remodelling, re-bound to surfaces with the same uptake and for the same time
  (Roelofs et al. 2006, Clin Cancer Res 12:6222s: osteoclasts take up the drug from the
  surface they resorb, the buried drug is inert until remodelling uncovers it; Russell
  et al. 2008, Osteoporos Int 19:733: recycling of released drug).
* :class:`TeriparatidePK` -- one-compartment model with first-order absorption for daily
  subcutaneous teriparatide (k_a 4.38 /h, k_e 0.693 /h, V 110 L, F 0.95; Martonova et al.
  2023 after the Forteo label). Returns the pulse-averaged exposure (AUC per dosing
  interval / interval, pM) that the cell model uses, and the peak concentration.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy.integrate import solve_ivp
from scipy.optimize import brentq

__all__ = ["BisphosphonatePK", "DenosumabPK", "TeriparatidePK", "dose_times"]

FloatArray = npt.NDArray[np.float64]


def dose_times(start_days: float, stop_days: float, interval_days: float) -> FloatArray:
    """Dose times start, start + interval, ... strictly before stop (days)."""
    n = max(0, math.ceil((stop_days - start_days) / interval_days - 1e-9))
    return start_days + interval_days * np.arange(n, dtype=float)


@dataclass(frozen=True, slots=True, kw_only=True)
class DenosumabPKParameters:
    """Denosumab PK parameters (Martínez-Reina & Pivonka 2019, Table 3).

    Attributes:
        k_a: absorption rate from the s.c. depot (1/day, 0.17).
        v_c: central volume per body mass over bioavailability, V_c/F (mL/kg, 77.9).
        v_max: maximum target-mediated elimination rate (ng/(kg*day), 2672).
        k_m: Michaelis-Menten constant (ng/mL, 411).
        k_el: linear elimination rate (1/day, 0.0115).
        molar_mass: molar mass (g/mol, 149 kDa).
    """

    k_a: float = 0.17
    v_c: float = 77.9
    v_max: float = 2672.0
    k_m: float = 411.0
    k_el: float = 0.0115
    molar_mass: float = 149.0e3


@dataclass
class DenosumabPK:
    """Serum denosumab concentration for a dosing schedule (superposed doses).

    Args:
        times_days: dose times (days).
        dose_mg: dose per injection (mg).
        body_mass_kg: body mass (kg).
        params: PK parameters.
        tail_days: how long after the last dose the concentration is integrated (days);
            afterwards it continues with the linear-elimination limit.
    """

    times_days: FloatArray
    dose_mg: float = 60.0
    body_mass_kg: float = 60.0
    params: DenosumabPKParameters = field(default_factory=DenosumabPKParameters)
    tail_days: float = 3650.0
    _segments: list[tuple[float, float, object]] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self.times_days = np.sort(np.asarray(self.times_days, dtype=float))
        if self.times_days.size == 0:
            return
        p = self.params
        vol = p.v_c * self.body_mass_kg  # mL
        dose_ng = self.dose_mg * 1.0e6
        vmax = p.v_max * self.body_mass_kg / vol  # ng/(mL day)
        t_doses = self.times_days

        def rhs(t: float, y: FloatArray) -> FloatArray:
            past = t_doses[t_doses <= t + 1e-12]
            inp = p.k_a * dose_ng / vol * float(np.sum(np.exp(-p.k_a * (t - past))))
            c = y[0]
            return np.array([inp - vmax * c / (p.k_m + c) - p.k_el * c])

        edges = [*t_doses.tolist(), float(t_doses[-1] + self.tail_days)]
        c0 = 0.0
        for a, b in itertools.pairwise(edges):
            sol = solve_ivp(
                rhs, (a, b), [c0], method="LSODA", rtol=1e-10, atol=1e-8, dense_output=True
            )
            self._segments.append((a, b, sol.sol))
            c0 = float(sol.y[0, -1])
        self._c_end = c0
        self._k_lin = p.k_el + vmax / p.k_m

    def concentration_ng_ml(self, t_days: float) -> float:
        """Serum concentration at time t (ng/mL); 0 before the first dose."""
        if not self._segments or t_days < self._segments[0][0]:
            return 0.0
        for a, b, sol in self._segments:
            if a <= t_days <= b:
                return max(0.0, float(sol(t_days)[0]))  # type: ignore[operator]
        t_last = self._segments[-1][1]
        return self._c_end * math.exp(-self._k_lin * (t_days - t_last))

    def concentration_pm(self, t_days: float) -> float:
        """Serum concentration at time t (pM): ng/mL * 1e6 / (g/mol)."""
        return self.concentration_ng_ml(t_days) * 1.0e6 / self.params.molar_mass


@dataclass(frozen=True, slots=True, kw_only=True)
class BisphosphonatePKParameters:
    """Alendronate skeletal retention parameters (see module docstring for sources).

    Attributes:
        bioavailability: oral bioavailability (dimensionless, 0.0064).
        bone_uptake: fraction of the absorbed dose bound to bone (dimensionless, 0.5).
        fast_fraction: fraction of the bound drug released in the fast phase (0.34).
        fast_time_constant_days: time constant of the fast release (days, 60; ASSUMPTION).
        slow_half_life_days: terminal skeletal half-life (days, 3650).
    """

    bioavailability: float = 0.0064
    bone_uptake: float = 0.5
    fast_fraction: float = 0.34
    fast_time_constant_days: float = 60.0
    slow_half_life_days: float = 3650.0


ALENDRONATE_PK = BisphosphonatePKParameters()
"""Oral alendronate (see the module docstring)."""
ZOLEDRONATE_PK = BisphosphonatePKParameters(bioavailability=1.0, bone_uptake=0.6)
"""Intravenous zoledronate: all of the dose reaches the circulation, 60 % binds to bone
(Chen et al. 2002)."""
BISPHOSPHONATE_PK = {"alendronate": ALENDRONATE_PK, "zoledronate": ZOLEDRONATE_PK}


@dataclass
class BisphosphonatePK:
    """Bone-bound alendronate (mg) for a dosing schedule; doses superpose linearly.

    Args:
        times_days: dose times (days).
        dose_mg: oral dose per intake (mg).
        params: retention parameters.
    """

    times_days: FloatArray
    dose_mg: float = 70.0
    params: BisphosphonatePKParameters = field(default_factory=BisphosphonatePKParameters)

    def bound_mg(self, t_days: float) -> float:
        """Drug bound to the skeleton at time t (mg)."""
        p = self.params
        age = self._ages(t_days)
        if age.size == 0:
            return 0.0
        k_slow = math.log(2.0) / p.slow_half_life_days
        decay = p.fast_fraction * np.exp(-age / p.fast_time_constant_days) + (
            1.0 - p.fast_fraction
        ) * np.exp(-k_slow * age)
        return float(self._per_dose_mg * np.sum(decay))

    def available_mg(self, t_days: float) -> float:
        """Drug on resorbing surfaces at time t (mg): what osteoclasts take up.

        The fast phase, f B_d exp(-a/tau) per dose of bound amount B_d and age a, plus
        the drug released from the slow (buried) phase by remodelling at the rate
        (1 - f) B_d k_slow exp(-k_slow a), of which the fraction ``bone_uptake`` binds to
        surfaces again for tau: u (1 - f) B_d k_slow tau exp(-k_slow a) (quasi-steady, as
        tau << 1/k_slow). Under daily dosing the fast phase dominates; after the last dose
        only the recycled drug acts, a few per cent of the bound amount per tau.
        """
        p = self.params
        age = self._ages(t_days)
        if age.size == 0:
            return 0.0
        k_slow = math.log(2.0) / p.slow_half_life_days
        tau = p.fast_time_constant_days
        surface = p.fast_fraction * np.exp(-age / tau) + (
            p.bone_uptake * (1.0 - p.fast_fraction) * k_slow * tau
        ) * np.exp(-k_slow * age)
        return float(self._per_dose_mg * np.sum(surface))

    @property
    def _per_dose_mg(self) -> float:
        """Bound amount per dose B_d (mg)."""
        p = self.params
        return self.dose_mg * p.bioavailability * p.bone_uptake

    def _ages(self, t_days: float) -> FloatArray:
        """Ages of the doses given by t (days)."""
        past = self.times_days[self.times_days <= t_days]
        return np.asarray(t_days - past, dtype=float)


@dataclass(frozen=True, slots=True, kw_only=True)
class TeriparatidePK:
    """Teriparatide (PTH 1-34) exposure for regular s.c. dosing.

    Attributes:
        dose_ug: dose per injection (µg, 20).
        interval_days: dosing interval (days, 1).
        k_a: absorption rate (1/h, 4.38).
        k_e: elimination rate (1/h, 0.693).
        volume_l: volume of distribution (L, 110).
        bioavailability: s.c. bioavailability (dimensionless, 0.95).
        molar_mass: molar mass of teriparatide (g/mol, 4117.8).
    """

    dose_ug: float = 20.0
    interval_days: float = 1.0
    k_a: float = 4.38
    k_e: float = 0.693
    volume_l: float = 110.0
    bioavailability: float = 0.95
    molar_mass: float = 4117.8

    @property
    def c0_pm(self) -> float:
        """Dose over volume, F * D / (M V) (pM)."""
        return self.bioavailability * self.dose_ug * 1e-6 / self.molar_mass / self.volume_l * 1e12

    @property
    def mean_pm(self) -> float:
        """Pulse-averaged concentration AUC/interval (pM): F D / (V k_e) / interval."""
        auc_pm_h = self.c0_pm / self.k_e
        return auc_pm_h / (24.0 * self.interval_days)

    @property
    def peak_pm(self) -> float:
        """Peak concentration after one dose (pM), Bateman function at t_max."""
        ka, ke = self.k_a, self.k_e
        tmax = math.log(ka / ke) / (ka - ke)
        return self.c0_pm * ka / (ka - ke) * (math.exp(-ke * tmax) - math.exp(-ka * tmax))

    def concentration_pm(self, t_h: float) -> float:
        """Concentration t_h hours after one dose (pM), Bateman function."""
        ka, ke = self.k_a, self.k_e
        return self.c0_pm * ka / (ka - ke) * (math.exp(-ke * t_h) - math.exp(-ka * t_h))

    def hours_above(self, threshold_pm: float) -> float:
        """Hours per dose during which the concentration exceeds ``threshold_pm`` (pM).

        The receptor-exposure duration of one pulse (single-dose Bateman curve; with
        k_e = 0.693/h the accumulation between daily doses is below 1e-7 of the peak).
        0 if the peak stays below the threshold.
        """
        ka, ke = self.k_a, self.k_e
        tmax = math.log(ka / ke) / (ka - ke)
        if self.peak_pm <= threshold_pm:
            return 0.0
        late = tmax + 50.0 / ke
        t1 = brentq(lambda t: self.concentration_pm(t) - threshold_pm, 0.0, tmax, xtol=1e-9)
        t2 = brentq(lambda t: self.concentration_pm(t) - threshold_pm, tmax, late, xtol=1e-9)
        return float(t2 - t1)

    @property
    def pulse_duration_h(self) -> float:
        """Effective pulse duration AUC / C_max (hours)."""
        return self.c0_pm / self.k_e / self.peak_pm
