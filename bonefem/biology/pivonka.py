"""The Pivonka/Scheiner signalling chain, written once for values and derivatives.

:func:`signalling_chain` evaluates, per point, the signalling molecules and the rates of
the three cell populations of Pivonka et al. (2008, Bone 43:249, Eqs. (1)-(3), (9)-(13))
with the mechanical regulation of Scheiner et al. (2013, CMAME 254:181, Eqs. (2)-(5)) and
the hormone/drug terms of :class:`~bonefem.biology.effects.Effects`::

    TGFb  = alpha_TGF * OCa / D_TGF                                   (pM)
    PTH   = (beta_PTH + P_PTH,d) / D_PTH                              (pM, systemic)
    P_OPG = (beta1 OBp + beta2 OBa) * pi_rep(PTH, K_PTH_rep) * opg_factor   (pM/day)
    OPG   = (P_OPG + P_OPG,d) OPG_max / (P_OPG + D_OPG OPG_max)       (pM)
    RANKL_eff = (R1 OBp + R2 OBa) * pi_act(PTH, K_PTH_act)            (pM)
    RANKL = RANKL_eff / (1 + K_A1 OPG + K_A2 RANK + decoy)
            * (beta_RANKL + P_RANKL,d + P_RANKL,mech) / (beta_RANKL + D_RANKL RANKL_eff)
    RANKL_RANK = K_A2 RANK RANKL,  pi_RANKL = RANKL_RANK / (RANKL_RANK + K_RANKL / s_RANK)
    dOBp/dt = (1-a) D_OBu pi_act(TGFb, K1) - D_OBp OBp pi_rep(TGFb, K2)
              + P_OBp Pi_mech OBp + inj_OBp                           (pM/day)
    dOBa/dt = D_OBp OBp pi_rep(TGFb, K2) - A_OBa OBa + inj_OBa        (pM/day)
    dOCa/dt = D_OCp pi_RANKL - A_OCa OCa pi_act(TGFb, K3) + inj_OCa   (pM/day)

with pi_act(c, K) = c / (c + K) and pi_rep(c, K) = K / (c + K) (Pivonka Eqs. (4)-(5)),
each hormone/drug factor multiplying the rate it names (D_OBu by ``obu_factor``, ...).

External sources inj_X (pM/day; the injection/retraction experiments of Lemaire et al.
2004, J Theor Biol 229:293, and Pivonka et al. 2008, Sect. 3.2) enter as given when
positive. A negative source (a *retraction*, cells removed at a constant rate) would drive
the population through zero in finite time, where the published models have no meaning
and a log-state integrator stalls (issue 13 item 10). It is taken with first-order
kinetics at low populations (ASSUMPTION, regularisation; no published value)::

    inj_X,eff = inj_X * X / (X + X_ret)     if inj_X < 0,   X_ret = 1e-7 pM

(:data:`RETRACTION_HALF_PM`, 0.1 % of the smallest steady state, Scheiner's OCa 1e-4 pM),
so the removal is unchanged to 0.1 % while cells are present and the population settles at
X ~ X_ret P / (|inj_X| - P) > 0 (P its own production) instead of crossing zero.

The cell populations may be plain arrays (rates, derived fields) or
:class:`~bonefem.biology.dual.LogDual` values seeded with their log-derivatives, in which
case every output carries its derivatives with respect to u = ln(OBp, OBa, OCa): the
Jacobian of the integrator comes from the same lines as the rates, so a new model term is
written once. Only +, -, *, / are used on the populations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bonefem.biology.effects import Effects
from bonefem.biology.parameters import CellParameters

__all__ = ["RETRACTION_HALF_PM", "SignallingChain", "signalling_chain"]

Per = Any
"""A per-point quantity: array over points (FloatArray), number, or LogDual."""

RETRACTION_HALF_PM = 1.0e-7
"""X_ret (pM): population at which a negative external source (retraction) is halved."""


def _source(inj: float, x: Per) -> Per:
    """External source of population x (pM/day): inj, or inj x / (x + X_ret) if inj < 0."""
    if inj >= 0.0:
        return inj
    return inj * x / (x + RETRACTION_HALF_PM)


@dataclass(frozen=True, slots=True)
class SignallingChain:
    """Outputs of :func:`signalling_chain` (per point; arrays, numbers or duals).

    Attributes:
        tgf: TGF-beta (pM), Pivonka Eq. (9).
        pth: PTH (pM), systemic (a number).
        opg: OPG (pM), Pivonka Eq. (10).
        rankl: RANKL (pM), Pivonka Eq. (12) with the Scheiner Eq. (5) production.
        rankl_rank: RANKL-RANK complex K_A2 RANK RANKL (pM).
        pi_rankl: RANKL-RANK activation of OCp differentiation (dimensionless).
        dobp: dOBp/dt (pM/day).
        doba: dOBa/dt (pM/day).
        doca: dOCa/dt (pM/day).
    """

    tgf: Per
    pth: Per
    opg: Per
    rankl: Per
    rankl_rank: Per
    pi_rankl: Per
    dobp: Per
    doba: Per
    doca: Per


def signalling_chain(
    p: CellParameters,
    obp: Per,
    oba: Per,
    oca: Per,
    e: Effects,
    *,
    pi_mech: Per = 0.5,
    rankl_mech: Per = 0.0,
    obu_fraction: float = 0.0,
    obp_proliferation: float = 0.0,
) -> SignallingChain:
    """Signalling molecules and cell rates of the Pivonka/Scheiner model (see module).

    Args:
        p: cell parameters.
        obp: osteoblast precursors OBp (pM).
        oba: active osteoblasts OBa (pM).
        oca: active osteoclasts OCa (pM).
        e: hormone/drug terms at this time.
        pi_mech: Pi_mech, mechanical proliferation factor (dimensionless, Scheiner Eq. 4).
        rankl_mech: P_RANKL,mech, mechanically induced RANKL production (pM/day, Eq. 5).
        obu_fraction: a, fraction of the OBu flux replaced by proliferation (dimensionless).
        obp_proliferation: P_OBp, proliferation rate of OBp at Pi_mech = 1 (1/day; 0 = off).
    """
    # TGF-beta (Pivonka Eq. 9) and its Hill functions (Eqs. 4-5)
    tgf = (p.alpha_TGF / p.D_TGF) * oca
    pi1 = tgf / (tgf + p.K_TGF_OBu)
    pi2 = p.K_TGF_OBp / (tgf + p.K_TGF_OBp)
    pi3 = tgf / (tgf + p.K_TGF_OCa)
    # PTH (systemic, a number) and its action on RANKL and OPG expression
    pth = (p.beta_PTH + e.pth_production) / p.D_PTH
    pi_pth_act = pth / (pth + p.K_PTH_act)
    pi_pth_rep = p.K_PTH_rep / (pth + p.K_PTH_rep)
    # OPG (Pivonka Eqs. 10-11); beta1 = 0 and R2 = 0 in the published sets (terms skipped)
    c_opg = pi_pth_rep * e.opg_factor
    if p.beta1_OPG:
        p_opg = (p.beta1_OPG * c_opg) * obp + (p.beta2_OPG * c_opg) * oba
    else:
        p_opg = (p.beta2_OPG * c_opg) * oba
    opg = (p_opg + e.opg_production) * p.OPG_max / (p_opg + p.D_OPG * p.OPG_max)
    # RANKL (Pivonka Eq. 12, Scheiner Eq. 5) and its binding to RANK
    if p.R2_RANKL:
        rankl_eff = (p.R1_RANKL * pi_pth_act) * obp + (p.R2_RANKL * pi_pth_act) * oba
    else:
        rankl_eff = (p.R1_RANKL * pi_pth_act) * obp
    k_rank = p.K_A2_RANK * p.RANK
    binding = 1.0 + k_rank + e.rankl_decoy + p.K_A1_OPG * opg
    production = p.beta_RANKL + e.rankl_production + rankl_mech
    rr = k_rank * rankl_eff * production / (binding * (p.beta_RANKL + p.D_RANKL * rankl_eff))
    pi_rankl = rr / (rr + p.K_RANKL / e.rank_sensitivity)
    # populations (Pivonka Eqs. 1-3, Scheiner Eq. 2)
    diff_obp = (p.D_OBp * e.obp_factor) * obp * pi2
    dobp = (
        ((1.0 - obu_fraction) * p.D_OBu * e.obu_factor) * pi1
        - diff_obp
        + _source(e.obp_injection, obp)
    )
    if obp_proliferation:
        dobp = dobp + obp_proliferation * pi_mech * obp
    doba = diff_obp - (p.A_OBa * e.oba_apoptosis_factor) * oba + _source(e.oba_injection, oba)
    doca = (
        (p.D_OCp * e.ocp_factor) * pi_rankl
        - (p.A_OCa * e.oca_apoptosis_factor) * oca * pi3
        + _source(e.oca_injection, oca)
    )
    return SignallingChain(tgf, pth, opg, rr / k_rank, rr, pi_rankl, dobp, doba, doca)
