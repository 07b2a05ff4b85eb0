"""Generic ROS2 Rosenbrock/W integrator with error control, milestones and a stop event.

The method is the two-stage, second-order, L-stable ROS2 of Verwer, Spee, Blom &
Hundsdorfer (1999, SIAM J Sci Comput 20:1456, Eqs. (2.1)-(2.2), gamma = 1 + 1/sqrt(2)) in
its non-autonomous form::

    (I - gamma h J) k1 = F(t, y) + gamma h F_t(t, y)
    (I - gamma h J) k2 = F(t + h, y + h k1) - 2 k1 - gamma h F_t(t, y)
    y_new = y + h (3/2 k1 + 1/2 k2)

It is a W-method: second order for any matrix J (the exact Jacobian gives the
stability), so a problem may freeze or simplify parts of J. The local error is estimated
against the embedded linearly implicit Euler solution y + h k1:
``y_new - y_LIE = h/2 (k1 + k2)``; its norm is scaled by the problem's tolerances
(accept when <= 1), passed through ``reduce_max`` (an MPI max-allreduce in parallel runs,
so every rank takes the same substeps) and rounded to two significant digits (so
perturbations at round-off level almost never change a decision). The step size then
follows the usual controller ``h_new = h * min(5, max(0.2, 0.9 / sqrt(err)))`` (0.1 ... 0.9
/ sqrt(err) after a rejection; Hairer & Wanner 1996, Sect. IV.8).

Substeps never cross a milestone (a discontinuity of the drivers), each call starts with
one substep of the whole interval (or ``h_init``), so the result depends only on the
arguments (restart-safe), and an optional event ``stop(y)`` checked after every accepted
substep ends the call early.

The problem is anything implementing :class:`WProblem`; its state ``y`` is opaque to the
integrator, which only combines the stage vectors k (arrays) linearly.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from bonefem.errors import SolverError

__all__ = [
    "GAMMA",
    "StepStats",
    "WProblem",
    "WResult",
    "integrate_ros2",
    "ros2_stages",
    "round_sig",
]

FloatArray = npt.NDArray[np.float64]

GAMMA = 1.0 + 1.0 / math.sqrt(2.0)
"""gamma of ROS2 (Verwer et al. 1999): L-stable choice 1 + 1/sqrt(2)."""


class WProblem[Y](Protocol):
    """What :func:`integrate_ros2` needs of a problem with state type Y.

    Stage vectors k and right-hand sides F are float arrays of one shape; the state y may
    be any object (e.g. populations kept positive by a logarithmic update).
    """

    def linearise(self, t: float, y: Y, gh: float) -> tuple[FloatArray, Callable[..., Any]]:
        """Return F(t, y) and a solver of (I - gh J) k = b for the problem's J at (t, y)."""
        ...

    def rhs(self, t: float, y: Y) -> FloatArray:
        """Return F(t, y)."""
        ...

    def time_derivative(self, t: float, y: Y, f0: FloatArray, h: float) -> FloatArray | None:
        """Return F_t at (t, y) (``f0`` = F(t, y), ``h`` the substep); None if autonomous."""
        ...

    def update(self, y: Y, h: float, k: FloatArray, final: bool) -> Y:
        """Return the state y + h k (``final``: the accepted end of a substep)."""
        ...

    def error_norm(self, y: Y, k_sum: FloatArray, half_h: float) -> float:
        """Local scaled norm of the error estimate half_h * k_sum (accept if <= 1)."""
        ...


@dataclass(frozen=True, slots=True)
class WResult[Y]:
    """Result of :func:`integrate_ros2`.

    Attributes:
        y: state at ``t_end``.
        n_accepted: accepted substeps.
        n_rejected: rejected substeps.
        h_last: size of the last accepted substep (time unit of the problem).
        h_next: the substep the controller proposes next (time unit of the problem): after
            a substep shortened to land on a milestone or the end of the interval, the
            step it would have taken, so the next call need not start from the short one.
        t_end: time reached: the end of the interval, or earlier if ``stop`` fired.
        stopped: True if ``stop`` ended the call.
    """

    y: Y
    n_accepted: int
    n_rejected: int
    h_last: float
    t_end: float
    stopped: bool
    h_next: float


@dataclass(slots=True)
class StepStats:
    """Mutable counters of one :func:`integrate_ros2` call."""

    n_accepted: int = 0
    n_rejected: int = 0


def round_sig(x: float, digits: int = 2) -> float:
    """``x`` rounded to ``digits`` significant digits (inf and 0 unchanged)."""
    if x == 0.0 or not math.isfinite(x):
        return x
    return round(x, digits - 1 - math.floor(math.log10(abs(x))))


def _identity(x: float) -> float:
    return x


def ros2_stages[Y](
    problem: WProblem[Y], t: float, y: Y, h: float
) -> tuple[FloatArray, FloatArray, float]:
    """Stages k1, k2 of one ROS2 substep of size h from (t, y) and the local error.

    The error is the problem's scaled norm of the embedded linearly implicit Euler estimate
    h/2 (k1 + k2), inf if not finite. The arrays returned by the problem's ``linearise``,
    ``time_derivative`` and ``rhs`` are overwritten (they must be fresh arrays).
    """
    f0, solve = problem.linearise(t, y, GAMMA * h)
    ft = problem.time_derivative(t, y, f0, h)
    # in-place where the arithmetic is unchanged: fewer large temporaries (allocator churn)
    gt = None if ft is None else np.multiply(ft, GAMMA * h, out=ft)
    k1 = solve(f0 if gt is None else np.add(f0, gt, out=f0))
    f1 = problem.rhs(t + h, problem.update(y, h, k1, False))
    tmp = np.multiply(k1, 2.0)
    np.subtract(f1, tmp, out=f1)
    k2 = solve(f1 if gt is None else np.subtract(f1, gt, out=f1))
    err = problem.error_norm(y, np.add(k1, k2, out=tmp), 0.5 * h)
    return k1, k2, err if math.isfinite(err) else math.inf


def ros2_increment(k1: FloatArray, k2: FloatArray) -> FloatArray:
    """The ROS2 increment 3/2 k1 + 1/2 k2, computed in the storage of k1 and k2."""
    np.multiply(k1, 1.5, out=k1)
    np.multiply(k2, 0.5, out=k2)
    return np.add(k1, k2, out=k1)


def integrate_ros2[Y](
    problem: WProblem[Y],
    y: Y,
    t: float,
    dt: float,
    *,
    milestones: Sequence[float] = (),
    reduce_max: Callable[[float], float] = _identity,
    h_init: float | None = None,
    stop: Callable[[Y], bool] | None = None,
    max_substeps: int = 100_000,
    h_min: float = 1e-10,
) -> WResult[Y]:
    """Integrate from t to t + dt with error-controlled ROS2 substeps.

    Args:
        problem: the problem (see :class:`WProblem`).
        y: initial state (not modified).
        t: start time.
        dt: interval (> 0).
        milestones: times substeps must not cross (those outside (t, t + dt) are ignored).
        reduce_max: global maximum of a local float (MPI max-allreduce; identity in serial).
        h_init: first substep to try (default dt), e.g. the ``h_next`` of the previous call.
        stop: event ``stop(y) -> bool`` after every accepted substep before the end; True
            ends the call there. Must return the same on every rank.
        max_substeps: limit of substeps (accepted + rejected).
        h_min: smallest substep before giving up.

    Raises:
        SolverError: too many substeps, or the step size underflows.
    """
    t_end = t + dt
    stops = [s for s in milestones if t < s < t_end - 1e-9] + [t_end]
    h = dt if h_init is None else min(h_init, dt)
    tc, h_last, i_stop = t, h, 0
    st = StepStats()
    while tc < t_end - 1e-12 * max(1.0, abs(t_end)):
        if st.n_accepted + st.n_rejected >= max_substeps:
            raise SolverError(f"more than {max_substeps} substeps between t={t} and t={t_end}")
        while stops[i_stop] <= tc + 1e-12:
            i_stop += 1
        target = stops[i_stop]
        hs = min(h, target - tc)
        if target - (tc + hs) < 1e-9 * max(1.0, target):
            hs = target - tc
        k1, k2, err_local = ros2_stages(problem, tc, y, hs)
        err = round_sig(reduce_max(err_local))
        if err <= 1.0:
            y = problem.update(y, hs, ros2_increment(k1, k2), True)
            tc = target if hs == target - tc else tc + hs
            st.n_accepted += 1
            h_last = hs
            fac = 5.0 if err == 0.0 else min(5.0, max(0.2, 0.9 / math.sqrt(err)))
            h = max(hs * fac, h) if hs < h else h * fac
            if stop is not None and tc < t_end - 1e-12 * max(1.0, abs(t_end)) and stop(y):
                return WResult(y, st.n_accepted, st.n_rejected, h_last, tc, True, h)
        else:
            st.n_rejected += 1
            fac = 0.2 if not math.isfinite(err) else max(0.1, 0.9 / math.sqrt(err))
            h = hs * fac
            if h < h_min:
                raise SolverError(f"step size underflow at t={tc}")
    return WResult(y, st.n_accepted, st.n_rejected, h_last, t_end, False, h)
