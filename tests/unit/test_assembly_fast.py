"""The unit-modulus operator K(E) = Σ_c E_c K̂_c against DOLFINx's assembly of the form.

Same matrix (pattern, block size and values to round-off, Dirichlet rows and columns
included) serially and on 2 ranks; the same solutions in ElasticityProblem; the DOLFINx
assembly is kept for elements the fast path does not cover (hexahedra).
"""

from __future__ import annotations

import numpy as np
import pytest

from bonefem._dolfinx import PETSc, dolfinx
from bonefem.config.loading import LoadCase
from bonefem.errors import InputError
from bonefem.mechanics import ElasticityProblem
from bonefem.mechanics.assembly import (
    UnitModulusOperator,
    relative_difference,
    supported,
    unique_inverse,
    unit_element_matrices,
)
from bonefem.mesh import box
from tests.helpers.loadcase import load_case

pytestmark = pytest.mark.mpi

#: measured ≈ 2e-15 on these meshes (round-off of 12×12 sums)
MATRIX_RTOL = 1e-13


def _region(x: np.ndarray) -> np.ndarray:
    return np.where(x[1] < 1.0, 2, 1)


def _bone(comm, cell_type: str = "tetrahedron"):
    return box(
        comm,
        (6.0, 2.0, 2.0),
        (12, 4, 4),
        cell_type=cell_type,
        regions={"cortical": 1, "trabecular": 2},
        region_of=_region,
    )


DISC = {"type": "elastic", "surface": "xmin", "stiffness_N_per_mm3": 0.8,
        "shear_stiffness_N_per_mm3": 0.27}  # fmt: skip


def _cases() -> list[LoadCase]:
    return [
        load_case(
            name="platen",
            supports=[
                {"type": "fixed", "surface": "xmin"},
                {"type": "displacement", "surface": "xmax", "value": -0.01, "component": "x"},
            ],
        ),
        load_case(
            name="bend",
            supports=[{"type": "fixed", "surface": "xmin"}],
            loads=[{"type": "force", "surface": "xmax", "force": [0.0, 10.0, -20.0]}],
        ),
        load_case(  # an elastic (Robin) support plus one Dirichlet component
            name="disc",
            supports=[DISC, {"type": "fixed", "surface": "xmax", "component": "y"}],
            loads=[{"type": "force", "surface": "xmax", "force": [-30.0, 0.0, 5.0]}],
        ),
    ]


def _modulus(bone, seed: float = 0.0) -> np.ndarray:
    n = bone.num_cells_local
    mid = dolfinx.mesh.compute_midpoints(bone.mesh, 3, np.arange(n, dtype=np.int32)).T
    # a partition-independent field with a 1:50 contrast
    return 200.0 + 9800.0 * (0.5 + 0.5 * np.sin(3.1 * mid[0] + 1.7 * mid[1] + seed))


def _problem(comm, assembly: str, prefix: str, cell_type: str = "tetrahedron"):
    bone = _bone(comm, cell_type)
    prob = ElasticityProblem(
        bone,
        _cases(),
        poisson_ratio={"cortical": 0.3, "trabecular": 0.2},
        petsc_options={"ksp_rtol": 1e-10},
        options_prefix=prefix,
        assembly=assembly,
    )
    return bone, prob


def test_unit_element_matrix_of_a_tetrahedron() -> None:
    """Symmetric, rigid-body modes in its kernel, linear in the size (K̂ ∝ h for P1)."""
    X = np.array([[[0.0, 0, 0], [1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0]]])
    X = X + 0.1 * np.array([[0.3, -0.2, 0.1]])
    K = unit_element_matrices(X, np.array([0.3]))[0]
    assert np.allclose(K, K.T, rtol=0, atol=1e-15)
    x = X[0]
    modes = [np.tile(e, 4) for e in np.eye(3)]
    for axis in np.eye(3):
        modes.append(np.cross(axis, x).ravel())  # rotations
    for m in modes:
        assert np.abs(K @ m).max() < 1e-14
    assert np.linalg.matrix_rank(K, tol=1e-10) == 6
    K2 = unit_element_matrices(2.0 * X, np.array([0.3]))[0]
    assert np.allclose(K2, 2.0 * K, rtol=1e-14, atol=1e-16)


def test_same_matrix_as_dolfinx() -> None:
    """Values, pattern and block size of every group's matrix, two E fields."""
    from mpi4py import MPI

    bone, prob = _problem(MPI.COMM_WORLD, "dolfinx", "asm_ref_")
    op = UnitModulusOperator(prob.V, prob.nu, prob.E)
    fast_groups = [op.group(prob.cases[g.cases[0]].bcs) for g in prob.groups]
    for seed in (0.0, 1.3):
        prob.set_modulus(_modulus(bone, seed))
        for g, fast in zip(prob.groups, fast_groups, strict=True):
            bcs = prob.cases[g.cases[0]].bcs
            fast.assemble()
            ref = dolfinx.fem.petsc.create_matrix(prob.a)
            dolfinx.fem.petsc.assemble_matrix(ref, prob.a, bcs=bcs)
            ref.assemble()
            assert relative_difference(fast.A, ref) < MATRIX_RTOL
            assert fast.A.getInfo()["nz_used"] == ref.getInfo()["nz_used"]
            assert fast.A.getBlockSize() == 3
            assert fast.A.getOwnershipRange() == ref.getOwnershipRange()
            ref.destroy()
    for fast in fast_groups:  # together: the first group's matrix is the others' template
        fast.A.destroy()
    prob.destroy()


def test_elastic_support_groups_add_the_robin_matrix() -> None:
    """A group with an elastic support: K(E) + R (R assembled once) equals DOLFINx's
    assembly of the whole operator form with the Dirichlet rows, for two E fields."""
    from mpi4py import MPI

    bone, prob = _problem(MPI.COMM_WORLD, "auto", "asm_robin_")
    gi = prob.cases["disc"].group
    g = prob.groups[gi]
    assert g.fast is not None and g.fast.constant is not None
    a = prob._group_forms[gi]
    for seed in (0.0, 1.3):
        prob.set_modulus(_modulus(bone, seed))
        g.fast.assemble()
        ref = dolfinx.fem.petsc.create_matrix(a)
        dolfinx.fem.petsc.assemble_matrix(ref, a, bcs=prob.cases["disc"].bcs)
        ref.assemble()
        assert relative_difference(g.A, ref) < MATRIX_RTOL
        ref.destroy()
    prob.destroy()


def test_fast_and_dolfinx_problems_agree() -> None:
    """Displacements, stiffness and energies of both assemblies agree to solver tolerance."""
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    results = {}
    for assembly in ("auto", "dolfinx"):
        bone, prob = _problem(comm, assembly, f"asm_{assembly}_")
        assert (prob._unit is not None) == (assembly == "auto")
        out = []
        for seed in (0.0, 0.4):  # a re-assembly after E changed
            prob.set_modulus(_modulus(bone, seed))
            prob.solve_all()
            out += [prob.apparent_stiffness("platen"), prob.strain_energy("bend")]
            out += [prob.strain_energy("disc")]
            out += [float(prob.displacement("bend").x.petsc_vec.norm())]
        results[assembly] = np.array(out)
        prob.destroy()
    assert np.allclose(results["auto"], results["dolfinx"], rtol=1e-8, atol=0)


@pytest.mark.parametrize("cell_type", ["tetrahedron", "hexahedron"])
def test_lifting_and_reactions_from_the_dirichlet_pairs(cell_type: str) -> None:
    """The lifting K(E) g and the reaction forces from the unit-modulus operator's Dirichlet
    pairs (tetrahedra) or the voxel operator's cells at the supports (box hexahedra) equal
    DOLFINx's apply_lifting and residual assembly, for the same solution (issue 15). A
    surface with a free component (xmax of "platen": x only) and a group with a Robin
    term ("disc") keep DOLFINx's assembly."""
    from mpi4py import MPI

    from bonefem.mechanics.solver import assemble_rhs

    comm = MPI.COMM_WORLD
    press = load_case(
        name="press",
        supports=[
            {"type": "fixed", "surface": "xmin"},
            {"type": "displacement", "surface": "xmax", "value": [-0.01, 0.002, 0.0]},
        ],
    )
    bone = _bone(comm, cell_type)
    prob = ElasticityProblem(
        bone,
        [press, *_cases()],
        poisson_ratio={"cortical": 0.3, "trabecular": 0.2},
        petsc_options={"ksp_rtol": 1e-10},
        options_prefix=f"dirpairs_{cell_type}_",
    )
    assert (prob.voxel_operator is not None) == (cell_type == "hexahedron")
    for seed in (0.0, 0.4):  # and after a re-assembly with another E
        prob.set_modulus(_modulus(bone, seed))
        prob.solve_all()
        case = prob.cases["press"]
        g = prob.groups[case.group]
        assert comm.allreduce(case.prescribed is not None, op=MPI.LOR) and g.fast is not None
        fast_b = case.b.array.copy()
        bnorm = assemble_rhs(case, prob._group_forms[case.group])  # DOLFINx's lifting
        assert np.abs(case.b.array - fast_b).max() <= 1e-13 * bnorm
        for surface in ("xmin", "xmax"):
            act = prob._dirichlet_action("press", surface)
            assert act is not None
            fast = prob.reaction_force("press", surface)
            ref = prob.post.reaction_force(case.u, case.L, surface, "press")
            np.testing.assert_allclose(fast, ref, rtol=1e-11, atol=1e-11 * np.abs(ref).max())
        # equilibrium: the two supports carry opposite forces
        np.testing.assert_allclose(
            prob.reaction_force("press", "xmin"), -prob.reaction_force("press", "xmax"),
            rtol=1e-6, atol=1e-6 * np.abs(prob.reaction_force("press", "xmin")).max(),
        )  # fmt: skip
    assert prob._dirichlet_action("platen", "xmax") is None  # y and z free there
    assert prob._dirichlet_action("disc", "xmax") is None  # Robin group
    assert prob.cases["bend"].prescribed is None  # zero values: no lifting at all
    prob.destroy()


def test_box_hexahedra_use_the_voxel_operator() -> None:
    """Equal axis-aligned hexahedra (a box mesh) get one element matrix for all cells
    (bonefem.mechanics.voxel), with the same results as DOLFINx's assembly."""
    from mpi4py import MPI

    out = {}
    for assembly in ("auto", "dolfinx"):
        bone, prob = _problem(MPI.COMM_WORLD, assembly, f"asm_hex_{assembly}_",
                              cell_type="hexahedron")  # fmt: skip
        assert not supported(prob.V)
        assert (prob.voxel_operator is not None) == (assembly == "auto")
        prob.set_modulus(_modulus(bone))
        prob.solve_all()
        out[assembly] = [prob.apparent_stiffness("platen"), prob.strain_energy("bend"),
                         prob.strain_energy("disc")]  # fmt: skip
        prob.destroy()
    assert np.allclose(out["auto"], out["dolfinx"], rtol=1e-8, atol=0)


def test_unknown_assembly_is_an_input_error() -> None:
    from mpi4py import MPI

    with pytest.raises(InputError, match="assembly"):
        _problem(MPI.COMM_WORLD, "fastest", "asm_bad_")


def test_matrix_is_aij_for_gamg() -> None:
    from mpi4py import MPI

    _, prob = _problem(MPI.COMM_WORLD, "auto", "asm_type_")
    assert prob.groups[0].A.getType() in (PETSc.Mat.Type.SEQAIJ, PETSc.Mat.Type.MPIAIJ)
    prob.destroy()


@pytest.mark.parametrize("shape", [(0,), (1,), (7, 10), (5000, 10)])
def test_unique_inverse_is_numpys_unique(shape: tuple[int, ...]) -> None:
    """The set-up's pair keys: the same distinct keys and inverse as ``np.unique``."""
    rng = np.random.default_rng(3)
    keys = rng.integers(0, max(2, shape[0]), size=shape, dtype=np.int64)  # many repeats
    pairs, inverse = unique_inverse(keys)
    ref_pairs, ref_inverse = np.unique(keys, return_inverse=True)
    assert np.array_equal(pairs, ref_pairs)
    assert inverse.shape == keys.shape
    assert np.array_equal(inverse, ref_inverse.reshape(keys.shape))
    assert np.array_equal(pairs[inverse], keys)
