"""Run information in metrics rows: systemic signal levels and solver counters.

* ``signal_<name>``: the hormone and drug levels of the scenario at the row's time (units
  in the names, see :mod:`bonefem.biology.signals`).
* ``mechanics_solves``, ``ksp_iterations``: habitual elasticity solves and their Krylov
  iterations so far.
"""

from __future__ import annotations

from bonefem.metrics import columns as C
from bonefem.metrics.evaluator import Row, register_metric
from bonefem.state import RunView


class SignalLevels:
    """``signal_*`` columns."""

    def evaluate(self, view: RunView, row: Row) -> None:
        """Add the signal levels at the view's time."""
        for key, value in view.signals.items():
            row[C.SIGNAL_PREFIX + key] = float(value)


class SolverCounters:
    """``mechanics_solves`` and ``ksp_iterations``."""

    def evaluate(self, view: RunView, row: Row) -> None:
        """Add the counters."""
        row[C.MECHANICS_SOLVES] = view.state.loop.mechanics_solves
        row[C.KSP_ITERATIONS] = view.state.loop.ksp_iterations


register_metric("signals", 40)(lambda context: SignalLevels())
register_metric("counters", 50)(lambda context: SolverCounters())
