"""Memory estimate per rank before a run, its check by the run, the refusal above a limit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bonefem.coupling.memory import (
    estimate_memory,
    format_bytes,
    parse_bytes,
    suggested_ranks,
)
from tests.conftest import ROOT, mpiexec
from tests.helpers.cases import write_case
from tests.helpers.cli import run_main

#: the estimate holds the measured peak of a small run within this factor (either way)
FACTOR = 1.5


def test_parse_bytes_reads_decimal_and_binary_units() -> None:
    assert parse_bytes("4GB") == 4e9
    assert parse_bytes("500 MB") == 5e8
    assert parse_bytes("2GiB") == 2 * 2**30
    assert parse_bytes("1.5e9") == 1.5e9
    for bad in ("", "4 GX", "-1GB", "0", "lots"):
        with pytest.raises(ValueError, match="memory"):
            parse_bytes(bad)


def test_estimate_per_rank_falls_with_the_ranks_and_the_limit_suggests_ranks() -> None:
    one = estimate_memory(1.0e6, 1.8e6, 1, operators=2, load_cases=3)
    two = estimate_memory(1.0e6, 1.8e6, 2, operators=2, load_cases=3)
    lean = estimate_memory(1.0e6, 1.8e6, 2, operators=2, load_cases=3, galerkin_product="allatonce")
    assert lean.per_rank < 0.6 * one.per_rank < two.per_rank < one.per_rank
    assert set(one.phases) >= {"baseline", "mesh", "operators", "preconditioners", "cell state"}
    need = suggested_ranks(2e9, lambda n: estimate_memory(1.0e6, 1.8e6, n, operators=2))
    assert need is not None and need > 1
    assert estimate_memory(1.0e6, 1.8e6, need, operators=2).per_rank <= 2e9
    assert estimate_memory(1.0e6, 1.8e6, need - 1, operators=2).per_rank > 2e9
    assert suggested_ranks(1e6, lambda n: estimate_memory(1e6, 1e6, n)) is None  # < baseline
    assert format_bytes(2.5e9) == "2.50 GB" and format_bytes(3e8) == "300 MB"


def _bonefem(nprocs: int, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PMI_RANK", "PMI_SIZE")}
    cmd = [mpiexec(), "-n", str(nprocs), sys.executable, "-m", "bonefem.cli", "-q", *args]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def _exit_and_stderr(
    nprocs: int, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str]:
    """Exit code and stderr of ``bonefem -q ARGS``: on 1 rank in this process (the refusal
    comes from the estimate, before any mesh or solver), on more under mpiexec."""
    if nprocs > 1:
        proc = _bonefem(nprocs, *args)
        return proc.returncode, proc.stderr
    code, _, err = run_main(["-q", *args], capsys)
    return code, err


@pytest.mark.serial
@pytest.mark.parametrize("nprocs", [1, 2])
def test_check_and_run_refuse_above_the_memory_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], nprocs: int
) -> None:
    case = write_case(tmp_path, "small", duration=14.0)
    for command in (["check", str(case)], ["run", str(case), "-o", str(tmp_path / "run")]):
        code, err = _exit_and_stderr(nprocs, capsys, *command, "--max-memory-per-rank", "100MB")
        assert code == 2, err
        err = err.strip()
        assert "Traceback" not in err and len(err.splitlines()) == 1, err
        assert "--max-memory-per-rank" in err and "100 MB" in err
        assert f"per rank on {nprocs} rank(s)" in err
        assert "no rank count fits" in err  # 100 MB is below the baseline of a rank
    assert not (tmp_path / "run" / "manifest.json").exists()
    code, err = _exit_and_stderr(
        nprocs, capsys, "check", str(case), "--max-memory-per-rank", "lots"
    )
    assert code == 2 and "not an amount of memory" in err


@pytest.mark.serial
@pytest.mark.parametrize("nprocs", [1, 2])
def test_a_run_records_its_peak_within_the_factor_of_its_estimate(
    tmp_path: Path, nprocs: int
) -> None:
    case = write_case(tmp_path, "small", duration=14.0)
    proc = _bonefem(nprocs, "run", str(case), "-o", str(tmp_path / "run"), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    memory = json.loads((tmp_path / "run" / "manifest.json").read_text())["memory"]
    est = memory["estimate"]
    assert est["ranks"] == nprocs and len(memory["peak_rss_per_rank_bytes"]) == nprocs
    assert memory["peak_rss_max_rank_bytes"] == max(memory["peak_rss_per_rank_bytes"])
    ratio = memory["peak_rss_max_rank_bytes"] / est["per_rank_bytes"]
    assert memory["measured_over_estimate"] == pytest.approx(ratio, abs=1e-3)
    assert 1.0 / FACTOR <= ratio <= FACTOR, memory


@pytest.mark.mpi
def test_allatonce_galerkin_products_give_the_same_solve() -> None:
    """``solver.galerkin_product = "allatonce"``: same iterations and solution; the PETSc
    option is set on several ranks only, and removed again for the default."""
    import numpy as np

    from bonefem._dolfinx import MPI, PETSc
    from bonefem.mechanics import ElasticityProblem
    from bonefem.mesh import box
    from tests.helpers.loadcase import load_case

    comm = MPI.COMM_WORLD
    bone = box(comm, (10.0, 4.0, 4.0), (20, 8, 8))
    lc = load_case(
        name="pull",
        supports=[
            {"type": "fixed", "surface": "xmin"},
            {"type": "displacement", "surface": "xmax", "value": 0.1, "component": "x"},
        ],
    )
    results = {}
    for product in ("allatonce", "scalable"):
        prob = ElasticityProblem(bone, [lc], galerkin_product=product, options_prefix=product)
        prob.set_modulus(1000.0)
        u = prob.solve("pull")
        opts = PETSc.Options()
        set_here = opts.getString("matptap_via") if opts.hasName("matptap_via") else None
        results[product] = (prob.last_stats("pull").iterations, u.x.array.copy(), set_here)
        prob.destroy()
    its_a, u_a, opt_a = results["allatonce"]
    its_s, u_s, opt_s = results["scalable"]
    assert its_a == its_s
    assert np.allclose(u_a, u_s, rtol=1e-6, atol=1e-9)
    assert opt_a == ("allatonce" if comm.size > 1 else None) and opt_s is None
    with pytest.raises(ValueError, match="galerkin_product"):
        ElasticityProblem(bone, [lc], galerkin_product="fast")
