"""The coupled time loop: elasticity ↔ remodelling law ↔ density ↔ stiffness.

Each step of length Δt (:mod:`bonefem.coupling.schedule`):

1. the mechanical drive of every cell from the last elasticity solve, updated between
   solves by the stimulus model (:mod:`bonefem.coupling.stimulus`);
2. advance the remodelling law (:mod:`bonefem.remodeling`) with the systemic signals;
3. bone volume fraction f and mineral content m → apparent density → Young's modulus E;
4. re-solve the habitual load cases as soon as max |E/E_solve − 1| exceeds
   ``coupling.modulus_tolerance`` -- an event of the law's integrator, checked after every
   substep, so the re-solve happens inside the step where the tolerance is crossed and
   steps 1-3 go on with the new stimulus (with re-solves only at step ends, E could drift
   far past the tolerance inside a long step: docs/performance.md, accuracy study);
5. at output times: a metrics row, ParaView fields; at checkpoint times: a checkpoint.

Ψ_ss is each cell's daily stimulus in the initial healthy state, so a healthy run is an
equilibrium (Scheiner et al. 2013, CMAME 254:181, Sect. 2.3).

MPI: every rank advances its own cells; the integrator's step-size control and the
coupling decision are reduced over ranks, so the sequence of steps, solves and outputs is
identical on any number of ranks. The loop knows no files and no case-file strings: it
runs a :class:`~bonefem.build.CoupledModel`; the clock and a step hook (fault injection
in tests) are passed in.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt

from bonefem._dolfinx import MPI
from bonefem.coupling.schedule import ON_SCHEDULE
from bonefem.coupling.stop import RunStopped
from bonefem.coupling.timers import Timers
from bonefem.errors import BonefemError, OutputWriteError, SolverError
from bonefem.metrics import columns as C
from bonefem.metrics.evaluator import Row, add_percent_changes
from bonefem.state import LoopState, RunState, RunView

if TYPE_CHECKING:
    from bonefem.build import CoupledModel
    from bonefem.output.run import RunOutput

logger = logging.getLogger(__name__)


def max_on_every_rank(comm: MPI.Intracomm, value: float) -> float:
    """The largest ``value`` of all ranks (collective); a NaN on any rank gives +inf on all.

    The loop takes its decisions (accept a substep, re-solve the mechanics) on this maximum.
    MPI's MAX on Python floats compares with ``>`` and drops a NaN that is not on rank 0
    (measured: NaN on rank 1 and 1.0 on rank 0 give 1.0 on both): a NaN modulus change
    would be noticed or not depending on the rank that holds it, and the run would go on
    with a non-finite field on one rank until a rank-local check failed there alone. +inf
    exceeds every tolerance on every rank alike.
    """
    return float(comm.allreduce(math.inf if math.isnan(value) else value, op=MPI.MAX))


FloatArray = npt.NDArray[np.float64]


class ProgressSink(Protocol):
    """Receives the progress of a run (the progress bar)."""

    def update(self, t: float, step: int, metrics: Row | None = None) -> None:
        """Time (days), completed steps and the latest metrics row."""
        ...


@dataclass(frozen=True)
class RunHooks:
    """What a caller may inject into the loop.

    Attributes:
        clock: clock of the phase timers (s).
        before_step: called with the number of the step about to run (1, 2, ...); tests
            use it to kill a run at a given step.
        stop_requested: asked at every safe point (between steps) on every rank; returns a
            signal number (0: go on). If any rank asks, all ranks write a checkpoint, the
            manifest says "stopped" and :class:`~bonefem.coupling.stop.RunStopped` is
            raised (:class:`~bonefem.coupling.stop.SignalStop` provides it).
    """

    clock: Callable[[], float] = time.perf_counter
    before_step: Callable[[int], None] | None = None
    stop_requested: Callable[[], int] | None = None


class CoupledRun:
    """A coupled remodelling run of a :class:`~bonefem.build.CoupledModel`.

    Args:
        model: the coupled model (built once from the case by :func:`bonefem.build.build`).
        output: the run's writers, or None for a run without files (tests).
        hooks: clock and step hook.
        state: the state to continue from (a restart), or None to start from the
            homeostatic state, which costs one solve of the habitual load cases.
    """

    def __init__(
        self,
        model: CoupledModel,
        output: RunOutput | None = None,
        hooks: RunHooks | None = None,
        state: RunState | None = None,
    ) -> None:
        self.model = model
        self.output = output
        self.hooks = hooks or RunHooks()
        self.timers = Timers(self.hooks.clock)
        self.comm = model.bone.comm
        if state is None:
            self.state = self._homeostatic_state()
        else:
            self.state = state
            # the mechanics must see the modulus of the last solve (reproduces the stimulus)
            model.mechanics.set_modulus(state.E_solved)
            self._resume_schedule()

    # ------------------------------------------------------------------ set-up
    def _resume_schedule(self) -> None:
        """The next output of each kind on this run's grids: the first time after t.

        A restart may change the duration and the output intervals
        (:data:`bonefem.config.restart.RESTART_MAY_CHANGE`); the checkpoint's indices count on the
        old grids (e.g. a finished run extended by a restart had no row at its new end).
        Outputs at t itself were written before the checkpoint. Unchanged grids give the
        checkpoint's indices back.
        """
        sched, lp = self.model.schedule, self.state.loop
        after = lp.t + ON_SCHEDULE
        lp.next_metrics = int(np.searchsorted(sched.metrics, after, side="right"))
        lp.next_fields = int(np.searchsorted(sched.fields, after, side="right"))
        lp.next_checkpoint = int(np.searchsorted(sched.checkpoints, after, side="right"))

    def _homeostatic_state(self) -> RunState:
        """The initial healthy state under habitual load (one solve): Ψ_ss per cell."""
        m = self.model
        cells = m.law.initial_state(m.f0)
        E = m.material.modulus(cells[3], cells[4])
        zeros = np.zeros_like(E)
        s = RunState(
            cells=cells,
            E=E,
            E_solved=E.copy(),
            psi_solved=zeros,
            ratio_solved=zeros,
            f_solved=cells[3].copy(),
            psi_ss=zeros,
            rho0=m.material.density(cells[3], cells[4]),
        )
        s.psi_solved = self.solve_habitual(s)
        s.psi_ss = np.maximum(s.psi_solved, 1e-12 * self._global_max(s.psi_solved))
        carried = m.law.initial_ratio(m.f0)
        if carried is not None:  # cohort history: the first solve sees the history's Ψ/Ψ_ss
            per_unit = m.stimulus.definition.at_solve(np.ones_like(carried), m.f0, cells[3])
            s.psi_ss = s.psi_ss * per_unit / carried
        s.ratio_solved = self._relative_stimulus(s)
        return s

    def _global_max(self, values: FloatArray) -> float:
        return max_on_every_rank(self.comm, float(values.max()) if values.size else -math.inf)

    def _reduce_max(self, value: float) -> float:
        return max_on_every_rank(self.comm, value)

    # -------------------------------------------------------------- mechanics
    def solve_habitual(self, s: RunState) -> FloatArray:
        """Solve the habitual load cases with the current E; return the daily Ψ (MPa)."""
        mech, timers, lp = self.model.mechanics, self.timers, s.loop
        with timers.timed("mechanics"):
            mech.set_modulus(s.E)
            seds = []
            for name in self.model.habitual:
                mech.solve(name, step=lp.step, time=lp.t)
                st = mech.last_stats(name)
                lp.ksp_iterations += st.iterations
                timers.add("mechanics.assemble", st.assemble_seconds)
                timers.add("mechanics.pc_setup", st.setup_seconds)
                timers.add("mechanics.solve", st.solve_seconds)
                with timers.timed("mechanics.stimulus"):
                    seds.append(mech.strain_energy_density(name))
        lp.mechanics_solves += 1
        s.E_solved = s.E.copy()
        s.f_solved = s.cells[3].copy()
        return self.model.stimulus.daily(np.array(seds))

    def _relative_stimulus(self, s: RunState) -> FloatArray:
        with self.timers.timed("stimulus filter"):
            return self.model.stimulus.at_solve(s)

    def _resolve(self) -> None:
        s = self.state
        s.psi_solved = self.solve_habitual(s)
        s.ratio_solved = self._relative_stimulus(s)

    # -------------------------------------------------------------------- step
    def _modulus_changed(self, f: FloatArray, m: FloatArray) -> float:
        """Largest |E/E_solved - 1| over all cells and ranks for given f, m (-)."""
        E = self.model.material.modulus(f, m)
        change = float(np.max(np.abs(E / self.state.E_solved - 1.0), initial=0.0))
        return self._reduce_max(change)

    def advance(self, dt: float) -> None:
        """Advance biology and density by dt days, re-solving when E has moved (module doc)."""
        s, model = self.state, self.model
        t = s.loop.t
        t_end = t + dt
        tol = model.schedule.modulus_tolerance
        eps = 1e-9 * max(1.0, abs(t_end))
        while True:
            with self.timers.timed("biology"):
                drive = model.stimulus.drive(s, model.schedule.load_scale(s.loop.t))
                step = model.law.advance(
                    s.cells,
                    t,
                    t_end,
                    drive,
                    reduce_max=self._reduce_max,
                    h_init=s.loop.h_next,
                    stop=lambda f, m: self._modulus_changed(f, m) > tol,
                )
                s.cells = step.cells
                if step.h_next is not None:
                    s.loop.h_next = step.h_next
                t = step.t_end
            with self.timers.timed("density"):
                s.E = model.material.modulus(s.cells[3], s.cells[4])
                change = float(np.max(np.abs(s.E / s.E_solved - 1.0), initial=0.0))
            s.loop.t = t
            if self._reduce_max(change) > tol:
                self._resolve()
            if t >= t_end - eps:
                break
        s.loop.t = t_end
        s.loop.step += 1

    # -------------------------------------------------------------------- view
    def view(self) -> RunView:
        """A read-only picture of the run now, for metrics and output."""
        s, model = self.state, self.model
        t = s.loop.t
        scale = model.schedule.load_scale(t)
        f, m = s.cells[3], s.cells[4]
        ratio = model.stimulus.ratio_function(s, scale, m)(f)
        habitual = model.habitual[0]
        return RunView(
            t=t,
            step=s.loop.step,
            state=s,
            geometry=model.geometry,
            density=model.material.density(f, m),
            mineral_density=model.material.mineral_density(f, m),
            stimulus=ratio,
            sed=model.stimulus.sed(s, scale),
            signals=model.signals.values(t),
            derived=functools.cache(lambda: model.law.derived(s.cells, t, ratio)),
            displacement=lambda: model.mechanics.displacement(habitual),
            turnover=functools.cache(lambda: model.law.turnover(s.cells, t)),
        )

    # -------------------------------------------------------------------- run
    def run(self, progress: ProgressSink | None = None) -> Row:
        """Run to the end; returns the last metrics row.

        Raises:
            SolverError: a solver failed; a checkpoint of the last good state was written.
            OutputWriteError: a file could not be written (full disk); the manifest says
                "failed" if it could still be written.
            RunStopped: a stop signal arrived (checkpoint written, manifest "stopped").
        """
        try:
            return self._run(progress)
        except OutputWriteError as exc:
            self._output_failed(exc)
            raise

    def _run(self, progress: ProgressSink | None) -> Row:
        sched = self.model.schedule
        lp = self.state.loop
        last: Row = {}
        if lp.step == 0 and lp.t == 0.0:
            last = self._record(initial=True)
        good = self.state.snapshot()
        while self.state.loop.t < sched.duration - 1e-9:
            lp = self.state.loop
            if self.hooks.before_step is not None:
                self.hooks.before_step(lp.step + 1)
            self._stop_if_requested()
            t_next = sched.next_stop(lp.t, lp.next_metrics, lp.next_fields, lp.next_checkpoint)
            try:
                self.advance(t_next - lp.t)
            except (SolverError, BonefemError) as exc:
                self.state = good
                self._fail(exc)
                raise
            lp.t = t_next  # land exactly on the schedule
            row = self._record()
            last = row or last
            if sched.due(sched.checkpoints, lp.next_checkpoint, lp.t):
                lp.next_checkpoint += 1
                self.checkpoint()
            good = self.state.snapshot()
            if progress is not None:
                progress.update(lp.t, lp.step, row or None)
        return last

    def metrics_row(self, view: RunView | None = None) -> Row:
        """The metrics row now (percent changes from the run's first row).

        Args:
            view: the view of the run now, if the caller has it (else it is made here).
        """
        with self.timers.timed("metrics"):
            raw = self.model.metrics.evaluate(view or self.view())
        lp = self.state.loop
        if not lp.baseline:
            lp.baseline = {k: float(v) for k, v in raw.items()}
        row = add_percent_changes(raw, lp.baseline)
        anchor = self.model.t_score_anchor
        if anchor is not None and C.ABMD in raw:
            # the T-score at t = 0 is the case's; later ones follow this run's own aBMD
            ratio, mean_over_sd = anchor
            row[C.T_SCORE] = (ratio * raw[C.ABMD] / lp.baseline[C.ABMD] - 1.0) * mean_over_sd
        return row

    def _record(self, initial: bool = False) -> Row:
        sched, lp = self.model.schedule, self.state.loop
        metrics_due = initial or sched.due(sched.metrics, lp.next_metrics, lp.t)
        fields_due = initial or sched.due(sched.fields, lp.next_fields, lp.t)
        # one view for both (the virtual tests of the metrics change no field of it)
        view = self.view() if metrics_due or fields_due else None
        row: Row = {}
        if metrics_due:
            row = self.metrics_row(view)
            if not initial:
                lp.next_metrics += 1
            if self.output is not None:
                with self.timers.timed("output"):
                    self.output.metrics_row(row)
        if fields_due:
            if not initial:
                lp.next_fields += 1
            if self.output is not None and view is not None:
                with self.timers.timed("output"):
                    self.output.fields(view, self.model.fields)
        return row

    # -------------------------------------------------------------- checkpoint
    def checkpoint(self) -> Path | None:
        """Write a checkpoint of the current state (collective)."""
        if self.output is None:
            return None
        with self.timers.timed("checkpoint"):
            return self.output.checkpoint(self.state, self.timers.seconds)

    @property
    def loop(self) -> LoopState:
        """The loop scalars (time, step, counters)."""
        return self.state.loop

    def _stop_if_requested(self) -> None:
        """A safe point: if a stop signal reached any rank, checkpoint and stop (collective)."""
        if self.hooks.stop_requested is None:
            return
        signum = int(self.comm.allreduce(int(self.hooks.stop_requested()), op=MPI.MAX))
        if not signum:
            return
        lp = self.state.loop
        logger.warning("stopping at step %d, t = %g days (signal %d)", lp.step, lp.t, signum)
        path = self.checkpoint()
        if self.output is not None:
            self.output.stopped(lp, self.timers.seconds, signum)
        raise RunStopped(signum, None if path is None else path.name)

    def _output_failed(self, exc: OutputWriteError) -> None:
        """A write failed on some rank (all ranks know): record "failed" if still possible."""
        lp = self.state.loop
        logger.error("run stopped at step %d, t = %g days: %s", lp.step, lp.t, exc)
        if self.output is None:
            return
        try:
            self.output.failed(lp, self.timers.seconds, exc)
        except OutputWriteError as again:
            logger.error("the manifest could not record the failure either: %s", again)

    def _fail(self, exc: BaseException) -> None:
        """Save a checkpoint of the last good state and record the failure."""
        lp = self.state.loop
        logger.error("run failed at step %d, t = %g days: %s", lp.step, lp.t, exc)
        if self.output is not None:
            try:
                self.checkpoint()
            finally:
                self.output.failed(lp, self.timers.seconds, exc)
