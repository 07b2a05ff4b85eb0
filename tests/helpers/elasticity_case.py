"""A heterogeneous elasticity problem and its reduced results (the same on every rank).

Solved on ``MPI.COMM_SELF`` and on two ranks by tests/system/test_mechanics_parallel.py:
the numbers must agree to solver tolerance.
"""

from __future__ import annotations

import numpy as np

from bonefem._dolfinx import MPI, dolfinx
from bonefem.mechanics import ElasticityProblem
from bonefem.mesh import box
from tests.helpers.loadcase import load_case


def run(comm: MPI.Intracomm, cell_type: str = "tetrahedron") -> dict[str, float]:
    bone = box(
        comm,
        (12.0, 4.0, 4.0),
        (18, 6, 6),
        cell_type=cell_type,
        regions={"cortical": 1, "trabecular": 2},
        region_of=lambda x: np.where((np.abs(x[1] - 2) < 1.4) & (np.abs(x[2] - 2) < 1.4), 2, 1),
    )
    cases = [
        load_case(
            name="compression",
            supports=[
                {"type": "fixed", "surface": "xmin"},
                {"type": "displacement", "surface": "xmax", "value": -0.02, "component": "x"},
            ],
        ),
        load_case(
            name="bending",
            supports=[{"type": "fixed", "surface": "xmin"}],
            loads=[{"type": "force", "surface": "xmax", "force": [0.0, 30.0, -50.0]}],
        ),
    ]
    prob = ElasticityProblem(
        bone,
        cases,
        poisson_ratio={"cortical": 0.3, "trabecular": 0.25},
        petsc_options={"ksp_rtol": 1e-10},
    )
    tdim = bone.mesh.topology.dim
    n = bone.num_cells_local
    mid = dolfinx.mesh.compute_midpoints(bone.mesh, tdim, np.arange(n, dtype=np.int32)).T
    E = np.where(bone.cell_tags.values[:n] == 1, 15000.0, 300.0) * (1 + 0.2 * np.sin(mid[0]))
    # meshtags values are ordered by cell index: check that assumption here.
    assert np.array_equal(bone.cell_tags.indices[:n], np.arange(n))
    prob.set_modulus(E)
    prob.solve_all()
    out: dict[str, float] = {}
    for name in prob.load_case_names:
        sed = prob.strain_energy_density(name)
        vm = prob.von_mises(name)
        out[f"{name}_energy"] = prob.strain_energy(name)
        out[f"{name}_sed_max"] = comm.allreduce(float(sed.max()), op=MPI.MAX)
        out[f"{name}_vm_max"] = comm.allreduce(float(vm.max()), op=MPI.MAX)
        out[f"{name}_stiffness"] = prob.apparent_stiffness(name)
        r = prob.reaction_force(name, "xmin")
        for i, c in enumerate("xyz"):
            out[f"{name}_reaction_{c}"] = float(r[i])
    return out
