"""Bone cell population model (Pivonka 2008 / Scheiner 2013 family), vectorised over points.

State layout
------------
A state is a float64 array of shape ``(N_STATES, N)`` = ``(8, N)``, one column per point
(FE cell, or the single point of a 0-D run)::

    row 0  OBp  osteoblast precursors            (pM)
    row 1  OBa  active osteoblasts               (pM)
    row 2  OCa  active osteoclasts               (pM)
    row 3  f    bone volume fraction BV/TV       (dimensionless, in [f_min, f_max])
    row 4  m    mean mineral volume fraction of the bone matrix (dimensionless)
    row 5  Ds   slow secondary-mineralisation deficit (dimensionless)
    row 6  z1   formation activity, first delay stage (pM)
    row 7  z2   formation activity, second delay stage = OBa_F, what forms bone (pM)

Rows 5-7 belong to :mod:`bonefem.remodeling.bone` (tissue ages and the remodelling
period); with those terms off they stay at 0, OBa, OBa. A bonefem 0.1 state (5 rows) is
completed by :func:`complete_state`.

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

    Pi_mech = min(1, Pi_ss (1 + lambda r(Psi_r - 1)))
    P_RANKL,mech = kappa d / (1 + kappa d / P_max),   d = r(1 - Psi_r)
                   (Scheiner's linear kappa d for P_max = inf; saturating, issue 13 item 4)
    r(x) = max(0, x) (Scheiner), or smoothed over switch_width eps: 0 for x <= 0,
           x^2 / (2 eps) below eps, x - eps/2 above (bonefem's calibrated set, eps 0.01;
           a numerical regularisation, MechanoParameters.switch_width)
    P_OBp = a D_OBu pi_act(TGFb_ss) / (OBp_ss Pi_ss)          (steady state preserved)

Integrator
----------
:meth:`BoneCellModel.advance` applies :func:`bonefem.biology.integrator.integrate_ros2`
with the model's Rosenbrock-W method -- ROS34PW2 (Rang & Angermann 2005, order 3, four
stages; the default) or ROS2 (Verwer, Spee, Blom & Hundsdorfer 1999, SIAM J Sci Comput
20:1456, order 2) -- in its non-autonomous form with error and step-size control, to
:class:`~bonefem.biology.cell_problem.CellProblem`. The cell populations are
integrated in logarithmic variables u = ln(x), so they stay strictly positive whatever the
step (the published Lemaire "OBp retraction" failure cannot occur). The equations above
are written once, in :func:`bonefem.biology.pivonka.signalling_chain`; evaluated on
:class:`~bonefem.biology.dual.LogDual` values they give the 3x3 cell Jacobian (in u) per
point, inverted in closed form (:func:`inverse_3x3`), so everything is vectorised over
points; f is advanced explicitly within the W-method (its dynamics are slow) and m
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
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import root

from bonefem.biology.calibrated import CALIBRATED
from bonefem.biology.cell_problem import (
    IDS,
    IF,
    IM,
    IOBA,
    IOBP,
    IOCA,
    IZ1,
    IZ2,
    N_STATES,
    STATE_NAMES,
    CellProblem,
    Stimulus,
    bone_rates,
    formation_activity,
)
from bonefem.biology.dual import log_variables
from bonefem.biology.effects import (
    NEUTRAL,
    ConstantSignals,
    Effects,
    SystemicSignals,
)
from bonefem.biology.integrator import (
    INTEGRATORS,
    RosenbrockTableau,
    integrate_ros2,
)
from bonefem.biology.parameters import (
    CellParameters,
    cell_parameters,
    remodeling_parameters,
)
from bonefem.biology.pivonka import SignallingChain, signalling_chain
from bonefem.config.defaults import DEFAULT_RTOL_BONE, DEFAULT_RTOL_CELLS
from bonefem.errors import SolverError
from bonefem.remodeling import CellDrivenRemodeling, RemodelingParameters

TURNOVER_LEFT_DAYS = 1.0e-6
"""How far before an output time the outputs evaluate the turnover's effects (days):
:meth:`BoneCellModel.turnover`."""

__all__ = [
    "DEFAULT_PARAMETERS",
    "IDS",
    "IF",
    "IM",
    "IOBA",
    "IOBP",
    "IOCA",
    "IZ1",
    "IZ2",
    "N_STATES",
    "STATE_NAMES",
    "TURNOVER_LEFT_DAYS",
    "AdvanceResult",
    "BoneCellModel",
    "Stimulus",
    "complete_state",
    "formation_activity",
]

FloatArray = npt.NDArray[np.float64]

DEFAULT_PARAMETERS = cell_parameters(CALIBRATED)
"""Default cell parameters: Scheiner 2013 with the calibrated mechanical slope lambda."""

DEFAULT_REMODELING_CELLS = remodeling_parameters(CALIBRATED)
"""Default bone-volume law of the cell model: slow secondary mineralisation, Haversian
surface and remodelling period on (:func:`bonefem.biology.parameters.remodeling_parameters`)."""


def complete_state(cells: FloatArray, remodeling: RemodelingParameters) -> FloatArray:
    """A bonefem 0.1 state (5, n) completed to (8, n): no slow deficit, delay at OBa.

    A state with all rows is returned unchanged. (A 0.1 state carries no tissue-age
    information: its mineral is taken as all in the fast phase, exact when
    ``remodeling.slow_share`` is 0.)
    """
    if cells.shape[0] == N_STATES:
        return cells
    if cells.shape[0] != 5:
        raise ValueError(f"a cell-model state has 5 or {N_STATES} rows, got {cells.shape[0]}")
    out = np.empty((N_STATES, cells.shape[1]))
    out[:5] = cells
    out[IDS] = 0.0
    out[IZ1] = cells[IOBA]
    out[IZ2] = cells[IOBA]
    return out


JACOBIAN_BLOCK = 65536
"""Points per block of the dual-number Jacobian evaluation: arrays up to this size (a
typical rank of a coupled run) are evaluated at once, larger ones block by block so the
working set of derivative arrays stays bounded (fewer page faults; same numbers)."""


def _identity(x: float) -> float:
    return x


@dataclass(frozen=True, slots=True)
class AdvanceResult:
    """Result of :meth:`BoneCellModel.advance`.

    Attributes:
        state: the new state, shape (8, N).
        n_accepted: accepted substeps.
        n_rejected: rejected substeps.
        h_last: size of the last accepted substep (days).
        h_next: the substep the step-size controller proposes next (days): the first
            substep to try in the following call (``h_init``).
    """

    state: FloatArray
    n_accepted: int
    n_rejected: int
    h_last: float
    t_end: float = math.nan
    """Time reached (days): t + dt, or earlier if ``stop`` ended the call."""
    stopped: bool = False
    """True if ``stop`` ended the call before t + dt."""
    h_next: float = math.nan
    """The substep the controller proposes next (days)."""


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
        integrator: the Rosenbrock-W method of :meth:`advance`, a key of
            :data:`~bonefem.biology.integrator.INTEGRATORS`: "ros34pw2" (third order, four
            stages; default) or "ros2" (second order, two stages; the method until
            December 2026).
    """

    def __init__(
        self,
        params: CellParameters = DEFAULT_PARAMETERS,
        remodeling: RemodelingParameters | None = None,
        *,
        rtol_cells: float = DEFAULT_RTOL_CELLS,
        rtol_bone: float = DEFAULT_RTOL_BONE,
        atol_f: float = 1.0e-7,
        atol_m: float = 1.0e-7,
        max_substeps: int = 100_000,
        integrator: str = "ros34pw2",
    ) -> None:
        if integrator not in INTEGRATORS:
            raise ValueError(f"integrator must be one of {sorted(INTEGRATORS)}, got {integrator!r}")
        self.tableau: RosenbrockTableau | None = INTEGRATORS[integrator]
        """The method's tableau; None = the dedicated ROS2 path."""
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
        rp = DEFAULT_REMODELING_CELLS if remodeling is None else remodeling
        self.remodeling = CellDrivenRemodeling(rp, rp.k_res * ss[2] / ss[1])

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
        x = np.asarray(psi_r, dtype=float) - 1.0
        pi = np.minimum(1.0, mech.pi_ss * (1.0 + mech.lam * mech.ramp(x)))
        linear = mech.kappa_rankl * mech.ramp(-x)
        prod = linear / (1.0 + linear / mech.rankl_mech_max)
        return pi, prod

    def chain(
        self,
        x0: Any,
        x1: Any,
        x2: Any,
        e: Effects = NEUTRAL,
        psi_r: FloatArray | float | None = None,
    ) -> SignallingChain:
        """The signalling chain (:func:`~bonefem.biology.pivonka.signalling_chain`) of this model.

        Args:
            x0: OBp (pM), array over points or :class:`~bonefem.biology.dual.LogDual`.
            x1: OBa (pM), idem.
            x2: OCa (pM), idem.
            e: hormone/drug terms.
            psi_r: relative mechanical stimulus Psi/Psi_ss (dimensionless) or None.
        """
        pi_mech, rankl_mech = self._mech(psi_r)
        return signalling_chain(
            self.params,
            x0,
            x1,
            x2,
            e,
            pi_mech=pi_mech,
            rankl_mech=rankl_mech,
            obu_fraction=self._a,
            obp_proliferation=self._p_obp,
        )

    def signalling(
        self,
        OBp: FloatArray,
        OBa: FloatArray,
        OCa: FloatArray,
        e: Effects = NEUTRAL,
        psi_r: FloatArray | float | None = None,
    ) -> dict[str, FloatArray]:
        """Signalling molecules (all pM) for given cell concentrations (pM).

        Returns:
            dict with TGFb, PTH, OPG, RANKL, RANKL_RANK (pM) and pi_RANKL (dimensionless).
        """
        c = self.chain(OBp, OBa, OCa, e, psi_r)
        return {
            "TGFb": np.asarray(c.tgf),
            "PTH": np.asarray(c.pth + 0.0 * OBp),
            "OPG": np.asarray(c.opg),
            "RANKL": np.asarray(c.rankl),
            "RANKL_RANK": np.asarray(c.rankl_rank),
            "pi_RANKL": np.asarray(c.pi_rankl),
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
        c = self.chain(OBp, OBa, OCa, e, psi_r)
        return c.dobp, c.doba, c.doca

    def rhs(
        self,
        state: FloatArray,
        e: Effects = NEUTRAL,
        psi_r: FloatArray | float | None = None,
    ) -> FloatArray:
        """Time derivative of the full state (8, N) in state units per day."""
        out = np.empty_like(state)
        out[0], out[1], out[2] = self.cell_rates(state[0], state[1], state[2], e, psi_r)
        out[3:] = bone_rates(self.remodeling, state, e)[0]
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
                # on |dx/dt|/x < 1e-9/day, not hybr's flag: "xtol too small" at roots found
                # to 1e-15 comes and goes with the CPU's exp/log kernels (bonefem/kernels.py)
                if np.max(np.abs(fun(sol.x))) < 1e-9:  # NaN: not accepted
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
            state array (8, N): cells at the healthy steady state, f = f0, m and Ds at the
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
        state[IDS] = self.remodeling.slow_deficit_steady_state(f, state[1])
        state[IZ1] = state[IOBA]
        state[IZ2] = state[IOBA]
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
        out = self.signalling(state[0], state[1], state[2], e, psi_r)
        form, res = self.turnover(state, e)
        out["formation"] = form
        out["resorption"] = res
        out["Pi_mech"] = np.asarray(pi_mech + 0.0 * state[0])
        out["P_RANKL_mech"] = np.asarray(rankl_mech + 0.0 * state[0])
        return out

    def turnover(self, state: FloatArray, e: Effects = NEUTRAL) -> tuple[FloatArray, FloatArray]:
        """Bone volume formed and resorbed per total volume and day (1/day) per point.

        The outputs take it at an output time with :meth:`turnover_at`. Formation by the
        delayed formation activity OBa_F and the modelling-based term, resorption by the
        active osteoclasts (:meth:`bonefem.remodeling.bone.
        CellDrivenRemodeling.formation_resorption`); their difference is df/dt.
        """
        return self.remodeling.formation_resorption(
            state[3],
            formation_activity(self.remodeling, state),
            state[2],
            e.resorption_factor,
            e.modelling_formation,
        )

    def turnover_at(
        self, state: FloatArray, signals: SystemicSignals, t: float
    ) -> tuple[FloatArray, FloatArray]:
        """:meth:`turnover` as the outputs report it at time t (days).

        With the effects just before t (t minus :data:`TURNOVER_LEFT_DAYS`): the rates of
        the step that ends there, so that a course starting at an output time (e.g.
        teriparatide's modelling-based term, which acts at once) counts from the next row
        and the first row is the pretreatment baseline of the markers. The FE metrics and
        fields (:class:`bonefem.remodeling.cells.CellDrivenLaw`) and the 0-D columns use it.
        """
        return self.turnover(state, signals.effects(t - TURNOVER_LEFT_DAYS))

    # ---------------------------------------------------------- integrator
    def _log_rates(
        self, x: FloatArray, e: Effects, psi_r: FloatArray | float | None
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        c = self.chain(x[0], x[1], x[2], e, psi_r)
        return c.dobp / x[0], c.doba / x[1], c.doca / x[2]

    def _log_rates_sparse(
        self, x: FloatArray, e: Effects, psi_r: FloatArray | float | None
    ) -> tuple[tuple[FloatArray, FloatArray, FloatArray], list[list[FloatArray | None]]]:
        """Log-rates and their Jacobian, structurally zero entries as None.

        Evaluated block by block of :data:`JACOBIAN_BLOCK` points: the dual numbers keep
        every intermediate's derivatives alive until the end of the chain, and blocks keep
        that working set bounded (results are elementwise, so identical).
        """
        n = x.shape[1]
        if n <= JACOBIAN_BLOCK:
            return self._log_rates_block(x, e, psi_r)
        g = np.empty((3, n))
        jac: list[list[FloatArray | None]] = [[None] * 3 for _ in range(3)]
        per_point = isinstance(psi_r, np.ndarray) and psi_r.ndim == 1
        for start in range(0, n, JACOBIAN_BLOCK):
            sl = slice(start, start + JACOBIAN_BLOCK)
            psi_b = psi_r[sl] if per_point else psi_r  # type: ignore[index]
            gb, jb = self._log_rates_block(x[:, sl], e, psi_b)
            g[:, sl] = gb
            for i, row in enumerate(jb):
                for j, d in enumerate(row):
                    if d is not None:
                        if jac[i][j] is None:
                            jac[i][j] = np.empty(n)
                        jac[i][j][sl] = d  # type: ignore[index]
        return (g[0], g[1], g[2]), jac

    def _log_rates_block(
        self, x: FloatArray, e: Effects, psi_r: FloatArray | float | None
    ) -> tuple[tuple[FloatArray, FloatArray, FloatArray], list[list[FloatArray | None]]]:
        u = log_variables(x)
        c = self.chain(u[0], u[1], u[2], e, psi_r)
        g = (c.dobp / u[0], c.doba / u[1], c.doca / u[2])
        return (g[0].v, g[1].v, g[2].v), [list(gi.d) for gi in g]

    def log_rates_jacobian(
        self, x: FloatArray, e: Effects, psi_r: FloatArray | float | None
    ) -> tuple[tuple[FloatArray, FloatArray, FloatArray], list[list[FloatArray]]]:
        """Log-rates G_i = (dx_i/dt)/x_i (1/day) and their Jacobian dG_i/d(ln x_j) (1/day).

        Both come from one evaluation of the signalling chain on
        :class:`~bonefem.biology.dual.LogDual` values (forward-mode derivatives), so they
        cannot disagree with :meth:`cell_rates`; checked against finite differences in the
        tests.

        Args:
            x: cell populations (3, N) in pM.
            e: effects at this time.
            psi_r: relative mechanical stimulus (or None).
        """
        g, jac = self._log_rates_sparse(x, e, psi_r)
        zero = np.zeros_like(x[0])
        return g, [[zero if d is None else np.asarray(d + zero) for d in row] for row in jac]

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

        The integrator is :func:`bonefem.biology.integrator.integrate_ros2` applied to
        :class:`CellProblem` (see the module docstring).

        Args:
            state: array (8, N) (see module docstring); not modified.
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
        problem = CellProblem(self, sig, stimulus)
        event = None if stop is None else (lambda y: stop(y[IF], y[IM]))
        try:
            res = integrate_ros2(
                problem,
                np.array(state, dtype=float, copy=True),
                t,
                dt,
                milestones=sig.milestones(t + dt),
                reduce_max=reduce_max,
                h_init=h_init,
                stop=event,
                max_substeps=self.max_substeps,
                tableau=self.tableau,
            )
        except SolverError as exc:
            raise SolverError(f"cell model: {exc} (days)") from exc
        # on every rank alike (a rank failing alone would leave the others in a collective)
        if reduce_max(0.0 if np.all(np.isfinite(res.y)) else 1.0) > 0.0:
            raise SolverError(f"cell model: non-finite state at t={res.t_end} days")
        return AdvanceResult(
            res.y, res.n_accepted, res.n_rejected, res.h_last, res.t_end, res.stopped, res.h_next
        )
