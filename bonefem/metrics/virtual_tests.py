"""Virtual mechanical tests in metrics rows: apparent stiffness and failure load.

* ``apparent_stiffness`` (N/mm): reaction over prescribed displacement of the case's
  ``[metrics.stiffness_test]`` (a virtual platen test).
* ``failure_load`` (N) and ``fracture_risk_index`` (-) under ``[metrics.fracture]``'s
  load case (Pistoia et al. 2002 criterion: :mod:`bonefem.metrics.failure`); the yield
  strain of the materials times the systemic ``tissue_yield_factor`` at that time (bone
  quality, e.g. insulin resistance: :mod:`bonefem.biology.agents.metabolic`; 1 otherwise).
* ``tests_evaluated``: 1 in rows with the tests (``metrics.tests_every_days``), else 0;
  the test columns are NaN then.

The tests solve on the run's elasticity problem: their operators (one per distinct set of
supports, shared with a habitual load case where the supports agree) are built once,
re-filled from E at each evaluated row (:mod:`bonefem.mechanics.assembly`), and keep their
KSP, preconditioner and past solutions between rows. :attr:`VirtualTests.timers` holds the
seconds per phase (``virtual_tests.assemble``, ``.rhs``, ``.guess``, ``.pc_setup``,
``.solve``, ``.postprocess`` and the total ``virtual_tests``), reported in the manifest.
"""

from __future__ import annotations

import numpy as np

from bonefem.config.loading import Force
from bonefem.coupling.timers import Timers
from bonefem.metrics import columns as C
from bonefem.metrics.evaluator import MetricContext, Row, register_metric
from bonefem.metrics.failure import failure_estimate
from bonefem.state import RunView

#: name of the virtual tests' phase in the run's timers (sub-phases ``PHASE.assemble`` ...)
PHASE = "virtual_tests"


def virtual_tests_due(
    t: float, *, tests_every: float | None, metrics_every: float, end: float, tol: float = 1e-6
) -> bool:
    """Whether the virtual tests run in the metrics row at time ``t`` (days).

    A function of time only (the same on every rank and after a restart): always at t = 0
    and at the end of the run (``end``, days); otherwise at the metrics rows whose time is a
    multiple of ``tests_every`` (None: at every row). ``tests_every`` is a multiple of
    ``metrics_every`` (checked when the case is read); the row index t / metrics_every is
    compared, so that times accumulated in floating point still match.
    """
    if tests_every is None or t <= tol or abs(t - end) <= tol:
        return True
    rows = t / metrics_every
    index = round(rows)
    if abs(rows - index) * metrics_every > tol:
        return False  # off the regular metrics grid (only the end row can be: see above)
    ratio = max(round(tests_every / metrics_every), 1)
    return index % ratio == 0


class VirtualTests:
    """The stiffness test and the fracture load case of the case (module docstring)."""

    def __init__(self, context: MetricContext) -> None:
        case = context.case
        self.mech = context.mechanics
        self.comm = context.bone.comm
        self.stiffness = case.metrics.stiffness_test
        self.fracture = case.metrics.fracture
        self.yield_strain = context.material.yield_strain()
        self.applied = 0.0  # magnitude of the fracture load case's resultant force (N)
        if self.fracture is not None:
            forces = [ld.force for ld in self.fracture.load_case.loads if isinstance(ld, Force)]
            self.applied = float(np.linalg.norm(np.sum(forces, axis=0)))
        self.tests_every = case.metrics.tests_every_days
        self.metrics_every = case.output.metrics_every_days
        self.end = case.run.duration_days
        #: seconds per phase of the tests (module docstring), the problem's clock
        self.timers = Timers(self.mech.clock)

    def due(self, t: float) -> bool:
        """Whether the tests run in the row at time t (days)."""
        configured = self.stiffness is not None or self.fracture is not None
        return configured and virtual_tests_due(
            t, tests_every=self.tests_every, metrics_every=self.metrics_every, end=self.end
        )

    def evaluate(self, view: RunView, row: Row) -> None:
        """Add the test columns (NaN where not due) and ``tests_evaluated``."""
        run = self.due(view.t)
        # the columns exist in every row (NaN where the tests do not run): a stable header
        if self.stiffness is not None:
            row[C.STIFFNESS] = float("nan")
        if self.fracture is not None:
            row[C.FAILURE_LOAD] = float("nan")
            row[C.RISK_INDEX] = float("nan")
        row[C.TESTS_EVALUATED] = 1.0 if run else 0.0
        if not run:
            return
        with self.timers.timed(PHASE):
            self._run_tests(view, row)

    def _solve(self, name: str, view: RunView) -> None:
        """Solve a test load case; add its phase times."""
        self.mech.solve(name, step=view.step, time=view.t)
        st = self.mech.last_stats(name)
        for phase, seconds in (
            ("assemble", st.assemble_seconds),
            ("rhs", st.rhs_seconds),
            ("guess", st.guess_seconds),
            ("pc_setup", st.setup_seconds),
            ("solve", st.solve_seconds),
        ):
            self.timers.add(f"{PHASE}.{phase}", seconds)

    def _run_tests(self, view: RunView, row: Row) -> None:
        E = view.state.E
        self.mech.set_modulus(E)
        if self.stiffness is not None:
            self._solve(self.stiffness.name, view)
            with self.timers.timed(f"{PHASE}.postprocess"):
                row[C.STIFFNESS] = self.mech.apparent_stiffness(self.stiffness.name)
        if self.fracture is not None:
            lc = self.fracture.load_case
            self._solve(lc.name, view)
            with self.timers.timed(f"{PHASE}.postprocess"):
                est = failure_estimate(
                    self.comm,
                    self.mech.strain_energy_density(lc.name),
                    E,
                    self.yield_strain * view.signals.get("tissue_yield_factor", 1.0),
                    view.state.f * view.geometry.volumes,
                    self.applied,
                    self.fracture.critical_fraction,
                )
            row[C.FAILURE_LOAD] = est.failure_load
            row[C.RISK_INDEX] = est.risk_index


register_metric("virtual_tests", 30)(VirtualTests)
