"""Spatial regularisation of the mechanical stimulus: a Helmholtz (PDE) filter.

Element-by-element mechanostat models are mesh dependent and can run away locally: a cell
that loses stiffness sheds load to its neighbours, its stimulus drops further, and it
collapses while its neighbours are overloaded (checkerboards; Jacobs et al. 1995,
J Biomech 28:449). Bone cells sense over a neighbourhood (osteocyte network; the spatial
influence function of Mullender, Huiskes & Weinans 1994, J Biomech 27:1389), so bonefem
smooths the relative stimulus r = Ψ/Ψ_ss over a length ℓ before the cell model sees it,
with the PDE filter of Lazarov & Sigmund (2011, Int J Numer Meth Eng 86:765):

    −ℓ² ∇²r̃ + r̃ = r   in the bone,    ∇r̃·n = 0 on its boundary,

solved with P1/Q1 elements (CG + Jacobi; the operator is a shifted Laplacian, assembled
once). The filter preserves constants (a healthy state with r ≡ 1 stays r̃ ≡ 1) and the
integral of r. ℓ = 0 switches it off. Its smoothing radius is about 2√3 ℓ (Lazarov &
Sigmund 2011, Eq. 20). The filtered value of a cell is the cell average of r̃.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import ufl

from bonefem._dolfinx import PETSc, dolfinx, fem
from bonefem.errors import SolverError
from bonefem.mesh.bonemesh import BoneMesh

FloatArray = npt.NDArray[np.float64]


class HelmholtzFilter:
    """Smooth a per-cell field over a length ``length`` (mm), MPI-parallel.

    Args:
        bone: the mesh (mm).
        length: filter length ℓ (mm), > 0.
        rtol: relative residual tolerance of the CG solve.
    """

    def __init__(self, bone: BoneMesh, length: float, rtol: float = 1.0e-10) -> None:
        mesh = bone.mesh
        self.comm = bone.comm
        self.length = float(length)
        self.V = fem.functionspace(mesh, ("Lagrange", 1))
        self.Q = fem.functionspace(mesh, ("DG", 0))
        self.n = self.Q.dofmap.index_map.size_local
        self.source = fem.Function(self.Q)
        self.smooth = fem.Function(self.V)
        u, v = ufl.TrialFunction(self.V), ufl.TestFunction(self.V)
        ell2 = fem.Constant(mesh, self.length**2)
        a = fem.form(ell2 * ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx + u * v * ufl.dx)
        self.L = fem.form(self.source * v * ufl.dx)
        self.A = dolfinx.fem.petsc.assemble_matrix(a)
        self.A.assemble()
        self.b = dolfinx.fem.petsc.create_vector(self.V)
        self.ksp = PETSc.KSP().create(self.comm)
        self.ksp.setOperators(self.A)
        self.ksp.setType(PETSc.KSP.Type.CG)
        self.ksp.getPC().setType(PETSc.PC.Type.JACOBI)
        self.ksp.setTolerances(rtol=rtol, max_it=2000)
        self.ksp.setInitialGuessNonzero(True)
        q = ufl.TestFunction(self.Q)
        self.average = fem.form(self.smooth * q * ufl.dx)
        vol = dolfinx.fem.assemble_vector(fem.form(q * ufl.dx))
        vol.scatter_reverse(dolfinx.la.InsertMode.add)
        self.volumes = vol.array[: self.n].copy()

    def __call__(self, values: npt.ArrayLike) -> FloatArray:
        """Filtered values per owned cell of ``values`` (one per owned cell)."""
        self.source.x.array[: self.n] = np.asarray(values, dtype=np.float64)
        self.source.x.scatter_forward()
        with self.b.localForm() as loc:
            loc.set(0.0)
        dolfinx.fem.petsc.assemble_vector(self.b, self.L)
        self.b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        x = self.smooth.x.petsc_vec
        self.ksp.solve(self.b, x)
        if self.ksp.getConvergedReason() < 0:
            raise SolverError(
                f"stimulus filter did not converge (KSP reason {self.ksp.getConvergedReason()})"
            )
        self.smooth.x.scatter_forward()
        avg = dolfinx.fem.assemble_vector(self.average)
        avg.scatter_reverse(dolfinx.la.InsertMode.add)
        return np.asarray(avg.array[: self.n] / self.volumes)

    def destroy(self) -> None:
        """Free the PETSc objects (collective)."""
        self.ksp.destroy()
        self.A.destroy()
        self.b.destroy()
