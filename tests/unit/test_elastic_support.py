"""Elastic (Robin) supports: schema, validation and the analytic bar on a foundation.

A bar of length L (z), modulus E and ν = 0 standing on an elastic foundation of normal
stiffness k (N/mm³) and loaded by a uniform pressure p on its top: the stress is uniaxial,
σ_zz = −p everywhere, the foundation compresses by p/k and the bar by p L/E, so

    u_z(z) = −p/k − p z/E,   u_x = u_y = 0,

a linear field that P1 elements reproduce to the solver tolerance. Also: the reaction
through the foundation equals the applied force; a fixed support and an elastic support
give different operators (separate groups); bad input gives one clear error. Serial and
under ``mpiexec -n 2`` (marker ``mpi``).
"""

from __future__ import annotations

import numpy as np
import pytest

from bonefem._dolfinx import MPI
from bonefem.config.case import parse_case
from bonefem.config.loading import Elastic, LoadCase
from bonefem.errors import InputError
from bonefem.mechanics import ElasticityProblem
from bonefem.mesh import box

pytestmark = pytest.mark.mpi

DIRECT = {"ksp_type": "preonly", "pc_type": "lu", "pc_factor_mat_solver_type": "mumps"}


def foundation_case(k: float, p: float, shear: float | None = None) -> LoadCase:
    """Bar on an elastic foundation under zmin, pressure p (MPa) on zmax."""
    support: dict[str, object] = {"type": "elastic", "surface": "zmin", "stiffness_N_per_mm3": k}
    if shear is not None:
        support["shear_stiffness_N_per_mm3"] = shear
    return LoadCase(
        name="disc",
        supports=[support],  # type: ignore[list-item]
        loads=[{"type": "pressure", "surface": "zmax", "pressure": p}],  # type: ignore[list-item]
    )


@pytest.mark.parametrize("cell_type", ["tetrahedron", "hexahedron"])
@pytest.mark.parametrize("options", [None, DIRECT], ids=["cg-gamg", "lu"])
def test_bar_on_elastic_foundation(comm, cell_type: str, options) -> None:
    W, D, L = 4.0, 3.0, 12.0  # mm
    E, k, p = 800.0, 0.8, 0.5  # MPa, N/mm³, MPa
    bone = box(comm, (W, D, L), (3, 3, 8), cell_type=cell_type)
    prob = ElasticityProblem(
        bone, [foundation_case(k, p, shear=0.3)], poisson_ratio=0.0, petsc_options=options
    )
    prob.set_modulus(E)
    u = prob.solve("disc")
    x = prob.V.tabulate_dof_coordinates()
    exact = np.zeros_like(x)
    exact[:, 2] = -p / k - p * x[:, 2] / E
    err = comm.allreduce(np.abs(u.x.array.reshape(-1, 3) - exact).max(), op=MPI.MAX)
    scale = p / k + p * L / E
    assert err < 1e-6 * scale
    top = prob.mean_displacement("disc", "zmax")
    assert top[2] == pytest.approx(-(p / k + p * L / E), rel=1e-6)
    # the foundation carries the whole load: reaction = p · area, upwards
    reaction = prob.reaction_force("disc", "zmin")
    assert reaction[2] == pytest.approx(p * W * D, rel=1e-6)
    assert np.abs(reaction[:2]).max() < 1e-6 * p * W * D


def test_elastic_and_fixed_supports_use_separate_operators(comm) -> None:
    bone = box(comm, (2.0, 2.0, 4.0), (2, 2, 4))
    fixed = LoadCase(
        name="clamped",
        supports=[{"type": "fixed", "surface": "zmin"}],  # type: ignore[list-item]
        loads=[{"type": "pressure", "surface": "zmax", "pressure": 1.0}],  # type: ignore[list-item]
    )
    soft, stiff = foundation_case(0.5, 1.0), foundation_case(5.0, 1.0)
    stiff = stiff.model_copy(update={"name": "stiff"})
    prob = ElasticityProblem(bone, [fixed, soft, stiff], poisson_ratio=0.0, petsc_options=DIRECT)
    prob.set_modulus(100.0)
    assert len(prob.groups) == 3
    uz = {}
    for name in ("clamped", "disc", "stiff"):
        prob.solve(name)
        uz[name] = prob.mean_displacement(name, "zmax")[2]
    bar = 1.0 * 4.0 / 100.0
    assert uz["clamped"] == pytest.approx(-bar, rel=1e-8)
    assert uz["disc"] == pytest.approx(-(bar + 1.0 / 0.5), rel=1e-8)
    assert uz["stiff"] == pytest.approx(-(bar + 1.0 / 5.0), rel=1e-8)


def test_shear_stiffness_defaults_to_the_normal_one() -> None:
    s = Elastic(surface="caudal_endplate", stiffness_N_per_mm3=0.8)
    assert s.shear == 0.8
    t = Elastic(surface="caudal_endplate", stiffness_N_per_mm3=0.8, shear_stiffness_N_per_mm3=0.2)
    assert t.shear == 0.2
    assert s.signature_key() != t.signature_key()


def _case(support: dict[str, object]) -> dict[str, object]:
    return {
        "run": {"duration_days": 10.0},
        "mesh": {"generator": "vertebra"},
        "load_cases": [
            {
                "name": "daily",
                "supports": [support],
                "loads": [
                    {"type": "force", "surface": "cranial_endplate", "force": [0.0, 0.0, -800.0]}
                ],
            }
        ],
    }


@pytest.mark.parametrize(
    ("support", "field", "words"),
    [
        (
            {"type": "elastic", "surface": "caudal_endplate", "stiffness_N_per_mm3": -1.0},
            "stiffness_N_per_mm3",
            "greater than 0",
        ),
        (
            {"type": "elastic", "surface": "caudal_endplate"},
            "stiffness_N_per_mm3",
            "required",
        ),
        (
            {
                "type": "elastic",
                "surface": "caudal_endplate",
                "stiffness_N_per_mm3": 0.8,
                "shear_stiffness_N_per_mm3": 0.0,
            },
            "shear_stiffness_N_per_mm3",
            "greater than 0",
        ),
        (
            {
                "type": "elastic",
                "surface": "caudal_endplate",
                "stiffness_N_per_mm3": 0.8,
                "component": "z",
            },
            "component",
            "unknown key. Allowed keys here: shear_stiffness_N_per_mm3, stiffness_N_per_mm3",
        ),
        (
            {"type": "spring", "surface": "caudal_endplate", "stiffness_N_per_mm3": 0.8},
            "type",
            "elastic",
        ),
    ],
)
def test_bad_elastic_support_is_one_clear_error(support, field: str, words: str) -> None:
    with pytest.raises(InputError) as info:
        parse_case(_case(support), file="case.toml")
    text = str(info.value)
    assert "case.toml" in text
    assert field in text
    assert words in text


def test_elastic_support_twice_on_a_surface_is_refused() -> None:
    support = {"type": "elastic", "surface": "caudal_endplate", "stiffness_N_per_mm3": 0.8}
    data = _case(support)
    data["load_cases"][0]["supports"].append({"type": "fixed", "surface": "caudal_endplate"})  # type: ignore[index]
    with pytest.raises(InputError, match="supported twice"):
        parse_case(data, file="case.toml")
