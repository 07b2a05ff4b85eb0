"""The manifest records the first cold solve of the habitual load next to the wall time.

``cold_solve_s`` (operator assembly + preconditioner set-up + solve from a zero guess, the
slowest rank), ``run_cost_cold_solves`` (the run's total time in cold solves) and the
virtual tests' phase times (``virtual_tests.*`` in ``wall_time_per_phase_s``), serially
and on 2 ranks; a restart keeps the entry (its own first habitual solve, if any, is cold
too and replaces it at the end).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers.cases import write_case

pytestmark = pytest.mark.mpi

PHASES = ("assemble", "rhs", "guess", "pc_setup", "solve", "postprocess")


def _shared_tmp(tmp_path: Path) -> Path:
    """One folder for all ranks (rank 0's pytest tmp_path)."""
    from mpi4py import MPI

    return Path(MPI.COMM_WORLD.bcast(str(tmp_path), root=0))


def _manifest(folder: Path) -> dict:
    from mpi4py import MPI

    MPI.COMM_WORLD.Barrier()
    return json.loads((folder / "manifest.json").read_text())


def test_manifest_has_the_cold_solve_and_test_phases(tmp_path: Path) -> None:
    from mpi4py import MPI

    from bonefem.driver import run_case

    tmp = _shared_tmp(tmp_path)
    case = tmp / "tiny.toml"
    if MPI.COMM_WORLD.rank == 0:
        write_case(tmp, duration=182.625)
    MPI.COMM_WORLD.Barrier()
    folder = run_case(case, output=tmp / "run", progress=False)
    m = _manifest(folder)
    cold = m["cold_solve_s"]
    assert 0.0 < cold < m["wall_time_s"]
    phases = m["wall_time_per_phase_s"]
    assert 0.0 < cold < phases["total"]
    assert m["run_cost_cold_solves"] == pytest.approx(phases["total"] / cold, rel=1e-12)
    assert m["run_cost_cold_solves"] > 1.0
    # the same in CPU time: a cold solve costs CPU, and the session at least that
    assert m["cold_solve_cpu_s"] > 0.0 and m["run_cost_cold_solves_cpu"] > 1.0
    tests = phases["virtual_tests"]
    assert 0.0 < tests <= phases["metrics"]
    parts = [phases[f"virtual_tests.{p}"] for p in PHASES]
    assert all(p >= 0.0 for p in parts)
    assert phases["virtual_tests.pc_setup"] > 0.0  # the tests' first row sets up their PCs
    # each phase is its maximum over the ranks: on one rank the parts sum to at most the
    # total; on N ranks the sum of the maxima is bounded by the sum of the ranks' totals
    size = MPI.COMM_WORLD.size
    assert sum(parts) <= tests * (1 + 1e-9) + 1e-6 if size == 1 else sum(parts) <= size * tests


@pytest.mark.serial
def test_restart_keeps_the_cold_solve(tmp_path: Path) -> None:
    from bonefem.driver import run_case

    case = write_case(tmp_path, duration=365.25, checkpoint_every=182.625)
    folder = run_case(case, output=tmp_path / "run", progress=False)
    first = json.loads((folder / "manifest.json").read_text())["cold_solve_s"]
    # restart from the newest checkpoint (the end): no habitual solve in this session
    run_case(case, output=folder, restart=True, progress=False)
    m = json.loads((folder / "manifest.json").read_text())
    assert m["cold_solve_s"] > 0.0 and first > 0.0
    assert len(m["sessions"]) == 2
