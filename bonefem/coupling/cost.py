"""A rough estimate of a coupled run's wall time, before it starts (``bonefem check``).

Cluster users must ask for a time limit; the estimate is built from two measured
quantities (docs/performance.md):

* one cold elasticity solve (assembly, GAMG set-up, CG from zero; P1 tetrahedra,
  rtol 1e-8) costs about ``COLD_SECONDS_PER_DOF`` seconds per displacement unknown on one
  rank (femur, 27k to 2.1M dofs: 3.7e-5 to 5.8e-5 s/dof; the table "Elasticity solver vs
  mesh size"), and about 1/ranks^0.95 of it on several ranks (1.0M dofs: 54.6 s on 1
  rank, 28.6 s on 2);
* a run costs a number of such cold solves (``run_cost_cold_solves`` in every manifest):
  a set-up of about ``SETUP_COLD``, the biology and the habitual re-solves about
  ``COLD_PER_YEAR`` per simulated year, and about ``COLD_PER_TEST_ROW`` per metrics row with
  virtual tests (the quick-start vertebra, 10 years, 41 rows: 77 measured, 65 by this
  model).

It is a factor-of-2 estimate: the cell model's cost depends on the scenario (every
re-solve restarts a stiff transient), hexahedral micro-FE meshes need more CG iterations
(about 5x, docs/performance.md "Micro-FE"), and shared machines vary.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["RunCostEstimate", "estimate_run", "rows_with_tests"]

#: Cold solve time per displacement unknown on one rank (s; docs/performance.md).
COLD_SECONDS_PER_DOF = 5.5e-5
#: Fixed part of a cold solve (s): Python and PETSc object set-up on small meshes.
COLD_OVERHEAD_S = 0.3
#: Strong-scaling exponent of a cold solve over ranks (2 ranks: 1.9x at 1.0M dofs).
PARALLEL_EXPONENT = 0.95
#: Run cost in cold solves: set-up, per simulated year, per metrics row with tests.
SETUP_COLD = 5.0
COLD_PER_YEAR = 3.5
COLD_PER_TEST_ROW = 0.6

YEAR_DAYS = 365.25


@dataclass(frozen=True)
class RunCostEstimate:
    """Estimated cost of a run.

    Attributes:
        cold_solve_s: one cold solve of the mesh on the given ranks (s).
        cold_solves: the run's cost in cold solves (-).
        seconds: estimated wall time (s).
        ranks: MPI ranks the estimate is for.
    """

    cold_solve_s: float
    cold_solves: float
    seconds: float
    ranks: int

    def describe(self) -> str:
        """One line for the log."""
        return (
            f"about {_duration(self.seconds)} on {self.ranks} rank(s) (rough, x2): "
            f"{self.cold_solves:.0f} cold solves of {self.cold_solve_s:.2g} s"
        )


def _duration(seconds: float) -> str:
    if seconds < 120.0:
        return f"{seconds:.0f} s"
    if seconds < 2.0 * 3600.0:
        return f"{seconds / 60.0:.0f} min"
    return f"{seconds / 3600.0:.1f} h"


def rows_with_tests(
    duration_days: float, metrics_every_days: float, tests_every_days: float | None
) -> int:
    """Metrics rows that run the virtual tests (t = 0 included; days in, count out)."""
    every = tests_every_days if tests_every_days is not None else metrics_every_days
    if not math.isfinite(every) or every <= 0.0:
        return 1
    return math.floor(duration_days / every + 1e-9) + 1


def estimate_run(
    dofs: float, ranks: int, duration_days: float, test_rows: int, *, tests: bool = True
) -> RunCostEstimate:
    """Estimate a coupled run's wall time (module doc).

    Args:
        dofs: displacement unknowns of the mesh (3 per node for P1).
        ranks: MPI ranks of the run (>= 1).
        duration_days: simulated time (days).
        test_rows: metrics rows with virtual tests (:func:`rows_with_tests`).
        tests: whether the case has virtual tests at all.
    """
    ranks = max(int(ranks), 1)
    cold = COLD_OVERHEAD_S + COLD_SECONDS_PER_DOF * dofs / ranks**PARALLEL_EXPONENT
    n = SETUP_COLD + COLD_PER_YEAR * duration_days / YEAR_DAYS
    if tests:
        n += COLD_PER_TEST_ROW * test_rows
    return RunCostEstimate(cold, n, cold * n, ranks)
