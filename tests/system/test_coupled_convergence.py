"""Convergence of the coupled loop (issue 18): halve the outer step and tighten the
modulus tolerance and the cell-model tolerances together; the results converge at first
order (the loop's lagged stimulus between elasticity solves, docs/performance.md).

Level k: biology step 28/2^k days, modulus tolerance 0.04/2^k, cell_rtol 0.03/2^k,
bone_rtol 3e-4/2^k; k = 0..4, the small trabecular cube one year into menopause. The
orders come from the differences of consecutive levels d_k = |Q_k - Q_{k+1}| (no reference
needed): log2(d_k / d_{k+1}) -> p. With p = 1 the error of level k is about d_k / (1 - 2^-p)
= 2 d_k (Richardson). Measured: d_k of BV/TV 6.0e-5, 2.7e-5, 1.5e-5, 7.5e-6 (orders
1.17, 0.82, 1.0); stiffness and failure load alike.
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


def _level(folder: Path, k: int) -> dict[str, float]:
    h = 28.0 / 2**k
    case = write_case(folder, f"level{k}", duration=YEAR, step=h, biology=MENOPAUSE,
                      metrics_every=YEAR, fields_every=YEAR, checkpoint_every=YEAR)  # fmt: skip
    overrides = [
        f"coupling.modulus_tolerance={0.04 / 2**k}",
        f"remodeling.cell_rtol={0.03 / 2**k}",
        f"remodeling.bone_rtol={3e-4 / 2**k}",
    ]
    out = run_case(case, output=folder / f"run{k}", progress=False, comm=MPI.COMM_SELF,
                   overrides=overrides)  # fmt: skip
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
