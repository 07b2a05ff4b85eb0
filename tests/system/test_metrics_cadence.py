"""Virtual mechanical tests at their own cadence (``metrics.tests_every_days``).

The tests run at t = 0, at the end and at the metrics rows on the tests' time grid; the
other rows have NaN test columns and ``tests_evaluated = 0``. Skipping the tests must not
change anything else in the run, and the rows must be the same on any number of ranks and
after a restart from a checkpoint.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bonefem._dolfinx import MPI
from bonefem.driver import run_case
from bonefem.metrics import TEST_KEYS
from bonefem.output.run_folder import read_metrics
from tests.helpers.cases import MENOPAUSE, write_case
from tests.helpers.cli import run_bonefem as _bonefem
from tests.helpers.cli import run_killed, run_main
from tests.helpers.compare import assert_columns_close

QUARTER = 91.3125
#: seven quarterly rows after t = 0: the end (639.1875 d) is not on the 2-quarter grid
DURATION = 7 * QUARTER
TEST_COLUMNS = (*TEST_KEYS, "apparent_stiffness_pct_change", "failure_load_pct_change")


def metrics_of(folder: Path) -> dict[str, np.ndarray]:
    rows = read_metrics(folder / "metrics.csv")
    return {k: np.array([float(r[k]) for r in rows]) for k in rows[0]}


def expected_test_rows(times: np.ndarray, every: float, end: float) -> np.ndarray:
    on_grid = np.isclose(np.round(times / every) * every, times, rtol=0, atol=1e-6)
    return on_grid | np.isclose(times, end, rtol=0, atol=1e-6)


def _write_half(folder: Path, name: str) -> Path:
    """The menopause case with the tests every second quarterly row."""
    return write_case(folder, name, duration=DURATION, biology=MENOPAUSE, tests_every=2 * QUARTER)


@pytest.fixture(scope="module")
def half_run(tmp_path_factory) -> Path:
    """The 1-rank run (in process) of the tests-every-two-rows case, shared by the serial
    tests (made only when asked for: under mpiexec each rank makes its own runs)."""
    base = tmp_path_factory.mktemp("half")
    return run_case(_write_half(base, "half"), output=base / "b", comm=MPI.COMM_SELF,
                    progress=False)  # fmt: skip


@pytest.mark.serial
def test_tests_every_two_rows_skip_only_the_test_columns(tmp_path: Path, half_run: Path) -> None:
    every = write_case(tmp_path, "every", duration=DURATION, biology=MENOPAUSE)
    a = metrics_of(run_case(every, output=tmp_path / "a", comm=MPI.COMM_SELF, progress=False))
    b = metrics_of(half_run)
    assert list(a) == list(b)  # same columns in the same order
    times = b["time_days"]
    np.testing.assert_array_equal(times, a["time_days"])
    assert times.size == 8 and times[-1] == pytest.approx(DURATION)
    tested = expected_test_rows(times, 2 * QUARTER, DURATION)
    assert tested.tolist() == [True, False, True, False, True, False, True, True]
    np.testing.assert_array_equal(b["tests_evaluated"], tested.astype(float))
    np.testing.assert_array_equal(a["tests_evaluated"], np.ones_like(times))
    for key in TEST_COLUMNS:
        assert np.all(np.isnan(b[key][~tested])), key
        assert np.all(np.isfinite(b[key][tested])), key
        assert np.all(np.isfinite(a[key])), key
    # where the tests run they give the values of the run testing every row. Each test solve
    # starts from its own past solutions, which differ between the runs, so in general
    # they agree to the tests' solver tolerance only (solver.test_rtol = 1e-6); the
    # stiffness, from the strain energy, to its square; the failure load (a strain
    # energy quantile, linear in the solver error) differs by ~1.5e-7 here
    np.testing.assert_allclose(
        b["apparent_stiffness"][tested], a["apparent_stiffness"][tested], rtol=1e-9, atol=0
    )
    for key in ("failure_load", "fracture_risk_index"):
        np.testing.assert_allclose(b[key][tested], a[key][tested], rtol=1e-6, atol=0, err_msg=key)
    # everything else (biology, density, BMD, signals, solver counters) is identical
    for key in a:
        if key in TEST_COLUMNS or key == "tests_evaluated":
            continue
        np.testing.assert_array_equal(b[key], a[key], err_msg=key)


@pytest.mark.slow
@pytest.mark.serial
def test_restart_on_two_ranks_gives_the_same_test_rows(tmp_path: Path) -> None:
    """Killed after the checkpoint at 3 quarters (a row without tests follows a row with
    them), restarted on 2 ranks: the same rows as the uninterrupted 1-rank run."""
    case = write_case(
        tmp_path,
        "restart",
        duration=DURATION,
        step=14.0,
        biology=MENOPAUSE,
        checkpoint_every=3 * QUARTER,
        tests_every=2 * QUARTER,
    )
    # the uninterrupted run in process (the restart below goes through the CLI)
    ref = metrics_of(run_case(case, output=tmp_path / "ref", comm=MPI.COMM_SELF, progress=False))
    # 7 steps a quarter (6 x 14 days + 7.3125): killed before step 37, after the rows at
    # 4 (with tests) and 5 quarters (without)
    run_killed(str(case), str(tmp_path / "b"), 37)
    killed = metrics_of(tmp_path / "b")
    assert killed["time_days"][-1] == pytest.approx(5 * QUARTER)  # rows after the checkpoint
    _bonefem(
        ["run", str(case), "--output", str(tmp_path / "b"), "--restart", "--no-progress"],
        nprocs=2,
    )
    got = metrics_of(tmp_path / "b")
    assert list(got) == list(ref)
    np.testing.assert_allclose(got["time_days"], ref["time_days"], rtol=0, atol=1e-9)
    np.testing.assert_array_equal(got["tests_evaluated"], ref["tests_evaluated"])
    assert ref["tests_evaluated"].tolist() == [1, 0, 1, 0, 1, 0, 1, 1]
    assert_columns_close(got, ref, ("bmd_vol_mean", "abmd", "bvtv_mean", *TEST_COLUMNS))


@pytest.mark.mpi
def test_test_rows_agree_on_one_and_two_ranks(
    mpi_tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A 1-rank run (on rank 0) against a 2-rank run: under ``mpiexec -n 2`` the run on all
    ranks in this process; in the serial suite ``mpiexec -n 2 bonefem run`` in a
    subprocess (so both suites compare 1 with 2 ranks, never 1 with 1), against the
    module's 1-rank run of the same case."""
    comm = MPI.COMM_WORLD
    case = mpi_tmp_path / "ranks.toml"
    if comm.rank == 0:
        _write_half(mpi_tmp_path, "ranks")
        if comm.size == 1:
            serial = request.getfixturevalue("half_run")
        else:
            serial = run_case(case, output=mpi_tmp_path / "serial", comm=MPI.COMM_SELF,
                              progress=False)  # fmt: skip
    comm.Barrier()
    parallel = mpi_tmp_path / "parallel"
    if comm.size == 1:
        _bonefem(["run", str(case), "--output", str(parallel), "--no-progress"], nprocs=2)
        manifest = json.loads((parallel / "manifest.json").read_text())
        assert [session["ranks"] for session in manifest["sessions"]] == [2]
    else:
        assert comm.size == 2
        run_case(case, output=parallel, comm=comm, progress=False)
    if comm.rank != 0:
        return
    one, many = metrics_of(serial), metrics_of(parallel)
    assert list(one) == list(many)
    np.testing.assert_array_equal(many["tests_evaluated"], one["tests_evaluated"])
    assert one["tests_evaluated"].tolist() == [1, 0, 1, 0, 1, 0, 1, 1]
    # every column but the iteration count (the preconditioner depends on the partition)
    assert_columns_close(many, one, [k for k in one if k != "ksp_iterations"])


def test_a_restart_may_change_the_test_interval(tmp_path: Path) -> None:
    from bonefem.config.case import case_to_toml_dict, load_case
    from bonefem.config.restart import comparable

    def resolved(folder: str, **kw) -> dict:
        (tmp_path / folder).mkdir()
        return comparable(case_to_toml_dict(load_case(write_case(tmp_path / folder, **kw))))

    base = resolved("base")
    assert resolved("a", tests_every=365.25, duration=1461.0, metrics_every=182.625) == base
    assert resolved("b", biology=MENOPAUSE) != base


def test_a_finished_run_extended_by_a_restart_writes_rows_to_its_new_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two quarters, then a restart of the finished run with 3.5 quarters and monthly rows:
    the rows of the new grid after the checkpoint, up to the new end (the checkpoint's
    output indices counted on the old grid: no row was written after the restart)."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = write_case(tmp_path / "a", "extend", duration=2 * QUARTER, step=14.0,
                       checkpoint_every=QUARTER)  # fmt: skip
    run_case(first, output=tmp_path / "run", comm=MPI.COMM_SELF, progress=False)
    longer = write_case(tmp_path / "b", "extend", duration=3.5 * QUARTER, step=14.0,
                        checkpoint_every=QUARTER, metrics_every=QUARTER / 3)  # fmt: skip
    code, _, err = run_main(
        ["-q", "run", str(longer), "--output", str(tmp_path / "run"), "--restart", "--no-progress"],
        capsys,
    )
    assert code == 0, err
    times = metrics_of(tmp_path / "run")["time_days"]
    month = QUARTER / 3
    expected = [0.0, QUARTER, 2 * QUARTER, *(k * month for k in range(7, 11)), 3.5 * QUARTER]
    np.testing.assert_allclose(times, expected, rtol=0, atol=1e-6)
