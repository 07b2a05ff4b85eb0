"""Parameter sets of the bone cell population model (frozen dataclasses, units in every field).

Two published sets are provided:

* :data:`PIVONKA_2008` -- Pivonka et al. (2008), Bone 43:249-263, "Model structure and
  control of bone remodeling: a theoretical study", Table 1 / Appendix, as implemented in
  the Physiome CellML model and in ``bone_models`` 0.1.0 (cmodiz/Bone-Models,
  ``pivonka_parameters.py``). No mechanical regulation.
* :data:`SCHEINER_2013` -- Scheiner, Pivonka & Hellmich (2013), CMAME 254:181-196, Table 1:
  the recalibrated cell parameters (steady state OBp 1e-3, OBa 5e-4, OCa 1e-4 pM) plus the
  mechanical regulation of Sect. 2.3 (osteoblast-precursor proliferation, Eq. (4), and
  mechanically induced RANKL production for disuse, Eq. (5)). This is the default set.

The beta_RANKL flag
-------------------
The paper and the CellML file print the intrinsic RANKL production as
beta_RANKL = 1.684e4 pM/day; the ``bone_models`` code uses 1.684195714712206e2 pM/day.
Only the latter reproduces the published steady state used by every later paper of the
family (Pivonka: OBp 6.19639e-4, OBa 5.58393e-4, OCa 8.06964e-4 pM, RANKL 0.552235 pM;
Scheiner: RANKL 0.703662 pM). With 1.684e4 the RANKL concentration at steady state is about
40 times larger and OCa is no longer at the published value (checked with
:meth:`bonefem.biology.cells.BoneCellModel.steady_state`). We therefore use
beta_RANKL = 1.684195714712206e2 pM/day in both sets and treat 1.684e4 as a typesetting error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from bonefem.remodeling.bone import DEFAULT_REMODELING, RemodelingParameters

__all__ = [
    "MECHANO_SWITCH_WIDTH",
    "PIVONKA_2008",
    "SCHEINER_2013",
    "CellParameters",
    "MechanoParameters",
    "calibrated_parameters",
    "cell_parameters",
    "remodeling_parameters",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class MechanoParameters:
    """Mechanical regulation of the cell model, Scheiner et al. (2013) Sect. 2.3.

    Attributes:
        enabled: whether the mechanical terms are active (False for Pivonka 2008).
        obu_fraction: a, fraction of the OBu differentiation flux replaced by OBp
            proliferation (dimensionless, Scheiner 2013: 0.1).
        pi_ss: Pi_mech at the homeostatic stimulus (dimensionless, Scheiner 2013: 0.5).
        lam: lambda, slope of Pi_mech above the homeostatic stimulus (dimensionless,
            Scheiner 2013: 1.25).
        kappa_rankl: kappa, mechanically induced RANKL production per unit relative
            under-stimulus (pM/day, Scheiner 2013 Eq. (5): 1e5).
        rankl_mech_max: P_max, saturation of the mechanically induced RANKL production
            (pM/day; inf = Scheiner's linear term). The production is
            kappa d / (1 + kappa d / P_max) with d = 1 - Psi/Psi_ss > 0: slope kappa at the
            homeostatic stimulus, P_max under complete unloading (issue 13 item 4: the
            linear term gave 540 x beta_RANKL at 30 % load and a disuse loss 2-3 times the
            bed-rest rates; P_max is calibrated on bed-rest data, docs/calibration.md).
        switch_width: width eps of the switch between the two branches at the homeostatic
            stimulus, in Psi/Psi_ss (dimensionless; 0 = Scheiner's kink). Each branch takes
            the once-differentiable ramp r(x) = 0 (x <= 0), x^2 / (2 eps) (x < eps),
            x - eps/2 (x >= eps) of its distance x from Psi_ss instead of max(0, x): the
            equilibrium stays exact (r(0) = 0) and the rates' derivative no longer jumps
            from lambda to kappa = 1e5 pM/day across Psi_ss, where the cell model's error
            control rejected a third of its substeps (docs/performance.md, "The HRT case
            after the untreated course was fitted as one"). A numerical regularisation
            (ASSUMPTION), no biological datum: bonefem's default 0.01, below the
            uncertainty of any strain-energy stimulus.
    """

    enabled: bool = True
    obu_fraction: float = 0.1
    pi_ss: float = 0.5
    lam: float = 1.25
    kappa_rankl: float = 1.0e5
    rankl_mech_max: float = math.inf
    switch_width: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.switch_width < 1.0:
            raise ValueError(f"switch_width must lie in [0, 1), got {self.switch_width}")

    def ramp(self, x: Any) -> Any:
        """The branch ramp r(x) (dimensionless): max(0, x), smoothed over ``switch_width``."""
        x = np.asarray(x, dtype=float)
        eps = self.switch_width
        if eps <= 0.0:
            return np.maximum(0.0, x)
        return np.where(x <= 0.0, 0.0, np.where(x < eps, x * x / (2.0 * eps), x - 0.5 * eps))


@dataclass(frozen=True, slots=True, kw_only=True)
class CellParameters:
    """Parameters of the Pivonka-family bone cell population model.

    Every rate is per day, every concentration in pM (picomolar). Symbols follow
    Pivonka et al. (2008), Table 1.

    Attributes:
        name: short label of the set.
        D_OBu: differentiation flux of uncommitted osteoblast progenitors (pM/day).
        D_OBp: differentiation rate of osteoblast precursors (1/day).
        A_OBa: apoptosis rate of active osteoblasts (1/day).
        D_OCp: differentiation flux of osteoclast precursors, D_OCp * OCp (pM/day).
        A_OCa: apoptosis rate of active osteoclasts (1/day).
        K_TGF_OBu: TGF-beta activation coefficient of OBu differentiation, K_D1 (pM).
        K_TGF_OBp: TGF-beta repression coefficient of OBp differentiation, K_D2 (pM).
        K_TGF_OCa: TGF-beta activation coefficient of OCa apoptosis, K_D3 (pM).
        alpha_TGF: TGF-beta released per active osteoclast and day, alpha * k_res (1/day).
        D_TGF: degradation rate of TGF-beta (1/day).
        beta_PTH: systemic PTH production (pM/day).
        D_PTH: degradation rate of PTH (1/day).
        K_PTH_act: PTH activation coefficient of RANKL expression, K_D4/K_D5 (pM).
        K_PTH_rep: PTH repression coefficient of OPG production, K_D6/K_D7 (pM).
        beta1_OPG: OPG production per osteoblast precursor (1/day; 0 in Pivonka's choice).
        beta2_OPG: OPG production per active osteoblast (1/day).
        OPG_max: maximum OPG concentration (pM).
        D_OPG: degradation rate of OPG (1/day).
        R1_RANKL: maximum RANKL per osteoblast precursor (dimensionless, pM/pM).
        R2_RANKL: maximum RANKL per active osteoblast (dimensionless; 0 in Pivonka's choice).
        beta_RANKL: intrinsic RANKL production (pM/day; see the module note on its value).
        D_RANKL: degradation rate of RANKL (1/day).
        K_A1_OPG: association constant RANKL-OPG (1/pM).
        K_A2_RANK: association constant RANKL-RANK (1/pM).
        RANK: RANK concentration on osteoclast precursors (pM).
        K_RANKL: RANKL-RANK activation coefficient of OCp differentiation, K_D8 (pM).
        mechano: mechanical regulation (Scheiner 2013).
    """

    name: str
    D_OBu: float
    D_OBp: float
    A_OBa: float
    D_OCp: float
    A_OCa: float
    K_TGF_OBu: float
    K_TGF_OBp: float
    K_TGF_OCa: float
    alpha_TGF: float = 1.0
    D_TGF: float = 1.0
    beta_PTH: float = 250.0
    D_PTH: float = 86.0
    K_PTH_act: float = 150.0
    K_PTH_rep: float = 2.225814277099542e-1
    beta1_OPG: float = 0.0
    beta2_OPG: float = 1.624900337835679e8
    OPG_max: float = 2.0e8
    D_OPG: float = 0.35
    R1_RANKL: float = 2.703476379131062e6
    R2_RANKL: float = 0.0
    beta_RANKL: float = 1.684195714712206e2
    D_RANKL: float = 1.0132471014805027e1
    K_A1_OPG: float = 1.0e-3
    K_A2_RANK: float = 3.411764705882353e-2
    RANK: float = 10.0
    K_RANKL: float = 4.457452802710724
    mechano: MechanoParameters = MechanoParameters(enabled=False)

    def with_(self, **changes: object) -> CellParameters:
        """Return a copy with some fields changed (``dataclasses.replace``)."""
        return replace(self, **changes)  # type: ignore[arg-type]


PIVONKA_2008 = CellParameters(
    name="pivonka2008",
    # Pivonka 2008 Table 1 / bone_models pivonka_parameters.py
    D_OBu=7.0e-4,
    D_OBp=2.674077909527713e-1,
    A_OBa=1.89e-1,
    D_OCp=2.1e-3,
    A_OCa=7.0e-1,
    K_TGF_OBu=4.545454545454545e-3,
    K_TGF_OBp=1.415624253823446e-3,
    K_TGF_OCa=4.545454545454545e-3,
    K_RANKL=4.457452802710724,
    mechano=MechanoParameters(enabled=False),
)
"""Pivonka et al. (2008) parameters (Table 1; beta_RANKL resolved, see module note)."""

SCHEINER_2013 = CellParameters(
    name="scheiner2013",
    # Scheiner, Pivonka & Hellmich 2013 Table 1 / bone_models scheiner_parameters.py
    D_OBu=7.0e-4,
    D_OBp=0.165696312976030,
    A_OBa=0.211072625806496,
    D_OCp=2.1 * 1.0e-3,  # D_OCp = 2.1 /day times the fixed OCp = 1e-3 pM
    A_OCa=5.64874468409633,
    K_TGF_OBu=5.63278809675429e-4,
    K_TGF_OBp=1.75426051821094e-4,
    K_TGF_OCa=5.63278809675429e-4,
    K_RANKL=5.67971833061048,
    mechano=MechanoParameters(enabled=True),
)
"""Scheiner et al. (2013) recalibrated parameters with mechanical regulation (published)."""


MECHANO_SWITCH_WIDTH = 0.01
"""Width of the smoothed switch at the homeostatic stimulus in bonefem's calibrated set
(Psi/Psi_ss, dimensionless; :attr:`MechanoParameters.switch_width`)."""


def calibrated_parameters(
    mechano_lambda: float,
    rankl_mech_max: float = math.inf,
    switch_width: float = MECHANO_SWITCH_WIDTH,
    rankl_mech_slope: float | None = None,
) -> CellParameters:
    """Scheiner 2013 set with calibrated lambda (dimensionless), P_max and kappa (pM/day).

    The mechanical slope lambda, the saturation of the disuse RANKL production P_max and
    its slope kappa (None: Scheiner's 1e5 pM/day) replace Scheiner's values, and the
    switch at the homeostatic stimulus is smoothed over
    ``switch_width`` (Psi/Psi_ss, dimensionless; ``CalibratedConstants.mechano_switch_width``,
    default :data:`MECHANO_SWITCH_WIDTH`). bonefem's default set is
    ``cell_parameters(CALIBRATED)`` (see :data:`bonefem.biology.cells.DEFAULT_PARAMETERS`);
    the steady state is unchanged.
    """
    mech = replace(
        SCHEINER_2013.mechano,
        lam=mechano_lambda,
        rankl_mech_max=rankl_mech_max,
        switch_width=switch_width,
    )
    if rankl_mech_slope is not None:
        mech = replace(mech, kappa_rankl=rankl_mech_slope)
    return replace(SCHEINER_2013, name="bonefem-calibrated", mechano=mech)


def cell_parameters(constants: Any) -> CellParameters:
    """The calibrated cell set for ``constants`` (a ``CalibratedConstants``).

    Its lambda (dimensionless), P_max and kappa (pM/day) and switch width (dimensionless),
    via :func:`calibrated_parameters`.
    """
    return calibrated_parameters(
        constants.mechano_lambda,
        constants.mechano_rankl_max,
        constants.mechano_switch_width,
        constants.mechano_rankl_slope,
    )


def remodeling_parameters(constants: Any) -> RemodelingParameters:
    """Bone-volume and mineralisation parameters with the issue-13 terms of ``constants``.

    ``constants`` is a :class:`bonefem.biology.calibrated.CalibratedConstants`: its
    ``mineral_slow_share`` (-), ``mineral_slow_rate`` (1/day), ``haversian_canal_density``
    (1/mm^2) and ``formation_delay_days`` (days) switch on the slow secondary
    mineralisation, the Haversian remodelling surface and the remodelling period
    (:mod:`bonefem.remodeling.bone`); zeros give bonefem 0.1's law.
    """
    return replace(
        DEFAULT_REMODELING,
        slow_share=constants.mineral_slow_share,
        k_slow=constants.mineral_slow_rate,
        canal_density=constants.haversian_canal_density,
        formation_delay_days=constants.formation_delay_days,
    )
