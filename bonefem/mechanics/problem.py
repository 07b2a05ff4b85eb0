"""Linear elasticity of bone with several load cases: :class:`ElasticityProblem`.

Small-strain isotropic elasticity with a per-cell Young's modulus E (MPa, DG0) and a
Poisson's ratio ν per region (equations and load/support data in
:mod:`bonefem.mechanics.forms`), solved for every load case
(displacements in mm, forces in N, stresses in MPa) by CG + GAMG with preconditioner reuse
and an extrapolated initial guess (:mod:`bonefem.mechanics.solver`); derived quantities
(strain energy density, stresses, reactions, apparent stiffness) in
:mod:`bonefem.mechanics.postprocess`.

This module orchestrates: it builds the spaces and forms, groups the load cases that share
supports (one operator and one KSP per group), marks operators stale when E changes and
runs the phases of a solve, timing each with the clock passed in (``clock``: wall time by
default, ``time.process_time`` for CPU time in benchmarks on a shared machine).
"""

from __future__ import annotations

import time as _time
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from bonefem._dolfinx import MPI, PETSc, dolfinx, fem
from bonefem.config.loading import LoadCase
from bonefem.errors import InputError
from bonefem.mechanics import forms
from bonefem.mechanics.assembly import UnitModulusOperator, supported
from bonefem.mechanics.postprocess import PostProcessor
from bonefem.mechanics.solver import (
    DEFAULT_PETSC_OPTIONS,
    GALERKIN_PRODUCTS,
    INITIAL_GUESSES,
    CaseData,
    Clock,
    KrylovRun,
    OperatorGroup,
    SolveStats,
    accept_solution,
    assemble_operator,
    assemble_rhs,
    convergence_error,
    create_group,
    drop_options,
    ksp_reason_name,
    rigid_body_modes,
    run_krylov,
    set_tolerances,
    update_refresh_state,
)
from bonefem.mechanics.voxel import VoxelOperator, layout
from bonefem.mesh.bonemesh import BoneMesh

#: Operator re-assembly (``assembly``): ``"auto"``, the unit-modulus operator where it
#: applies (P1 on affine tetrahedra, :mod:`bonefem.mechanics.assembly`), the box element
#: matrices of voxel meshes (Q1 on equal axis-aligned boxes, :mod:`bonefem.mechanics.voxel`),
#: else DOLFINx;
#: ``"dolfinx"``: always DOLFINx's assembly of the form.
ASSEMBLIES = ("auto", "dolfinx")


def _check_arguments(
    bone: BoneMesh,
    load_cases: Sequence[LoadCase],
    initial_guess: str,
    guess_history: int,
    body_force: Mapping[str, Any],
    assembly: str,
) -> None:
    """Validate the constructor arguments of :class:`ElasticityProblem` (InputError)."""
    if assembly not in ASSEMBLIES:
        raise InputError(
            f"assembly must be one of {', '.join(ASSEMBLIES)}", field="assembly", value=assembly
        )
    if initial_guess not in INITIAL_GUESSES:
        raise InputError(
            f"initial_guess must be one of {', '.join(INITIAL_GUESSES)}",
            field="initial_guess",
            value=initial_guess,
        )
    if guess_history < 2:
        raise InputError("guess_history must be at least 2", field="guess_history")
    if not load_cases:
        raise InputError("at least one load case is needed", field="load_cases")
    names = [lc.name for lc in load_cases]
    if len(set(names)) != len(names):
        raise InputError("load case names must be unique", field="load_cases", value=names)
    for lc in load_cases:
        bone.require_surfaces(sorted(lc.surfaces()), field=f"load_cases.{lc.name}")
    gdim = bone.mesh.geometry.dim
    if gdim != 3 or bone.mesh.topology.dim != 3:
        raise InputError("a 3-D volume mesh is needed", field="mesh", value=gdim)
    unknown = set(body_force) - set(names)
    if unknown:
        raise InputError("body_force for unknown load cases", field="body_force", value=unknown)


class ElasticityProblem:
    """Linear elasticity on a :class:`~bonefem.mesh.BoneMesh` with several load cases.

    Args:
        bone: the mesh with named regions and surfaces (mm).
        load_cases: the load cases (supports and loads on named surfaces).
        poisson_ratio: ν, one number or a mapping region name -> ν (-); default 0.3
            (cortical and trabecular bone, e.g. Reilly & Burstein 1975; Wirtz et al. 2000).
        degree: polynomial degree of the displacement space (1 = P1/Q1).
        petsc_options: overrides of :data:`~bonefem.mechanics.solver.DEFAULT_PETSC_OPTIONS`.
        refresh_factor: the preconditioner is rebuilt once a solve needs more than
            ``refresh_factor`` times the iterations of the first solve after its last set-up.
            Iterations are compared as *cold-equivalent* counts, k·log(rtol)/log(‖r_k‖/‖r_0‖),
            i.e. by the convergence rate per iteration, so that a good initial guess (few
            iterations) does not trigger needless refreshes.
        options_prefix: PETSc options prefix (unique per problem).
        body_force: optional load case name -> body force (UFL vector expression or
            3-vector, N/mm³), for inertial loads and manufactured-solution verification.
        initial_guess: ``"extrapolate"`` (default): the energy-optimal combination of the
            last ``guess_history`` solutions of the load case
            (:func:`~bonefem.mechanics.solver.initial_guess`); ``"previous"``: the last
            solution; ``"zero"``: a cold start.
        guess_history: how many past solutions the extrapolated guess uses (≥ 2; 3 allows
            a quadratic trend). 8 by default: on the quick-start case (10 years, 41
            metrics rows) the virtual tests took 25 % fewer CG iterations than with 3
            (lifting load 21 → 15, habitual re-solves 25 → 18 per solve; 14.1 → 11.0 s of
            virtual tests), for 5 more vectors per load case (docs/performance.md).
        clock: clock of the phase times in :class:`SolveStats` (s); wall time by default,
            ``time.process_time`` (CPU time of this rank) for benchmarks on a shared machine.
        assembly: operator re-assembly after E changed, one of :data:`ASSEMBLIES`
            (``"auto"``: K = Σ_c E_c K̂_c from unit-modulus element matrices computed once,
            the same matrix as DOLFINx's to round-off at a fraction of the cost).
        galerkin_product: algorithm of GAMG's Galerkin products on more than one rank,
            ``"scalable"`` (PETSc's default, fastest set-up) or ``"allatonce"`` (about a
            third of the set-up's memory per rank, 4-8x its time), see
            :data:`~bonefem.mechanics.solver.GALERKIN_PRODUCTS`.
        case_rtol: load case name -> its own relative residual tolerance (-), in place of
            ``ksp_rtol``; e.g. the virtual tests' ``solver.test_rtol``.
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
        guess_history: int = 8,
        clock: Clock = _time.perf_counter,
        assembly: str = "auto",
        galerkin_product: str = "scalable",
        case_rtol: Mapping[str, float] | None = None,
    ) -> None:
        if galerkin_product not in GALERKIN_PRODUCTS:
            raise ValueError(f"galerkin_product must be one of {GALERKIN_PRODUCTS}")
        self.galerkin_product = galerkin_product
        self._body_force = dict(body_force or {})
        _check_arguments(bone, load_cases, initial_guess, guess_history, self._body_force, assembly)
        self.assembly = assembly
        self.initial_guess = initial_guess
        self.guess_history = int(guess_history)
        self.bone = bone
        self.mesh = bone.mesh
        self.comm = bone.comm
        self.refresh_factor = float(refresh_factor)
        self.options_prefix = options_prefix
        self.clock = clock
        self.petsc_options = dict(DEFAULT_PETSC_OPTIONS)
        self.petsc_options.update(petsc_options or {})
        self.case_rtol = dict(case_rtol or {})
        unknown = set(self.case_rtol) - {lc.name for lc in load_cases}
        if unknown:
            raise InputError("case_rtol for unknown load cases", field="case_rtol", value=unknown)
        self._areas: dict[str, float] = {}
        #: (load case, surface): every dof of the surface is a Dirichlet dof of the case
        self._all_dirichlet: dict[tuple[str, str], bool] = {}
        self._build_spaces(degree, poisson_ratio)
        self.groups: list[OperatorGroup] = []
        #: operator form of each group (the shared ``a``, or ``a`` + elastic supports)
        self._group_forms: list[fem.Form] = []
        self.cases: dict[str, CaseData] = {}
        #: seconds of the first cold solve of each load case (operator assembly, right-hand
        #: side, zero guess, preconditioner set-up, CG), this rank's clock
        self.cold_seconds: dict[str, float] = {}
        #: the same solves in CPU time of this rank (s): steadier on a shared machine
        self.cold_cpu_seconds: dict[str, float] = {}
        for lc in load_cases:
            self._add_load_case(lc)
        self.post = PostProcessor(bone, self.V, self.Q, self.T, self.E, self.nu, self._area)
        # options of groups never solved (never set up) leave the database with the problem
        weakref.finalize(self, drop_options, [g.option_keys for g in self.groups])

    # ------------------------------------------------------------------ set-up
    def _build_spaces(self, degree: int, poisson_ratio: float | Mapping[str, float]) -> None:
        """Spaces, material fields, the stiffness form and the rigid-body modes."""
        gdim = self.mesh.geometry.dim
        self.V = fem.functionspace(self.mesh, ("Lagrange", degree, (gdim,)))
        self.Q = fem.functionspace(self.mesh, ("DG", 0))
        self.T = fem.functionspace(self.mesh, ("DG", 0, (gdim, gdim)))
        self.E = fem.Function(self.Q, name="youngs_modulus")
        self.E.x.array[:] = 1.0
        self.nu = fem.Function(self.Q, name="poisson_ratio")
        forms.set_poisson_ratio(self.bone, self.nu, poisson_ratio)
        self._a_ufl = forms.bilinear_form(self.V, self.E, self.nu)
        self.a = fem.form(self._a_ufl)
        tdim = self.mesh.topology.dim
        self.mesh.topology.create_connectivity(tdim - 1, tdim)
        self._nullspace = rigid_body_modes(self.V)
        self._unit: UnitModulusOperator | VoxelOperator | None = None
        if self.assembly == "auto" and supported(self.V):
            self._unit = UnitModulusOperator(self.V, self.nu, self.E)
        elif self.assembly == "auto":  # voxel meshes: one element matrix for all cells
            cells = layout(self.V)
            if cells is not None:
                self._unit = VoxelOperator(self.V, self.a, self.nu, self.E, cells)

    def _add_load_case(self, lc: LoadCase) -> None:
        """Put a load case in the group of its supports (a new group for new supports)."""
        sig = lc.support_signature()
        gi = next((i for i, g in enumerate(self.groups) if g.signature == sig), None)
        if gi is None:
            gi = len(self.groups)
            prefix = f"{self.options_prefix}g{gi}_"
            dofs = forms.support_dofs(self.bone, self.V, sig)
            bcs = forms.dirichlet_bcs(self.V, lc, sig, dofs)
            a, fast = self.a, None
            if lc.elastic_supports():
                a = fem.form(forms.operator_form(self.bone, self.V, self.E, self.nu, lc))
            if self._unit is not None:
                fast = self._unit.group(bcs)
                if lc.elastic_supports():  # K(E) + the constant Robin matrix of the supports
                    fast.constant = forms.robin_matrix(self.bone, self.V, lc, bcs)
            self._group_forms.append(a)
            self.groups.append(
                create_group(
                    self.comm,
                    a,
                    self._nullspace,
                    self.petsc_options,
                    prefix,
                    sig,
                    dofs,
                    fast,
                    self.galerkin_product,
                )
            )
        g = self.groups[gi]
        g.cases.append(lc.name)
        body = self._body_force.get(lc.name, np.zeros(3))
        L = fem.form(forms.linear_form(self.bone, self.V, lc, body, self._area))
        bcs = forms.dirichlet_bcs(self.V, lc, g.signature, g.bc_dofs)
        u = fem.Function(self.V, name="displacement")
        b = dolfinx.fem.petsc.create_vector(self.V)
        self.cases[lc.name] = CaseData(case=lc, group=gi, L=L, bcs=bcs, u=u, b=b)

    def _area(self, surface: str) -> float:
        """Area of a named surface (mm²), computed once."""
        if surface not in self._areas:
            self._areas[surface] = self.bone.area(surface)
        return self._areas[surface]

    def _case(self, name: str) -> CaseData:
        if name not in self.cases:
            raise InputError(f"unknown load case; have {', '.join(self.cases)}", value=name)
        return self.cases[name]

    # ----------------------------------------------------------------- material
    @property
    def cell_volumes(self) -> npt.NDArray[np.float64]:
        """Volume of every owned cell (mm³), a copy."""
        return self.post.volumes[: self.Q.dofmap.index_map.size_local].copy()

    @property
    def load_case_names(self) -> list[str]:
        """Names of the load cases, in the order given."""
        return list(self.cases)

    @property
    def voxel_operator(self) -> VoxelOperator | None:
        """The voxel operator (one element matrix for all cells) in use, or None."""
        return self._unit if isinstance(self._unit, VoxelOperator) else None

    @property
    def num_dofs_global(self) -> int:
        """Number of displacement unknowns in the whole mesh."""
        return int(self.V.dofmap.index_map.size_global * self.V.dofmap.index_map_bs)

    def set_modulus(self, E: npt.ArrayLike) -> None:
        """Set Young's modulus per cell (MPa); the operators are reassembled at next solve.

        Setting the same values again (e.g. the virtual tests right after a habitual solve)
        keeps the assembled operators.

        Args:
            E: one value per owned cell (length ``num_cells_local``), or per owned and ghost
                cell; ghosts are updated from their owners.
        """
        if forms.set_modulus_values(self.E, E, self.comm):
            for g in self.groups:
                g.dirty = True

    def modulus(self) -> npt.NDArray[np.float64]:
        """Young's modulus of the owned cells (MPa), a copy."""
        return self.E.x.array[: self.Q.dofmap.index_map.size_local].copy()

    # ------------------------------------------------------------------- solve
    def solve(
        self,
        name: str,
        *,
        step: int | None = None,
        time: float | None = None,
        guess_from: Sequence[str] = (),
    ) -> fem.Function:
        """Solve one load case; returns its displacement (mm), reused between calls.

        Phases: operator reassembly (when E changed), right-hand side, initial guess,
        preconditioner set-up (when stale), CG; then the refresh test of the kept
        preconditioner (:func:`~bonefem.mechanics.solver.update_refresh_state`).

        Args:
            name: load case name.
            step: time step index (for error messages).
            time: simulated time in days (for error messages).
            guess_from: other load cases whose last solutions join the initial guess's
                projection where they share this case's operator and have a solution
                (:func:`~bonefem.mechanics.solver.initial_guess`; the virtual tests pass
                the habitual cases). Ignored with ``initial_guess`` other than
                ``"extrapolate"``.

        Raises:
            SolverError: the Krylov solver did not converge (names case, reason, step, time).
        """
        case = self._case(name)
        g = self.groups[case.group]
        clock = self.clock
        t0, c0 = clock(), _time.process_time()
        assembled = g.dirty
        a = self._group_forms[case.group]
        if g.dirty:
            assemble_operator(g, a, self.cases[g.cases[0]].bcs)
        t1 = clock()
        bnorm = assemble_rhs(case, a, g.fast)
        t2 = clock()
        cold = assembled and g.pc_stale and not case.has_solution
        if case.has_solution:
            case.u_previous = case.u.x.array.copy()
        rtol = float(self.case_rtol.get(name, self.petsc_options["ksp_rtol"]))
        set_tolerances(g.ksp, rtol, bnorm)
        siblings = self._sibling_vectors(name, guess_from)
        try:
            run = run_krylov(g, case, self.initial_guess, bnorm, clock, siblings)
        finally:
            for v in siblings:
                v.destroy()
        if cold and name not in self.cold_seconds:
            self.cold_seconds[name] = clock() - t0
            self.cold_cpu_seconds[name] = _time.process_time() - c0
        stats = self._stats(name, g, run, t1 - t0 if assembled else 0.0, t2 - t1)
        case.stats.append(stats)
        if run.reason < 0:
            raise convergence_error(stats, bnorm, step, time)
        accept_solution(case, self.initial_guess, self.guess_history)
        update_refresh_state(g, stats, run, rtol, self.refresh_factor)
        return case.u

    def _sibling_vectors(self, name: str, others: Sequence[str]) -> list[PETSc.Vec]:
        """Copies of the solutions of ``others`` on ``name``'s operator, zero where constrained.

        The same on every rank: groups and ``has_solution`` follow the collective solves.
        """
        case = self.cases[name]
        if self.initial_guess != "extrapolate":
            return []
        out = []
        for other in others:
            sib = self.cases.get(other)
            if other == name or sib is None or sib.group != case.group or not sib.has_solution:
                continue
            v = sib.u.x.petsc_vec.copy()
            with v.localForm() as loc:
                for bc in case.bcs:
                    loc.array[np.asarray(bc.dof_indices()[0], dtype=np.int64)] = 0.0
            out.append(v)
        return out

    @staticmethod
    def _stats(
        name: str, g: OperatorGroup, run: KrylovRun, t_assemble: float, t_rhs: float
    ) -> SolveStats:
        return SolveStats(
            name,
            g.ksp.getIterationNumber(),
            g.ksp.getResidualNorm(),
            run.pc_setup,
            ksp_reason_name(run.reason),
            assemble_seconds=t_assemble,
            rhs_seconds=t_rhs,
            guess_seconds=run.guess_seconds,
            setup_seconds=run.setup_seconds,
            solve_seconds=run.solve_seconds,
            initial_residual=run.initial_residual,
            retried=run.retried,
        )

    def solve_all(
        self, *, step: int | None = None, time: float | None = None
    ) -> dict[str, fem.Function]:
        """Solve every load case; returns name -> displacement (mm)."""
        return {name: self.solve(name, step=step, time=time) for name in self.cases}

    def refresh_preconditioners(self) -> None:
        """Force a preconditioner set-up at the next solve of every group."""
        for g in self.groups:
            g.pc_stale = True

    def forget_solutions(self) -> None:
        """Drop every load case's past solutions: the next solves start from zero."""
        for c in self.cases.values():
            c.forget_solutions()

    def cold_solve_seconds(self, names: Sequence[str], cpu: bool = False) -> float | None:
        """Seconds of the first cold solve of the first of ``names`` solved cold (collective).

        A cold solve: operator assembly, right-hand side, zero initial guess,
        preconditioner set-up and CG, timed with the problem's clock (``cpu``: in CPU time
        of each rank); the slowest rank's time. None while none of ``names`` has been
        solved cold (the same on every rank).
        """
        seconds = self.cold_cpu_seconds if cpu else self.cold_seconds
        name = next((n for n in names if n in seconds), None)
        if name is None:
            return None
        return float(self.comm.allreduce(seconds[name], op=MPI.MAX))

    def last_stats(self, name: str) -> SolveStats:
        """Statistics of the last solve of a load case."""
        return self.cases[name].stats[-1]

    # ----------------------------------------------------------------- results
    def cell_average(self, expr: Any, space: fem.FunctionSpace | None = None) -> fem.Function:
        """Cell average of a UFL expression, as a DG0 Function (owned and ghost cells)."""
        return self.post.cell_average(expr, space)

    def strain_energy_density(self, name: str) -> npt.NDArray[np.float64]:
        """Strain energy density ψ = ½ σ:ε per owned cell (MPa = mJ/mm³), cell average."""
        return self.post.strain_energy_density(self.cases[name].u, name)

    def strain_tensor(self, name: str) -> npt.NDArray[np.float64]:
        """Cell-averaged small-strain tensor per owned cell, shape (n, 3, 3) (-)."""
        return self.post.strain_tensor(self.cases[name].u, name)

    def stress_tensor(self, name: str) -> npt.NDArray[np.float64]:
        """Cell-averaged Cauchy stress per owned cell, shape (n, 3, 3) (MPa)."""
        return self.post.stress_tensor(self.cases[name].u, name)

    def principal_strains(self, name: str) -> npt.NDArray[np.float64]:
        """Principal strains per owned cell, ascending, shape (n, 3) (-)."""
        return self.post.principal_strains(self.cases[name].u, name)

    def von_mises(self, name: str) -> npt.NDArray[np.float64]:
        """Von Mises equivalent stress per owned cell (MPa)."""
        return self.post.von_mises(self.cases[name].u, name)

    def strain_energy(self, name: str) -> float:
        """Total strain energy ∫ ψ dx (mJ = N·mm), summed over ranks."""
        return self.post.strain_energy(self.cases[name].u, name)

    def reaction_force(self, name: str, surface: str) -> npt.NDArray[np.float64]:
        """Reaction force (N) that the supports exert on the bone through ``surface``."""
        case = self.cases[name]
        return self.post.reaction_force(
            case.u, case.L, surface, name, self._dirichlet_action(name, surface)
        )

    def _dirichlet_action(
        self, name: str, surface: str
    ) -> Callable[[], npt.NDArray[np.float64]] | None:
        """K(E) u of a load case at the dofs of ``surface``, from the operator if possible.

        From the unit-modulus operator's Dirichlet pairs
        (:meth:`~bonefem.mechanics.assembly.GroupOperator.dirichlet_action`) if every dof
        of the surface is a Dirichlet dof of the case on every rank and E has not changed
        since the refill; else None (DOLFINx assembles the residual).
        """
        case = self.cases[name]
        g = self.groups[case.group]
        fast = g.fast
        # the kept pairs are those of the last refill: E must not have changed since
        if fast is None or g.dirty:
            return None
        key = (name, surface)
        if key not in self._all_dirichlet:  # decided once per case and surface
            nodes = forms.surface_dofs(self.bone, self.V, surface, None).astype(np.int64)
            constrained = np.zeros(case.u.x.array.size, dtype=bool)
            for bc in case.bcs:
                constrained[np.asarray(bc.dof_indices()[0], dtype=np.int64)] = True
            local = bool(constrained[(3 * nodes[:, None] + np.arange(3)).ravel()].all())
            # Robin groups (tetrahedra or voxels) give no Dirichlet action (same on every rank)
            keeps = fast.dirichlet_action(case.u.x.array) is not None
            self._all_dirichlet[key] = keeps and bool(self.comm.allreduce(local, op=MPI.LAND))
        if not self._all_dirichlet[key]:
            return None
        return lambda: np.asarray(fast.dirichlet_action(case.u.x.array))

    def mean_displacement(self, name: str, surface: str) -> npt.NDArray[np.float64]:
        """Area-weighted mean displacement (mm) of a surface."""
        return self.post.mean_displacement(self.cases[name].u, surface, name)

    def apparent_stiffness(self, name: str, surface: str | None = None) -> float:
        """Apparent stiffness (N/mm) of the bone in load case ``name`` (see postprocess)."""
        case = self.cases[name]
        return self.post.apparent_stiffness(
            case.case,
            case.u,
            case.L,
            surface,
            lambda s: self._dirichlet_action(name, s),
            energy=name not in self._body_force,
        )

    def displacement(self, name: str) -> fem.Function:
        """The displacement Function (mm) of a load case (last solution)."""
        return self.cases[name].u

    def destroy(self) -> None:
        """Free the PETSc objects (collective)."""
        for g in self.groups:
            drop_options([g.option_keys])
            g.ksp.destroy()
            g.A.destroy()
        for c in self.cases.values():
            c.b.destroy()
            for v in c.history:
                v.destroy()
            c.history.clear()
