"""Operator and preconditioner reuse of the virtual tests (issue 15).

Setting the same modulus again keeps the assembled operators; a kept preconditioner is not
judged on a solve of fewer than ``MIN_JUDGED_ITERATIONS`` iterations (2-4 iterations from
an excellent guess gave a spurious refresh every few metrics rows).
"""

from __future__ import annotations

import numpy as np
import pytest

from bonefem.mechanics import ElasticityProblem, SolveStats
from bonefem.mechanics.solver import (
    MIN_JUDGED_ITERATIONS,
    KrylovRun,
    OperatorGroup,
    update_refresh_state,
)
from bonefem.mesh import box
from tests.helpers.loadcase import load_case

pytestmark = pytest.mark.mpi


def _problem(comm, prefix: str) -> ElasticityProblem:
    bone = box(comm, (4.0, 2.0, 2.0), (8, 4, 4))
    case = load_case(
        name="bend",
        supports=[{"type": "fixed", "surface": "xmin"}],
        loads=[{"type": "force", "surface": "xmax", "force": [0.0, 5.0, -10.0]}],
    )
    return ElasticityProblem(bone, [case], options_prefix=prefix)


def test_same_modulus_keeps_the_operators() -> None:
    from mpi4py import MPI

    prob = _problem(MPI.COMM_WORLD, "reuse_same_")
    E = np.full(prob.bone.num_cells_local, 1000.0)
    prob.set_modulus(E)
    prob.solve("bend")
    assert prob.last_stats("bend").assemble_seconds > 0.0
    prob.set_modulus(E.copy())  # the same values: nothing to re-assemble
    assert not prob.groups[0].dirty
    prob.solve("bend")
    assert prob.last_stats("bend").assemble_seconds == 0.0
    E[0] *= 1.01 if MPI.COMM_WORLD.rank == 0 else 1.0  # one cell on one rank changes
    prob.set_modulus(E)
    assert prob.groups[0].dirty  # on every rank (collective decision)
    prob.destroy()


def _run(r0: float) -> KrylovRun:
    return KrylovRun(0, False, False, r0, r0, 0.0, 0.0, 0.0)


def test_short_solves_do_not_judge_the_preconditioner() -> None:
    g = OperatorGroup(signature=(), cases=[], A=None, ksp=None, bc_dofs=[])
    g.pc_stale, g.pc_cold_iterations = False, 30.0
    rtol = 1e-8
    # 3 iterations that only reduce the residual from 2.6e-8 to 1e-8: a cold-equivalent
    # count of ~58 (> 1.5 x 30), but no measurable rate
    short = SolveStats("t", 3, 1e-8, False, "CONVERGED_ATOL")
    update_refresh_state(g, short, _run(2.6e-8), rtol, 1.5)
    assert not g.pc_stale
    assert short.iterations < MIN_JUDGED_ITERATIONS
    # a genuinely slow solve is still caught
    slow = SolveStats("t", 60, 1e-8, False, "CONVERGED_ATOL")
    update_refresh_state(g, slow, _run(1.0), rtol, 1.5)
    assert g.pc_stale
