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

    Pi_mech = min(1, Pi_ss (1 + lambda (Psi_r - 1)))  if Psi_r > 1,  Pi_ss otherwise
    P_RANKL,mech = kappa d / (1 + kappa d / P_max),   d = 1 - Psi_r  if Psi_r < 1,  0 otherwise
                   (Scheiner's linear kappa d for P_max = inf; saturating, issue 13 item 4)
    P_OBp = a D_OBu pi_act(TGFb_ss) / (OBp_ss Pi_ss)          (steady state preserved)

Integrator
----------
:meth:`BoneCellModel.advance` applies :func:`bonefem.biology.integrator.integrate_ros2`, the
two-stage, second-order, L-stable Rosenbrock/W method ROS2 (Verwer, Spee, Blom &
Hundsdorfer 1999, SIAM J Sci Comput 20:1456, gamma = 1 + 1/sqrt(2)) in its non-autonomous
form with error and step-size control, to :class:`CellProblem`. The cell populations are
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
from bonefem.biology.dual import log_variables
from bonefem.biology.effects import (
    NEUTRAL,
    ConstantSignals,
    Effects,
    StageSignals,
    SystemicSignals,
)
from bonefem.biology.integrator import integrate_ros2, inverse_3x3, point_blocks
from bonefem.biology.parameters import (
    CellParameters,
    calibrated_parameters,
    remodeling_parameters,
)
from bonefem.biology.pivonka import SignallingChain, signalling_chain
from bonefem.config.defaults import DEFAULT_RTOL_BONE, DEFAULT_RTOL_CELLS
from bonefem.errors import SolverError
from bonefem.remodeling import CellDrivenRemodeling, RemodelingParameters

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
    "AdvanceResult",
    "BoneCellModel",
    "Stimulus",
    "complete_state",
    "formation_activity",
]

FloatArray = npt.NDArray[np.float64]
Stimulus = None | float | FloatArray | Callable[[FloatArray], FloatArray]
"""Mechanical drive Psi/Psi_ss: None (homeostatic), a number or an array per point, or a
callable ``stimulus(f) -> Psi/Psi_ss`` evaluated with the stage value of f."""

IOBP, IOBA, IOCA, IF, IM, IDS, IZ1, IZ2 = 0, 1, 2, 3, 4, 5, 6, 7
N_STATES = 8
STATE_NAMES = ("OBp", "OBa", "OCa", "f", "m", "Ds", "z1", "z2")

DEFAULT_PARAMETERS = calibrated_parameters(CALIBRATED.mechano_lambda, CALIBRATED.mechano_rankl_max)
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
        psi = np.asarray(psi_r, dtype=float)
        pi = np.where(
            psi > 1.0, np.minimum(1.0, mech.pi_ss * (1.0 + mech.lam * (psi - 1.0))), mech.pi_ss
        )
        linear = mech.kappa_rankl * np.maximum(0.0, 1.0 - psi)
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
        form, res = self.remodeling.formation_resorption(
            state[3],
            formation_activity(self.remodeling, state),
            state[2],
            e.resorption_factor,
            e.modelling_formation,
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
            )
        except SolverError as exc:
            raise SolverError(f"cell model: {exc} (days)") from exc
        # on every rank alike (a rank failing alone would leave the others in a collective)
        if reduce_max(0.0 if np.all(np.isfinite(res.y)) else 1.0) > 0.0:
            raise SolverError(f"cell model: non-finite state at t={res.t_end} days")
        return AdvanceResult(
            res.y, res.n_accepted, res.n_rejected, res.h_last, res.t_end, res.stopped, res.h_next
        )


def formation_activity(law: CellDrivenRemodeling, state: FloatArray) -> FloatArray:
    """OBa_F (pM): the active osteoblasts seen through the remodelling-period delay."""
    return state[IZ2] if law.params.delay_rate > 0.0 else state[IOBA]


def bone_rates(
    law: CellDrivenRemodeling, y: FloatArray, e: Effects
) -> tuple[FloatArray, FloatArray]:
    """Rates of rows 3-7 (f, m, Ds per day; z1, z2 in pM/day) and F/f (1/day).

    :mod:`bonefem.remodeling.bone`: volume and mineral from the (delayed) formation and the
    resorption, the slow mineral deficit, and the two-stage delay of the formation activity.
    """
    p = law.params
    out = np.empty((N_STATES - 3, y.shape[1]))
    slow = y[IDS] if p.slow_share > 0.0 else None
    out[0], out[1], form_rel = law.volume_rates(
        y[IF],
        y[IM],
        formation_activity(law, y),
        y[IOCA],
        e.resorption_factor,
        e.modelling_formation,
        slow,
    )
    out[2] = law.slow_deficit_rate(form_rel, y[IDS]) if slow is not None else 0.0
    rate = p.delay_rate
    out[3] = rate * (y[IOBA] - y[IZ1])
    out[4] = rate * (y[IZ1] - y[IZ2])
    return out, form_rel


CELL_BLOCK = 16384
"""Points per part of a split substep (:meth:`CellProblem.split`): numpy's temporaries stay
small and in cache instead of being allocated (and page-faulted) at the size of a rank's
arrays (issue 15). The work is per point: the numbers do not depend on the block size."""

SPLIT_MIN_BLOCKS = 2
"""Up to this many blocks a substep runs in one pass (the split's overhead is not repaid)."""


def _part(psi: FloatArray | float | None, sl: slice) -> FloatArray | float | None:
    """The points ``sl`` of a per-point stimulus (a number, None or one value as it is)."""
    return psi[sl] if isinstance(psi, np.ndarray) and psi.ndim == 1 and psi.size > 1 else psi


class CellProblem:
    """The cell model as a :class:`~bonefem.biology.integrator.WProblem` (state (8, N)).

    The cell populations are integrated in u = ln(x) (positive whatever the step: the
    Lemaire "OBp retraction" failure cannot occur), with the 3x3 Jacobian in u of
    :meth:`BoneCellModel.log_rates_jacobian` per point; f is explicit (W = I: its dynamics
    are slow) and m linearly implicit with the diagonal term of its own decay. F_t is the
    one-sided difference of the log-rates along the explicit drivers (signals, and f
    through the stimulus) over 1e-3 of the substep: without it the W-method lags a slowly
    moving quasi-steady state by O(h) once h >> 1/A_OCa, and its error estimate then
    forced substeps of ~0.3 day through years of post-menopausal drift. Milestones are
    never inside a substep, so the signals are smooth there.

    The integrator computes the stages block by block (:meth:`split`); the methods below
    compute them on all points at once (the reference the split is tested against).

    Args:
        model: the cell model.
        signals: systemic signals.
        stimulus: mechanical drive (see :data:`Stimulus`).
    """

    def __init__(self, model: BoneCellModel, signals: SystemicSignals, stimulus: Stimulus) -> None:
        self.model = model
        self.signals = signals
        self.stimulus = stimulus
        self.rp = model.remodeling.params

    def split(
        self, t: float, y: FloatArray, h: float
    ) -> tuple[tuple[int, ...], list[tuple[Any, CellProblem, FloatArray]]] | None:
        """The parts of one substep of size h from (t, y): blocks of :data:`CELL_BLOCK` points.

        None (one pass) for at most :data:`SPLIT_MIN_BLOCKS` blocks. The stimulus takes the
        whole f (the coupled loop's callable), so it is evaluated here on all points for each
        role: at f, at f moved by F_t's increment, and at the stage value f + h F_f (f is
        explicit without F_t: its stage is known before the stages).
        """
        blocks = point_blocks(y.shape[1], CELL_BLOCK)
        if len(blocks) <= SPLIT_MIN_BLOCKS:
            return None
        rp, dlt = self.rp, 1.0e-3 * h
        e = self.signals.effects(t)
        bone = [bone_rates(self.model.remodeling, y[:, sl], e) for sl in blocks]
        rate_f = np.concatenate([b[0][0] for b in bone])
        # the f of each role, as time_derivative and the stage update compute it
        f_roles = (
            y[IF],
            np.clip(y[IF] + dlt * rate_f, rp.f_min, rp.f_max),
            np.clip(y[IF] + h * (rate_f + 0.0), rp.f_min, rp.f_max),
        )
        psi = [self.model._psi(self.stimulus, f) for f in f_roles]
        known = StageSignals(
            self.signals, {t: e, t + dlt: self.signals.effects(t + dlt), t + h: None}
        )
        parts: list[tuple[Any, CellProblem, FloatArray]] = []
        for sl, rates in zip(blocks, bone, strict=True):
            part = _CellPart(self.model, known, None)
            part.psi, part.bone = [_part(p, sl) for p in psi], rates
            part.check = (f_roles[1][sl], f_roles[2][sl])
            parts.append(((slice(None), sl), part, y[:, sl]))
        return y.shape, parts

    def _stimulus(self, role: int, f: FloatArray) -> FloatArray | float | None:
        """Psi/Psi_ss at f (role 0: at y, 1: moved for F_t, 2: at the stage)."""
        return self.model._psi(self.stimulus, f)

    def linearise(
        self, t: float, y: FloatArray, gh: float
    ) -> tuple[FloatArray, Callable[[FloatArray], FloatArray]]:
        """F(t, y) (log-rates 1/day, rows 3-7 per day) and the solver of W k = b.

        W is the exact 3x3 cell block per point; m, Ds and the delay stages are linearly
        implicit in their own decay (the delay chain's sub-diagonal included); f explicit.
        """
        e = self.signals.effects(t)
        bone, form_rel = bone_rates(self.model.remodeling, y, e)
        return self._linearise(e, y, gh, self._stimulus(0, y[IF]), bone, form_rel)

    def _linearise(
        self,
        e: Effects,
        y: FloatArray,
        gh: float,
        psi: FloatArray | float | None,
        bone: FloatArray,
        form_rel: FloatArray,
    ) -> tuple[FloatArray, Callable[[FloatArray], FloatArray]]:
        g, jac = self.model._log_rates_sparse(y[0:3], e, psi)
        f0 = np.empty_like(y)
        f0[0], f0[1], f0[2] = g[0], g[1], g[2]
        f0[3:] = bone
        w = [
            [(1.0 if i == j else 0.0) - gh * (0.0 if d is None else d) for j, d in enumerate(r)]
            for i, r in enumerate(jac)
        ]
        (c00, c01, c02, c10, c11, c12, c20, c21, c22), inv_det = inverse_3x3(w)
        wm = 1.0 / (1.0 + gh * (form_rel + self.rp.k_sec))
        wd = 1.0 / (1.0 + gh * (form_rel + self.rp.k_slow))
        rate = self.rp.delay_rate
        wz = 1.0 / (1.0 + gh * rate)

        def solve(b: FloatArray) -> FloatArray:
            k = np.empty_like(b)
            k[0] = (c00 * b[0] + c01 * b[1] + c02 * b[2]) * inv_det
            k[1] = (c10 * b[0] + c11 * b[1] + c12 * b[2]) * inv_det
            k[2] = (c20 * b[0] + c21 * b[1] + c22 * b[2]) * inv_det
            k[IF] = b[IF]
            k[IM] = b[IM] * wm
            k[IDS] = b[IDS] * wd
            k[IZ1] = b[IZ1] * wz
            k[IZ2] = (b[IZ2] + gh * rate * k[IZ1]) * wz
            return k

        return f0, solve

    def rhs(self, t: float, y: FloatArray) -> FloatArray:
        """F(t, y) (see :meth:`linearise`)."""
        e = self.signals.effects(t)
        g = self.model._log_rates(y[0:3], e, self._stimulus(2, y[IF]))
        out = np.empty_like(y)
        out[0], out[1], out[2] = g[0], g[1], g[2]
        out[3:] = bone_rates(self.model.remodeling, y, e)[0]
        return out

    def time_derivative(self, t: float, y: FloatArray, f0: FloatArray, h: float) -> FloatArray:
        """F_t of the log-rates along the explicit drivers (1/day^2); zero for f and m."""
        dlt = 1.0e-3 * h
        f_moved = np.clip(y[IF] + dlt * f0[IF], self.rp.f_min, self.rp.f_max)
        g = self.model._log_rates(y[0:3], self.signals.effects(t + dlt), self._stimulus(1, f_moved))
        ft = np.empty_like(y)
        for i in range(3):
            np.divide(np.subtract(g[i], f0[i], out=ft[i]), dlt, out=ft[i])
        ft[IF:] = 0.0
        return ft

    def update(self, y: FloatArray, h: float, k: FloatArray, final: bool) -> FloatArray:
        """Return y + h k (x exp(h k) for the cells; f and, at the end, m clipped)."""
        out = np.empty_like(y)
        for sl in point_blocks(y.shape[1], CELL_BLOCK, SPLIT_MIN_BLOCKS):
            self._update(out[:, sl], y[:, sl], h, k[:, sl], final)
        return out

    def _update(self, out: FloatArray, y: FloatArray, h: float, k: FloatArray, final: bool) -> None:
        cells = np.multiply(k[0:3], h, out=out[0:3])
        np.multiply(y[0:3], np.exp(cells, out=cells), out=cells)
        out[IF] = np.clip(y[IF] + h * k[IF], self.rp.f_min, self.rp.f_max)
        m = y[IM] + h * k[IM]
        out[IM] = np.clip(m, 0.0, self.rp.m_max) if final else m
        ds = y[IDS] + h * k[IDS]
        out[IDS] = np.maximum(ds, 0.0) if final else ds
        out[IZ1:] = y[IZ1:] + h * k[IZ1:]

    def error_norm(self, y: FloatArray, k_sum: FloatArray, half_h: float) -> float:
        """Max over points of the error h/2 (k1 + k2) over its tolerance (dimensionless)."""
        blocks = point_blocks(y.shape[1], CELL_BLOCK, SPLIT_MIN_BLOCKS)
        return max((self._error(y[:, s], k_sum[:, s], half_h) for s in blocks), default=0.0)

    def _error(self, y: FloatArray, k_sum: FloatArray, half_h: float) -> float:
        m = self.model
        err_c = float(np.max(np.abs(k_sum[0:3]), initial=0.0)) * half_h / m.rtol_cells
        scale_f = m.atol_f + m.rtol_bone * y[IF]
        scale_m = m.atol_m + m.rtol_bone * y[IM]
        err_f = float(np.max(np.abs(k_sum[IF]) / scale_f, initial=0.0)) * half_h
        err_m = float(np.max(np.abs(k_sum[IM]) / scale_m, initial=0.0)) * half_h
        # the slow deficit: an absolute scale like m's at the primary content
        scale_d = m.atol_m + m.rtol_bone * self.rp.m_primary
        err_d = float(np.max(np.abs(k_sum[IDS]), initial=0.0)) * half_h / scale_d
        scale_z = m.rtol_cells * np.abs(y[IZ1:]) + 1e-12
        err_z = float(np.max(np.abs(k_sum[IZ1:]) / scale_z, initial=0.0)) * half_h
        return max(err_c, err_f, err_m, err_d, err_z)


class _CellPart(CellProblem):
    """A block of a split substep: its stimulus per role and bone rates at y given by split."""

    psi: list[FloatArray | float | None]
    bone: tuple[FloatArray, FloatArray]  # rates of rows 3-7 and F/f at y
    check: tuple[FloatArray, FloatArray]  # the f of roles 1 and 2

    def linearise(
        self, t: float, y: FloatArray, gh: float
    ) -> tuple[FloatArray, Callable[[FloatArray], FloatArray]]:
        """:meth:`CellProblem.linearise` with the stimulus and bone rates given."""
        return self._linearise(self.signals.effects(t), y, gh, self.psi[0], *self.bone)

    def _stimulus(self, role: int, f: FloatArray) -> FloatArray | float | None:
        if role and not np.array_equal(f, self.check[role - 1]):
            raise SolverError("cell model: a stage f differs from the one its stimulus was for")
        return self.psi[role]
