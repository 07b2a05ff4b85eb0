"""Small-strain linear elasticity of bone with a per-cell Young's modulus (DOLFINx + PETSc).

Equations (isotropic Hooke's law, small strain; e.g. Zienkiewicz & Taylor, *The Finite
Element Method* vol. 1, ch. 6):

    ε(u) = ½(∇u + ∇uᵀ),    σ = 2μ ε + λ tr(ε) I,
    μ = E / (2(1 + ν)),    λ = E ν / ((1 + ν)(1 − 2ν)),

    ∫_Ω σ(u) : ε(v) dx = ∫_Γ_N t · v ds    for all admissible v,

with ``E`` (MPa) a DG0 field (one value per cell, from the density–modulus law of
:mod:`bonefem.material`), ``ν`` per region, displacements in mm, tractions in MPa.
The strain energy density per cell is the cell average of ψ = ½ σ:ε (MPa = mJ/mm³).

Solver: conjugate gradients preconditioned by PETSc's smoothed-aggregation algebraic
multigrid (GAMG) with the six rigid-body modes as near-nullspace (Adams et al. 2004,
"Ultrascalable implicit finite element analyses in solid mechanics", SC'04). Load cases
with the same supports share one operator. When only ``E`` changes between solves (a
remodelling step), the matrix is reassembled in place, the KSP/PC objects are reused, the
preconditioner is *kept* (``PC.setReusePreconditioner``) until the iteration count grows
past ``refresh_factor`` times the count right after its last set-up, and the previous
solution is the initial guess. The convergence criterion is on the true residual,
``‖b − A u‖₂ ≤ rtol ‖b‖₂``, so a warm start saves iterations instead of demanding more.
"""

from __future__ import annotations

import logging
import math
import time as _time
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import ufl

from bonefem._dolfinx import MPI, PETSc, dolfinx, fem
from bonefem.config.loading import COMPONENTS, Displacement, Force, LoadCase, Pressure, Traction
from bonefem.errors import InputError, SolverError
from bonefem.mesh.bonemesh import BoneMesh

logger = logging.getLogger(__name__)

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

#: Clock of the phase times in :class:`SolveStats` (s). Wall time by default; benchmarks
#: on a shared machine may set ``time.process_time`` (CPU time of this rank).
PHASE_CLOCK: Callable[[], float] = _time.perf_counter

#: Initial guesses of :class:`ElasticityProblem` (``initial_guess``).
INITIAL_GUESSES = ("extrapolate", "previous", "zero")

_REASONS = {
    getattr(PETSc.KSP.ConvergedReason, n): n
    for n in dir(PETSc.KSP.ConvergedReason)
    if not n.startswith("_") and isinstance(getattr(PETSc.KSP.ConvergedReason, n), int)
}


def ksp_reason_name(reason: int) -> str:
    """Human-readable name of a PETSc KSP converged/diverged reason."""
    return _REASONS.get(reason, str(reason))


def lame(E: Any, nu: Any) -> tuple[Any, Any]:
    """Lamé parameters (MPa) from Young's modulus E (MPa) and Poisson's ratio ν (-)."""
    mu = E / (2.0 * (1.0 + nu))
    lmbda = E * nu / ((1.0 + nu) * (1.0 - 2.0 * nu))
    return mu, lmbda


def strain(u: Any) -> Any:
    """Small-strain tensor ε(u) = sym(∇u) (dimensionless)."""
    return ufl.sym(ufl.grad(u))


def stress(u: Any, E: Any, nu: Any) -> Any:
    """Cauchy stress σ = 2μ ε + λ tr(ε) I (MPa)."""
    mu, lmbda = lame(E, nu)
    eps = strain(u)
    return 2.0 * mu * eps + lmbda * ufl.tr(eps) * ufl.Identity(len(u))


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


def _projection_coefficients(
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


def _drop_options(key_lists: list[list[str]]) -> None:
    """Remove PETSc options from the database (in place: the lists are emptied)."""
    opts = PETSc.Options()
    for keys in key_lists:
        for key in keys:
            if opts.hasName(key):
                del opts[key]
        keys.clear()


def _cold_equivalent(its: int, rnorm: float, r0: float, rtol: float) -> float:
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


@dataclass
class SolveStats:
    """Statistics of one linear solve."""

    load_case: str
    iterations: int
    residual_norm: float
    pc_setup: bool
    reason: str
    #: wall time (s) of the operator (re)assembly in this solve (0 when it was current)
    assemble_seconds: float = 0.0
    #: wall time (s) of the right-hand side assembly and boundary conditions
    rhs_seconds: float = 0.0
    #: wall time (s) of the initial guess (copy, or projection onto past solutions)
    guess_seconds: float = 0.0
    #: wall time (s) of the preconditioner set-up (0 when the kept one was used)
    setup_seconds: float = 0.0
    #: wall time (s) of the Krylov iterations
    solve_seconds: float = 0.0
    #: ‖b − A x₀‖ / ‖b‖ of the initial guess (1 for a zero guess)
    initial_residual: float = 1.0
    #: the kept preconditioner failed (e.g. indefinite) and was rebuilt within this solve
    retried: bool = False


@dataclass
class _Group:
    """Load cases sharing the same supports, hence one operator and one KSP."""

    signature: tuple[tuple[str, str], ...]
    cases: list[str]
    A: PETSc.Mat
    ksp: PETSc.KSP
    bc_dofs: list[tuple[npt.NDArray[np.int32], int | None]]
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


@dataclass
class _Case:
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


class ElasticityProblem:
    """Linear elasticity on a :class:`~bonefem.mesh.BoneMesh` with several load cases.

    Args:
        bone: the mesh with named regions and surfaces (mm).
        load_cases: the load cases (supports and loads on named surfaces).
        poisson_ratio: ν, one number or a mapping region name -> ν (-); default 0.3
            (cortical and trabecular bone, e.g. Reilly & Burstein 1975; Wirtz et al. 2000).
        degree: polynomial degree of the displacement space (1 = P1/Q1).
        petsc_options: overrides of :data:`DEFAULT_PETSC_OPTIONS`.
        refresh_factor: the preconditioner is rebuilt once a solve needs more than
            ``refresh_factor`` times the iterations of the first solve after its last set-up.
            Iterations are compared as *cold-equivalent* counts, k·log(rtol)/log(‖r_k‖/‖r_0‖),
            i.e. by the convergence rate per iteration, so that a good initial guess (few
            iterations) does not trigger needless refreshes.
        initial_guess: ``"extrapolate"`` (default): the energy-optimal combination of the
            last ``guess_history`` solutions of the load case (see :meth:`solve`);
            ``"previous"``: the last solution; ``"zero"``: a cold start.
        guess_history: how many past solutions the extrapolated guess uses (≥ 2; 3 allows
            a quadratic trend).
        options_prefix: PETSc options prefix (unique per problem).
        body_force: optional load case name -> body force (UFL vector expression or
            3-vector, N/mm³), for inertial loads and manufactured-solution verification.
    """

    def __init__(
        self,
        bone: BoneMesh,
        load_cases: Sequence[LoadCase],
        *,
        poisson_ratio: float | Mapping[str, float] = 0.3,
        degree: int = 1,
        petsc_options: Mapping[str, Any] | None = None,
        refresh_factor: float = 1.5,
        options_prefix: str = "bonefem_elasticity_",
        body_force: Mapping[str, Any] | None = None,
        initial_guess: str = "extrapolate",
        guess_history: int = 3,
    ) -> None:
        if initial_guess not in INITIAL_GUESSES:
            raise InputError(
                f"initial_guess must be one of {', '.join(INITIAL_GUESSES)}",
                field="initial_guess",
                value=initial_guess,
            )
        if guess_history < 2:
            raise InputError("guess_history must be at least 2", field="guess_history")
        self.initial_guess = initial_guess
        self.guess_history = int(guess_history)
        if not load_cases:
            raise InputError("at least one load case is needed", field="load_cases")
        names = [lc.name for lc in load_cases]
        if len(set(names)) != len(names):
            raise InputError("load case names must be unique", field="load_cases", value=names)
        for lc in load_cases:
            bone.require_surfaces(sorted(lc.surfaces()), field=f"load_cases.{lc.name}")
        self.bone = bone
        self.mesh = bone.mesh
        self.comm = bone.comm
        self.refresh_factor = float(refresh_factor)
        self.options_prefix = options_prefix
        gdim = self.mesh.geometry.dim
        if gdim != 3 or self.mesh.topology.dim != 3:
            raise InputError("a 3-D volume mesh is needed", field="mesh", value=gdim)

        self.V = fem.functionspace(self.mesh, ("Lagrange", degree, (gdim,)))
        self.Q = fem.functionspace(self.mesh, ("DG", 0))
        self.T = fem.functionspace(self.mesh, ("DG", 0, (gdim, gdim)))
        self.E = fem.Function(self.Q, name="youngs_modulus")
        self.E.x.array[:] = 1.0
        self.nu = fem.Function(self.Q, name="poisson_ratio")
        self._set_poisson(poisson_ratio)

        u, v = ufl.TrialFunction(self.V), ufl.TestFunction(self.V)
        self._a_ufl = ufl.inner(stress(u, self.E, self.nu), strain(v)) * ufl.dx
        self.a = fem.form(self._a_ufl)

        self.petsc_options = dict(DEFAULT_PETSC_OPTIONS)
        self.petsc_options.update(petsc_options or {})

        tdim = self.mesh.topology.dim
        self.mesh.topology.create_connectivity(tdim - 1, tdim)
        self._nullspace = rigid_body_modes(self.V)
        self.groups: list[_Group] = []
        self.cases: dict[str, _Case] = {}
        self._forms: dict[tuple[str, ...], fem.Form] = {}
        self._areas: dict[str, float] = {}
        self._body_force = dict(body_force or {})
        unknown = set(self._body_force) - set(names)
        if unknown:
            raise InputError("body_force for unknown load cases", field="body_force", value=unknown)
        signatures: dict[tuple[tuple[str, str], ...], int] = {}
        for lc in load_cases:
            sig = lc.support_signature()
            if sig not in signatures:
                signatures[sig] = len(self.groups)
                self.groups.append(self._make_group(sig, len(self.groups)))
            gi = signatures[sig]
            self.groups[gi].cases.append(lc.name)
            self.cases[lc.name] = self._make_case(lc, gi)
        self._volumes = self._cell_volumes()
        # options of groups never solved (never set up) leave the database with the problem
        weakref.finalize(self, _drop_options, [g.option_keys for g in self.groups])

    # ------------------------------------------------------------------ set-up
    def _set_poisson(self, poisson_ratio: float | Mapping[str, float]) -> None:
        if isinstance(poisson_ratio, Mapping):
            self.bone.require_regions(poisson_ratio, field="poisson_ratio")
            self.nu.x.array[:] = 0.3
            for name, value in poisson_ratio.items():
                self._check_nu(value, f"poisson_ratio.{name}")
                self.nu.x.array[self.bone.region_cells(name)] = value
        else:
            self._check_nu(poisson_ratio, "poisson_ratio")
            self.nu.x.array[:] = float(poisson_ratio)
        self.nu.x.scatter_forward()

    @staticmethod
    def _check_nu(value: float, name: str) -> None:
        if not -1.0 < float(value) < 0.5:
            raise InputError("Poisson's ratio must lie in (-1, 0.5)", field=name, value=value)

    def _surface_dofs(self, surface: str, component: int | None) -> npt.NDArray[np.int32]:
        facets = self.bone.surface_facets(surface)
        fdim = self.mesh.topology.dim - 1
        space = self.V if component is None else self.V.sub(component)
        return fem.locate_dofs_topological(space, fdim, facets)

    def _make_group(self, signature: tuple[tuple[str, str], ...], index: int) -> _Group:
        bc_dofs: list[tuple[npt.NDArray[np.int32], int | None]] = []
        for surface, comps in signature:
            if comps == "xyz":
                bc_dofs.append((self._surface_dofs(surface, None), None))
            else:
                c = COMPONENTS[comps]
                bc_dofs.append((self._surface_dofs(surface, c), c))
        A = dolfinx.fem.petsc.create_matrix(self.a)
        A.setNearNullSpace(self._nullspace)
        ksp = PETSc.KSP().create(self.comm)
        prefix = f"{self.options_prefix}g{index}_"
        ksp.setOptionsPrefix(prefix)
        opts = PETSc.Options()
        for key, value in self.petsc_options.items():
            opts[f"{prefix}{key}"] = value
        ksp.setFromOptions()
        ksp.setOperators(A)
        # Warm start from the previous solution (a direct solve needs no initial guess).
        ksp.setInitialGuessNonzero(ksp.getType() != PETSc.KSP.Type.PREONLY)
        # The options stay in the database until the first preconditioner set-up: the
        # multigrid levels (mg_levels_*, mg_coarse_*) only exist then and read them then.
        keys = [f"{prefix}{key}" for key in self.petsc_options]
        return _Group(
            signature=signature, cases=[], A=A, ksp=ksp, bc_dofs=bc_dofs, option_keys=keys
        )

    @staticmethod
    def _clear_options(g: _Group) -> None:
        _drop_options([g.option_keys])

    def _make_case(self, lc: LoadCase, group: int) -> _Case:
        mesh = self.mesh
        v = ufl.TestFunction(self.V)
        n = ufl.FacetNormal(mesh)
        f = self._body_force.get(lc.name, np.zeros(3))
        if isinstance(f, (list, tuple, np.ndarray)):
            f = fem.Constant(mesh, np.asarray(f, dtype=float))
        L: Any = ufl.inner(f, v) * ufl.dx
        for load in lc.loads:
            ds = self.bone.ds(load.surface)
            if isinstance(load, Traction):
                L += ufl.inner(fem.Constant(mesh, np.asarray(load.traction, float)), v) * ds
            elif isinstance(load, Pressure):
                L += -load.pressure * ufl.inner(n, v) * ds
            elif isinstance(load, Force):
                area = self._area(load.surface)
                if area <= 0.0:
                    raise InputError(
                        "surface has zero area", field=f"load_cases.{lc.name}", value=load.surface
                    )
                t = np.asarray(load.force, float) / area
                L += ufl.inner(fem.Constant(mesh, t), v) * ds
        values: dict[tuple[str, str], Any] = {}
        for s in lc.supports:
            key = (s.surface, s.component or "xyz")
            if isinstance(s, Displacement) and s.gradient is not None:
                values[key] = self._linear_field(s)
            elif isinstance(s, Displacement):
                vec = np.asarray(s.vector())
                values[key] = vec if s.component is None else vec[COMPONENTS[s.component]]
            else:
                values[key] = np.zeros(3) if s.component is None else 0.0
        bcs = []
        for (surface, comps), (dofs, c) in zip(
            self.groups[group].signature, self.groups[group].bc_dofs, strict=True
        ):
            val = values[(surface, comps)]
            if isinstance(val, fem.Function):
                bcs.append(fem.dirichletbc(val, dofs))
            elif c is None:
                bcs.append(fem.dirichletbc(np.asarray(val, dtype=float), dofs, self.V))
            else:
                bcs.append(fem.dirichletbc(PETSc.ScalarType(val), dofs, self.V.sub(c)))
        L_form = fem.form(L)
        u = fem.Function(self.V, name="displacement")
        b = dolfinx.fem.petsc.create_vector(self.V)
        return _Case(case=lc, group=group, L=L_form, bcs=bcs, u=u, b=b)

    def _area(self, surface: str) -> float:
        """Area of a named surface (mm²), computed once."""
        if surface not in self._areas:
            self._areas[surface] = self.bone.area(surface)
        return self._areas[surface]

    def _linear_field(self, s: Displacement) -> fem.Function:
        """Interpolate u(x) = value + G·(x − x0) (mm) for a linear displacement support."""
        c = np.asarray(s.value, dtype=float)
        G = np.asarray(s.gradient, dtype=float)
        x0 = np.asarray(s.origin, dtype=float)
        g = fem.Function(self.V)
        g.interpolate(lambda x: c[:, None] + G @ (x - x0[:, None]))
        return g

    def _cell_volumes(self) -> npt.NDArray[np.float64]:
        q = ufl.TestFunction(self.Q)
        vol = dolfinx.fem.assemble_vector(fem.form(q * ufl.dx))
        vol.scatter_reverse(dolfinx.la.InsertMode.add)
        vol.scatter_forward()
        return vol.array.copy()

    # ----------------------------------------------------------------- material
    @property
    def cell_volumes(self) -> npt.NDArray[np.float64]:
        """Volume of every owned cell (mm³), a copy."""
        return self._volumes[: self.Q.dofmap.index_map.size_local].copy()

    @property
    def load_case_names(self) -> list[str]:
        """Names of the load cases, in the order given."""
        return list(self.cases)

    @property
    def num_dofs_global(self) -> int:
        """Number of displacement unknowns in the whole mesh."""
        return int(self.V.dofmap.index_map.size_global * self.V.dofmap.index_map_bs)

    def set_modulus(self, E: npt.ArrayLike) -> None:
        """Set Young's modulus per cell (MPa).

        Args:
            E: one value per owned cell (length ``num_cells_local``), or per owned and ghost
                cell; ghosts are updated from their owners.
        """
        E = np.asarray(E, dtype=np.float64)
        n_owned = self.Q.dofmap.index_map.size_local
        if E.ndim == 0:
            self.E.x.array[:] = float(E)
        elif E.shape[0] in (n_owned, self.E.x.array.size):
            self.E.x.array[: E.shape[0]] = E
        else:
            raise InputError(
                f"expected {n_owned} values (owned cells), got {E.shape[0]}", field="E"
            )
        bad = self.comm.allreduce(int(np.count_nonzero(~(self.E.x.array[:n_owned] > 0))), MPI.SUM)
        if bad:
            raise InputError(f"Young's modulus must be positive and finite ({bad} cells are not)")
        self.E.x.scatter_forward()
        for g in self.groups:
            g.dirty = True

    def modulus(self) -> npt.NDArray[np.float64]:
        """Young's modulus of the owned cells (MPa), a copy."""
        return self.E.x.array[: self.Q.dofmap.index_map.size_local].copy()

    # ------------------------------------------------------------------- solve
    def _assemble_operator(self, g: _Group) -> None:
        case = self.cases[g.cases[0]]
        g.A.zeroEntries()
        dolfinx.fem.petsc.assemble_matrix(g.A, self.a, bcs=case.bcs)
        g.A.assemble()
        g.dirty = False

    def solve(
        self, name: str, *, step: int | None = None, time: float | None = None
    ) -> fem.Function:
        """Solve one load case; returns its displacement (mm), reused between calls.

        Args:
            name: load case name.
            step: time step index (for error messages).
            time: simulated time in days (for error messages).

        Raises:
            SolverError: the Krylov solver did not converge (names case, reason, step, time).
        """
        if name not in self.cases:
            raise InputError(f"unknown load case; have {', '.join(self.cases)}", value=name)
        case = self.cases[name]
        g = self.groups[case.group]
        clock = PHASE_CLOCK
        t0 = clock()
        assembled = g.dirty
        if g.dirty:
            self._assemble_operator(g)
        t1 = clock()
        b = case.b
        with b.localForm() as loc:
            loc.set(0.0)
        dolfinx.fem.petsc.assemble_vector(b, case.L)
        dolfinx.fem.petsc.apply_lifting(b, [self.a], bcs=[case.bcs])
        b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        dolfinx.fem.petsc.set_bc(b, case.bcs)
        bnorm = b.norm()
        t1b = clock()
        x = case.u.x.petsc_vec
        if case.has_solution:
            case.u_previous = case.u.x.array.copy()
        rtol = float(self.petsc_options["ksp_rtol"])
        ksp = g.ksp
        _, _, dtol, max_it = ksp.getTolerances()
        ksp.setTolerances(rtol=rtol, atol=max(rtol * bnorm, 1e-300), divtol=dtol, max_it=max_it)
        retried = False
        t_guess = t_setup = t_solve = 0.0
        while True:
            t2 = clock()
            r0 = self._initial_guess(case, g, x, b)
            initial_residual = r0 / bnorm if bnorm > 0 else 0.0
            t3 = clock()
            setup = g.pc_stale
            ksp.getPC().setReusePreconditioner(not setup)
            ksp.setOperators(g.A)
            ksp.setUp()
            if g.option_keys:
                self._clear_options(g)
            t4 = clock()
            ksp.solve(b, x)
            t5 = clock()
            t_guess += t3 - t2
            t_setup += t4 - t3
            t_solve += t5 - t4
            reason = ksp.getConvergedReason()
            if reason >= 0 or setup or retried:
                break
            # A kept preconditioner can go bad after large modulus changes (stale Chebyshev
            # eigenvalue bounds make the smoother indefinite): rebuild it and try again.
            logger.info(
                "solve of %s with the kept preconditioner failed (%s); rebuilding it",
                name,
                ksp_reason_name(reason),
            )
            g.pc_stale = True
            retried = True
            if case.u_previous is not None:  # the guess must not be the failed iterate
                case.u.x.array[:] = case.u_previous
        its = ksp.getIterationNumber()
        rnorm = ksp.getResidualNorm()
        stats = SolveStats(
            name,
            its,
            rnorm,
            setup,
            ksp_reason_name(reason),
            assemble_seconds=t1 - t0 if assembled else 0.0,
            rhs_seconds=t1b - t1,
            guess_seconds=t_guess,
            setup_seconds=t_setup,
            solve_seconds=t_solve,
            initial_residual=initial_residual,
            retried=retried,
        )
        case.stats.append(stats)
        if reason < 0:
            where = ""
            if step is not None:
                where += f" at step {step}"
            if time is not None:
                where += f" (t = {time:g} days)"
            raise SolverError(
                f"elasticity solve of load case '{name}' did not converge{where}: KSP reason "
                f"{stats.reason} after {its} iterations, residual {stats.residual_norm:.3e} "
                f"(‖b‖ = {bnorm:.3e})"
            )
        # The multigrid preconditioner may move constrained dofs by round-off: re-impose the
        # prescribed values exactly (they are known, not unknowns).
        dolfinx.fem.petsc.set_bc(x, case.bcs)
        x.ghostUpdate(addv=PETSc.InsertMode.INSERT, mode=PETSc.ScatterMode.FORWARD)
        case.has_solution = True
        if self.initial_guess == "extrapolate":
            case.history.append(x.copy())
            while len(case.history) > self.guess_history:
                case.history.pop(0).destroy()
        cold = _cold_equivalent(its, rnorm, r0, rtol)
        if setup:
            g.pc_stale = False
            g.pc_iterations = max(its, 1)
            g.pc_cold_iterations = cold if its > 0 else 0.0  # 0: not known yet
            g.pc_setups += 1
        elif g.pc_cold_iterations <= 0.0:
            g.pc_cold_iterations = cold if its > 0 else 0.0
        elif cold > self.refresh_factor * g.pc_cold_iterations:
            g.pc_stale = True
            logger.debug(
                "preconditioner of %s marked for refresh (%d iterations, %.1f cold-equivalent)",
                name,
                its,
                cold,
            )
        return case.u

    def _initial_guess(self, case: _Case, g: _Group, x: PETSc.Vec, b: PETSc.Vec) -> float:
        """Put the initial guess into ``x``; return its true residual norm ‖b − A x‖.

        ``"extrapolate"``: with the last solutions u₁ (newest), u₂, …, u_m of this load case,
        x₀ = u₁ + Σⱼ cⱼ dⱼ with dⱼ = uⱼ − uⱼ₊₁, the coefficients minimising the energy norm of
        the error over that affine set: (DᵀAD) c = Dᵀ(b − A u₁) (a Galerkin projection onto
        the past solutions, Fischer 1998, CMAME 163:193). It contains the previous solution
        (c = 0) and the linear extrapolation 2u₁ − u₂ (c = (1, 0, …)), so it is never worse
        than either in the energy norm, and costs m matrix-vector products. The dⱼ vanish
        on Dirichlet dofs (same prescribed values), so x₀ keeps the boundary values.
        """
        A = g.A
        r = b.duplicate()
        if not case.has_solution or self.initial_guess == "zero":
            x.set(0.0)
        elif self.initial_guess == "extrapolate" and case.history:
            case.history[-1].copy(x)
        dolfinx.fem.petsc.set_bc(x, case.bcs)
        A.mult(x, r)
        r.aypx(-1.0, b)  # r = b − A x
        hist = case.history if self.initial_guess == "extrapolate" and case.has_solution else []
        if len(hist) >= 2:
            D = [hist[j].copy() for j in range(len(hist) - 1, 0, -1)]
            for j, dj in zip(range(len(hist) - 1, 0, -1), D, strict=True):
                dj.axpy(-1.0, hist[j - 1])  # dⱼ = u_j − u_{j−1} (newest first)
            AD = []
            for dj in D:
                adj = b.duplicate()
                A.mult(dj, adj)
                AD.append(adj)
            m = len(D)
            G = np.array([[D[i].dot(AD[j]) for j in range(m)] for i in range(m)])
            rhs = np.array([D[i].dot(r) for i in range(m)])
            c = _projection_coefficients(G, rhs)
            for cj, dj, adj in zip(c, D, AD, strict=True):
                if cj != 0.0:
                    x.axpy(cj, dj)
                    r.axpy(-cj, adj)
            for v in D + AD:
                v.destroy()
        norm = float(r.norm())
        r.destroy()
        return norm

    def solve_all(
        self, *, step: int | None = None, time: float | None = None
    ) -> dict[str, fem.Function]:
        """Solve every load case; returns name -> displacement (mm)."""
        return {name: self.solve(name, step=step, time=time) for name in self.cases}

    def refresh_preconditioners(self) -> None:
        """Force a preconditioner set-up at the next solve of every group."""
        for g in self.groups:
            g.pc_stale = True

    def last_stats(self, name: str) -> SolveStats:
        """Statistics of the last solve of a load case."""
        return self.cases[name].stats[-1]

    # ----------------------------------------------------------------- results
    def _form(self, key: tuple[str, ...], build: Any) -> fem.Form:
        """Compile a form once per key (form compilation costs ~0.1 s per call otherwise)."""
        form = self._forms.get(key)
        if form is None:
            form = self._forms[key] = fem.form(build())
        return form

    def _cell_average(self, form: fem.Form, space: fem.FunctionSpace) -> npt.NDArray[np.float64]:
        vec = dolfinx.fem.assemble_vector(form)
        vec.scatter_reverse(dolfinx.la.InsertMode.add)
        bs = space.dofmap.index_map_bs
        n = self.Q.dofmap.index_map.size_local
        return vec.array.reshape(-1, bs)[:n] / self._volumes[:n, None]

    def cell_average(self, expr: Any, space: fem.FunctionSpace | None = None) -> fem.Function:
        """Cell average of a UFL expression, as a DG0 Function (owned and ghost cells)."""
        space = space or self.Q
        q = ufl.TestFunction(space)
        vec = dolfinx.fem.assemble_vector(fem.form(ufl.inner(expr, q) * ufl.dx))
        vec.scatter_reverse(dolfinx.la.InsertMode.add)
        vec.scatter_forward()
        out = fem.Function(space)
        bs = space.dofmap.index_map_bs
        out.x.array[:] = (vec.array.reshape(-1, bs) / self._volumes[:, None]).ravel()
        return out

    def strain_energy_density(self, name: str) -> npt.NDArray[np.float64]:
        """Strain energy density ψ = ½ σ:ε per owned cell (MPa = mJ/mm³), cell average."""
        u = self.cases[name].u
        q = ufl.TestFunction(self.Q)
        form = self._form(
            ("sed", name),
            lambda: 0.5 * ufl.inner(stress(u, self.E, self.nu), strain(u)) * q * ufl.dx,
        )
        return self._cell_average(form, self.Q)[:, 0].copy()

    def strain_tensor(self, name: str) -> npt.NDArray[np.float64]:
        """Cell-averaged small-strain tensor per owned cell, shape (n, 3, 3) (-)."""
        u = self.cases[name].u
        q = ufl.TestFunction(self.T)
        form = self._form(("strain", name), lambda: ufl.inner(strain(u), q) * ufl.dx)
        return self._cell_average(form, self.T).reshape(-1, 3, 3).copy()

    def stress_tensor(self, name: str) -> npt.NDArray[np.float64]:
        """Cell-averaged Cauchy stress per owned cell, shape (n, 3, 3) (MPa)."""
        u = self.cases[name].u
        q = ufl.TestFunction(self.T)
        form = self._form(
            ("stress", name), lambda: ufl.inner(stress(u, self.E, self.nu), q) * ufl.dx
        )
        return self._cell_average(form, self.T).reshape(-1, 3, 3).copy()

    def principal_strains(self, name: str) -> npt.NDArray[np.float64]:
        """Principal strains per owned cell, ascending, shape (n, 3) (-)."""
        return np.linalg.eigvalsh(self.strain_tensor(name))

    def von_mises(self, name: str) -> npt.NDArray[np.float64]:
        """Von Mises equivalent stress per owned cell (MPa)."""
        s = self.stress_tensor(name)
        dev = s - np.trace(s, axis1=1, axis2=2)[:, None, None] / 3.0 * np.eye(3)
        return np.sqrt(1.5 * np.einsum("nij,nij->n", dev, dev))

    def strain_energy(self, name: str) -> float:
        """Total strain energy ∫ ψ dx (mJ = N·mm), summed over ranks."""
        u = self.cases[name].u
        form = self._form(
            ("energy", name),
            lambda: 0.5 * ufl.inner(stress(u, self.E, self.nu), strain(u)) * ufl.dx,
        )
        return float(self.comm.allreduce(dolfinx.fem.assemble_scalar(form), MPI.SUM))

    def reaction_force(self, name: str, surface: str) -> npt.NDArray[np.float64]:
        """Reaction force (N) that the supports exert on the bone through ``surface``.

        Computed from the residual R = a(u, ·) − L(·) at the dofs of the surface (the
        consistent nodal reaction), summed over ranks.
        """
        self.bone.require_surfaces([surface], field=f"reaction surface of '{name}'")
        case = self.cases[name]
        v = ufl.TestFunction(self.V)
        form = self._form(
            ("residual", name),
            lambda: ufl.inner(stress(case.u, self.E, self.nu), strain(v)) * ufl.dx,
        )
        res = dolfinx.fem.assemble_vector(form)
        res.scatter_reverse(dolfinx.la.InsertMode.add)
        rhs = dolfinx.fem.assemble_vector(case.L)
        rhs.scatter_reverse(dolfinx.la.InsertMode.add)
        r = (res.array - rhs.array).reshape(-1, 3)
        dofs = self._surface_dofs(surface, None)
        n_owned = self.V.dofmap.index_map.size_local
        dofs = dofs[dofs < n_owned]
        local = r[dofs].sum(axis=0)
        return np.asarray(self.comm.allreduce(local, MPI.SUM))

    def mean_displacement(self, name: str, surface: str) -> npt.NDArray[np.float64]:
        """Area-weighted mean displacement (mm) of a surface."""
        u = self.cases[name].u
        ds = self.bone.ds(surface)
        area = self._area(surface)
        out = np.empty(3)
        for i in range(3):
            form = self._form(("mean_u", name, surface, str(i)), lambda i=i: u[i] * ds)
            local = dolfinx.fem.assemble_scalar(form)
            out[i] = self.comm.allreduce(local, MPI.SUM) / area
        return out

    def apparent_stiffness(self, name: str, surface: str | None = None) -> float:
        """Apparent stiffness (N/mm) of the bone in load case ``name``.

        Displacement-controlled case: reaction force on the displaced surface projected on
        the imposed displacement direction, divided by the imposed displacement magnitude.
        Force-controlled case (no imposed displacement): applied force magnitude divided
        by the mean displacement of the loaded surface along the force.
        """
        lc = self.cases[name].case
        disp = lc.displacement_supports()
        if disp:
            d = disp[0] if surface is None else next(s for s in disp if s.surface == surface)
            vec = np.asarray(d.vector())
            mag = float(np.linalg.norm(vec))
            reaction = self.reaction_force(name, d.surface)
            return float(abs(reaction @ vec) / mag**2)
        forces = [f for f in lc.loads if isinstance(f, Force)]
        if not forces:
            raise InputError(
                "apparent stiffness needs a prescribed displacement or a force load",
                field=f"load_cases.{name}",
            )
        f = forces[0] if surface is None else next(x for x in forces if x.surface == surface)
        fv = np.asarray(f.force, float)
        direction = fv / np.linalg.norm(fv)
        disp_mean = self.mean_displacement(name, f.surface) @ direction
        return float(np.linalg.norm(fv) / abs(disp_mean))

    def displacement(self, name: str) -> fem.Function:
        """The displacement Function (mm) of a load case (last solution)."""
        return self.cases[name].u

    def destroy(self) -> None:
        """Free the PETSc objects (collective)."""
        for g in self.groups:
            self._clear_options(g)
            g.ksp.destroy()
            g.A.destroy()
        for c in self.cases.values():
            c.b.destroy()
            for v in c.history:
                v.destroy()
            c.history.clear()
