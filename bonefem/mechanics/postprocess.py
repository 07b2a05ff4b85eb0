"""Quantities derived from an elasticity solution: per-cell fields, energies, reactions.

Per cell (cell averages, ``(1/|K|) ∫_K · dx``, owned cells):

    ε = sym(∇u) (-),    σ = 2μ ε + λ tr(ε) I (MPa),
    ψ = ½ σ:ε (strain energy density, MPa = mJ/mm³),
    σ_vM = √(3/2 s:s),  s = σ − tr(σ)/3 I (von Mises stress, MPa),

principal strains the eigenvalues of the averaged ε. Whole body: strain energy ∫ ψ dx (mJ);
reaction force on a surface Γ, the consistent nodal reaction R = a(u, ·) − L(·) summed
over the dofs of Γ (N); mean displacement of Γ, ∫_Γ u ds / |Γ| (mm). Apparent stiffness
(N/mm): displacement-controlled, the reaction along the imposed displacement d divided by
|d|, i.e. |R·d|/|d|²; force-controlled, |F| / (mean displacement of the loaded surface
along F), as read from a mechanical test of the whole bone or specimen.

Energy form of the displacement-controlled stiffness. When one surface is translated by d
and every other support is a clamp (no loads, no elastic supports), the work of the
reactions is R·d = uᵀKu = 2W (W = ∫ ψ dx), so the stiffness is 2W/|d|², the same number
for the converged discrete solution. It is the one computed then, because it is far less
sensitive to the linear solver's error: for an iterate u + e with e zero on the supports,
(u + e)ᵀK(u + e) = uᵀKu + eᵀKe (eᵀKu = 0: Ku vanishes at the free dofs), so the error is
quadratic in the energy norm of e and one-signed (an upper bound), where the reaction's is
linear in e (the minimum potential energy principle; Strang & Fix 1973, *An Analysis of the
Finite Element Method*, §1.2). Measured on the quick-start vertebra at CG tolerance 1e-6,
against the same run solved to 1e-10: 3.4e-4 relative from the reaction, 4.9e-8 from the
energy (the reference's own reaction-form error is of that size; docs/performance.md).
Definitions as in
docs/model-mechanics.md (section 1); strain and stress as in :mod:`bonefem.mechanics.forms`
(Zienkiewicz & Taylor, *The Finite Element Method* vol. 1, ch. 6).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import ufl

from bonefem._dolfinx import MPI, dolfinx, fem
from bonefem.config.loading import Displacement, Fixed, Force, LoadCase
from bonefem.errors import InputError
from bonefem.mechanics.forms import strain, stress, surface_dofs
from bonefem.mesh.bonemesh import BoneMesh


def cell_volumes(Q: fem.FunctionSpace) -> npt.NDArray[np.float64]:
    """Volume (mm³) of every local cell, owned and ghost (DG0 space ``Q``)."""
    q = ufl.TestFunction(Q)
    vol = dolfinx.fem.assemble_vector(fem.form(q * ufl.dx))
    vol.scatter_reverse(dolfinx.la.InsertMode.add)
    vol.scatter_forward()
    return np.asarray(vol.array.copy(), dtype=np.float64)


def energy_stiffness_applies(lc: LoadCase, d: Displacement) -> bool:
    """Whether the stiffness of ``lc`` along ``d`` equals 2W/|d|² (module docstring).

    True when ``d`` translates its surface rigidly (no gradient), every other support is a
    clamp (:class:`~bonefem.config.loading.Fixed`), and the case has no loads and no elastic
    supports: then the reactions do work only on ``d``'s surface, R·d = uᵀKu = 2W.
    """
    others = [s for s in lc.supports if s is not d]
    return d.gradient is None and not lc.loads and all(isinstance(s, Fixed) for s in others)


class PostProcessor:
    """Derived quantities of displacements on one mesh with the material fields E, ν.

    Compiled forms are cached per key (form compilation costs ~0.1 s per call otherwise):
    the key names the quantity and the load case whose displacement it reads.

    Args:
        bone: the mesh with named surfaces (mm).
        V: displacement space; ``Q``: DG0 scalars; ``T``: DG0 3x3 tensors.
        E: Young's modulus (MPa, DG0); ``nu``: Poisson's ratio (-, DG0).
        area: area of a named surface (mm²).
    """

    def __init__(
        self,
        bone: BoneMesh,
        V: fem.FunctionSpace,
        Q: fem.FunctionSpace,
        T: fem.FunctionSpace,
        E: fem.Function,
        nu: fem.Function,
        area: Callable[[str], float],
    ) -> None:
        self.bone, self.comm = bone, bone.comm
        self.V, self.Q, self.T = V, Q, T
        self.E, self.nu = E, nu
        self.area = area
        self.volumes = cell_volumes(Q)
        self._forms: dict[tuple[str, ...], fem.Form] = {}

    def form(self, key: tuple[str, ...], build: Callable[..., Any]) -> fem.Form:
        """Compile the form ``build()`` once per key."""
        form = self._forms.get(key)
        if form is None:
            form = self._forms[key] = fem.form(build())
        return form

    # ----------------------------------------------------------------- per cell
    def _cell_average(self, form: fem.Form, space: fem.FunctionSpace) -> npt.NDArray[np.float64]:
        vec = dolfinx.fem.assemble_vector(form)
        vec.scatter_reverse(dolfinx.la.InsertMode.add)
        bs = space.dofmap.index_map_bs
        n = self.Q.dofmap.index_map.size_local
        return np.asarray(vec.array.reshape(-1, bs)[:n] / self.volumes[:n, None])

    def cell_average(self, expr: Any, space: fem.FunctionSpace | None = None) -> fem.Function:
        """Cell average of a UFL expression, as a DG0 Function (owned and ghost cells)."""
        space = space or self.Q
        q = ufl.TestFunction(space)
        vec = dolfinx.fem.assemble_vector(fem.form(ufl.inner(expr, q) * ufl.dx))
        vec.scatter_reverse(dolfinx.la.InsertMode.add)
        vec.scatter_forward()
        out = fem.Function(space)
        bs = space.dofmap.index_map_bs
        out.x.array[:] = (vec.array.reshape(-1, bs) / self.volumes[:, None]).ravel()
        return out

    def strain_energy_density(self, u: fem.Function, key: str) -> npt.NDArray[np.float64]:
        """Strain energy density ψ = ½ σ:ε per owned cell (MPa = mJ/mm³), cell average."""
        q = ufl.TestFunction(self.Q)
        form = self.form(
            ("sed", key),
            lambda: 0.5 * ufl.inner(stress(u, self.E, self.nu), strain(u)) * q * ufl.dx,
        )
        return self._cell_average(form, self.Q)[:, 0].copy()

    def strain_tensor(self, u: fem.Function, key: str) -> npt.NDArray[np.float64]:
        """Cell-averaged small-strain tensor per owned cell, shape (n, 3, 3) (-)."""
        q = ufl.TestFunction(self.T)
        form = self.form(("strain", key), lambda: ufl.inner(strain(u), q) * ufl.dx)
        return self._cell_average(form, self.T).reshape(-1, 3, 3).copy()

    def stress_tensor(self, u: fem.Function, key: str) -> npt.NDArray[np.float64]:
        """Cell-averaged Cauchy stress per owned cell, shape (n, 3, 3) (MPa)."""
        q = ufl.TestFunction(self.T)
        form = self.form(("stress", key), lambda: ufl.inner(stress(u, self.E, self.nu), q) * ufl.dx)
        return self._cell_average(form, self.T).reshape(-1, 3, 3).copy()

    def principal_strains(self, u: fem.Function, key: str) -> npt.NDArray[np.float64]:
        """Principal strains per owned cell, ascending, shape (n, 3) (-)."""
        return np.linalg.eigvalsh(self.strain_tensor(u, key))

    def von_mises(self, u: fem.Function, key: str) -> npt.NDArray[np.float64]:
        """Von Mises equivalent stress per owned cell (MPa)."""
        s = self.stress_tensor(u, key)
        dev = s - np.trace(s, axis1=1, axis2=2)[:, None, None] / 3.0 * np.eye(3)
        return np.asarray(np.sqrt(1.5 * np.einsum("nij,nij->n", dev, dev)))

    # ------------------------------------------------------------------- global
    def strain_energy(self, u: fem.Function, key: str) -> float:
        """Total strain energy ∫ ψ dx (mJ = N·mm), summed over ranks."""
        form = self.form(
            ("energy", key),
            lambda: 0.5 * ufl.inner(stress(u, self.E, self.nu), strain(u)) * ufl.dx,
        )
        return float(self.comm.allreduce(dolfinx.fem.assemble_scalar(form), MPI.SUM))

    def reaction_force(
        self,
        u: fem.Function,
        L: fem.Form,
        surface: str,
        key: str,
        action: Callable[[], npt.NDArray[np.float64]] | None = None,
    ) -> npt.NDArray[np.float64]:
        """Reaction force (N) that the supports exert on the bone through ``surface``.

        Computed from the residual R = a(u, ·) − L(·) at the dofs of the surface (the
        consistent nodal reaction), summed over ranks. ``key``: the load case name.
        ``action``: this rank's cells' part of a(u, ·) at its local dofs (owned and ghost,
        unrolled), exact at least at the surface's dofs (the unit-modulus operator's
        Dirichlet pairs); None: DOLFINx assembles a(u, ·).
        """
        self.bone.require_surfaces([surface], field=f"reaction surface of '{key}'")
        dofs = surface_dofs(self.bone, self.V, surface, None)
        n_owned = self.V.dofmap.index_map.size_local
        owned = dofs[dofs < n_owned]
        rhs = dolfinx.fem.assemble_vector(L)
        rhs.scatter_reverse(dolfinx.la.InsertMode.add)
        local = -rhs.array.reshape(-1, 3)[owned].sum(axis=0)
        if action is None:
            v = ufl.TestFunction(self.V)
            form = self.form(
                ("residual", key),
                lambda: ufl.inner(stress(u, self.E, self.nu), strain(v)) * ufl.dx,
            )
            res = dolfinx.fem.assemble_vector(form)
            res.scatter_reverse(dolfinx.la.InsertMode.add)
            local += res.array.reshape(-1, 3)[owned].sum(axis=0)
        else:  # every rank's cells once: all local surface dofs, no scatter
            local += action().reshape(-1, 3)[dofs].sum(axis=0)
        return np.asarray(self.comm.allreduce(local, MPI.SUM))

    def mean_displacement(self, u: fem.Function, surface: str, key: str) -> npt.NDArray[np.float64]:
        """Area-weighted mean displacement (mm) of a surface."""
        ds = self.bone.ds(surface)
        area = self.area(surface)
        out = np.empty(3)
        for i in range(3):
            form = self.form(("mean_u", key, surface, str(i)), lambda i=i: u[i] * ds)
            local = dolfinx.fem.assemble_scalar(form)
            out[i] = self.comm.allreduce(local, MPI.SUM) / area
        return out

    def apparent_stiffness(
        self,
        lc: LoadCase,
        u: fem.Function,
        L: fem.Form,
        surface: str | None = None,
        action: Callable[[str], Callable[[], npt.NDArray[np.float64]] | None] | None = None,
        energy: bool = True,
    ) -> float:
        """Apparent stiffness (N/mm) of the bone in load case ``lc`` with displacement u.

        Displacement-controlled case: reaction force on the displaced surface projected on
        the imposed displacement direction, divided by the imposed displacement magnitude;
        computed as 2W/|d|² where that is the same number (:func:`energy_stiffness_applies`;
        module docstring).
        Force-controlled case (no imposed displacement): applied force magnitude divided
        by the mean displacement of the loaded surface along the force. ``action``: gives,
        for a surface, the ``action`` of :meth:`reaction_force` (or None). ``energy``:
        False when the case carries loads this object does not see (a body force).
        """
        name = lc.name
        disp = lc.displacement_supports()
        if disp:
            d = disp[0] if surface is None else next(s for s in disp if s.surface == surface)
            vec = np.asarray(d.vector())
            mag = float(np.linalg.norm(vec))
            if energy and energy_stiffness_applies(lc, d):
                return 2.0 * self.strain_energy(u, name) / mag**2
            act = None if action is None else action(d.surface)
            reaction = self.reaction_force(u, L, d.surface, name, act)
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
        disp_mean = self.mean_displacement(u, f.surface, name) @ direction
        return float(np.linalg.norm(fv) / abs(disp_mean))
