"""The voxel operator (one element matrix for all voxels) equals DOLFINx's assembly.

Matrix with a Dirichlet support and internal forces K u, to round-off, for an image with an
identity, a mirrored and a permuted direction matrix and anisotropic voxels; serial and on
2 ranks (marker mpi). Distorted hexahedra keep DOLFINx's assembly.
"""

from __future__ import annotations

import numpy as np
import pytest
import ufl

from bonefem._dolfinx import MPI, dolfinx, fem
from bonefem.imaging.image import Image
from bonefem.imaging.phantoms import random_core
from bonefem.imaging.voxelmesh import voxel_mesh
from bonefem.mechanics import forms
from bonefem.mechanics.assembly import relative_difference
from bonefem.mechanics.voxel import VoxelOperator, box_element_matrices, layout

pytestmark = pytest.mark.mpi

DIRECTIONS = {
    "identity": np.eye(3),
    "mirrored": np.diag([1.0, -1.0, 1.0]),
    "permuted": np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]),
}


@pytest.mark.parametrize("name", list(DIRECTIONS))
def test_voxel_operator_equals_dolfinx_assembly(comm, name: str) -> None:
    img, mask = random_core(shape=(10, 9, 8), bvtv=0.45, smoothing=1.5)
    im = Image(img.array, spacing=(0.02, 0.03, 0.025), origin=(1, 2, 3),
               direction=DIRECTIONS[name])  # fmt: skip
    bone, _ = voxel_mesh(comm, im, mask)
    V = fem.functionspace(bone.mesh, ("Lagrange", 1, (3,)))
    Q = fem.functionspace(bone.mesh, ("DG", 0))
    E, nu = fem.Function(Q), fem.Function(Q)
    rng = np.random.default_rng(comm.rank)
    E.x.array[:] = 1000.0 + 1000.0 * rng.random(E.x.array.size)
    E.x.scatter_forward()
    nu.x.array[:] = 0.3
    a = fem.form(forms.bilinear_form(V, E, nu))
    cells = layout(V)
    assert cells is not None
    op = VoxelOperator(V, a, nu, E, cells)
    facets = bone.surface_facets("zmin")
    bc = fem.dirichletbc(np.zeros(3), fem.locate_dofs_topological(V, 2, facets), V)
    group = op.group([bc])
    group.assemble()
    A = dolfinx.fem.petsc.assemble_matrix(a, bcs=[bc])
    A.assemble()
    assert relative_difference(group.A, A) < 1e-12
    u = fem.Function(V)
    u.x.array[:] = rng.random(u.x.array.size)
    u.x.scatter_forward()
    v = ufl.TestFunction(V)
    r = dolfinx.fem.assemble_vector(fem.form(ufl.inner(forms.stress(u, E, nu),
                                                       forms.strain(v)) * ufl.dx))  # fmt: skip
    r.scatter_reverse(dolfinx.la.InsertMode.add)
    n = 3 * V.dofmap.index_map.size_local
    err = comm.allreduce(float(np.abs(op.internal_forces(u) - r.array[:n]).max(initial=0)),
                         op=MPI.MAX)  # fmt: skip
    scale = comm.allreduce(float(np.abs(r.array[:n]).max(initial=0)), op=MPI.MAX)
    assert err < 1e-12 * scale
    for M in (A, group.A):
        M.destroy()


def test_box_matrices_rigid_modes_and_symmetry() -> None:
    Kmu, Klam = box_element_matrices([0.02, 0.03, 0.05])
    for K in (Kmu, Klam):
        np.testing.assert_allclose(K, K.T, atol=1e-15)
        for i in range(3):  # translations carry no force
            t = np.zeros(24)
            t[i::3] = 1.0
            np.testing.assert_allclose(K @ t, 0.0, atol=1e-14)


def test_distorted_hexahedra_keep_dolfinx_assembly(comm) -> None:
    mesh = dolfinx.mesh.create_unit_cube(comm, 3, 3, 3, dolfinx.mesh.CellType.hexahedron)
    mesh.geometry.x[:, 0] += 0.1 * mesh.geometry.x[:, 1] ** 2
    V = fem.functionspace(mesh, ("Lagrange", 1, (3,)))
    assert layout(V) is None
