"""The run-time estimate of ``bonefem check`` (bonefem/coupling/cost.py, issue 16).

The model must reproduce, within its stated factor of 2, the measurements it was built
from (docs/performance.md, issue 15's second round): the quick-start vertebra (25,980
dofs, 1 rank, 10 years, 41 quarterly rows with tests: 24.5 s, 23 cold solves), the femur
at 1.0M dofs (cold solve 54.6 s on 1 rank, 28.6 s on 2), its first menopause year on 2
ranks (271 s, issue 19) and its ten years in cold solves (24.3, a loaded machine), and the
bundled QCT case (voxel mesh, 9,282 dofs, 1 rank, 10 years: 9.7 s, cold solve 0.21 s).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bonefem.coupling.cost import estimate_run, rows_with_tests


def within_2x(estimate: float, measured: float) -> bool:
    return 0.5 <= estimate / measured <= 2.0


def test_rows_with_tests_count_the_rows_at_t0_and_every_interval() -> None:
    assert rows_with_tests(3652.5, 91.3125, None) == 41
    assert rows_with_tests(3652.5, 91.3125, 365.25) == 11
    assert rows_with_tests(100.0, 365.25, None) == 1


def test_cold_solve_time_matches_the_femur_table() -> None:
    one = estimate_run(1_004_316, 1_812_018, 1, 365.25, 5).cold_solve_s
    two = estimate_run(1_004_316, 1_812_018, 2, 365.25, 5).cold_solve_s
    assert one == pytest.approx(54.6, rel=0.1)
    assert two == pytest.approx(28.6, rel=0.1)


def test_runs_within_a_factor_two_of_their_measurements() -> None:
    quick = estimate_run(25_980, 38_220, 1, 3652.5, rows_with_tests(3652.5, 91.3125, None))
    assert within_2x(quick.seconds, 23.2) and within_2x(quick.cold_solves, 21.6)
    femur = estimate_run(1_004_316, 1_812_018, 2, 365.25, rows_with_tests(365.25, 91.3125, None))
    assert within_2x(femur.seconds, 271.0)
    ten = estimate_run(922_587, 1_654_864, 2, 3652.5, rows_with_tests(3652.5, 91.3125, None))
    assert within_2x(ten.seconds, 660.0) and within_2x(ten.cold_solves, 20.6)
    qct = estimate_run(
        9_282, 2_448, 1, 3652.5, rows_with_tests(3652.5, 91.3125, None), hexahedral=True
    )
    assert within_2x(qct.seconds, 8.3) and within_2x(qct.cold_solve_s, 0.27)
    assert qct.seconds > estimate_run(9_282, 2_448, 1, 3652.5, 41).seconds
    # more ranks, less time; fewer test rows, less time; no tests, less time
    base = estimate_run(1e6, 2e6, 2, 3652.5, 41).seconds
    assert estimate_run(1e6, 2e6, 8, 3652.5, 41).seconds < base
    assert estimate_run(1e6, 2e6, 2, 3652.5, 11).seconds < base
    assert estimate_run(1e6, 2e6, 2, 3652.5, 41, tests=False).seconds < base
    assert "rank(s)" in quick.describe()


@pytest.mark.serial
def test_check_prints_the_run_time_estimate(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from bonefem.cli import main
    from tests.helpers.cases import write_case

    case = write_case(tmp_path, "small")
    assert main(["check", "--no-mesh", "--ranks", "4", str(case)]) == 0
    err = capsys.readouterr().err
    assert "run-time estimate: about" in err and "on 4 rank(s)" in err
    assert main(["check", str(case)]) == 0  # built mesh: its real unknowns
    assert "run-time estimate: about" in capsys.readouterr().err
    assert main(["-q", "check", "--no-mesh", "--ranks", "0", str(case)]) == 2
    assert "--ranks" in capsys.readouterr().err
