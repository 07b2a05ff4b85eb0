"""The Helmholtz stimulus filter: constants and integrals preserved, analytic damping."""

from __future__ import annotations

import numpy as np
import pytest

from bonefem._dolfinx import MPI, dolfinx
from bonefem.filtering import HelmholtzFilter
from bonefem.mesh import box

pytestmark = pytest.mark.mpi


def midpoints(bone):
    n = bone.num_cells_local
    return dolfinx.mesh.compute_midpoints(bone.mesh, 3, np.arange(n, dtype=np.int32)).T


def test_constant_is_preserved(comm) -> None:
    bone = box(comm, (4.0, 2.0, 2.0), (8, 4, 4))
    flt = HelmholtzFilter(bone, 1.5)
    out = flt(np.full(bone.num_cells_local, 1.0))
    assert np.allclose(out, 1.0, atol=1e-8)


def test_integral_is_preserved_and_variation_reduced(comm) -> None:
    bone = box(comm, (4.0, 2.0, 2.0), (16, 8, 8))
    x = midpoints(bone)
    values = 1.0 + 0.5 * np.sign(np.sin(7 * x[0]) * np.cos(5 * x[1]))
    flt = HelmholtzFilter(bone, 0.5)
    out = flt(values)
    vol = flt.volumes
    total_in = comm.allreduce(float(np.dot(values, vol)), op=MPI.SUM)
    total_out = comm.allreduce(float(np.dot(out, vol)), op=MPI.SUM)
    assert total_out == pytest.approx(total_in, rel=1e-8)
    var_in = comm.allreduce(float(np.dot((values - 1.0) ** 2, vol)), op=MPI.SUM)
    var_out = comm.allreduce(float(np.dot((out - 1.0) ** 2, vol)), op=MPI.SUM)
    assert var_out < 0.5 * var_in


def test_cosine_is_damped_by_one_plus_ell2_k2(comm) -> None:
    """r = cos(kx) with ∂r/∂n = 0 at x = 0, L is an eigenfunction: r̃ = r / (1 + ℓ²k²)."""
    L, ell = 8.0, 0.6
    k = 2 * np.pi / L
    bone = box(comm, (L, 1.0, 1.0), (160, 2, 2), cell_type="hexahedron")
    x = midpoints(bone)
    h = L / 160
    # cell average of cos(kx) over [x - h/2, x + h/2]
    cell_avg = np.cos(k * x[0]) * np.sin(k * h / 2) / (k * h / 2)
    out = HelmholtzFilter(bone, ell)(cell_avg)
    expected = cell_avg / (1 + ell**2 * k**2)
    err = comm.allreduce(float(np.abs(out - expected).max()), op=MPI.MAX)
    assert err < 2e-3
