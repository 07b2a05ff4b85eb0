"""Solver reuse across modulus updates: initial guesses, refresh policy, phase statistics.

A remodelling run changes E a little between solves. The extrapolated initial guess and the
kept preconditioner must save work without changing the answer beyond the solver tolerance,
and the preconditioner must be refreshed when it has gone stale. The benchmark scripts get a
smoke test on a tiny mesh (no timing is asserted anywhere).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from bonefem._dolfinx import MPI, dolfinx
from bonefem.config.loading import LoadCase
from bonefem.errors import InputError
from bonefem.mechanics import (
    ElasticityProblem,
    cold_equivalent_iterations,
    projection_coefficients,
)
from bonefem.mesh import box
from tests.helpers.loadcase import load_case

pytestmark = pytest.mark.mpi

RTOL = 1e-8


def cantilever() -> LoadCase:
    return load_case(
        name="bend",
        supports=[{"type": "fixed", "surface": "xmin"}],
        loads=[{"type": "force", "surface": "xmax", "force": [0.0, 20.0, -40.0]}],
    )


def make(comm, guess: str, prefix: str, **kw):
    bone = box(comm, (8.0, 2.0, 2.0), (16, 4, 4))
    prob = ElasticityProblem(
        bone,
        [cantilever()],
        initial_guess=guess,
        options_prefix=prefix,
        petsc_options={"ksp_rtol": RTOL},
        **kw,
    )
    n = bone.num_cells_local
    mid = dolfinx.mesh.compute_midpoints(bone.mesh, 3, np.arange(n, dtype=np.int32)).T
    E0 = 1000.0 * (1.0 + 0.5 * np.sin(mid[0]) * np.cos(2.0 * mid[1]))
    w = 0.5 * (1.0 + np.sin(0.7 * mid[0] + 0.4 * mid[2]))
    return prob, E0, w


def sequence(prob, E0, w, n: int = 5, delta: float = 0.02):
    """Solve at E0 and n drifting moduli E0 (1 − δ k w); return stats and solutions."""
    prob.set_modulus(E0)
    prob.solve("bend")
    stats, sols = [], []
    for k in range(1, n + 1):
        prob.set_modulus(E0 * (1.0 - delta * k * w))
        u = prob.solve("bend")
        stats.append(prob.last_stats("bend"))
        sols.append(u.x.array.copy())
    return stats, sols


def test_extrapolated_guess_same_answer_fewer_iterations(comm) -> None:
    results = {}
    for guess in ("zero", "previous", "extrapolate"):
        prob, E0, w = make(comm, guess, f"reuse_{guess}_")
        stats, sols = sequence(prob, E0, w)
        results[guess] = (stats, sols, prob.strain_energy("bend"))
        prob.destroy()
    scale = comm.allreduce(np.abs(results["zero"][1][-1]).max(), op=MPI.MAX)
    for guess in ("previous", "extrapolate"):
        stats, sols, energy = results[guess]
        # every step converged to the same answer as a cold solve (to the tolerance)
        for u, u_ref in zip(sols, results["zero"][1], strict=True):
            err = comm.allreduce(np.abs(u - u_ref).max(), op=MPI.MAX)
            assert err < 1e-5 * scale
        assert energy == pytest.approx(results["zero"][2], rel=1e-7)
    zero, prev, extra = (results[g][0] for g in ("zero", "previous", "extrapolate"))
    # the guesses: zero guess has relative residual 1 (up to Dirichlet values), the previous
    # solution about the modulus change, the extrapolation much less from the third solve on
    assert all(s.initial_residual < 0.1 for s in prev)
    for p, e in zip(prev[2:], extra[2:], strict=True):
        assert e.initial_residual < 0.1 * p.initial_residual
        assert e.iterations < p.iterations
    assert sum(s.iterations for s in extra) < sum(s.iterations for s in zero)


def test_extrapolation_is_exact_for_linear_trend(comm) -> None:
    """u(k) linear in k (here: a rescaled modulus, u ∝ 1/E) is met by the projection."""
    prob, E0, _ = make(comm, "extrapolate", "reuse_lin_")
    for s in (1.0, 1.0 / 1.05, 1.0 / 1.10):
        prob.set_modulus(E0 / s)  # u = s · u₀: linear in s
        prob.solve("bend")
    prob.set_modulus(E0 / (1.0 / 1.15))
    prob.solve("bend")
    assert prob.last_stats("bend").initial_residual < 1e-6
    prob.destroy()


def test_sibling_solution_in_the_guess(comm) -> None:
    """A load case on the same operator starts from a sibling's solution (guess_from).

    Loads 3.125 × the sibling's (the vertebra's lifting load against its daily load): at
    the same E the guess is the exact solution (no iteration); a non-proportional load on
    the same supports starts from a better guess than zero; the answers equal cold solves.
    """
    bone = box(comm, (8.0, 2.0, 2.0), (16, 4, 4))
    scaled = load_case(
        name="lift",
        supports=[{"type": "fixed", "surface": "xmin"}],
        loads=[{"type": "force", "surface": "xmax", "force": [0.0, 62.5, -125.0]}],
    )
    other = load_case(
        name="twist",
        supports=[{"type": "fixed", "surface": "xmin"}],
        loads=[{"type": "force", "surface": "xmax", "force": [30.0, 10.0, -40.0]}],
    )
    prob = ElasticityProblem(
        bone,
        [cantilever(), scaled, other],
        options_prefix="reuse_sibling_",
        petsc_options={"ksp_rtol": RTOL},
    )
    assert len(prob.groups) == 1
    E0 = np.full(bone.num_cells_local, 1000.0)
    prob.set_modulus(E0)
    u_bend = prob.solve("bend").x.array.copy()
    u_lift = prob.solve("lift", guess_from=("bend", "lift", "missing")).x.array.copy()
    st = prob.last_stats("lift")
    assert st.iterations == 0
    assert st.initial_residual < RTOL
    scale = comm.allreduce(np.abs(u_lift).max(), op=MPI.MAX)
    err = comm.allreduce(np.abs(u_lift - 3.125 * u_bend).max(), op=MPI.MAX)
    assert err < 1e-7 * scale
    prob.solve("twist", guess_from=("bend", "lift"))
    with_sibling = prob.last_stats("twist")
    assert with_sibling.initial_residual < 0.9
    u_twist = prob.displacement("twist").x.array.copy()
    # a cold solve of the same case gives the same answer
    cold = ElasticityProblem(
        bone, [other], options_prefix="reuse_sibling_cold_", petsc_options={"ksp_rtol": RTOL}
    )
    cold.set_modulus(E0)
    u_cold = cold.solve("twist").x.array
    assert cold.last_stats("twist").initial_residual == pytest.approx(1.0)
    scale = comm.allreduce(np.abs(u_cold).max(), op=MPI.MAX)
    assert comm.allreduce(np.abs(u_twist - u_cold).max(), op=MPI.MAX) < 1e-6 * scale
    prob.destroy()
    cold.destroy()


@pytest.mark.parametrize("guess", ["previous", "extrapolate"])
def test_kept_preconditioner_refreshes_when_stale(comm, guess: str) -> None:
    prob, E0, _w = make(comm, guess, f"reuse_refresh_{guess}_", refresh_factor=1.2)
    prob.set_modulus(E0)
    prob.solve("bend")
    assert prob.last_stats("bend").pc_setup
    g = prob.groups[0]
    assert g.pc_setups == 1
    # A drastic change of the modulus pattern (contrast 1:100) spoils the kept multigrid:
    # either the solve fails with it (then it is rebuilt within the same solve) or it
    # converges slowly (then it is rebuilt at the next solve). Either way the answer is right.
    n = prob.bone.num_cells_local
    mid = dolfinx.mesh.compute_midpoints(prob.mesh, 3, np.arange(n, dtype=np.int32)).T
    E_new = np.where(np.sin(3.0 * mid[0]) * np.cos(3.0 * mid[2]) > 0, 1000.0, 10.0)
    prob.set_modulus(E_new)
    prob.solve("bend")
    st = prob.last_stats("bend")
    assert st.retried or g.pc_stale
    prob.solve("bend")
    assert g.pc_setups == 2
    u = prob.displacement("bend").x.array.copy()
    fresh, _, _ = make(comm, "zero", f"reuse_fresh_{guess}_")
    fresh.set_modulus(E_new)
    u_ref = fresh.solve("bend").x.array
    scale = comm.allreduce(np.abs(u_ref).max(), op=MPI.MAX)
    assert comm.allreduce(np.abs(u - u_ref).max(), op=MPI.MAX) < 1e-5 * scale
    prob.destroy()
    fresh.destroy()


def test_stats_record_phases(comm) -> None:
    prob, E0, _w = make(comm, "extrapolate", "reuse_stats_")
    prob.set_modulus(E0)
    prob.solve("bend")
    cold = prob.last_stats("bend")
    assert cold.pc_setup and cold.assemble_seconds > 0 and cold.setup_seconds > 0
    assert cold.solve_seconds > 0 and cold.initial_residual == pytest.approx(1.0, abs=1e-12)
    prob.solve("bend")  # same operator: no reassembly, converged guess
    again = prob.last_stats("bend")
    assert again.assemble_seconds == 0.0 and not again.pc_setup
    assert again.iterations <= 1
    prob.destroy()


def test_initial_guess_validation(comm) -> None:
    bone = box(comm, (2.0, 1.0, 1.0), (2, 1, 1))
    with pytest.raises(InputError, match="initial_guess"):
        ElasticityProblem(bone, [cantilever()], initial_guess="psychic")
    with pytest.raises(InputError, match="guess_history"):
        ElasticityProblem(bone, [cantilever()], guess_history=1)


@pytest.mark.serial
def test_projection_helpers() -> None:
    G = np.array([[2.0, 0.0], [0.0, 0.0]])
    c = projection_coefficients(G, np.array([4.0, 1.0]))
    assert c == pytest.approx([2.0, 0.0])  # the direction without energy is dropped
    assert projection_coefficients(np.zeros((1, 1)), np.ones(1)) == pytest.approx([0.0])
    # 10 iterations reducing by 1e-4 = 20 cold iterations to reach 1e-8
    assert cold_equivalent_iterations(10, 1e-4, 1.0, 1e-8) == pytest.approx(20.0)
    assert cold_equivalent_iterations(0, 1.0, 1.0, 1e-8) == 0.0
    assert cold_equivalent_iterations(5, 2.0, 1.0, 1e-8) == float("inf")


@pytest.mark.serial
def test_benchmark_scripts_smoke(tmp_path) -> None:
    """The benchmark scripts run end to end on a tiny mesh and write their JSON."""
    from benchmarks import bench_coupled, bench_mechanics, bench_streams, report
    from tests.helpers.cases import write_case

    out = tmp_path / "mech.json"
    bench_mechanics.main(
        [
            "--generator",
            "specimen",
            "--refine",
            "0.5",
            "--updates",
            "3",
            "--variant",
            "default",
            "--variant",
            "thr:pc_gamg_threshold=0.02",
            "--json",
            str(out),
        ]
    )
    data = json.loads(out.read_text())
    mesh = data["meshes"][0]
    assert mesh["dofs"] > 0 and mesh["bytes_per_dof"] > 0
    v = mesh["variants"][1]
    assert v["petsc_options"] == {"pc_gamg_threshold": 0.02}
    assert set(v["updates"]) == {"fresh", "previous", "extrapolate"}
    assert v["cold"]["iterations"] > 0
    case = write_case(tmp_path, duration=60.0, step=30.0, mesh_size=2.0)
    out2 = tmp_path / "coupled.json"
    bench_coupled.main(["--case", str(case), "--duration", "60", "--json", str(out2)])
    res = json.loads(out2.read_text())
    assert res["summary"]["steps"] == len(res["steps"]) >= 2
    assert res["summary"]["io"]["field_steps"] >= 1
    c3 = tmp_path / "c3.json"
    args = ["--case", str(case), "--duration", "60", "--rtol", "1e-10", "--no-output"]
    bench_coupled.main([*args, "--compare", str(out2), "--json", str(c3)])
    cmp = json.loads(c3.read_text())["comparison"]
    assert cmp["max_rel_diff"] < 1e-3
    streams = bench_streams.main(["--mb", "1", "--repeat", "2", "--json", str(tmp_path / "s.json")])
    best = streams["best_gb_s"]
    assert isinstance(best, float) and best > 0
    assert "Elasticity solver vs mesh size" in report.build()


def test_phase_times_use_the_clock_passed_in() -> None:
    """The clock is a constructor argument (no module global): one tick per clock call."""
    ticks = iter(range(1000))
    prob, E0, _ = make(MPI.COMM_WORLD, "extrapolate", "clock_", clock=lambda: float(next(ticks)))
    prob.set_modulus(E0)
    prob.solve("bend")
    st = prob.last_stats("bend")
    phases = (st.assemble_seconds, st.rhs_seconds, st.guess_seconds, st.setup_seconds)
    assert (*phases, st.solve_seconds) == (1.0, 1.0, 1.0, 1.0, 1.0)
    prob.solve("bend")  # operator current: no assembly time
    assert prob.last_stats("bend").assemble_seconds == 0.0
    prob.forget_solutions()
    prob.solve("bend")
    assert prob.last_stats("bend").initial_residual == pytest.approx(1.0)
    prob.destroy()
