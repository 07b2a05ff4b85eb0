"""Krylov solver of the elasticity system: CG + GAMG, preconditioner reuse, initial guess.

Solver: conjugate gradients preconditioned by PETSc's smoothed-aggregation algebraic
multigrid (GAMG) with the six rigid-body modes as near-nullspace (Adams et al. 2004,
"Ultrascalable implicit finite element analyses in solid mechanics", SC'04). Load cases
with the same supports share one operator (an :class:`OperatorGroup`). When only ``E``
changes between solves (a remodelling step), the matrix is reassembled in place, the
KSP/PC objects are reused, the preconditioner is *kept* (``PC.setReusePreconditioner``)
until the iteration count grows past ``refresh_factor`` times the count right after its
last set-up, and past solutions give the initial guess. The convergence criterion is on
the true residual,

    ‖b − A u‖₂ ≤ rtol ‖b‖₂,

so a warm start saves iterations instead of demanding more. Iteration counts are compared
as *cold-equivalent* counts k·log(rtol)/log(‖r_k‖/‖r₀‖) (the iterations a zero guess
would need at the same rate per iteration). The extrapolated initial guess is a Galerkin
projection onto the past solutions (Fischer 1998, CMAME 163:193), see
:func:`initial_guess`. Units: the system is in N and mm (A in N/mm, b in N, x in mm);
phase times in :class:`SolveStats` are in seconds of the clock passed in.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from bonefem._dolfinx import PETSc, dolfinx, fem
from bonefem.config.loading import LoadCase
from bonefem.errors import SolverError
from bonefem.mechanics.assembly import GroupOperator
from bonefem.mechanics.forms import Signature, SupportDofs
from bonefem.mechanics.voxel import VoxelGroup

logger = logging.getLogger("bonefem.mechanics")

#: Default PETSc options (override any of them with ``petsc_options``).
DEFAULT_PETSC_OPTIONS: dict[str, Any] = {
    "ksp_type": "cg",
    "ksp_norm_type": "unpreconditioned",
    "ksp_rtol": 1.0e-8,
    "ksp_max_it": 2000,
    "pc_type": "gamg",
    "pc_gamg_type": "agg",
    "pc_gamg_agg_nsmooths": 1,
    # Drop graph entries below 0.001 of the diagonal before aggregation: without filtering
    # (-1) the iterations grew from 40 to 79 over an 8x refinement of the femur; 0.01 keeps
    # them flat but costs ~2x in set-up; 0.001 keeps them flat at the lowest total cost
    # (docs/performance.md, GAMG option sweep).
    "pc_gamg_threshold": 0.001,
    "pc_gamg_coarse_eq_limit": 1000,
    "mg_levels_ksp_type": "chebyshev",
    "mg_levels_pc_type": "jacobi",
    "mg_levels_ksp_chebyshev_esteig_steps": 10,
}

#: Algorithms of the Galerkin products R A P of the GAMG set-up on more than one rank
#: (PETSc ``-matptap_via``, a global option: GAMG creates the products under no prefix).
#: "scalable" (PETSc's default) keeps product data with each coarse matrix: at 923k dofs
#: the set-up kept 1.23 GB per rank on 2 ranks against 0.52 GB on 1 rank, so the peak per
#: rank hardly fell with the ranks (72 % of the 1-rank peak). "allatonce" keeps 0.35 GB
#: per rank (peak 55 %), same hierarchy and iterations, but its set-up took 3.7x the CPU
#: time at 127k dofs and 7.8x at 923k dofs (2 ranks; docs/performance.md, "Issue 19:
#: memory per rank"). One rank:
#: PETSc's sequential AIJ has no "allatonce"; the option is not set.
GALERKIN_PRODUCTS = ("scalable", "allatonce")
_GLOBAL_SET: set[str] = set()  # the global options this module put in the database

#: Solves with a kept preconditioner and fewer iterations are not used to judge it
#: (:func:`update_refresh_state`).
MIN_JUDGED_ITERATIONS = 5

#: Initial guesses of :class:`~bonefem.mechanics.ElasticityProblem` (``initial_guess``).
INITIAL_GUESSES = ("extrapolate", "previous", "zero")

#: A clock (s): ``time.perf_counter`` (wall) or ``time.process_time`` (CPU of this rank).
Clock = Callable[[], float]

_REASONS = {
    getattr(PETSc.KSP.ConvergedReason, n): n
    for n in dir(PETSc.KSP.ConvergedReason)
    if not n.startswith("_") and isinstance(getattr(PETSc.KSP.ConvergedReason, n), int)
}


def ksp_reason_name(reason: int) -> str:
    """Human-readable name of a PETSc KSP converged/diverged reason."""
    return _REASONS.get(reason, str(reason))


def rigid_body_modes(V: fem.FunctionSpace) -> PETSc.NullSpace:
    """The six rigid-body modes of a 3-D vector P1/Q1 space, orthonormalised."""
    index_map = V.dofmap.index_map
    bs = V.dofmap.index_map_bs
    n = index_map.size_local
    x = V.tabulate_dof_coordinates()[:n]
    basis = [dolfinx.la.vector(index_map, bs=bs, dtype=PETSc.ScalarType) for _ in range(6)]
    b = [v.array.reshape(-1, bs) for v in basis]
    for i in range(3):
        b[i][:n, i] = 1.0
    b[3][:n, 0], b[3][:n, 1] = -x[:, 1], x[:, 0]
    b[4][:n, 0], b[4][:n, 2] = x[:, 2], -x[:, 0]
    b[5][:n, 1], b[5][:n, 2] = -x[:, 2], x[:, 1]
    dolfinx.la.orthonormalize(basis)
    vecs = [
        PETSc.Vec().createWithArray(v.array[: bs * n], bsize=bs, comm=V.mesh.comm) for v in basis
    ]
    return PETSc.NullSpace().create(vectors=vecs, comm=V.mesh.comm)


def projection_coefficients(
    G: npt.NDArray[np.float64], rhs: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Solve the small SPD system G c = rhs, dropping directions without energy."""
    d = np.diag(G).copy()
    keep = d > 1e-14 * max(float(d.max(initial=0.0)), 1e-300)
    c = np.zeros(rhs.size)
    if not keep.any():
        return c
    s = 1.0 / np.sqrt(d[keep])
    Gs = G[np.ix_(keep, keep)] * s[:, None] * s[None, :]
    sol, *_ = np.linalg.lstsq(Gs, rhs[keep] * s, rcond=1e-10)
    c[keep] = sol * s
    return c


def cold_equivalent_iterations(its: int, rnorm: float, r0: float, rtol: float) -> float:
    """Iterations a solve at the same convergence rate would need from a zero guess.

    k iterations reduced the residual from r₀ to r_k: the rate per iteration is
    (r_k/r₀)^(1/k), and reducing by ``rtol`` takes k·log(rtol)/log(r_k/r₀) iterations.
    """
    if its <= 0 or r0 <= 0.0 or rnorm <= 0.0:
        return float(its)
    reduction = rnorm / r0
    if reduction >= 1.0:
        return math.inf
    return float(its * math.log(rtol) / math.log(reduction))


def drop_options(key_lists: list[list[str]]) -> None:
    """Remove PETSc options from the database (in place: the lists are emptied)."""
    opts = PETSc.Options()
    for keys in key_lists:
        for key in keys:
            if opts.hasName(key):
                del opts[key]
        keys.clear()


@dataclass
class SolveStats:
    """Statistics of one linear solve (times in s of the problem's clock)."""

    load_case: str
    iterations: int
    residual_norm: float
    pc_setup: bool
    reason: str
    #: time (s) of the operator (re)assembly in this solve (0 when it was current)
    assemble_seconds: float = 0.0
    #: time (s) of the right-hand side assembly and boundary conditions
    rhs_seconds: float = 0.0
    #: time (s) of the initial guess (copy, or projection onto past solutions)
    guess_seconds: float = 0.0
    #: time (s) of the preconditioner set-up (0 when the kept one was used)
    setup_seconds: float = 0.0
    #: time (s) of the Krylov iterations
    solve_seconds: float = 0.0
    #: ‖b − A x₀‖ / ‖b‖ of the initial guess (1 for a zero guess)
    initial_residual: float = 1.0
    #: the kept preconditioner failed (e.g. indefinite) and was rebuilt within this solve
    retried: bool = False


@dataclass
class OperatorGroup:
    """Load cases sharing the same supports, hence one operator and one KSP."""

    signature: Signature
    cases: list[str]
    A: PETSc.Mat
    ksp: PETSc.KSP
    bc_dofs: SupportDofs
    dirty: bool = True
    pc_iterations: int = 0  # iterations of the first solve after the last PC set-up
    pc_stale: bool = True
    #: cold-equivalent iterations (to reduce the residual by rtol from a zero guess) of the
    #: first solve after the last PC set-up; the refresh test compares against it
    pc_cold_iterations: float = 0.0
    pc_setups: int = 0
    #: PETSc option names of this group still in the options database
    option_keys: list[str] = field(default_factory=list)
    nullspace: Any = None
    #: the unit-modulus re-assembly of ``A`` (None: DOLFINx assembles it)
    fast: GroupOperator | VoxelGroup | None = None


@dataclass
class CaseData:
    """One load case: its load form, boundary conditions, solution, history, statistics."""

    case: LoadCase
    group: int
    L: fem.Form
    bcs: list[fem.DirichletBC]
    u: fem.Function
    b: PETSc.Vec
    has_solution: bool = False
    u_previous: npt.NDArray[np.float64] | None = None
    stats: list[SolveStats] = field(default_factory=list)
    #: the last converged solutions (owned dofs), oldest first, for the initial guess
    history: list[PETSc.Vec] = field(default_factory=list)
    #: prescribed displacements at the local dofs (owned and ghost, unrolled; mm), None
    #: where this rank has none that is nonzero (the lifting is then zero)
    prescribed: npt.NDArray[np.float64] | None = None

    def __post_init__(self) -> None:
        g = np.zeros(self.u.x.array.size)
        for bc in self.bcs:
            bc.set(g)
        self.prescribed = g if np.any(g) else None

    def forget_solutions(self) -> None:
        """Drop the past solutions: the next solve starts cold (zero initial guess)."""
        for v in self.history:
            v.destroy()
        self.history.clear()
        self.has_solution = False


@dataclass
class KrylovRun:
    """Outcome of :func:`run_krylov` (times in s)."""

    reason: int
    pc_setup: bool
    retried: bool
    r0: float
    initial_residual: float
    guess_seconds: float
    setup_seconds: float
    solve_seconds: float


# ------------------------------------------------------------------------ set-up
def set_galerkin_product(opts: PETSc.Options, ranks: int, product: str) -> None:
    """Set ``matptap_via`` for the next GAMG set-ups (:data:`GALERKIN_PRODUCTS`).

    A value the user put in the database is left alone; one set here for an earlier
    problem is replaced or removed (one rank, or "scalable"). The option is global and
    read at each set-up: in a process with several problems the last one created decides.
    """
    key = "matptap_via"
    if opts.hasName(key) and key not in _GLOBAL_SET:
        return
    if ranks > 1 and product != "scalable":
        opts[key] = product
        _GLOBAL_SET.add(key)
    elif key in _GLOBAL_SET:
        if opts.hasName(key):
            del opts[key]
        _GLOBAL_SET.discard(key)


def create_group(
    comm: Any,
    a: fem.Form,
    nullspace: PETSc.NullSpace,
    petsc_options: Mapping[str, Any],
    prefix: str,
    signature: Signature,
    bc_dofs: SupportDofs,
    fast: GroupOperator | VoxelGroup | None = None,
    galerkin_product: str = "scalable",
) -> OperatorGroup:
    """Matrix (with the near-nullspace) and KSP of a group on ``comm``; options under ``prefix``.

    ``fast``: the group's unit-modulus operator (:mod:`bonefem.mechanics.assembly`), whose
    matrix is used; None: a DOLFINx matrix of the form ``a``. ``galerkin_product``: one of
    :data:`GALERKIN_PRODUCTS` (:func:`set_galerkin_product`).
    """
    A = dolfinx.fem.petsc.create_matrix(a) if fast is None else fast.A
    A.setNearNullSpace(nullspace)
    ksp = PETSc.KSP().create(comm)
    ksp.setOptionsPrefix(prefix)
    opts = PETSc.Options()
    set_galerkin_product(opts, comm.size, galerkin_product)
    for key, value in petsc_options.items():
        opts[f"{prefix}{key}"] = value
    ksp.setFromOptions()
    ksp.setOperators(A)
    # Warm start from the previous solution (a direct solve needs no initial guess).
    ksp.setInitialGuessNonzero(ksp.getType() != PETSc.KSP.Type.PREONLY)
    # The options stay in the database until the first preconditioner set-up: the
    # multigrid levels (mg_levels_*, mg_coarse_*) only exist then and read them then.
    keys = [f"{prefix}{key}" for key in petsc_options]
    return OperatorGroup(
        signature=signature, cases=[], A=A, ksp=ksp, bc_dofs=bc_dofs, option_keys=keys, fast=fast
    )


def assemble_operator(g: OperatorGroup, a: fem.Form, bcs: list[fem.DirichletBC]) -> None:
    """Reassemble the group's matrix in place (rows/columns of the supports: identity).

    With a unit-modulus operator: one sparse product of the cell moduli
    (:class:`~bonefem.mechanics.assembly.GroupOperator`); else DOLFINx's assembly of ``a``.
    """
    if g.fast is not None:
        g.fast.assemble()
    else:
        g.A.zeroEntries()
        dolfinx.fem.petsc.assemble_matrix(g.A, a, bcs=bcs)
        g.A.assemble()
    g.dirty = False


def assemble_rhs(case: CaseData, a: fem.Form, fast: Any = None) -> float:
    """Assemble b = L − A g (lifting) with the prescribed values set; return ‖b‖₂ (N).

    The lifting K(E) g comes from the group's unit-modulus operator where it has one
    (:meth:`~bonefem.mechanics.assembly.GroupOperator.dirichlet_action`: the pairs of the
    Dirichlet columns kept at the refill), else from DOLFINx's ``apply_lifting``; with no
    nonzero prescribed value on this rank it is zero and skipped.
    """
    b = case.b
    with b.localForm() as loc:
        loc.set(0.0)
    dolfinx.fem.petsc.assemble_vector(b, case.L)
    if case.prescribed is not None:
        lifting = None if fast is None else fast.dirichlet_action(case.prescribed)
        if lifting is None:
            dolfinx.fem.petsc.apply_lifting(b, [a], bcs=[case.bcs])
        else:
            with b.localForm() as loc:
                loc.array[:] -= lifting
    b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
    dolfinx.fem.petsc.set_bc(b, case.bcs)
    return float(b.norm())


def set_tolerances(ksp: PETSc.KSP, rtol: float, bnorm: float) -> None:
    """Stop on the true residual: ‖b − A x‖ ≤ rtol ‖b‖ (atol = rtol ‖b‖)."""
    _, _, dtol, max_it = ksp.getTolerances()
    ksp.setTolerances(rtol=rtol, atol=max(rtol * bnorm, 1e-300), divtol=dtol, max_it=max_it)


# ------------------------------------------------------------------ initial guess
def initial_guess(
    mode: str,
    case: CaseData,
    A: PETSc.Mat,
    x: PETSc.Vec,
    b: PETSc.Vec,
    siblings: Sequence[PETSc.Vec] = (),
) -> float:
    """Put the initial guess into ``x``; return its true residual norm ‖b − A x‖.

    ``"extrapolate"``: with the last solutions u₁ (newest), u₂, …, u_m of this load case,
    x₀ = u₁ + Σⱼ cⱼ dⱼ with dⱼ = uⱼ − uⱼ₊₁, the coefficients minimising the energy norm of
    the error over that affine set: (DᵀAD) c = Dᵀ(b − A u₁) (a Galerkin projection onto
    the past solutions, Fischer 1998, CMAME 163:193). It contains the previous solution
    (c = 0) and the linear extrapolation 2u₁ − u₂ (c = (1, 0, …)), so it is never worse
    than either in the energy norm, and costs m matrix-vector products. The dⱼ vanish
    on Dirichlet dofs (same prescribed values), so x₀ keeps the boundary values.
    ``"previous"``: the last solution (already in ``x``); ``"zero"``: a cold start.

    ``siblings`` (``"extrapolate"`` only): solutions of other load cases on the same
    operator (same supports), with their constrained dofs set to zero, join the directions
    dⱼ. A load case whose loads are a multiple of a sibling's then starts from the exact
    solution when the sibling was solved with the same E (the virtual tests' first row:
    the fracture load of the vertebra is the habitual load × 3.125), and from the
    sibling's shape otherwise; the projection keeps x₀ energy-optimal over the larger set.
    """
    r = b.duplicate()
    if not case.has_solution or mode == "zero":
        x.set(0.0)
    elif mode == "extrapolate" and case.history:
        case.history[-1].copy(x)
    dolfinx.fem.petsc.set_bc(x, case.bcs)
    A.mult(x, r)
    r.aypx(-1.0, b)  # r = b − A x
    hist = case.history if mode == "extrapolate" and case.has_solution else []
    extra = list(siblings) if mode == "extrapolate" else []
    if len(hist) >= 2 or extra:
        _project_on_history(hist, A, x, r, b, extra)
    norm = float(r.norm())
    r.destroy()
    return norm


def _project_on_history(
    hist: list[PETSc.Vec],
    A: PETSc.Mat,
    x: PETSc.Vec,
    r: PETSc.Vec,
    b: PETSc.Vec,
    extra: Sequence[PETSc.Vec] = (),
) -> None:
    """Add Σ cⱼ dⱼ to x and subtract Σ cⱼ A dⱼ from r, (DᵀAD) c = Dᵀ r (:func:`initial_guess`).

    The directions are the differences of consecutive past solutions and copies of the
    ``extra`` vectors (zero on the constrained dofs).
    """
    D = [hist[j].copy() for j in range(len(hist) - 1, 0, -1)]
    for j, dj in zip(range(len(hist) - 1, 0, -1), D, strict=True):
        dj.axpy(-1.0, hist[j - 1])  # dⱼ = u_j − u_{j−1} (newest first)
    D += [v.copy() for v in extra]
    AD = []
    for dj in D:
        adj = b.duplicate()
        A.mult(dj, adj)
        AD.append(adj)
    m = len(D)
    G = np.array([[D[i].dot(AD[j]) for j in range(m)] for i in range(m)])
    rhs = np.array([D[i].dot(r) for i in range(m)])
    c = projection_coefficients(G, rhs)
    for cj, dj, adj in zip(c, D, AD, strict=True):
        if cj != 0.0:
            x.axpy(cj, dj)
            r.axpy(-cj, adj)
    for v in D + AD:
        v.destroy()


# -------------------------------------------------------------------------- solve
def run_krylov(
    g: OperatorGroup,
    case: CaseData,
    mode: str,
    bnorm: float,
    clock: Clock,
    siblings: Sequence[PETSc.Vec] = (),
) -> KrylovRun:
    """Initial guess, preconditioner set-up (or reuse) and CG iterations into ``case.u``.

    A kept preconditioner can go bad after large modulus changes (stale Chebyshev
    eigenvalue bounds make the smoother indefinite): when a solve with it fails, it is
    rebuilt and the solve repeated once from the same initial guess.
    """
    ksp, b, x = g.ksp, case.b, case.u.x.petsc_vec
    retried = False
    t_guess = t_setup = t_solve = 0.0
    while True:
        t2 = clock()
        r0 = initial_guess(mode, case, g.A, x, b, siblings)
        initial_residual = r0 / bnorm if bnorm > 0 else 0.0
        t3 = clock()
        setup = g.pc_stale
        ksp.getPC().setReusePreconditioner(not setup)
        ksp.setOperators(g.A)
        ksp.setUp()
        if g.option_keys:
            drop_options([g.option_keys])
        t4 = clock()
        ksp.solve(b, x)
        t5 = clock()
        t_guess += t3 - t2
        t_setup += t4 - t3
        t_solve += t5 - t4
        reason = ksp.getConvergedReason()
        if reason >= 0 or setup or retried:
            break
        logger.info(
            "solve of %s with the kept preconditioner failed (%s); rebuilding it",
            case.case.name,
            ksp_reason_name(reason),
        )
        g.pc_stale = True
        retried = True
        if case.u_previous is not None:  # the guess must not be the failed iterate
            case.u.x.array[:] = case.u_previous
    return KrylovRun(reason, setup, retried, r0, initial_residual, t_guess, t_setup, t_solve)


def convergence_error(
    stats: SolveStats, bnorm: float, step: int | None, time: float | None
) -> SolverError:
    """The error of a solve that did not converge (names case, reason, step, time)."""
    where = ""
    if step is not None:
        where += f" at step {step}"
    if time is not None:
        where += f" (t = {time:g} days)"
    return SolverError(
        f"elasticity solve of load case '{stats.load_case}' did not converge{where}: KSP "
        f"reason {stats.reason} after {stats.iterations} iterations, residual "
        f"{stats.residual_norm:.3e} (‖b‖ = {bnorm:.3e})"
    )


def accept_solution(case: CaseData, mode: str, guess_history: int) -> None:
    """Re-impose the prescribed values exactly, update ghosts, keep the solution history.

    The multigrid preconditioner may move constrained dofs by round-off: the prescribed
    values are known, not unknowns.
    """
    x = case.u.x.petsc_vec
    dolfinx.fem.petsc.set_bc(x, case.bcs)
    x.ghostUpdate(addv=PETSc.InsertMode.INSERT, mode=PETSc.ScatterMode.FORWARD)
    case.has_solution = True
    if mode == "extrapolate":
        case.history.append(x.copy())
        while len(case.history) > guess_history:
            case.history.pop(0).destroy()


def update_refresh_state(
    g: OperatorGroup, stats: SolveStats, run: KrylovRun, rtol: float, refresh_factor: float
) -> None:
    """Record a set-up, or mark the kept preconditioner stale once it has degraded.

    Stale when the cold-equivalent iterations exceed ``refresh_factor`` times those of the
    first solve after the last set-up. Solves with the kept preconditioner that took fewer
    than :data:`MIN_JUDGED_ITERATIONS` iterations are not judged: from a guess within a few
    rtol of the solution, 2-4 iterations give no reliable rate (the virtual tests rebuilt
    their preconditioner every few rows for such solves, at 10x the cost of the solve).
    """
    its = stats.iterations
    cold = cold_equivalent_iterations(its, stats.residual_norm, run.r0, rtol)
    if not run.pc_setup and its < MIN_JUDGED_ITERATIONS:
        return  # too few iterations to measure a rate; and the solve was cheap anyway
    if run.pc_setup:
        g.pc_stale = False
        g.pc_iterations = max(its, 1)
        g.pc_cold_iterations = cold if its > 0 else 0.0  # 0: not known yet
        g.pc_setups += 1
    elif g.pc_cold_iterations <= 0.0:
        g.pc_cold_iterations = cold if its > 0 else 0.0
    elif cold > refresh_factor * g.pc_cold_iterations:
        g.pc_stale = True
        logger.debug(
            "preconditioner of %s marked for refresh (%d iterations, %.1f cold-equivalent)",
            stats.load_case,
            its,
            cold,
        )
