"""Fast re-assembly of the stiffness operator when only Young's modulus changes.

The element stiffness matrix is linear in the cell's Young's modulus E_c (MPa, DG0):

    K(E) = Σ_c E_c K̂_c,    K̂_c = the element matrix of cell c at E = 1 MPa (ν_c kept),

so the operator is a fixed linear map of the vector of cell moduli. For P1 on affine
tetrahedra (one quadrature point is exact) the unit-modulus element matrices are computed
once in numpy from the gradients G_a of the barycentric functions (mm⁻¹) and the cell
volume V_c (mm³) (Zienkiewicz & Taylor vol. 1, ch. 6):

    K̂_c[(a,i),(b,j)] = V_c (μ̂ (δ_ij G_a·G_b + G_aj G_bi) + λ̂ G_ai G_bj),
    μ̂ = 1 / (2(1 + ν_c)),    λ̂ = ν_c / ((1 + ν_c)(1 − 2ν_c)),

(N/mm per MPa of E) and summed into the distinct (row, column) pairs of this rank's cells:
a sparse matrix P (pairs × owned cells, scipy CSC; K̂ is symmetric, so only the blocks
with row node ≤ column node are stored and the others mirrored). One re-assembly is then a
sparse matrix-vector product ``P @ E`` (and one gather for the mirrored blocks) into the
value array of a PETSc AIJ matrix preallocated once in COO form
(``MatSetPreallocationCOO``); ``MatSetValuesCOO`` sums the pairs that rows of other ranks
receive. Dirichlet rows and columns are handled exactly as DOLFINx
does (``assemble_matrix(..., bcs)``): their entries are zero, their owned diagonal is 1.

Memory: P holds 90 values and indices per owned cell (≈ 1.1 kB per cell), plus PETSc's
COO maps (shared by the groups). Other elements (hexahedra, degree 2, curved cells) keep
the DOLFINx assembly (:func:`supported`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from bonefem._dolfinx import MPI, PETSc, dolfinx, fem

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

#: cells per block in the set-up (bounds the temporaries to ≈ 150 MB)
_BLOCK = 65536

#: element-local node pairs (a, b) with a ≤ b: 4 diagonal and 6 off-diagonal blocks
_A, _B = np.triu_indices(4)

#: entry 3i + j of a 3×3 block is entry 3j + i of its transpose
_TRANSPOSE = (3 * np.arange(3)[None, :] + np.arange(3)[:, None]).ravel()


def supported(V: fem.FunctionSpace) -> bool:
    """Whether :class:`UnitModulusOperator` applies: P1 vectors on affine tetrahedra."""
    mesh = V.mesh
    return (
        mesh.topology.cell_type == dolfinx.mesh.CellType.tetrahedron
        and mesh.geometry.cmaps[0].degree == 1
        and V.element.basix_element.degree == 1
        and V.dofmap.index_map_bs == 3
        and V.dofmap.dof_layout.num_dofs == 4
    )


def _gradients(X: FloatArray, nu: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Barycentric gradients G (n, 4, 3) (mm⁻¹) and V_c μ̂, V_c λ̂ (mm³) of P1 tetrahedra."""
    M = X[:, 1:, :] - X[:, :1, :]  # edges from vertex 0, rows (mm)
    G = np.empty((X.shape[0], 4, 3))
    G[:, 1:, :] = np.linalg.inv(M).transpose(0, 2, 1)  # ∇λ_k (mm⁻¹)
    G[:, 0, :] = -G[:, 1:, :].sum(axis=1)
    vol = np.abs(np.linalg.det(M)) / 6.0
    return G, vol / (2.0 * (1.0 + nu)), vol * nu / ((1.0 + nu) * (1.0 - 2.0 * nu))


def _blocks(Ga: FloatArray, Gb: FloatArray, mu: FloatArray, lmbda: FloatArray) -> FloatArray:
    """3×3 blocks (a, b) of K̂ from the gradients of nodes a and b, shape (n, m, 3, 3).

    Computed with the cells along the last (contiguous) axis: 9 entries, each a few
    vectorised products of (m, n) arrays.
    """
    a = np.ascontiguousarray(Ga.transpose(2, 1, 0))  # (3, m, n)
    b = np.ascontiguousarray(Gb.transpose(2, 1, 0))
    dot = mu * np.einsum("kmc,kmc->mc", a, b)  # μ̂ G_a·G_b
    K = np.empty((3, 3, *a.shape[1:]))
    for i in range(3):
        la, mb = lmbda * a[i], mu * b[i]
        for j in range(3):
            K[i, j] = la * b[j] + mb * a[j]  # λ̂ G_ai G_bj + μ̂ G_aj G_bi
        K[i, i] += dot  # + μ̂ δ_ij G_a·G_b
    return K.transpose(3, 2, 0, 1)


def unit_element_matrices(X: FloatArray, nu: FloatArray) -> FloatArray:
    """Element stiffness matrices at E = 1 MPa of P1 tetrahedra, shape (n, 12, 12) (N/mm).

    Args:
        X: vertex (= dof) coordinates, shape (n, 4, 3) (mm), in the element's dof order.
        nu: Poisson's ratio per cell (-).

    Rows and columns are ordered (node a, component i) → 3a + i.
    """
    G, mu, lmbda = _gradients(X, nu)
    a, b = np.divmod(np.arange(16), 4)
    K = _blocks(G[:, a], G[:, b], mu, lmbda).reshape(-1, 4, 4, 3, 3)
    return K.transpose(0, 1, 3, 2, 4).reshape(-1, 12, 12)


def unique_inverse(keys: IntArray) -> tuple[IntArray, IntArray]:
    """``np.unique(keys, return_inverse=True)``: the sorted distinct keys and where each is.

    The same two arrays (the inverse in ``keys``' shape), from one argsort and a prefix sum:
    numpy 2.5's ``unique`` took 1.7x as long on the femur at refine 2 (207k cells, 0.34
    against 0.21 s, benchmarks/bench_assembly.py) and 2.6x on 8.3M keys of 0.83M cells'
    node pairs (4.2 against 1.6 s).
    """
    flat = keys.ravel()
    if flat.size == 0:
        return flat.copy(), np.zeros(keys.shape, dtype=np.intp)
    order = np.argsort(flat)
    ordered = flat[order]
    first = np.empty(flat.size, dtype=bool)
    first[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    inverse = np.empty(flat.size, dtype=np.intp)
    inverse[order] = np.cumsum(first) - 1
    return ordered[first], inverse.reshape(keys.shape)


def _upper_map(
    dofs: IntArray, x: FloatArray, nu: FloatArray, n_nodes: int
) -> tuple[IntArray, sp.csc_matrix]:
    """The distinct node pairs lo ≤ hi of the cells (key lo·n_nodes + hi) and the map P.

    Entry (3 lo + i, 3 hi + j) of pair p is row 9p + 3i + j of P; P has one column per
    cell with its 10 upper 3×3 blocks (90 values; K̂ is symmetric, the lower blocks are
    their transposes). Units of P: N/mm per MPa.
    """
    n_cells = dofs.shape[0]
    da, db = dofs[:, _A], dofs[:, _B]
    pairs, inverse = unique_inverse(np.minimum(da, db) * n_nodes + np.maximum(da, db))
    small = max(9 * pairs.size, 90 * n_cells) < 2**31
    index: type[np.signedinteger[Any]] = np.int32 if small else np.int64  # scipy: no copy
    slot = 9 * inverse.astype(index).reshape(n_cells, 10, 1) + np.arange(9, dtype=index)
    values = np.empty((n_cells, 10, 3, 3))
    swap = (da > db)[:, :, None]  # the pair's block (lo, hi) is K̂'s block (b, a)
    for start in range(0, n_cells, _BLOCK):
        sl = slice(start, min(start + _BLOCK, n_cells))
        G, mu, lmbda = _gradients(x[dofs[sl]], nu[sl])
        Ga, Gb = G[:, _A], G[:, _B]
        lo, hi = np.where(swap[sl], Gb, Ga), np.where(swap[sl], Ga, Gb)
        values[sl] = _blocks(lo, hi, mu, lmbda)
    indptr = np.arange(0, 90 * n_cells + 1, 90, dtype=index)
    P = sp.csc_matrix((values.ravel(), slot.ravel(), indptr), shape=(9 * pairs.size, n_cells))
    return pairs, P


class UnitModulusOperator:
    """K(E) = P E for the stiffness form of a P1 space on affine tetrahedra (module doc).

    Args:
        V: the displacement space (P1, block size 3).
        nu: the DG0 Poisson's ratio (-), fixed for the life of the operator.
        E: the DG0 Young's modulus (MPa) read at every :meth:`assemble`.
    """

    def __init__(self, V: fem.FunctionSpace, nu: fem.Function, E: fem.Function) -> None:
        mesh = V.mesh
        self.comm = mesh.comm
        self.E = E
        imap = V.dofmap.index_map
        self.n_owned = 3 * imap.size_local  # owned rows (unrolled)
        self.n_global = 3 * imap.size_global
        n_local = 3 * (imap.size_local + imap.num_ghosts)
        n_cells = mesh.topology.index_map(mesh.topology.dim).size_local
        self.cell_dof = E.function_space.dofmap.list[:n_cells, 0].astype(np.int64)
        nu_cells = nu.x.array[nu.function_space.dofmap.list[:n_cells, 0]]
        dofs = V.dofmap.list[:n_cells].astype(np.int64)
        n_nodes = n_local // 3
        upper_pairs, self.P = _upper_map(dofs, V.tabulate_dof_coordinates(), nu_cells, n_nodes)
        lo, hi = np.divmod(upper_pairs, n_nodes)
        off = np.flatnonzero(lo != hi)
        ij = np.arange(9)
        # the pairs: the upper blocks (row node ≤ column node), then the mirrored ones
        self.row_local = np.concatenate(
            [(3 * lo[:, None] + ij // 3).ravel(), (3 * hi[off, None] + ij // 3).ravel()]
        )
        self.col_local = np.concatenate(
            [(3 * hi[:, None] + ij % 3).ravel(), (3 * lo[off, None] + ij % 3).ravel()]
        )
        self.n_upper = 9 * upper_pairs.size
        self.n_pairs = self.row_local.size
        #: entry 3i + j of a mirrored block is entry 3j + i of its upper block
        self.lower_src = (9 * off[:, None] + _TRANSPOSE).ravel()
        l2g = imap.local_to_global(np.arange(n_nodes, dtype=np.int32)).astype(np.int64)
        self.l2g = (3 * l2g[:, None] + np.arange(3)).ravel()
        #: the pair (i, i) of every local dof i (-1: not in an owned cell)
        self.diag_slot = np.full(n_local, -1, dtype=np.int64)
        d = np.flatnonzero(self.row_local == self.col_local)
        self.diag_slot[self.row_local[d]] = d
        self._first: PETSc.Mat | None = None
        #: the group refilled last and the cell moduli it was refilled with (MPa): another
        #: group of the same E copies its values instead of repeating ``P @ E``
        self.filled_group: GroupOperator | None = None
        self.filled_E: FloatArray = np.zeros(0)

    def group(self, bcs: list[fem.DirichletBC]) -> GroupOperator:
        """A matrix for the supports ``bcs`` (their rows/columns identity), not yet filled.

        The groups share one COO pattern (the pairs; the first group's matrix is
        duplicated): a Dirichlet diagonal is set through its own pair, which every owned dof
        has. (If some owned dof had no owned cell, that group gets its own pattern with the
        diagonal entries added.)
        """
        is_bc = np.zeros(self.l2g.size, dtype=bool)
        for bc in bcs:
            idx, _ = bc.dof_indices()
            is_bc[np.asarray(idx, dtype=np.int64)] = True
        zero = np.flatnonzero(is_bc[self.row_local] | is_bc[self.col_local])
        bc_owned = np.flatnonzero(is_bc[: self.n_owned])
        ones = self.diag_slot[bc_owned]
        n = self.n_pairs
        if self.comm.allreduce(bool(np.all(ones >= 0)), op=MPI.LAND):
            if self._first is None:
                self._first = self._matrix(self.row_local, self.col_local)
                A = self._first
            else:
                A = self._first.duplicate(copy=False)  # keeps the COO maps
            return GroupOperator(self, A, zero, ones, np.zeros(n))
        A = self._matrix(
            np.concatenate([self.row_local, bc_owned]), np.concatenate([self.col_local, bc_owned])
        )
        ones = np.arange(n, n + bc_owned.size)
        return GroupOperator(self, A, zero, ones, np.zeros(n + bc_owned.size))

    def _matrix(self, rows: IntArray, cols: IntArray) -> PETSc.Mat:
        """An AIJ matrix (block size 3) preallocated for the COO pairs (local indices)."""
        A = PETSc.Mat().create(comm=self.comm)
        A.setSizes(((self.n_owned, self.n_global), (self.n_owned, self.n_global)), bsize=3)
        A.setType(PETSc.Mat.Type.AIJ)
        I = self.l2g[rows].astype(PETSc.IntType)
        J = self.l2g[cols].astype(PETSc.IntType)
        A.setPreallocationCOO(I, J)
        return A

    def fill(self, values: FloatArray, E_cells: FloatArray) -> None:
        """Σ_c E_c K̂_c (N/mm) into ``values[:n_pairs]``, the pairs of this rank's cells.

        Args:
            values: the COO value array of a group.
            E_cells: E of this rank's cells (MPa), ``E.x.array[cell_dof]``.
        """
        values[: self.n_upper] = self.P @ E_cells
        values[self.n_upper : self.n_pairs] = values[self.lower_src]


@dataclass
class GroupOperator:
    """The matrix of one operator group and how to refill it from E (module doc)."""

    op: UnitModulusOperator
    A: PETSc.Mat
    #: pairs in a row or column of a Dirichlet dof (always 0)
    zero: IntArray
    #: COO entries of the owned Dirichlet diagonal (always 1, set after ``zero``)
    ones: IntArray
    #: the COO value array
    values: FloatArray
    #: a constant matrix added after every refill (the Robin term of elastic supports,
    #: assembled once with zero rows/columns and diagonal at the Dirichlet dofs), or None
    constant: PETSc.Mat | None = None
    #: K(E) of the pairs ``zero`` at the last refill, before they were zeroed (N/mm)
    zero_values: FloatArray = field(default_factory=lambda: np.zeros(0))

    def assemble(self) -> None:
        """Refill ``A`` from the current E (collective): one sparse product and a COO set.

        When the group refilled last saw the same E (the virtual tests' groups after the
        habitual one), its values are copied, its Dirichlet pairs restored from its
        ``zero_values``: a copy of the pairs instead of the sparse product over the cells.
        """
        op, n = self.op, self.op.n_pairs
        E = op.E.x.array[op.cell_dof]
        src = op.filled_group
        if src is not None and src is not self and np.array_equal(E, op.filled_E):
            self.values[:n] = src.values[:n]
            self.values[src.zero] = src.zero_values
        else:
            op.fill(self.values, E)
            op.filled_E = E
        op.filled_group = self
        self.zero_values = self.values[self.zero]
        self.values[self.zero] = 0.0
        self.values[self.ones] = 1.0
        self.A.setValuesCOO(self.values, addv=PETSc.InsertMode.INSERT_VALUES)
        self.A.assemble()
        if self.constant is not None:  # its pattern (facet pairs) is within the cells' pairs
            self.A.axpy(1.0, self.constant, structure=PETSc.Mat.Structure.SUBSET_NONZERO_PATTERN)

    def dirichlet_action(self, x: FloatArray) -> FloatArray | None:
        """K(E) x of this rank's cells at the Dirichlet rows, or for x zero off them (N).

        From the pairs in a Dirichlet row or column at the last refill (before zeroing): at
        a Dirichlet row the result is the row's full product (every pair of the row is
        such a pair), and for x that vanishes off the Dirichlet dofs it is K(E) x at every
        row -- the lifting of prescribed displacements, b ← b − K(E) g, and the residual
        K(E) u at a supported surface (its reaction force), without DOLFINx assembling
        element matrices (issue 15). Local rows (owned and ghost, unrolled); the ranks'
        parts add up like assembled vectors. None when a constant (Robin) matrix is added:
        its Dirichlet rows and columns were not kept.

        Args:
            x: values at the local dofs (owned and ghost, unrolled), e.g. mm.
        """
        if self.constant is not None:
            return None
        rows, cols = self.op.row_local[self.zero], self.op.col_local[self.zero]
        return np.bincount(rows, weights=self.zero_values * x[cols], minlength=x.size)


def relative_difference(A: PETSc.Mat, B: Any) -> float:
    """‖A − B‖_∞ / ‖B‖_∞ (row-sum norms, -) of two PETSc matrices, collective."""
    C = A.duplicate(copy=True)
    C.axpy(-1.0, B, structure=PETSc.Mat.Structure.DIFFERENT_NONZERO_PATTERN)
    num = C.norm(PETSc.NormType.INFINITY)  # row-sum norm; bounds the entries
    den = B.norm(PETSc.NormType.INFINITY)
    C.destroy()
    return float(num / den) if den > 0 else float(num)
