"""Virtual mechanical tests in metrics rows: apparent stiffness and failure load.

* ``apparent_stiffness`` (N/mm): reaction over prescribed displacement of the case's
  ``[metrics.stiffness_test]`` (a virtual platen test).
* ``failure_load`` (N) and ``fracture_risk_index`` (-) under ``[metrics.fracture]``'s
  load case (Pistoia et al. 2002 criterion: :mod:`bonefem.metrics.failure`); the yield
  strain of the materials times the systemic ``tissue_yield_factor`` at that time (bone
  quality, e.g. insulin resistance: :mod:`bonefem.biology.agents.metabolic`; 1 otherwise).
* ``tests_evaluated``: 1 in rows with the tests (``metrics.tests_every_days``), else 0;
  the test columns are NaN then.
* ``qct_fe_stiffness`` (N/mm) and ``qct_fe_failure_load`` (N), with ``metrics.qct_fe``: the
  same two tests with each cell's modulus from its mineral density alone
  (:meth:`bonefem.coupling.material.BoneMaterial.qct_modulus`), as a QCT-based FE study
  would compute them (Keyak et al. 1998, J Biomech 31:125; Schileo et al. 2008; the
  strength-density comparison of Keaveny et al. 2010, J Bone Miner Res 25:1886).

The tests solve on the run's elasticity problem: their operators (one per distinct set of
supports, shared with a habitual load case where the supports agree) are built once,
re-filled from E at each evaluated row (:mod:`bonefem.mechanics.assembly`), and keep their
KSP, preconditioner and past solutions between rows. Where a test shares its operator with
a habitual load case, that case's last solution joins the test's initial guess (exact in
the first row when the test's loads are a multiple of the habitual ones, as the vertebra's
lifting load is of its daily load). :attr:`VirtualTests.timers` holds the
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
from bonefem.state import FloatArray, RunView

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

    #: the columns of the stiffness, failure load and risk index (None: not written)
    columns: tuple[str, str, str | None] = (C.STIFFNESS, C.FAILURE_LOAD, C.RISK_INDEX)
    #: whether this object writes ``tests_evaluated``
    marks_rows = True

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
        #: the habitual load cases: their last solutions join a test's initial guess where
        #: they share its operator (the same supports; ElasticityProblem.solve, guess_from)
        self.habitual = tuple(lc.name for lc in case.load_cases)
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
        stiffness, failure, risk = self.columns
        # the columns exist in every row (NaN where the tests do not run): a stable header
        if self.stiffness is not None:
            row[stiffness] = float("nan")
        if self.fracture is not None:
            row[failure] = float("nan")
            if risk is not None:
                row[risk] = float("nan")
        if self.marks_rows:
            row[C.TESTS_EVALUATED] = 1.0 if run else 0.0
        if not run:
            return
        with self.timers.timed(PHASE):
            self._run_tests(view, row)

    def _solve(self, name: str, view: RunView) -> None:
        """Solve a test load case; add its phase times."""
        self.mech.solve(name, step=view.step, time=view.t, guess_from=self.habitual)
        st = self.mech.last_stats(name)
        for phase, seconds in (
            ("assemble", st.assemble_seconds),
            ("rhs", st.rhs_seconds),
            ("guess", st.guess_seconds),
            ("pc_setup", st.setup_seconds),
            ("solve", st.solve_seconds),
        ):
            self.timers.add(f"{PHASE}.{phase}", seconds)

    def modulus(self, view: RunView) -> FloatArray:
        """Young's modulus per owned cell (MPa) the tests use: the run's own."""
        return view.state.E

    def _run_tests(self, view: RunView, row: Row) -> None:
        stiffness, failure, risk = self.columns
        E = self.modulus(view)
        self.mech.set_modulus(E)
        if self.stiffness is not None:
            self._solve(self.stiffness.name, view)
            with self.timers.timed(f"{PHASE}.postprocess"):
                row[stiffness] = self.mech.apparent_stiffness(self.stiffness.name)
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
            row[failure] = est.failure_load
            if risk is not None:
                row[risk] = est.risk_index


class QCTFETests(VirtualTests):
    """The same tests with the QCT-FE convention's modulus (``metrics.qct_fe``).

    See the module docstring. They run in the same rows as the run's own tests, right after
    them, on the same operators (re-filled from the other modulus) and load cases.
    """

    columns = (C.QCT_STIFFNESS, C.QCT_FAILURE_LOAD, None)
    marks_rows = False

    def __init__(self, context: MetricContext) -> None:
        super().__init__(context)
        self.material = context.material
        self.ash_to_apparent = context.case.metrics.qct_ash_to_apparent

    def modulus(self, view: RunView) -> FloatArray:
        """E = a (ρ_min / r)^b per owned cell (MPa), r = ``metrics.qct_ash_to_apparent``."""
        return self.material.qct_modulus(view.mineral_density, self.ash_to_apparent)


def _qct_fe_tests(context: MetricContext) -> QCTFETests | None:
    # without a stiffness test or fracture load case it writes nothing (VirtualTests.due)
    return QCTFETests(context) if context.case.metrics.qct_fe else None


register_metric("virtual_tests", 30)(VirtualTests)
register_metric("qct_fe_tests", 31)(_qct_fe_tests)
