"""Bone cell population model (Pivonka 2008 / Scheiner 2013 family), vectorised over points.

State layout
------------
A state is a float64 array of shape ``(N_STATES, N)`` = ``(5, N)``, one column per point
(FE cell, or the single point of a 0-D run)::

    row 0  OBp  osteoblast precursors            (pM)
    row 1  OBa  active osteoblasts               (pM)
    row 2  OCa  active osteoclasts               (pM)
    row 3  f    bone volume fraction BV/TV       (dimensionless, in [f_min, f_max])
    row 4  m    mean mineral volume fraction of the bone matrix (dimensionless)

Equations (Pivonka et al. 2008, Eqs. (1)-(3), (9)-(13); Scheiner et al. 2013, Eqs. (2)-(5))::

    TGFb  = alpha_TGF * OCa / D_TGF
    PTH   = (beta_PTH + P_PTH,d) / D_PTH
    P_OPG = (beta1 OBp + beta2 OBa) * pi_rep(PTH, K_PTH_rep) * opg_factor
    OPG   = (P_OPG + P_OPG,d) OPG_max / (P_OPG + D_OPG OPG_max)
    RANKL_eff = (R1 OBp + R2 OBa) * pi_act(PTH, K_PTH_act)
    RANKL = RANKL_eff / (1 + K_A1 OPG + K_A2 RANK + decoy)
            * (beta_RANKL + P_RANKL,d + P_RANKL,mech) / (beta_RANKL + D_RANKL RANKL_eff)
    dOBp/dt = (1-a) D_OBu pi_act(TGFb, K1) - D_OBp OBp pi_rep(TGFb, K2) + P_OBp Pi_mech OBp
    dOBa/dt = D_OBp OBp pi_rep(TGFb, K2) - A_OBa OBa
    dOCa/dt = D_OCp pi_act(K_A2 RANKL RANK, K_RANKL) - A_OCa OCa pi_act(TGFb, K3)

with the hormone/drug terms of :class:`~bonefem.biology.effects.Effects` multiplying or
adding to the named terms, and f, m evolving by :class:`bonefem.remodeling.CellDrivenRemodeling`.

Mechanical regulation (Scheiner 2013): with Psi_r = Psi / Psi_ss (local strain energy
density relative to its homeostatic value, dimensionless)::

    Pi_mech = min(1, Pi_ss (1 + lambda (Psi_r - 1)))  if Psi_r > 1,  Pi_ss otherwise
    P_RANKL,mech = kappa (1 - Psi_r)                  if Psi_r < 1,  0 otherwise
    P_OBp = a D_OBu pi_act(TGFb_ss) / (OBp_ss Pi_ss)          (steady state preserved)

Integrator
----------
:meth:`BoneCellModel.advance` uses the two-stage, second-order, L-stable Rosenbrock/W
method ROS2 (Verwer, Spee, Blom & Hundsdorfer 1999, SIAM J Sci Comput 20:1456,
gamma = 1 + 1/sqrt(2)) in its non-autonomous form (their Eq. 2.2: the time derivative of the
right-hand side along the explicit drivers -- signals and f -- enters both stages, taken by
a one-sided difference), with an embedded first-order (linearly implicit Euler) error
estimate and step-size control. Without that term the W-method lags a slowly moving
quasi-steady state by O(h) once h >> 1/A_OCa, and its error estimate then forces substeps
of a fraction of a day through years of slow drift. The cell populations are integrated
in logarithmic variables u = ln(x), so they stay strictly positive whatever the step (the published
Lemaire "OBp retraction" failure cannot occur). The 3x3 cell Jacobian (in u) is computed
per point analytically and inverted in closed form, so everything is vectorised
over points; f is advanced explicitly within the W-method (its dynamics are slow) and m
linearly implicitly. The step size is common to all points: the error norm is the maximum
over points, passed through ``reduce_max`` (an MPI max-allreduce in the coupled loop), so
every rank takes the same substeps and the result does not depend on the partition.
Each call starts with one substep of the full ``dt`` (restart-safe: the result depends only
on the arguments), and substeps never cross signal milestones.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.optimize import root

from bonefem.biology.calibrated import CALIBRATED
from bonefem.biology.effects import NEUTRAL, ConstantSignals, Effects, SystemicSignals
from bonefem.biology.parameters import CellParameters, calibrated_parameters
from bonefem.config.defaults import DEFAULT_RTOL_BONE, DEFAULT_RTOL_CELLS
from bonefem.errors import SolverError
from bonefem.remodeling import DEFAULT_REMODELING, CellDrivenRemodeling, RemodelingParameters

__all__ = [
    "DEFAULT_PARAMETERS",
    "IF",
    "IM",
    "IOBA",
    "IOBP",
    "IOCA",
    "N_STATES",
    "STATE_NAMES",
    "AdvanceResult",
    "BoneCellModel",
    "Stimulus",
]

FloatArray = npt.NDArray[np.float64]
Stimulus = None | float | FloatArray | Callable[[FloatArray], FloatArray]
"""Mechanical drive Psi/Psi_ss: None (homeostatic), a number or an array per point, or a
callable ``stimulus(f) -> Psi/Psi_ss`` evaluated with the stage value of f."""

IOBP, IOBA, IOCA, IF, IM = 0, 1, 2, 3, 4
N_STATES = 5
STATE_NAMES = ("OBp", "OBa", "OCa", "f", "m")

DEFAULT_PARAMETERS = calibrated_parameters(CALIBRATED.mechano_lambda)
"""Default cell parameters: Scheiner 2013 with the calibrated mechanical slope lambda."""

_GAMMA = 1.0 + 1.0 / math.sqrt(2.0)




def _identity(x: float) -> float:
    return x


def _round_sig(x: float, digits: int = 2) -> float:
    """``x`` rounded to ``digits`` significant digits (inf and 0 unchanged)."""
    if x == 0.0 or not math.isfinite(x):
        return x
    return round(x, digits - 1 - math.floor(math.log10(abs(x))))


@dataclass(frozen=True, slots=True)
class AdvanceResult:
    """Result of :meth:`BoneCellModel.advance`.

    Attributes:
        state: the new state, shape (5, N).
        n_accepted: accepted substeps.
        n_rejected: rejected substeps.
        h_last: size of the last accepted substep (days).
    """

    state: FloatArray
    n_accepted: int
    n_rejected: int
    h_last: float
    t_end: float = math.nan
    """Time reached (days): t + dt, or earlier if ``stop`` ended the call."""
    stopped: bool = False
    """True if ``stop`` ended the call before t + dt."""


class BoneCellModel:
    """Vectorised bone cell population model with bone volume and mineral content.

    Args:
        params: cell parameter set (default :data:`DEFAULT_PARAMETERS`, the Scheiner 2013 set
            with the calibrated mechanical slope).
        remodeling: bone volume / mineralisation parameters.
        rtol_cells: local error tolerance on the cell populations, relative (dimensionless;
            the error of ln(x) is controlled).
        rtol_bone: local error tolerance on f and m, relative (dimensionless).
        atol_f: absolute tolerance on f (dimensionless).
        atol_m: absolute tolerance on m (dimensionless).
        max_substeps: limit of substeps per :meth:`advance` call.
    """

    def __init__(
        self,
        params: CellParameters = DEFAULT_PARAMETERS,
        remodeling: RemodelingParameters = DEFAULT_REMODELING,
        *,
        rtol_cells: float = DEFAULT_RTOL_CELLS,
        rtol_bone: float = DEFAULT_RTOL_BONE,
        atol_f: float = 1.0e-7,
        atol_m: float = 1.0e-7,
        max_substeps: int = 100_000,
    ) -> None:
        self.params = params
        self.rtol_cells = rtol_cells
        self.rtol_bone = rtol_bone
        self.atol_f = atol_f
        self.atol_m = atol_m
        self.max_substeps = max_substeps
        self._p_obp = 0.0
        self._a = 0.0
        ss = self.steady_state(NEUTRAL, mechanics=False)
        self.ss: FloatArray = ss
        """Healthy steady state (OBp, OBa, OCa) in pM."""
        mech = params.mechano
        if mech.enabled:
            tgf = params.alpha_TGF * ss[2] / params.D_TGF
            pi1 = tgf / (tgf + params.K_TGF_OBu)
            self._p_obp = mech.obu_fraction * params.D_OBu * pi1 / (ss[0] * mech.pi_ss)
            self._a = mech.obu_fraction
        self.remodeling = CellDrivenRemodeling(remodeling, remodeling.k_res * ss[2] / ss[1])

    # ------------------------------------------------------------------ rates
    @property
    def obp_proliferation(self) -> float:
        """P_OBp, proliferation rate of osteoblast precursors at Pi_mech = 1 (1/day)."""
        return self._p_obp

    def _mech(
        self, psi_r: FloatArray | float | None
    ) -> tuple[FloatArray | float, FloatArray | float]:
        """Return (Pi_mech, P_RANKL,mech in pM/day) for the relative stimulus."""
        mech = self.params.mechano
        if not mech.enabled or psi_r is None:
            return mech.pi_ss, 0.0
        psi = np.asarray(psi_r, dtype=float)
        pi = np.where(
            psi > 1.0, np.minimum(1.0, mech.pi_ss * (1.0 + mech.lam * (psi - 1.0))), mech.pi_ss
        )
        prod = mech.kappa_rankl * np.maximum(0.0, 1.0 - psi)
        return pi, prod

    def signalling(
        self,
        OBp: FloatArray,
        OBa: FloatArray,
        OCa: FloatArray,
        e: Effects = NEUTRAL,
        rankl_mech: FloatArray | float = 0.0,
    ) -> dict[str, FloatArray]:
        """Signalling molecules (all pM) for given cell concentrations (pM).

        Returns:
            dict with TGFb, PTH, OPG, RANKL, RANKL_RANK (pM) and pi_RANKL (dimensionless).
        """
        p = self.params
        tgf = p.alpha_TGF * OCa / p.D_TGF
        pth = (p.beta_PTH + e.pth_production) / p.D_PTH
        pi_pth_act = pth / (pth + p.K_PTH_act)
        pi_pth_rep = p.K_PTH_rep / (pth + p.K_PTH_rep)
        p_opg = (p.beta1_OPG * OBp + p.beta2_OPG * OBa) * (pi_pth_rep * e.opg_factor)
        opg = (p_opg + e.opg_production) * p.OPG_max / (p_opg + p.D_OPG * p.OPG_max)
        rankl_eff = (p.R1_RANKL * OBp + p.R2_RANKL * OBa) * pi_pth_act
        denom = 1.0 + p.K_A1_OPG * opg + (p.K_A2_RANK * p.RANK + e.rankl_decoy)
        rankl = (
            rankl_eff
            / denom
            * (p.beta_RANKL + e.rankl_production + rankl_mech)
            / (p.beta_RANKL + p.D_RANKL * rankl_eff)
        )
        rr = p.K_A2_RANK * p.RANK * rankl
        k8 = p.K_RANKL / e.rank_sensitivity
        return {
            "TGFb": np.asarray(tgf),
            "PTH": np.asarray(pth + 0.0 * OBp),
            "OPG": np.asarray(opg),
            "RANKL": np.asarray(rankl),
            "RANKL_RANK": np.asarray(rr),
            "pi_RANKL": np.asarray(rr / (rr + k8)),
        }

    def cell_rates(
        self,
        OBp: FloatArray,
        OBa: FloatArray,
        OCa: FloatArray,
        e: Effects = NEUTRAL,
        psi_r: FloatArray | float | None = None,
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Time derivatives of (OBp, OBa, OCa) in pM/day (vectorised over points)."""
        p = self.params
        pi_mech, rankl_mech = self._mech(psi_r)
        # TGF-beta (Pivonka Eq. 9) and its Hill functions
        tgf = (p.alpha_TGF / p.D_TGF) * OCa
        pi1 = tgf / (tgf + p.K_TGF_OBu)
        pi2 = p.K_TGF_OBp / (tgf + p.K_TGF_OBp)
        pi3 = tgf / (tgf + p.K_TGF_OCa)
        # PTH (scalar: systemic)
        pth = (p.beta_PTH + e.pth_production) / p.D_PTH
        pi_pth_act = pth / (pth + p.K_PTH_act)
        pi_pth_rep = p.K_PTH_rep / (pth + p.K_PTH_rep)
        # OPG and RANKL (Pivonka Eqs. 10-12)
        c_opg = pi_pth_rep * e.opg_factor
        if p.beta1_OPG:
            p_opg = (p.beta1_OPG * c_opg) * OBp + (p.beta2_OPG * c_opg) * OBa
        else:
            p_opg = (p.beta2_OPG * c_opg) * OBa
        opg = (p_opg + e.opg_production) * p.OPG_max / (p_opg + p.D_OPG * p.OPG_max)
        if p.R2_RANKL:
            rankl_eff = (p.R1_RANKL * pi_pth_act) * OBp + (p.R2_RANKL * pi_pth_act) * OBa
        else:
            rankl_eff = (p.R1_RANKL * pi_pth_act) * OBp
        c0 = 1.0 + p.K_A2_RANK * p.RANK + e.rankl_decoy
        prod = p.beta_RANKL + e.rankl_production + rankl_mech
        rr = (
            (p.K_A2_RANK * p.RANK)
            * rankl_eff
            * prod
            / ((c0 + p.K_A1_OPG * opg) * (p.beta_RANKL + p.D_RANKL * rankl_eff))
        )
        k8 = p.K_RANKL / e.rank_sensitivity
        pi_rankl = rr / (rr + k8)
        # populations (Pivonka Eqs. 1-3, Scheiner Eq. 2)
        a = self._a
        diff_obp = (p.D_OBp * e.obp_factor) * OBp * pi2
        dobp = ((1.0 - a) * p.D_OBu * e.obu_factor) * pi1 - diff_obp + e.obp_injection
        if self._p_obp:
            dobp = dobp + self._p_obp * pi_mech * OBp
        doba = diff_obp - (p.A_OBa * e.oba_apoptosis_factor) * OBa + e.oba_injection
        doca = (
            (p.D_OCp * e.ocp_factor) * pi_rankl
            - (p.A_OCa * e.oca_apoptosis_factor) * OCa * pi3
            + e.oca_injection
        )
        return dobp, doba, doca

    def rhs(
        self,
        state: FloatArray,
        e: Effects = NEUTRAL,
        psi_r: FloatArray | float | None = None,
    ) -> FloatArray:
        """Time derivative of the full state (5, N) in state units per day."""
        out = np.empty_like(state)
        out[0], out[1], out[2] = self.cell_rates(state[0], state[1], state[2], e, psi_r)
        out[3], out[4], _ = self.remodeling.volume_rates(
            state[3], state[4], state[1], state[2], e.resorption_factor
        )
        return out

    # ---------------------------------------------------------- steady state
    def steady_state(
        self,
        e: Effects = NEUTRAL,
        *,
        mechanics: bool = True,
        guess: FloatArray | None = None,
    ) -> FloatArray:
        """Steady state (OBp, OBa, OCa) in pM for constant effects, by Newton in ln(x).

        Args:
            e: constant effects (default: healthy reference).
            mechanics: include the mechanical proliferation term at Psi_r = 1.
            guess: starting point (pM); default the Scheiner steady state.
        """
        x0 = np.array([1.0e-3, 5.0e-4, 1.0e-4]) if guess is None else np.asarray(guess, float)
        p_save, a_save = self._p_obp, self._a
        if not mechanics:
            self._p_obp, self._a = 0.0, 0.0

        def fun(u: FloatArray) -> FloatArray:
            x = np.exp(u)
            r = self.cell_rates(x[0:1], x[1:2], x[2:3], e, None)
            return np.array([r[0][0] / x[0], r[1][0] / x[1], r[2][0] / x[2]])

        try:
            best: FloatArray | None = None
            for start in (x0, np.array([6.2e-4, 5.6e-4, 8.1e-4]), np.array([1e-3, 1e-3, 1e-3])):
                sol = root(fun, np.log(start), method="hybr", tol=1e-14)
                if sol.success and np.max(np.abs(fun(sol.x))) < 1e-9:
                    best = np.exp(sol.x)
                    break
        finally:
            self._p_obp, self._a = p_save, a_save
        if best is None:
            raise SolverError(f"no steady state of the cell model found for effects {e}")
        return best

    def healthy_state(self, f0: FloatArray | float, n: int | None = None) -> FloatArray:
        """Healthy steady state for points with bone volume fractions ``f0``.

        Args:
            f0: BV/TV per point (dimensionless), or one value for all ``n`` points.
            n: number of points when ``f0`` is a scalar.

        Returns:
            state array (5, N): cells at the healthy steady state, f = f0, m at the
            mineralisation steady state of f0 (so every column is an equilibrium).
        """
        f = np.atleast_1d(np.asarray(f0, dtype=float))
        if n is not None:
            f = np.broadcast_to(f, (n,)) if f.size == 1 else f
        if f.ndim != 1 or (n is not None and f.size != n):
            raise ValueError(f"f0 must be a scalar or a 1-D array of length n, got shape {f.shape}")
        rp = self.remodeling.params
        if np.any((f < rp.f_min + rp.bound_width) | (f > rp.f_max - rp.bound_width)):
            raise ValueError(
                f"f0 must lie in [{rp.f_min + rp.bound_width}, {rp.f_max - rp.bound_width}]"
            )
        state = np.empty((N_STATES, f.size))
        state[0:3] = self.ss[:, None]
        state[3] = f
        state[4] = self.remodeling.mineral_steady_state(f, state[1])
        return state

    # ------------------------------------------------------------ outputs
    def derived(
        self,
        state: FloatArray,
        e: Effects = NEUTRAL,
        psi_r: FloatArray | float | None = None,
    ) -> dict[str, FloatArray]:
        """Derived quantities per point.

        Returns:
            dict with TGFb, PTH, OPG, RANKL, RANKL_RANK (pM), pi_RANKL and Pi_mech
            (dimensionless), formation and resorption (bone volume per total volume and
            day, 1/day) and P_RANKL_mech (pM/day).
        """
        pi_mech, rankl_mech = self._mech(psi_r)
        out = self.signalling(state[0], state[1], state[2], e, rankl_mech)
        form, res = self.remodeling.formation_resorption(
            state[3], state[1], state[2], e.resorption_factor
        )
        out["formation"] = form
        out["resorption"] = res
        out["Pi_mech"] = np.asarray(pi_mech + 0.0 * state[0])
        out["P_RANKL_mech"] = np.asarray(rankl_mech + 0.0 * state[0])
        return out

    # ---------------------------------------------------------- integrator
    def _log_rates(
        self, x: FloatArray, e: Effects, psi_r: FloatArray | float | None
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        r0, r1, r2 = self.cell_rates(x[0], x[1], x[2], e, psi_r)
        return r0 / x[0], r1 / x[1], r2 / x[2]

    def log_rates_jacobian(
        self, x: FloatArray, e: Effects, psi_r: FloatArray | float | None
    ) -> tuple[tuple[FloatArray, FloatArray, FloatArray], list[list[FloatArray]]]:
        """Log-rates G_i = (dx_i/dt)/x_i (1/day) and their Jacobian dG_i/d(ln x_j) (1/day).

        Analytic derivatives of the Pivonka/Scheiner right-hand side (chain rule through the
        Hill functions, OPG and RANKL); verified against finite differences in the tests.

        Args:
            x: cell populations (3, N) in pM.
            e: effects at this time.
            psi_r: relative mechanical stimulus (or None).
        """
        p = self.params
        bp, ba, c = x[0], x[1], x[2]
        pi_mech, rankl_mech = self._mech(psi_r)
        tgf = (p.alpha_TGF / p.D_TGF) * c
        pi1 = tgf / (tgf + p.K_TGF_OBu)
        pi2 = p.K_TGF_OBp / (tgf + p.K_TGF_OBp)
        pi3 = tgf / (tgf + p.K_TGF_OCa)
        pth = (p.beta_PTH + e.pth_production) / p.D_PTH
        pi_pth_act = pth / (pth + p.K_PTH_act)
        pi_pth_rep = p.K_PTH_rep / (pth + p.K_PTH_rep)
        c_opg = pi_pth_rep * e.opg_factor
        b1, b2 = p.beta1_OPG * c_opg, p.beta2_OPG * c_opg
        p_opg = b1 * bp + b2 * ba if b1 else b2 * ba
        den_opg = 1.0 / (p_opg + p.D_OPG * p.OPG_max)
        opg = (p_opg + e.opg_production) * p.OPG_max * den_opg
        dopg_dp = p.OPG_max * (p.D_OPG * p.OPG_max - e.opg_production) * den_opg * den_opg
        r1, r2 = p.R1_RANKL * pi_pth_act, p.R2_RANKL * pi_pth_act
        re = r1 * bp + r2 * ba if r2 else r1 * bp
        c0 = 1.0 + p.K_A2_RANK * p.RANK + e.rankl_decoy
        bind = 1.0 / (c0 + p.K_A1_OPG * opg)
        deg = 1.0 / (p.beta_RANKL + p.D_RANKL * re)
        prod = p.beta_RANKL + e.rankl_production + rankl_mech
        rr = (p.K_A2_RANK * p.RANK) * re * prod * bind * deg
        k8 = p.K_RANKL / e.rank_sensitivity
        pir = rr / (rr + k8)
        # d ln RR / d ln x for OBp and OBa
        inv_re = 1.0 / re
        s_bp = r1 * bp * (inv_re - p.D_RANKL * deg)
        s_ba = -(p.K_A1_OPG * dopg_dp * b2) * ba * bind
        if b1:
            s_bp = s_bp - (p.K_A1_OPG * dopg_dp * b1) * bp * bind
        if r2:
            s_ba = s_ba + r2 * ba * (inv_re - p.D_RANKL * deg)
        # rates
        a1 = (1.0 - self._a) * p.D_OBu * e.obu_factor
        d2 = p.D_OBp * e.obp_factor
        a_ob = p.A_OBa * e.oba_apoptosis_factor
        dc = p.D_OCp * e.ocp_factor
        a_oc = p.A_OCa * e.oca_apoptosis_factor
        inv_bp, inv_ba, inv_c = 1.0 / bp, 1.0 / ba, 1.0 / c
        src_bp = (a1 * pi1 + e.obp_injection) * inv_bp
        g0 = src_bp - d2 * pi2
        if self._p_obp:
            g0 = g0 + self._p_obp * pi_mech
        flux = d2 * pi2 * bp * inv_ba
        g1 = flux - a_ob + e.oba_injection * inv_ba
        src_c = dc * pir * inv_c
        g2 = src_c - a_oc * pi3 + e.oca_injection * inv_c
        # Jacobian in log variables
        q1 = pi1 * (1.0 - pi1)
        q2 = pi2 * (1.0 - pi2)
        q3 = pi3 * (1.0 - pi3)
        qr = src_c * (1.0 - pir)
        zero = np.zeros_like(bp)
        jac = [
            [-src_bp, zero, a1 * q1 * inv_bp + d2 * q2],
            [flux, -flux - e.oba_injection * inv_ba, -flux * (1.0 - pi2)],
            [qr * s_bp, qr * s_ba, -src_c - a_oc * q3 - e.oca_injection * inv_c],
        ]
        return (g0, g1, g2), jac

    def _psi(self, stimulus: Stimulus, f: FloatArray) -> FloatArray | float | None:
        if stimulus is None:
            return None
        if callable(stimulus):
            return np.asarray(stimulus(f), dtype=float)
        return stimulus

    def advance(
        self,
        state: FloatArray,
        t: float,
        dt: float,
        signals: SystemicSignals | None = None,
        stimulus: Stimulus = None,
        *,
        reduce_max: Callable[[float], float] = _identity,
        h_init: float | None = None,
        stop: Callable[[FloatArray, FloatArray], bool] | None = None,
    ) -> AdvanceResult:
        """Advance the state from t to t + dt (days) with error-controlled ROS2 substeps.

        Args:
            state: array (5, N) (see module docstring); not modified.
            t: start time (days from the start of the simulation).
            dt: step (days, > 0).
            signals: systemic signals (effects evaluated at the stage times); None = healthy.
            stimulus: mechanical drive Psi/Psi_ss per point (see :data:`Stimulus`).
            reduce_max: global maximum of a local float (MPI max-allreduce in parallel runs,
                identity in serial) -- makes the substeps identical on every rank.
            h_init: first substep to try (days); default ``dt``.
            stop: optional event ``stop(f, m) -> bool`` checked after every accepted substep
                with the new f and m; when it returns True the call ends there (its
                ``t_end`` < t + dt, ``stopped`` True). It must return the same on every rank
                (reduce inside it). The coupled loop uses it to re-solve the mechanics as
                soon as E has changed by the coupling tolerance, not only at step ends.

        Returns:
            :class:`AdvanceResult` with the new state.

        Raises:
            SolverError: if the state becomes non-finite or too many substeps are needed.
        """
        if dt <= 0.0:
            raise ValueError(f"dt must be > 0 days, got {dt}")
        sig: SystemicSignals = signals if signals is not None else ConstantSignals()
        t_end = t + dt
        stops = [s for s in sig.milestones(t_end) if t < s < t_end - 1e-9] + [t_end]
        rp = self.remodeling.params
        remod = self.remodeling
        x = np.array(state[0:3], dtype=float, copy=True)
        f = np.array(state[3], dtype=float, copy=True)
        m = np.array(state[4], dtype=float, copy=True)
        h = dt if h_init is None else min(h_init, dt)
        tc = t
        n_acc = n_rej = 0
        h_last = h
        stopped = False
        i_stop = 0
        while tc < t_end - 1e-12 * max(1.0, abs(t_end)):
            if n_acc + n_rej >= self.max_substeps:
                raise SolverError(
                    f"cell model: more than {self.max_substeps} substeps between t={t} and "
                    f"t={t_end} days"
                )
            while stops[i_stop] <= tc + 1e-12:
                i_stop += 1
            target = stops[i_stop]
            hs = min(h, target - tc)
            if target - (tc + hs) < 1e-9 * max(1.0, target):
                hs = target - tc
            # ---- stage 1 at tc
            e0 = sig.effects(tc)
            psi0 = self._psi(stimulus, f)
            g0, jac = self.log_rates_jacobian(x, e0, psi0)
            dfa, dma, form_rel = remod.volume_rates(f, m, x[1], x[2], e0.resorption_factor)
            gh = _GAMMA * hs
            a00, a01, a02 = 1.0 - gh * jac[0][0], -gh * jac[0][1], -gh * jac[0][2]
            a10, a11, a12 = -gh * jac[1][0], 1.0 - gh * jac[1][1], -gh * jac[1][2]
            a20, a21, a22 = -gh * jac[2][0], -gh * jac[2][1], 1.0 - gh * jac[2][2]
            c00 = a11 * a22 - a12 * a21
            c01 = a02 * a21 - a01 * a22
            c02 = a01 * a12 - a02 * a11
            c10 = a12 * a20 - a10 * a22
            c11 = a00 * a22 - a02 * a20
            c12 = a02 * a10 - a00 * a12
            c20 = a10 * a21 - a11 * a20
            c21 = a01 * a20 - a00 * a21
            c22 = a00 * a11 - a01 * a10
            inv_det = 1.0 / (a00 * c00 + a01 * c10 + a02 * c20)
            wm = 1.0 / (1.0 + gh * (form_rel + rp.k_sec))

            def solve(
                b0: FloatArray, b1: FloatArray, b2: FloatArray
            ) -> tuple[FloatArray, FloatArray, FloatArray]:
                return (
                    (c00 * b0 + c01 * b1 + c02 * b2) * inv_det,  # noqa: B023
                    (c10 * b0 + c11 * b1 + c12 * b2) * inv_det,  # noqa: B023
                    (c20 * b0 + c21 * b1 + c22 * b2) * inv_det,  # noqa: B023
                )

            # Time derivative of the log-rates along the explicit drivers (signals and f,
            # through the stimulus): the non-autonomous ROS2 of Verwer et al. (1999, Eq. 2.2)
            # needs it, or the W-method lags a moving quasi-steady state and its error
            # estimate (LIE vs ROS2) sees that lag -- it forced substeps of ~0.3 day in the
            # slow post-menopausal drift. One-sided difference inside the step (milestones
            # are never inside a step, so the signals are smooth there).
            dlt = 1.0e-3 * hs
            gt = self._log_rates(
                x,
                sig.effects(tc + dlt),
                self._psi(stimulus, np.clip(f + dlt * dfa, rp.f_min, rp.f_max)),
            )
            ght = _GAMMA * hs / dlt
            gt = (ght * (gt[0] - g0[0]), ght * (gt[1] - g0[1]), ght * (gt[2] - g0[2]))
            k1 = solve(g0[0] + gt[0], g0[1] + gt[1], g0[2] + gt[2])
            k1f = dfa
            k1m = dma * wm
            # ---- stage 2 at tc + hs
            x1 = np.stack([x[i] * np.exp(hs * k1[i]) for i in range(3)])
            f1 = np.clip(f + hs * k1f, rp.f_min, rp.f_max)
            m1 = m + hs * k1m
            e1 = sig.effects(tc + hs)
            psi1 = self._psi(stimulus, f1)
            g1 = self._log_rates(x1, e1, psi1)
            dfb, dmb, _ = remod.volume_rates(f1, m1, x1[1], x1[2], e1.resorption_factor)
            k2 = solve(
                g1[0] - 2.0 * k1[0] - gt[0],
                g1[1] - 2.0 * k1[1] - gt[1],
                g1[2] - 2.0 * k1[2] - gt[2],
            )
            k2f = dfb - 2.0 * k1f
            k2m = (dmb - 2.0 * k1m) * wm
            # ---- error estimate (2nd order minus linearly implicit Euler), max norm
            hh = 0.5 * hs
            err_c = (
                max(float(np.max(np.abs(k1[i] + k2[i]), initial=0.0)) for i in range(3))
                * hh
                / self.rtol_cells
            )
            err_f = (
                float(np.max(np.abs(k1f + k2f) / (self.atol_f + self.rtol_bone * f), initial=0.0))
                * hh
            )
            err_m = (
                float(np.max(np.abs(k1m + k2m) / (self.atol_m + self.rtol_bone * m), initial=0.0))
                * hh
            )
            err_local = max(err_c, err_f, err_m)
            if not math.isfinite(err_local):
                err_local = math.inf
            # Rounded to 2 significant digits: perturbations at round-off or solver-tolerance
            # level (another partition, a restart) then almost never change an accept/reject
            # decision or a step size, so runs on any number of ranks take the same substeps.
            err = _round_sig(reduce_max(err_local))
            if err <= 1.0:
                x = np.stack([x[i] * np.exp(hs * (1.5 * k1[i] + 0.5 * k2[i])) for i in range(3)])
                f = np.clip(f + hs * (1.5 * k1f + 0.5 * k2f), rp.f_min, rp.f_max)
                m = np.clip(m + hs * (1.5 * k1m + 0.5 * k2m), 0.0, rp.m_max)
                tc = target if hs == target - tc else tc + hs
                n_acc += 1
                h_last = hs
                fac = 5.0 if err == 0.0 else min(5.0, max(0.2, 0.9 / math.sqrt(err)))
                h = max(hs * fac, h) if hs < h else h * fac
                if stop is not None and tc < t_end - 1e-12 * max(1.0, abs(t_end)) and stop(f, m):
                    stopped = True
                    break
            else:
                n_rej += 1
                fac = 0.2 if not math.isfinite(err) else max(0.1, 0.9 / math.sqrt(err))
                h = hs * fac
                if h < 1e-10:
                    raise SolverError(f"cell model: step size underflow at t={tc} days")
        out = np.empty((N_STATES, x.shape[1]))
        out[0:3] = x
        out[3] = f
        out[4] = m
        if not np.all(np.isfinite(out)):
            raise SolverError(f"cell model: non-finite state at t={tc} days")
        return AdvanceResult(out, n_acc, n_rej, h_last, tc if stopped else t_end, stopped)
