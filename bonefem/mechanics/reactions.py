"""Reaction forces on every named surface of a mesh, from one residual vector.

The consistent nodal reaction of an elasticity solution u is the residual

    r = a(u, ·) − L(·)          (N per dof; a without elastic-support terms),

zero (to solver tolerance) at free dofs without a support, and the force a support exerts
on the bone at the dofs it constrains (Dirichlet) or loads (elastic foundation). The
reaction on a surface Γ is Σ_i w_Γ,i,c r_i,c over the nodes i of Γ's facets, with the
weights a partition of unity over the surfaces that share a node (edges and corners):

* a component c of node i that supports constrain goes, in equal parts, to the
  surfaces whose supports constrain it (the support that holds it);
* any other component goes, in equal parts, to every surface containing the node.

So the reactions of all surfaces sum to the residual over the boundary nodes, which is
−(applied loads) by equilibrium; a free surface next to a supported one gets none of the
support's force, and two supported faces of a box test split their shared edge only where
both constrain the same component. One vector assembly per test, then a few vectorised
sums; reduced over ranks (owned dofs only). On voxel meshes a(u, ·) is the voxel
operator's element-by-element K u (:mod:`bonefem.mechanics.voxel`). Units: N.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt
import ufl

from bonefem._dolfinx import MPI, dolfinx, fem
from bonefem.config.loading import COMPONENTS, Elastic, LoadCase
from bonefem.mechanics.forms import strain, stress, surface_dofs
from bonefem.mesh.bonemesh import BoneMesh

FloatArray = npt.NDArray[np.float64]

__all__ = ["SurfaceReactions", "constrained_components"]


def constrained_components(lc: LoadCase, surfaces: Sequence[str]) -> npt.NDArray[np.bool_]:
    """(S, 3): whether the supports of ``lc`` hold component c on surface s."""
    out = np.zeros((len(surfaces), 3), dtype=bool)
    index = {s: i for i, s in enumerate(surfaces)}
    for s in lc.supports:
        if s.surface not in index:
            continue
        comp = None if isinstance(s, Elastic) else s.component
        if comp is None:
            out[index[s.surface], :] = True
        else:
            out[index[s.surface], COMPONENTS[comp]] = True
    return out


class SurfaceReactions:
    """Reactions on every named surface of ``bone`` (module doc).

    Args:
        bone: the mesh (named surfaces, mm).
        V: the displacement space (vector P1/Q1).
        E: Young's modulus (MPa, DG0); ``nu``: Poisson's ratio (DG0).
    """

    def __init__(
        self,
        bone: BoneMesh,
        V: fem.FunctionSpace,
        E: fem.Function,
        nu: fem.Function,
        internal: Callable[[fem.Function], FloatArray] | None = None,
    ):
        self.bone, self.V, self.E, self.nu = bone, V, E, nu
        #: K u at the owned dofs without a form (the voxel operator's), or None
        self.internal = internal
        self.comm = bone.comm
        self.surfaces = bone.surface_names
        n_owned = V.dofmap.index_map.size_local
        member = np.zeros((n_owned, len(self.surfaces)), dtype=bool)
        for j, name in enumerate(self.surfaces):
            nodes = surface_dofs(bone, V, name, None)
            member[nodes[nodes < n_owned], j] = True
        on = member.any(axis=1)
        self.nodes = np.flatnonzero(on)
        self.member = member[on]  # (boundary nodes, S)
        self._residual: dict[int, fem.Form] = {}

    def _form(self, u: fem.Function) -> fem.Form:
        key = id(u)
        if key not in self._residual:
            v = ufl.TestFunction(self.V)
            self._residual[key] = fem.form(
                ufl.inner(stress(u, self.E, self.nu), strain(v)) * ufl.dx
            )
        return self._residual[key]

    def residual(self, u: fem.Function, L: fem.Form) -> FloatArray:
        """The residual a(u, ·) − L(·) at the owned nodes, shape (n_owned, 3) (N)."""
        n = self.V.dofmap.index_map.size_local
        rhs = dolfinx.fem.assemble_vector(L)
        rhs.scatter_reverse(dolfinx.la.InsertMode.add)
        if self.internal is not None:
            return np.asarray((self.internal(u) - rhs.array[: 3 * n]).reshape(-1, 3))
        res = dolfinx.fem.assemble_vector(self._form(u))
        res.scatter_reverse(dolfinx.la.InsertMode.add)
        return np.asarray((res.array - rhs.array).reshape(-1, 3)[:n])

    def compute(self, lc: LoadCase, u: fem.Function, L: fem.Form) -> dict[str, FloatArray]:
        """Surface name -> reaction force (N, 3-vector, summed over ranks), collective."""
        r = self.residual(u, L)[self.nodes]  # (boundary nodes, 3)
        held = constrained_components(lc, self.surfaces)  # (S, 3)
        m = self.member.astype(np.float64)
        share = m / np.maximum(m.sum(axis=1, keepdims=True), 1.0)
        out = np.zeros((len(self.surfaces), 3))
        for c in range(3):
            k = m * held[:, c]
            nk = k.sum(axis=1, keepdims=True)
            w = np.where(nk > 0, k / np.maximum(nk, 1.0), share)
            out[:, c] = w.T @ r[:, c]
        self.comm.Allreduce(MPI.IN_PLACE, out, op=MPI.SUM)
        return {name: out[j].copy() for j, name in enumerate(self.surfaces)}
