"""One element matrix for every voxel: the stiffness operator of a voxel mesh.

In a voxel mesh (:mod:`bonefem.imaging.voxelmesh`) every element is the same axis-aligned
box of edges h = (h_x, h_y, h_z) (mm), an 8-node trilinear (Q1) hexahedron whose nodes are
shared by face-, edge- and corner-connected voxels. Its stiffness matrix is, with the
Lamé factors per unit Young's modulus μ̂ = 1/(2(1+ν)), λ̂ = ν/((1+ν)(1−2ν)),

    K_c = E_c (μ̂_c K_μ + λ̂_c K_λ),
    K_μ = ∫ (B_a·B_b δ_ij + B_aj B_bi) dx,   K_λ = ∫ B_ai B_bj dx   (a, b nodes, i, j axes),

two 24 × 24 matrices computed once for the box by 2 × 2 × 2 Gauss quadrature, exact
for the trilinear element on a box (the integrands are of degree ≤ 2 in each coordinate;
Zienkiewicz & Taylor, *The Finite Element Method* vol. 1, ch. 6 and 9; the element of
micro-FE solvers, van Rietbergen et al. 1995, J Biomech 28:69-81). The operator is then
assembled without any element kernel: E_c-scaled copies of the two matrices, inserted
block-wise (``MatSetValuesBlockedLocal``) into the DOLFINx-preallocated AIJ matrix of the
same form, in chunks of cells; rows and columns of Dirichlet dofs are zero with 1 on the
owned diagonal, exactly as ``dolfinx.fem.petsc.assemble_matrix(a, bcs)``. The same two
matrices give the internal forces K u element by element (for reactions).

:func:`layout` checks the mesh (collective): Q1 vectors on hexahedra whose nodes are the
8 corners of boxes of one size aligned with x, y, z (an image with an identity, permuted
or mirrored direction matrix); each cell's nodes are put in the reference corner order
(corner = b_x + 2 b_y + 4 b_z), so any local vertex order works. Anything else (rotated
images, distorted hexahedra) keeps DOLFINx's assembly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from bonefem._dolfinx import MPI, PETSc, dolfinx, fem

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int32]

__all__ = ["VoxelGroup", "VoxelOperator", "box_element_matrices", "layout"]

#: cells per chunk of the insertion (values: chunk × 576 × 8 bytes ≈ 75 MB)
_CHUNK = 16384

#: corner (b_x, b_y, b_z) of the reference nodes 0-7 (corner = b_x + 2 b_y + 4 b_z)
_CORNERS = np.array([[c & 1, (c >> 1) & 1, (c >> 2) & 1] for c in range(8)], dtype=np.float64)


def box_element_matrices(h: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """(K_μ, K_λ) of a Q1 box of edges h (mm), 24 × 24, dof 3·corner + axis (N/mm per MPa).

    2 × 2 × 2 Gauss points (exact on a box, module doc).
    """
    h = np.asarray(h, dtype=np.float64)
    g = 0.5 * (1.0 + np.array([-1.0, 1.0]) / np.sqrt(3.0))  # Gauss points on [0, 1]
    Kmu, Klam = np.zeros((24, 24)), np.zeros((24, 24))
    weight = float(np.prod(h)) / 8.0
    for p in np.array(np.meshgrid(g, g, g, indexing="ij")).reshape(3, -1).T:
        # trilinear shape functions N_a = Π (b p + (1 − b)(1 − p)), gradients per axis
        f = _CORNERS * p + (1 - _CORNERS) * (1 - p)  # (8, 3)
        d = (2 * _CORNERS - 1) / h  # ∂ of each factor (8, 3)
        B = np.stack([d[:, 0] * f[:, 1] * f[:, 2], f[:, 0] * d[:, 1] * f[:, 2],
                      f[:, 0] * f[:, 1] * d[:, 2]], axis=1)  # fmt: skip
        dot = B @ B.T  # (8, 8)
        Kmu += weight * (np.kron(dot, np.eye(3)) + np.einsum("bi,aj->aibj", B, B).reshape(24, 24))
        Klam += weight * np.einsum("ai,bj->aibj", B, B).reshape(24, 24)
    return Kmu, Klam


def layout(V: fem.FunctionSpace) -> tuple[IntArray, FloatArray] | None:
    """(node indices of the owned cells in reference corner order (n, 8), box h (mm)), or None.

    Collective: None on every rank unless every rank's cells are boxes of one size aligned
    with the axes, in a Q1 vector space (module doc).
    """
    mesh = V.mesh
    ok = (
        mesh.topology.cell_type == dolfinx.mesh.CellType.hexahedron
        and mesh.geometry.cmaps[0].degree == 1
        and V.element.basix_element.degree == 1
        and V.dofmap.index_map_bs == 3
        and V.dofmap.dof_layout.num_dofs == 8
    )
    if not mesh.comm.allreduce(ok, op=MPI.LAND):
        return None
    n = mesh.topology.index_map(mesh.topology.dim).size_local
    dofs = V.dofmap.list[:n].astype(np.int32)
    X = V.tabulate_dof_coordinates()[dofs]  # (n, 8, 3)
    lo = X.min(axis=1) if n else np.zeros((0, 3))
    ext = (X.max(axis=1) - lo) if n else np.zeros((0, 3))
    hmin = mesh.comm.allreduce(ext.min(axis=0).tolist() if n else [np.inf] * 3, op=MPI.MIN)
    hmax = mesh.comm.allreduce(ext.max(axis=0).tolist() if n else [0.0] * 3, op=MPI.MAX)
    h = np.asarray(hmin, dtype=np.float64)
    good = bool(np.all(h > 0) and np.allclose(hmax, h, rtol=1e-9, atol=0))
    if good and n:
        bits = (X - lo[:, None, :]) / h
        b = np.rint(bits)
        corner = (b[..., 0] + 2 * b[..., 1] + 4 * b[..., 2]).astype(np.int64)
        good = bool(
            np.allclose(bits, b, atol=1e-7) and np.all(np.sort(corner, axis=1) == np.arange(8))
        )
    if not mesh.comm.allreduce(good, op=MPI.LAND):
        return None
    ref = np.empty_like(dofs)
    if n:
        np.put_along_axis(ref, corner, dofs, axis=1)
    return ref, h


class VoxelOperator:
    """K(E) of a voxel mesh from two box matrices (module doc); groups per support set.

    Args:
        V: the displacement space (Q1 vectors); ``a``: its compiled stiffness form (for the
            sparsity pattern); ``nu``, ``E``: DG0 Poisson's ratio and Young's modulus (MPa).
        cells: the :func:`layout` of ``V``.
    """

    def __init__(
        self,
        V: fem.FunctionSpace,
        a: fem.Form,
        nu: fem.Function,
        E: fem.Function,
        cells: tuple[IntArray, FloatArray],
    ) -> None:
        self.V, self.a, self.E = V, a, E
        self.nodes, self.h = cells
        self.Kmu, self.Klam = box_element_matrices(self.h)
        n = self.nodes.shape[0]
        self.cell_dof = E.function_space.dofmap.list[:n, 0].astype(np.int64)
        v = nu.x.array[nu.function_space.dofmap.list[:n, 0]]
        self.mu, self.lam = 1.0 / (2.0 * (1.0 + v)), v / ((1.0 + v) * (1.0 - 2.0 * v))
        imap = V.dofmap.index_map
        self.n_local = 3 * (imap.size_local + imap.num_ghosts)
        self.n_owned = 3 * imap.size_local

    def _values(self, sl: slice | npt.NDArray[np.integer[Any]]) -> FloatArray:
        """E_c (μ̂_c K_μ + λ̂_c K_λ) of the cells ``sl``, shape (m, 24, 24) (N/mm)."""
        E = self.E.x.array[self.cell_dof[sl]]
        return np.asarray(
            (E * self.mu[sl])[:, None, None] * self.Kmu
            + (E * self.lam[sl])[:, None, None] * self.Klam
        )

    def group(self, bcs: list[fem.DirichletBC]) -> VoxelGroup:
        """A matrix for the supports ``bcs`` (their rows/columns identity), not yet filled."""
        is_bc = np.zeros(self.n_local, dtype=bool)
        for bc in bcs:
            idx, _ = bc.dof_indices()
            is_bc[np.asarray(idx, dtype=np.int64)] = True
        A = dolfinx.fem.petsc.create_matrix(self.a)
        owned_bc = np.flatnonzero(is_bc[: self.n_owned]).astype(PETSc.IntType)
        touching = is_bc[self._cell_dofs(slice(None))].any(axis=1)
        return VoxelGroup(self, A, is_bc, owned_bc, bc_cells=np.flatnonzero(touching))

    def _cell_dofs(self, sl: slice | npt.NDArray[np.integer[Any]]) -> npt.NDArray[np.int64]:
        """Local dofs (unrolled) of the cells ``sl`` in element order, shape (m, 24)."""
        return (3 * self.nodes[sl][:, :, None].astype(np.int64) + np.arange(3)).reshape(-1, 24)

    def action(self, x: FloatArray, cells: npt.NDArray[np.integer[Any]]) -> FloatArray:
        """Σ over ``cells`` of K_c x_c at the local dofs (owned and ghost, unrolled; N).

        Element by element in chunks (x in mm, e.g.); this rank's cells only, so the
        ranks' parts add up like assembled vectors.
        """
        acc = np.zeros(x.size)
        for start in range(0, cells.size, _CHUNK):
            idx = cells[start : start + _CHUNK]
            d = self._cell_dofs(idx)
            f = np.einsum("cab,cb->ca", self._values(idx), x[d])
            acc += np.bincount(d.ravel(), weights=f.ravel(), minlength=x.size)
        return acc

    def internal_forces(self, u: fem.Function) -> FloatArray:
        """K u without supports, at the owned dofs (N), element by element; collective."""
        out = dolfinx.la.vector(self.V.dofmap.index_map, bs=3)
        out.array[:] = self.action(u.x.array, np.arange(self.nodes.shape[0]))
        out.scatter_reverse(dolfinx.la.InsertMode.add)
        return np.asarray(out.array[: self.n_owned].copy())


@dataclass
class VoxelGroup:
    """The matrix of one support set of a :class:`VoxelOperator`.

    Same interface as :class:`~bonefem.mechanics.assembly.GroupOperator`.
    """

    op: VoxelOperator
    A: PETSc.Mat
    #: local dofs (owned and ghost) held by a Dirichlet support
    is_bc: npt.NDArray[np.bool_]
    #: owned Dirichlet dofs (local indices): diagonal 1
    owned_bc: Any
    #: a constant matrix added after every refill (elastic supports), or None
    constant: PETSc.Mat | None = None
    #: this rank's cells with a Dirichlet dof (indices into the operator's cells)
    bc_cells: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))

    def dirichlet_action(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64] | None:
        """K(E) x of this rank's cells at the Dirichlet rows, or for x zero off them (N).

        The same contract as
        :meth:`~bonefem.mechanics.assembly.GroupOperator.dirichlet_action`: element by
        element over the cells that hold a Dirichlet dof (every cell of a Dirichlet row,
        and the only cells where such an x is nonzero), at the current E -- the lifting
        b ← b − K(E) g and the reactions at a supported surface without DOLFINx
        assembling element matrices. None with a constant (Robin) matrix, as there.
        """
        if self.constant is not None:
            return None
        return self.op.action(x, self.bc_cells)

    def assemble(self) -> None:
        """Refill ``A`` from the current E (collective): scaled box matrices, no kernel."""
        op, A = self.op, self.A
        A.zeroEntries()
        add = PETSc.InsertMode.ADD_VALUES
        for start in range(0, op.nodes.shape[0], _CHUNK):
            sl = slice(start, min(start + _CHUNK, op.nodes.shape[0]))
            nodes = op.nodes[sl]
            vals = op._values(sl)
            bc = self.is_bc[op._cell_dofs(sl)]
            if bc.any():
                vals[bc[:, :, None] | bc[:, None, :]] = 0.0
            A.setValuesBlockedLocalRCV(nodes, nodes, vals.reshape(nodes.shape[0], 576), addv=add)
        k = self.owned_bc
        A.setValuesLocalRCV(k[:, None], k[:, None], np.ones((k.size, 1)), addv=add)
        A.assemble()
        if self.constant is not None:
            self.A.axpy(1.0, self.constant, structure=PETSc.Mat.Structure.SUBSET_NONZERO_PATTERN)


#: the internal-force function of a problem's voxel operator, for reactions
InternalForces = Callable[[fem.Function], FloatArray]
