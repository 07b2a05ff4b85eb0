"""Convergence of the coupled loop (issue 18): halve the outer step and tighten the
modulus tolerance and the cell-model tolerances together.

Level k: biology step 28/2^k days, modulus tolerance 0.04/2^k, cell_rtol 0.03/2^k,
bone_rtol 3e-4/2^k; the small trabecular cube one year into menopause.

* ROS2 (the cell model's integrator until December 2026), k = 0..4: the results converge
  at first order. The orders come from the differences of consecutive levels d_k = |Q_k -
  Q_{k+1}| (no reference needed): log2(d_k / d_{k+1}) -> p; with p = 1 the error of level k
  is about 2 d_k (Richardson). Measured: d_k of BV/TV 9.2e-4, 4.7e-4, 2.6e-4, ... (relative);
  aBMD, stiffness and failure load alike.
* ROS34PW2 (the default): every level is within 2.5e-4 of the finest (k = 4): measured
  1.2e-4 (BV/TV), 1.0e-4 (aBMD), 1.8e-4 (stiffness, failure load) at k = 0, 4.1e-5 /
  3.5e-5 / 6.0e-5 at k = 1, where ROS2 is 1.9e-3 / 1.4e-3 / 2.7e-3 off at k = 0. So the
  first-order error above was the ROS2 integrator's (its BV/TV error is first order in
  these simultaneous refinements), not the coupling's lagged stimulus: with an accurate
  cell model the loop's own error at 28-day steps and a 4 % modulus tolerance is below
  2e-4 here (docs/performance.md, "Issue 15, seventh round"). It was below 1e-4 (2.9e-5 /
  9.4e-5 / 8.5e-5) while the disuse term was a step: its slope of 1e5 pM/day pinned the
  cube's under-stimulated cells at their set point; graded (December 2026) they follow the
  lagged stimulus.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from bonefem._dolfinx import MPI
from bonefem.driver import run_case
from bonefem.output.run_folder import read_metrics
from tests.helpers.cases import MENOPAUSE, write_case

LEVELS = 5
QUANTITIES = ("bvtv_mean", "abmd", "apparent_stiffness", "failure_load")
YEAR = 365.25


def _level(folder: Path, k: int, integrator: str = "ros2") -> dict[str, float]:
    h = 28.0 / 2**k
    case = write_case(folder, f"level{k}", duration=YEAR, step=h, biology=MENOPAUSE,
                      metrics_every=YEAR, fields_every=YEAR, checkpoint_every=YEAR)  # fmt: skip
    overrides = [
        f"coupling.modulus_tolerance={0.04 / 2**k}",
        f"remodeling.cell_rtol={0.03 / 2**k}",
        f"remodeling.bone_rtol={3e-4 / 2**k}",
        f'remodeling.integrator="{integrator}"',
    ]
    out = run_case(case, output=folder / f"run{integrator}{k}", progress=False,
                   comm=MPI.COMM_SELF, overrides=overrides)  # fmt: skip
    row = read_metrics(out / "metrics.csv")[-1]
    return {q: float(row[q]) for q in (*QUANTITIES, "mechanics_solves")}


@pytest.mark.serial
def test_coupled_loop_converges_at_first_order(tmp_path: Path) -> None:
    runs = [_level(tmp_path, k) for k in range(LEVELS)]
    # the finer levels really do more work (re-solves roughly double per level)
    solves = [r["mechanics_solves"] for r in runs]
    assert np.all(np.diff(solves) > 0), solves
    for q in QUANTITIES:
        values = np.array([r[q] for r in runs])
        d = np.abs(np.diff(values)) / abs(values[-1])
        assert np.all(d[1:] < d[:-1]), (q, d)  # every refinement moves the result less
        orders = np.log2(d[:-1] / d[1:])
        assert 0.7 < float(np.mean(orders)) < 1.5, (q, orders)  # first order
        # Richardson: the error of level 1 (14-day steps, tolerance 0.02, about the
        # defaults) is about 2 d_1; within issue 15's accuracy target of 0.5 %
        assert 2.0 * d[1] < 5e-3, (q, d)
        # the coarsest level is measurably off (the test could fail: not all equal)
        assert d[0] > 1e-5, (q, d)
    assert math.isfinite(runs[-1]["apparent_stiffness"])


@pytest.mark.serial
def test_coupled_loop_with_ros34pw2_is_converged_at_the_coarsest_level(tmp_path: Path) -> None:
    runs = {k: _level(tmp_path, k, "ros34pw2") for k in (0, 1, 4)}
    for q in QUANTITIES:
        finest = runs[4][q]
        for k in (0, 1):
            assert abs(runs[k][q] / finest - 1.0) < 2.5e-4, (q, k, runs[k][q], finest)
    # the same coarsest level with ROS2 is measurably off (the test could fail)
    ros2 = _level(tmp_path, 0, "ros2")
    assert abs(ros2["bvtv_mean"] / runs[4]["bvtv_mean"] - 1.0) > 1e-3
