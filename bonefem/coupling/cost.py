"""A rough estimate of a coupled run's wall time, before it starts (``bonefem check``).

Cluster users must ask for a time limit; the estimate is built from two measured
quantities (docs/performance.md):

* one cold elasticity solve (assembly, GAMG set-up, CG from zero; P1 tetrahedra,
  rtol 1e-8) on one rank grows as a power of the displacement unknowns N fitted to the
  femur table "Elasticity solver vs mesh size": t = 1.01 s · (N / 26,988)^1.105 (27k:
  1.01 s; 127k: 5.6 against 6.06 measured; 1.0M: 54.9 against 54.6; 2.1M: 125 against
  123), and about 1/ranks^0.95 of it on several ranks (1.0M dofs: 28.6 s on 2);
* the mechanics of a run cost a number of such cold solves: a set-up (mesh, output and
  checkpoints included) of about ``SETUP_COLD``, the habitual re-solves about
  ``COLD_PER_YEAR`` per simulated year and about ``COLD_PER_TEST_ROW`` per metrics row
  with virtual tests (two test solves from a projected guess with a kept preconditioner);
* the cell model costs about ``BIOLOGY_SECONDS_PER_CELL_YEAR`` per cell and simulated year
  on each rank's cells.

The constants are those of issue 15's second round (docs/performance.md): the quick start
(10 years, 38k cells, 1 rank) 24.5 s with `cold_solve_s` 1.05 s, biology 6.5 s, virtual
tests 9.3 s over 41 rows (0.22 cold solves a row), habitual mechanics 3.8 s (0.36 cold
solves a year); the 27k-dof femur (10 years, 2 ranks) biology 1.7-3.0e-5 s per cell-year,
tests 0.24 cold solves a row; the 1.0M-dof femur (10 years, 2 ranks, a loaded machine)
24.3 cold solves, tests 0.19 a row, habitual mechanics 0.25 a year, biology 10 cold
solves. Measured against estimated: the quick start 24.5 s against 31 s; the QCT phantom
case 9.7 s against 6.0 s; the first year of the 1.0M-dof femur on 2 ranks 271 s against
189 s (before this round: the model's constants fitted it); the 10-year 1.0M-dof run 24.3
cold solves against 29.

Issue 15's fourth round (the virtual tests to ``solver.test_rtol``, energy-form stiffness)
made a test row cheaper: 0.115 cold solves a row on the quick start, 0.145 on the 27k-dof
femur, 0.09 on the 1.0M-dof femur (idle machine), so ``COLD_PER_TEST_ROW`` is 0.12 (was
0.22). Hexahedral meshes re-assemble through DOLFINx or the voxel operator's blocked
insertion in every test row: the QCT phantom case (2.4k hexahedra) 0.42 cold solves a row,
``COLD_PER_TEST_ROW_HEX`` = 0.45. Measured against estimated then: the quick start 23.2 s
CPU against 27 s (21.6 cold solves against 28); the 10-year 1.0M-dof femur on 2 ranks 660 s
(idle machine; 20.6 cold solves of 32 s) against 640 s (25 of 26 s); the QCT phantom 8.3 s
against 8.9 s.

It is a factor-of-2 estimate: the cell model's cost depends on the scenario, hexahedral
micro-FE meshes need more CG iterations (about 5x, docs/performance.md "Micro-FE"), and
shared machines vary.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["RunCostEstimate", "estimate_run", "rows_with_tests"]

#: Cold solve on one rank: t = COLD_REFERENCE_S (N / COLD_REFERENCE_DOFS)^COLD_EXPONENT
#: (s; the femur at refine 1 and the fit through refine 4.5, docs/performance.md).
COLD_REFERENCE_S = 1.01
COLD_REFERENCE_DOFS = 26_988.0
COLD_EXPONENT = 1.105
#: Strong-scaling exponent of a cold solve over ranks (2 ranks: 1.9x at 1.0M dofs).
PARALLEL_EXPONENT = 0.95
#: Mechanics in cold solves: set-up, habitual re-solves per simulated year, per metrics
#: row with virtual tests.
SETUP_COLD = 4.0
COLD_PER_YEAR = 0.3
COLD_PER_TEST_ROW = 0.12
COLD_PER_TEST_ROW_HEX = 0.45
#: Cell model: seconds per cell and simulated year (on one rank's cells; 1.7e-5 to
#: 3.2e-5 measured on the bundled cases, more on big meshes, whose state exceeds the
#: caches).
BIOLOGY_SECONDS_PER_CELL_YEAR = 4.0e-5

YEAR_DAYS = 365.25


@dataclass(frozen=True)
class RunCostEstimate:
    """Estimated cost of a run.

    Attributes:
        cold_solve_s: one cold solve of the mesh on the given ranks (s).
        cold_solves: the run's whole cost in cold solves (-), biology included.
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
    dofs: float,
    cells: float,
    ranks: int,
    duration_days: float,
    test_rows: int,
    *,
    tests: bool = True,
    hexahedral: bool = False,
) -> RunCostEstimate:
    """Estimate a coupled run's wall time (module doc).

    Args:
        dofs: displacement unknowns of the mesh (3 per node for P1).
        cells: cells of the mesh.
        ranks: MPI ranks of the run (>= 1).
        duration_days: simulated time (days).
        test_rows: metrics rows with virtual tests (:func:`rows_with_tests`).
        tests: whether the case has virtual tests at all.
        hexahedral: a hexahedral mesh (the tests' re-assembly costs more, module doc).
    """
    ranks = max(int(ranks), 1)
    size = max(float(dofs), 1.0) / COLD_REFERENCE_DOFS
    cold = COLD_REFERENCE_S * size**COLD_EXPONENT / ranks**PARALLEL_EXPONENT
    years = duration_days / YEAR_DAYS
    n = SETUP_COLD + COLD_PER_YEAR * years
    if tests:
        n += (COLD_PER_TEST_ROW_HEX if hexahedral else COLD_PER_TEST_ROW) * test_rows
    seconds = cold * n + BIOLOGY_SECONDS_PER_CELL_YEAR * cells / ranks * years
    return RunCostEstimate(cold, seconds / cold, seconds, ranks)
