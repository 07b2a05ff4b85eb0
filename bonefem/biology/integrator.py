"""Generic Rosenbrock-W integrator with error control, milestones and a stop event.

Two methods: ROS34PW2 (Rang & Angermann 2005, BIT Numer Math 45:761; four stages, order 3
as a W-method, L-stable, embedded order 2; :data:`RA34PW2`, run through the general stage
loop :func:`rosw_stages` of a :class:`RosenbrockTableau`), and ROS2 by its own two-stage
path (the default of :func:`integrate_ros2`, whose name it keeps). ROS2 is the two-stage,
second-order, L-stable method of Verwer, Spee, Blom &
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
one substep of the whole interval (or ``h_init`` if that is shorter), so the result depends
only on the arguments (restart-safe), and an optional event ``stop(y)`` checked after every
accepted substep ends the call early. A substep shortened to land on a milestone or on the
end of the call keeps the proposal it was cut from, unless its own error asks for less
than its size; the proposal is returned as ``h_next`` (the next call's ``h_init``), so a
short call (a remainder before an output time) does not make the next one start small.

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
    "INTEGRATORS",
    "RA34PW2",
    "ROS2_TABLEAU",
    "RosenbrockTableau",
    "SplitProblem",
    "StepStats",
    "WProblem",
    "WResult",
    "integrate_ros2",
    "inverse_3x3",
    "point_blocks",
    "ros2_stages",
    "ros2_substep",
    "round_sig",
]

FloatArray = npt.NDArray[np.float64]

GAMMA = 1.0 + 1.0 / math.sqrt(2.0)
"""gamma of ROS2 (Verwer et al. 1999): L-stable choice 1 + 1/sqrt(2)."""


@dataclass(frozen=True)
class RosenbrockTableau:
    """A Rosenbrock(-W) method, stored in transformed variables (no product J v needed).

    The form of Hairer & Wanner (1996, Sect. IV.7, Eq. (7.4)), in their transformed
    variables (Eq. (7.25)).

    The method (stages k_i, gamma_ii = gamma for all i)::

        (I - gamma h J) k_i = h F(t + alpha_i h, y + sum_j<i alpha_ij k_j)
                              + h J sum_j<i gamma_ij k_j + gamma_i h^2 F_t
        y_new = y + sum_i b_i k_i,   embedded y_hat = y + sum_i bhat_i k_i

    with alpha_i = sum_j alpha_ij and gamma_i = sum_j<=i gamma_ij. With U_i =
    (sum_j<=i gamma_ij k_j) / h the stages are, in the unscaled form the integrator uses::

        (I - gamma h J) U_i = gamma [F(t + alpha_i h, y + h sum_j<i a_ij U_j)
                                     + sum_j<i c_ij U_j + gamma_i h F_t]
        y_new = y + h sum_i m_i U_i,   y_new - y_hat = h sum_i e_i U_i

    (a = alpha Gamma^-1, c = diag(1/gamma) - Gamma^-1, m = b Gamma^-1, e = (b - bhat)
    Gamma^-1). A W-method keeps its order for any matrix J.

    Attributes:
        name: the method's name.
        order: order of y_new (as a W-method).
        embedded_order: order of y_hat (the step controller's exponent is 1/(this + 1)).
        gamma: the diagonal gamma.
        alpha: alpha_i (stage times, fractions of h).
        gamma_sum: gamma_i (weights of the F_t term).
        a, c: transformed stage coefficients (strictly lower triangular).
        m, e: transformed weights of the solution and of the error estimate.
    """

    name: str
    order: int
    embedded_order: int
    gamma: float
    alpha: tuple[float, ...]
    gamma_sum: tuple[float, ...]
    a: tuple[tuple[float, ...], ...]
    c: tuple[tuple[float, ...], ...]
    m: tuple[float, ...]
    e: tuple[float, ...]

    @classmethod
    def from_coefficients(
        cls,
        name: str,
        order: int,
        embedded_order: int,
        alpha: Sequence[Sequence[float]],
        gamma: Sequence[Sequence[float]],
        b: Sequence[float],
        b_hat: Sequence[float],
    ) -> RosenbrockTableau:
        """The tableau from the coefficients (alpha_ij, gamma_ij, b_i, bhat_i) of Eq. (7.4)."""
        A, G = np.asarray(alpha, dtype=float), np.asarray(gamma, dtype=float)
        g = float(G[0, 0])
        if not np.allclose(np.diag(G), g) or np.any(np.triu(A) != 0.0):
            raise ValueError(f"{name}: gamma_ii must all be equal and alpha strictly lower")
        Ginv = np.linalg.inv(G)
        a = A @ Ginv
        c = np.diag(1.0 / np.diag(G)) - Ginv
        m = np.asarray(b, dtype=float) @ Ginv
        e = (np.asarray(b, dtype=float) - np.asarray(b_hat, dtype=float)) @ Ginv
        rows = range(A.shape[0])
        return cls(
            name,
            order,
            embedded_order,
            g,
            tuple(float(x) for x in A.sum(axis=1)),
            tuple(float(x) for x in G.sum(axis=1)),
            tuple(tuple(float(a[i, j]) for j in range(i)) for i in rows),
            tuple(tuple(float(c[i, j]) for j in range(i)) for i in rows),
            tuple(float(x) for x in m),
            tuple(float(x) for x in e),
        )

    @property
    def stages(self) -> int:
        """Number of stages."""
        return len(self.m)


ROS2_TABLEAU = RosenbrockTableau.from_coefficients(
    "ros2",
    2,
    1,
    [[0.0, 0.0], [1.0, 0.0]],
    [[GAMMA, 0.0], [-2.0 * GAMMA, GAMMA]],
    [0.5, 0.5],
    [1.0, 0.0],
)
"""ROS2 (Verwer et al. 1999) as a tableau: the same method as :func:`integrate_ros2`'s
default path (used to test the general stage loop against it)."""

RA34PW2 = RosenbrockTableau.from_coefficients(
    "ros34pw2",
    3,
    2,
    [
        [0.0, 0.0, 0.0, 0.0],
        [8.7173304301691801e-01, 0.0, 0.0, 0.0],
        [8.4457060015369423e-01, -1.1299064236484185e-01, 0.0, 0.0],
        [0.0, 0.0, 1.0, 0.0],
    ],
    [
        [4.3586652150845900e-01, 0.0, 0.0, 0.0],
        [-8.7173304301691801e-01, 4.3586652150845900e-01, 0.0, 0.0],
        [-9.0338057013044082e-01, 5.4180672388095326e-02, 4.3586652150845900e-01, 0.0],
        [
            2.4212380706095346e-01,
            -1.2232505839045147e00,
            5.4526025533510214e-01,
            4.3586652150845900e-01,
        ],
    ],
    [2.4212380706095346e-01, -1.2232505839045147e00, 1.5452602553351020e00, 4.358665215084590e-01],
    [3.7810903145819369e-01, -9.6042292212423178e-02, 0.5, 2.1793326075422950e-01],
)
"""ROS34PW2 of Rang & Angermann (2005, BIT 45:761, Table 4.1): four stages, order 3 as a
W-method (for any J), stiffly accurate and L-stable, embedded order 2."""


INTEGRATORS: dict[str, RosenbrockTableau | None] = {"ros2": None, "ros34pw2": RA34PW2}
"""Methods by name; None = ROS2 by its dedicated two-stage path (:func:`ros2_substep`)."""


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


class SplitProblem[Y](WProblem[Y], Protocol):
    """A :class:`WProblem` whose stages may be computed part by part (optional).

    ``split(t, y, h)`` returns the shape of the stage vectors and, per part, the index of
    its entries in them, a :class:`WProblem` for the part and the part's state, prepared
    for one substep of size h from (t, y); or None (one pass). :func:`ros2_stages` runs the
    stages of each part and takes the maximum of their error norms, so the problem's
    ``error_norm`` must be a maximum over its parts.
    """

    def split(
        self, t: float, y: Y, h: float
    ) -> tuple[tuple[int, ...], Sequence[tuple[Any, WProblem[Any], Any]]] | None:
        """Stage-vector shape and the parts (index, problem, state) of one substep, or None."""
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


def inverse_3x3(
    a: list[list[Any]],
) -> tuple[tuple[Any, ...], Any]:
    """Cofactors (c00, c01, ..., c22 of the adjugate, row-major) and 1/det of 3x3 matrices.

    The entries ``a[i][j]`` are arrays over points (or numbers); the inverse of each point's
    matrix is ``c_ij * inv_det`` (closed form, vectorised; no pivoting -- the W matrices
    I - gamma h J of the cell model are diagonally dominant enough for it).
    """
    (a00, a01, a02), (a10, a11, a12), (a20, a21, a22) = a
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
    return (c00, c01, c02, c10, c11, c12, c20, c21, c22), inv_det


def point_blocks(n: int, size: int, one_up_to: int = 0) -> list[slice]:
    """Slices of at most ``size`` points covering ``range(n)`` (parts of a split problem).

    One slice of all points if they fit in ``one_up_to`` blocks.
    """
    if n <= one_up_to * size:
        return [slice(0, n)]
    return [slice(s, min(s + size, n)) for s in range(0, n, size)]


def _identity(x: float) -> float:
    return x


def _safety(err: float, expo: float) -> float:
    """The controller's proposal factor 0.9 err^-expo (ROS2: 0.9 / sqrt(err), as before)."""
    return 0.9 / math.sqrt(err) if expo == 0.5 else 0.9 * err**-expo


def ros2_stages[Y](
    problem: WProblem[Y], t: float, y: Y, h: float
) -> tuple[FloatArray, FloatArray, float]:
    """Stages k1, k2 of one ROS2 substep of size h from (t, y) and the local error.

    The error is the problem's scaled norm of the embedded linearly implicit Euler estimate
    h/2 (k1 + k2), inf if not finite. The arrays returned by the problem's ``linearise``,
    ``time_derivative`` and ``rhs`` are overwritten (they must be fresh arrays).

    A problem whose points are independent may offer ``split(t, y, h)`` (see
    :class:`SplitProblem`): the stages are then computed part by part (e.g. blocks of
    points that stay in cache) into whole k arrays, and the error is the maximum over the
    parts -- the same numbers as one pass when the problem's work is per point.
    """
    k1, k2, err = ros2_substep(problem, t, y, h, increment=False)
    assert k2 is not None
    return k1, k2, err


def ros2_substep[Y](
    problem: WProblem[Y],
    t: float,
    y: Y,
    h: float,
    *,
    increment: bool = True,
    tableau: RosenbrockTableau | None = None,
) -> tuple[FloatArray, FloatArray | None, float]:
    """One ROS2 substep: the increment 3/2 k1 + 1/2 k2 (None) and the local error.

    With ``increment=False`` the stages k1 and k2 instead (:func:`ros2_stages`). A split
    problem's increment is formed part by part, while the part's stages are in cache.
    With a ``tableau`` the substep is that method's (:func:`rosw_stages`): the increment
    sum_i m_i U_i (``increment`` is then ignored).
    """
    if tableau is not None:
        incr, err = rosw_stages(tableau, problem, t, y, h)
        return incr, None, err
    split = getattr(problem, "split", None)
    prepared = None if split is None else split(t, y, h)
    if prepared is None:
        k1, k2, err = _stages(problem, t, y, h)
        return (ros2_increment(k1, k2), None, err) if increment else (k1, k2, err)
    shape, parts = prepared
    out1 = np.empty(shape)
    out2 = None if increment else np.empty(shape)
    err = 0.0
    for index, part, y_part in parts:
        k1, k2, err_part = _stages(part, t, y_part, h)
        if out2 is None:
            out1[index] = ros2_increment(k1, k2)
        else:
            out1[index], out2[index] = k1, k2
        err = max(err, err_part)
    return out1, out2, err


def rosw_stages[Y](
    tab: RosenbrockTableau, problem: WProblem[Y], t: float, y: Y, h: float
) -> tuple[FloatArray, float]:
    """Increment sum_i m_i U_i of one substep of the method ``tab`` and its local error.

    Stages in the transformed form of :class:`RosenbrockTableau` (one linearisation, one
    W-solve per stage); the error is the problem's scaled norm of h sum_i e_i U_i, inf if
    not finite.

    A :class:`SplitProblem` is run stage by stage over its parts: each stage's states of
    all parts are formed first and handed to the problem's ``prepare_stage(t_i, parts,
    states)`` (if it has one: e.g. a drive that needs the whole state), then each part's
    right-hand side and W-solve. Per point this is the arithmetic of one pass.
    """
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # non-finite: err inf
        return _rosw_stages(tab, problem, t, y, h)


def _rosw_stages[Y](
    tab: RosenbrockTableau, problem: WProblem[Y], t: float, y: Y, h: float
) -> tuple[FloatArray, float]:
    """:func:`rosw_stages` (without the floating-point error state)."""
    split = getattr(problem, "split", None)
    prepared = None if split is None else split(t, y, h)
    shape: tuple[int, ...] | None = None
    parts: Sequence[tuple[Any, WProblem[Any], Any]] = [(..., problem, y)]  # one pass
    prepare = None
    if prepared is not None:
        shape, parts = prepared
        prepare = getattr(problem, "prepare_stage", None)
    lin = []
    for _, part, y_part in parts:
        f0, solve = part.linearise(t, y_part, tab.gamma * h)
        lin.append((f0, solve, part.time_derivative(t, y_part, f0, h)))
    U: list[FloatArray] = []
    for i in range(tab.stages):
        t_i = t + tab.alpha[i] * h
        states: list[Any] = []
        if i > 0:
            states = [
                part.update(y_part, h, _combine(tab.a[i], [u[index] for u in U]), False)
                for index, part, y_part in parts
            ]
            if prepare is not None:
                prepare(t_i, parts, states)
        pieces = []
        for p, (index, part, _) in enumerate(parts):
            f0, solve, ft = lin[p]
            rhs = f0 if i == 0 else part.rhs(t_i, states[p])
            pieces.append(solve(_stage_rhs(tab, i, rhs, [u[index] for u in U], ft, h)))
        if shape is None:
            U.append(pieces[0])
        else:
            U_i = np.empty(shape)
            for (index, _, _), piece in zip(parts, pieces, strict=True):
                U_i[index] = piece
            U.append(U_i)
    incr = _combine(tab.m, U)
    err = problem.error_norm(y, _combine(tab.e, U), h)
    return incr, err if math.isfinite(err) else math.inf


def _combine(weights: Sequence[float], vectors: Sequence[FloatArray]) -> FloatArray:
    """sum_j w_j v_j over the first len(vectors) weights (a new array; zero weights skipped).

    Element by element (no BLAS): the sum at a point does not depend on the array's size,
    so a split substep and one pass agree bit for bit.
    """
    terms = [(w, v) for w, v in zip(weights, vectors, strict=False) if w != 0.0]
    if not terms:
        return np.zeros_like(vectors[0])
    out = np.multiply(terms[0][1], terms[0][0])
    tmp = np.empty_like(out) if len(terms) > 1 else out
    for w, v in terms[1:]:
        np.add(out, np.multiply(v, w, out=tmp), out=out)
    return out


def _stage_rhs(
    tab: RosenbrockTableau,
    i: int,
    rhs: FloatArray,
    U: Sequence[FloatArray],
    ft: FloatArray | None,
    h: float,
) -> FloatArray:
    """The stage's right-hand side gamma (F_i + sum_j<i c_ij U_j + gamma_i h F_t), in place."""
    tmp: FloatArray | None = None
    for c, u in zip(tab.c[i], U, strict=True):
        if c != 0.0:
            tmp = np.multiply(u, c, out=tmp)
            np.add(rhs, tmp, out=rhs)
    if ft is not None and tab.gamma_sum[i] != 0.0:
        tmp = np.multiply(ft, tab.gamma_sum[i] * h, out=tmp)
        np.add(rhs, tmp, out=rhs)
    rhs *= tab.gamma
    return rhs


def _stages[Y](
    problem: WProblem[Y], t: float, y: Y, h: float
) -> tuple[FloatArray, FloatArray, float]:
    """:func:`ros2_stages` of one problem (or one part of a split problem)."""
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
    tableau: RosenbrockTableau | None = None,
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
        tableau: another Rosenbrock(-W) method (e.g. :data:`RA34PW2`); None = ROS2. The
            controller's exponent is then 1 / (its embedded order + 1).

    Raises:
        SolverError: too many substeps, or the step size underflows.
    """
    t_end = t + dt
    stops = [s for s in milestones if t < s < t_end - 1e-9] + [t_end]
    # h_init is not clipped to dt: the first substep is (the call's interval, or) at most
    # h_init, and a call shorter than h_init hands h_init on (the branch for a shortened
    # substep below keeps the proposal), so the next call need not grow it back.
    h = dt if h_init is None else h_init
    tc, h_last, i_stop = t, h, 0
    st = StepStats()
    expo = 0.5 if tableau is None else 1.0 / (tableau.embedded_order + 1)
    while tc < t_end - 1e-12 * max(1.0, abs(t_end)):
        if st.n_accepted + st.n_rejected >= max_substeps:
            raise SolverError(f"more than {max_substeps} substeps between t={t} and t={t_end}")
        while stops[i_stop] <= tc + 1e-12:
            i_stop += 1
        target = stops[i_stop]
        hs = min(h, target - tc)
        if target - (tc + hs) < 1e-9 * max(1.0, target):
            hs = target - tc
        incr, _, err_local = ros2_substep(problem, tc, y, hs, tableau=tableau)
        err = round_sig(reduce_max(err_local))
        if err <= 1.0:
            y = problem.update(y, hs, incr, True)
            tc = target if hs == target - tc else tc + hs
            st.n_accepted += 1
            h_last = hs
            fac = 5.0 if err == 0.0 else min(5.0, max(0.2, _safety(err, expo)))
            # a substep shortened to land on a stop keeps the proposal h unless its own
            # error asks for less than its size
            h = max(hs * fac, h) if hs < h and fac >= 1.0 else hs * fac
            if stop is not None and tc < t_end - 1e-12 * max(1.0, abs(t_end)) and stop(y):
                return WResult(y, st.n_accepted, st.n_rejected, h_last, tc, True, h)
        else:
            st.n_rejected += 1
            fac = 0.2 if not math.isfinite(err) else max(0.1, _safety(err, expo))
            h = hs * fac
            if h < h_min:
                raise SolverError(f"step size underflow at t={tc}")
    return WResult(y, st.n_accepted, st.n_rejected, h_last, t_end, False, h)
