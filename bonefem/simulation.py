"""The coupled time loop: elasticity ↔ bone cell biology ↔ density ↔ stiffness.

Each step of length Δt (≤ ``run.biology_step_days``, shortened to land exactly on output,
checkpoint and end times; therapy starts/stops and injections are milestones inside the
cell-model integrator):

1. local stimulus per cell: the daily strain energy density Ψ from the last elasticity
   solve, updated as load-controlled between solves, Ψ(f) = Ψ_solve · E_solve / E(f)
   (``coupling.local_update = "stress"``), relative to the homeostatic Ψ_ss of the cell;
2. advance the cell model (or the Huiskes law) in every cell with the systemic signals;
3. update bone volume fraction f, mineral content m → apparent density ρ = f·ρ_tissue(m)
   → Young's modulus E(ρ) by the region's law;
4. re-solve the elasticity problem when max |E/E_solve − 1| > ``coupling.modulus_tolerance``
   (adaptive coupling), re-using the operator and preconditioner -- checked after every
   cell-model substep, so a re-solve happens inside the step where the tolerance is
   crossed, and steps 1-3 continue with the new stimulus;
5. at output times: metrics row, ParaView fields; at checkpoint times: a checkpoint.

Ψ_ss is each cell's daily stimulus in the initial healthy state, so a healthy run is an
equilibrium (Scheiner et al. 2013, CMAME 254:181, Sect. 2.3). The daily stimulus combines
the habitual load cases by their cycles per day (Beaupré, Orr & Carter 1990,
J Orthop Res 8:651): Ψ = (Σ nᵢ ψᵢᵏ / Σ nᵢ)^(1/k).

MPI: every rank advances its own cells; the integrator's step-size control and the
coupling decision are reduced over ranks, so the sequence of steps, solves and outputs is
identical on any number of ranks.
"""

from __future__ import annotations

import logging
import math
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from bonefem._dolfinx import MPI
from bonefem.biology.calibrated import CALIBRATED, CalibratedConstants
from bonefem.biology.cells import BoneCellModel
from bonefem.biology.parameters import PIVONKA_2008, calibrated_parameters
from bonefem.biology.signals import ScenarioSignals, build_signals
from bonefem.config.case import Case
from bonefem.errors import BonefemError, InputError, SolverError
from bonefem.filtering import HelmholtzFilter
from bonefem.material import modulus_by_region
from bonefem.mechanics import ElasticityProblem
from bonefem.mesh.bonemesh import BoneMesh
from bonefem.metrics import MetricsEvaluator
from bonefem.remodeling import HuiskesRemodeling, apparent_density, daily_stimulus

if TYPE_CHECKING:
    from bonefem.output.run import RunOutput

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

#: Times closer than this (days) are the same time.
TIME_EPS = 1.0e-9


def check_case_against_mesh(case: Case, bone: BoneMesh, file: str | None = None) -> None:
    """Raise :class:`InputError` if the case names surfaces or regions the mesh lacks.

    Every surface of a load case must exist; every region of the mesh needs a material;
    material entries the case sets explicitly must name regions of the mesh.
    """
    bone.require_surfaces(sorted(case.surfaces()), file=file, field="load_cases")
    materials = case.material.regions
    if "regions" in case.material.model_fields_set:
        bone.require_regions(materials, file=file, field="material.regions")
    missing = [r for r in bone.region_names if r not in materials]
    if missing:
        raise InputError(
            f"the mesh has regions {', '.join(missing)} without material; add "
            f"[material.regions.{missing[0]}] (bvtv and modulus)",
            file=file,
            field="material.regions",
        )


def fe_constants() -> CalibratedConstants:
    """Calibrated constants for finite-element runs (the FE factor on the estrogen drive)."""
    c = CALIBRATED
    return replace(c, rankl_estrogen=c.rankl_estrogen * c.fe_rankl_estrogen_factor)


class Timers:
    """Wall time per phase (s), accumulated."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def add(self, phase: str, seconds: float) -> None:
        """Add ``seconds`` to ``phase``."""
        self.seconds[phase] = self.seconds.get(phase, 0.0) + seconds

    def timed(self, phase: str) -> _Timed:
        """Context manager timing a block."""
        return _Timed(self, phase)


class _Timed:
    def __init__(self, timers: Timers, phase: str) -> None:
        self.timers, self.phase = timers, phase

    def __enter__(self) -> None:
        self.t0 = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.timers.add(self.phase, time.perf_counter() - self.t0)


@dataclass
class LoopState:
    """Scalar state of the loop (saved in checkpoints)."""

    t: float = 0.0
    step: int = 0
    h_last: float | None = None
    mechanics_solves: int = 0
    ksp_iterations: int = 0
    next_metrics: int = 1
    next_fields: int = 1
    next_checkpoint: int = 1
    baseline: dict[str, float] = field(default_factory=dict)


class Simulation:
    """A coupled remodelling run of a :class:`~bonefem.config.case.Case` on a mesh.

    Args:
        case: the validated case.
        bone: the mesh (read from the run folder, so cell order = mesh file order).
        output: the run's output writers (run folder, CSV, fields, checkpoints), or None
            for a run without files (tests).
        case_file: path of the case file, for messages.
    """

    def __init__(
        self,
        case: Case,
        bone: BoneMesh,
        output: RunOutput | None = None,
        *,
        case_file: str | Path | None = None,
    ) -> None:
        self.case = case
        self.bone = bone
        self.comm = bone.comm
        self.output = output
        self.case_file = str(case_file) if case_file is not None else None
        self.timers = Timers()
        self.loop = LoopState()
        check_case_against_mesh(case, bone, self.case_file)

        n = bone.num_cells_local
        self.n = n
        names = bone.region_names
        materials = case.material.regions
        self.region_names = names
        self.region_index = bone.cell_region_index()[:n]
        if np.any(self.region_index < 0):
            raise InputError("every cell needs a region tag", file=bone.source, field="mesh")
        self.laws = [materials[name].modulus for name in names]
        f0 = np.array([materials[name].bvtv for name in names])[self.region_index]

        rc = case.remodeling
        params = (
            calibrated_parameters(CALIBRATED.mechano_lambda)
            if rc.parameters == "scheiner2013"
            else PIVONKA_2008
        )
        self.model = BoneCellModel(params, rtol_cells=rc.cell_rtol, rtol_bone=rc.bone_rtol)
        self.signals: ScenarioSignals = build_signals(case.biology, fe_constants())
        self.state: FloatArray = self.model.healthy_state(f0)
        self.f0 = self.state[3].copy()
        self.f_solved = self.f0.copy()
        self.huiskes = (
            HuiskesRemodeling(rc.huiskes.rate, rc.huiskes.lazy_zone)
            if rc.law == "huiskes"
            else None
        )

        with self.timers.timed("setup"):
            poisson = {name: materials[name].modulus.poisson_ratio for name in names}
            options: dict[str, Any] = {"ksp_rtol": case.solver.rtol}
            options.update(case.solver.petsc_options)
            self.mech = ElasticityProblem(
                bone,
                list(case.load_cases) + case.test_load_cases(),
                poisson_ratio=poisson,
                petsc_options=options,
                refresh_factor=case.solver.refresh_factor,
            )
        self.volumes = self.mech.cell_volumes
        self.habitual = [lc.name for lc in case.load_cases]
        self.cycles = np.array([lc.cycles_per_day for lc in case.load_cases])

        # homeostatic reference: the initial healthy state under habitual load
        self.E = self.modulus(self.state)
        self.rho0 = self.density(self.state)
        self.E_solved = self.E.copy()
        ell = case.coupling.stimulus_filter_mm
        self.filter = HelmholtzFilter(bone, ell) if ell > 0 else None
        self.psi_solved = self.solve_habitual()
        self.psi_ss = np.maximum(self.psi_solved, 1e-12 * self._global_max(self.psi_solved))
        self.ratio_solved = self.relative_stimulus(self.psi_solved)
        self.metrics = MetricsEvaluator(self)

    # ------------------------------------------------------------------ set-up
    def _global_max(self, values: FloatArray) -> float:
        local = float(values.max()) if values.size else -math.inf
        return float(self.comm.allreduce(local, op=MPI.MAX))

    def _reduce_max(self, value: float) -> float:
        return float(self.comm.allreduce(value, op=MPI.MAX))

    # ------------------------------------------------------------- constitutive
    def density(self, state: FloatArray) -> FloatArray:
        """Apparent density per owned cell (g/cm³)."""
        return apparent_density(state[3], state[4], self.model.remodeling.params)

    def modulus(self, state: FloatArray) -> FloatArray:
        """Young's modulus per owned cell (MPa)."""
        return self._modulus_of(state[3], state[4])

    def _modulus_of(self, f: FloatArray, m: FloatArray) -> FloatArray:
        """Young's modulus (MPa) of owned cells with bone volume fraction f and mineral m."""
        rho = apparent_density(f, m, self.model.remodeling.params)
        return modulus_by_region(rho, self.region_index, self.laws)

    def solve_habitual(self) -> FloatArray:
        """Solve the habitual load cases with the current E; return the daily Ψ (MPa)."""
        t, step = self.loop.t, self.loop.step
        with self.timers.timed("mechanics"):
            self.mech.set_modulus(self.E)
            seds = []
            for name in self.habitual:
                self.mech.solve(name, step=step, time=t)
                st = self.mech.last_stats(name)
                self.loop.ksp_iterations += st.iterations
                self.timers.add("mechanics.assemble", st.assemble_seconds)
                self.timers.add("mechanics.pc_setup", st.setup_seconds)
                self.timers.add("mechanics.solve", st.solve_seconds)
                t0 = time.perf_counter()
                seds.append(self.mech.strain_energy_density(name))
                self.timers.add("mechanics.stimulus", time.perf_counter() - t0)
        self.loop.mechanics_solves += 1
        self.E_solved = self.E.copy()
        self.f_solved = self.state[3].copy()
        return daily_stimulus(np.array(seds), self.cycles, self.case.coupling.stimulus_exponent)

    def relative_stimulus(self, psi: FloatArray) -> FloatArray:
        """Relative stimulus per cell at the last solve, filtered (dimensionless).

        Apparent: Ψ/Ψ_ss. Tissue: (Ψ/f)/(Ψ_ss/f₀), the strain energy density per unit
        bone volume relative to its homeostatic value.
        """
        ratio = psi / self.psi_ss
        if self.case.coupling.stimulus == "tissue":
            ratio = ratio * self.f0 / self.f_solved
        if self.filter is None:
            return ratio
        with self.timers.timed("stimulus filter"):
            return self.filter(ratio)

    def stimulus_ratio(self, m_now: FloatArray) -> Callable[[FloatArray], FloatArray]:
        """Ψ/Ψ_ss as a function of f (load-controlled update between solves).

        The habitual loads are scaled by the activity factor s(t) of the current step;
        with linear elasticity the strain energy density scales with s².
        """
        scale = self.case.load_scale(self.loop.t)
        base = scale**2 * self.ratio_solved
        tissue = self.case.coupling.stimulus == "tissue"
        if self.case.coupling.local_update == "none":
            return lambda f: base * self.f_solved / f if tissue else base
        params = self.model.remodeling.params

        def ratio(f: FloatArray) -> FloatArray:
            E = modulus_by_region(apparent_density(f, m_now, params), self.region_index, self.laws)
            r = base * self.E_solved / E
            return np.asarray(r * self.f_solved / f if tissue else r)

        return ratio

    # -------------------------------------------------------------------- step
    def _modulus_changed(self, state_f: FloatArray, state_m: FloatArray) -> float:
        """Largest |E/E_solved - 1| over all cells and ranks for given f, m (dimensionless)."""
        E = self._modulus_of(state_f, state_m)
        return self._reduce_max(float(np.max(np.abs(E / self.E_solved - 1.0), initial=0.0)))

    def advance(self, dt: float) -> None:
        """Advance biology and density by dt days, re-solving the mechanics when E has moved.

        Adaptive coupling: the habitual load cases are re-solved as soon as
        max |E/E_solved - 1| exceeds ``coupling.modulus_tolerance`` -- inside the step, at the
        cell-model substep where it happens (an event of the integrator), not only at the end
        of the step; the biology then continues with the new stimulus. With re-solves only
        at step ends, E could drift far past the tolerance inside a long step and the
        results depended on the step length (docs/performance.md, accuracy study).
        """
        t = self.loop.t
        t_end = t + dt
        tol = self.case.coupling.modulus_tolerance
        tissue = self.case.coupling.stimulus == "tissue"
        eps = 1e-9 * max(1.0, abs(t_end))
        while True:
            with self.timers.timed("biology"):
                stim = self.stimulus_ratio(self.state[4].copy())
                if self.huiskes is None:
                    res = self.model.advance(
                        self.state,
                        t,
                        t_end - t,
                        self.signals,
                        stim,
                        reduce_max=self._reduce_max,
                        h_init=self.loop.h_last,
                        stop=lambda f, m: self._modulus_changed(f, m) > tol,
                    )
                    self.state = res.state
                    self.loop.h_last = res.h_last
                    t = res.t_end if res.stopped else t_end
                else:
                    self.state = self.huiskes.advance(
                        self.state,
                        t_end - t,
                        # the Huiskes law works on the apparent SED (its S = Ψ/ρ is per mass)
                        lambda f: self.psi_ss * stim(f) * (f / self.f0 if tissue else 1.0),  # noqa: B023 (called now)
                        self.psi_ss / self.rho0,
                        self.model.remodeling.params,
                    )
                    t = t_end
            with self.timers.timed("density"):
                self.E = self.modulus(self.state)
                change = float(np.max(np.abs(self.E / self.E_solved - 1.0), initial=0.0))
            self.loop.t = t
            if self._reduce_max(change) > tol:
                self.psi_solved = self.solve_habitual()
                self.ratio_solved = self.relative_stimulus(self.psi_solved)
            if t >= t_end - eps:
                break
        self.loop.t = t_end
        self.loop.step += 1

    def derived(self) -> dict[str, FloatArray]:
        """Cell-model derived fields (RANKL, OPG, ... in pM) at the current time."""
        e = self.signals.effects(self.loop.t)
        f = self.state[3]
        return self.model.derived(self.state, e, self.stimulus_ratio(self.state[4])(f))

    # -------------------------------------------------------------------- run
    def schedule(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Metrics, field and checkpoint times (days), each including 0 and the end."""
        T = self.case.run.duration_days
        out = self.case.output

        def times(every: float) -> FloatArray:
            n = math.floor(T / every + TIME_EPS)
            ts = [k * every for k in range(n + 1)]
            if T - ts[-1] > TIME_EPS:
                ts.append(T)
            return np.array(ts)

        return (
            times(out.metrics_every_days),
            times(out.fields_every_days),
            times(out.checkpoint_every_days),
        )

    def run(self, progress: Any = None) -> dict[str, float]:
        """Run to the end; returns the last metrics row.

        Raises:
            SolverError: a solver failed; a checkpoint of the last good state was written.
        """
        T = self.case.run.duration_days
        t_metrics, t_fields, t_ckpt = self.schedule()
        lp = self.loop
        last: dict[str, float] = {}
        if lp.step == 0 and lp.t == 0.0:
            last = self._record(0, t_metrics, t_fields, initial=True)
        dt_max = self.case.run.biology_step_days
        good = self._snapshot()
        # Fault injection for the restart tests: SIGKILL this process before a given step.
        kill_at = int(os.environ.get("BONEFEM_TEST_KILL_AT_STEP", "0"))
        while lp.t < T - TIME_EPS:
            if kill_at and lp.step + 1 == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            stops = [T, lp.t + dt_max]
            for arr, idx in ((t_metrics, lp.next_metrics), (t_fields, lp.next_fields)):
                if idx < arr.size:
                    stops.append(float(arr[idx]))
            if lp.next_checkpoint < t_ckpt.size:
                stops.append(float(t_ckpt[lp.next_checkpoint]))
            stops += [c for c in self.case.activity_changes() if c > lp.t + TIME_EPS]
            t_next = min(s for s in stops if s > lp.t + TIME_EPS)
            try:
                self.advance(t_next - lp.t)
            except (SolverError, BonefemError) as exc:
                self._restore(good)
                self._fail(exc)
                raise
            lp.t = t_next  # land exactly on the schedule
            row = self._record(lp.step, t_metrics, t_fields)
            if row:
                last = row
            if lp.next_checkpoint < t_ckpt.size and abs(lp.t - t_ckpt[lp.next_checkpoint]) < 1e-6:
                lp.next_checkpoint += 1
                self.checkpoint()
            good = self._snapshot()
            if progress is not None:
                progress.update(lp.t, lp.step, row or None)
        return last

    def _record(
        self, step: int, t_metrics: FloatArray, t_fields: FloatArray, initial: bool = False
    ) -> dict[str, float]:
        lp = self.loop
        row: dict[str, float] = {}
        if initial or (
            lp.next_metrics < t_metrics.size and abs(lp.t - t_metrics[lp.next_metrics]) < 1e-6
        ):
            with self.timers.timed("metrics"):
                row = self.metrics.evaluate()
            if not initial:
                lp.next_metrics += 1
            if self.output is not None:
                with self.timers.timed("output"):
                    self.output.metrics_row(row)
        if initial or (
            lp.next_fields < t_fields.size and abs(lp.t - t_fields[lp.next_fields]) < 1e-6
        ):
            if not initial:
                lp.next_fields += 1
            if self.output is not None:
                with self.timers.timed("output"):
                    self.output.fields(self)
        return row

    # -------------------------------------------------------------- checkpoint
    def _snapshot(self) -> tuple[Any, ...]:
        lp = self.loop
        return (
            self.state.copy(),
            self.E.copy(),
            self.E_solved.copy(),
            self.psi_solved.copy(),
            self.ratio_solved.copy(),
            self.f_solved.copy(),
            LoopState(**{**lp.__dict__, "baseline": dict(lp.baseline)}),
        )

    def _restore(self, snap: tuple[Any, ...]) -> None:
        (
            self.state,
            self.E,
            self.E_solved,
            self.psi_solved,
            self.ratio_solved,
            self.f_solved,
            self.loop,
        ) = snap

    def checkpoint_fields(self) -> dict[str, FloatArray]:
        """Per-cell arrays a restart needs."""
        return {
            "state": self.state.T,
            "E_solved": self.E_solved,
            "psi_solved": self.psi_solved,
            "ratio_solved": self.ratio_solved,
            "f_solved": self.f_solved,
            "psi_ss": self.psi_ss,
            "rho0": self.rho0,
        }

    def checkpoint(self) -> Path | None:
        """Write a checkpoint of the current state (collective)."""
        if self.output is None:
            return None
        with self.timers.timed("checkpoint"):
            return self.output.checkpoint(self)

    def restore(self, meta: dict[str, Any], cells: dict[str, FloatArray]) -> None:
        """Resume from a checkpoint (``meta`` and per-cell arrays from the store)."""
        self.state = np.ascontiguousarray(cells["state"].T)
        self.E_solved = cells["E_solved"]
        self.psi_solved = cells["psi_solved"]
        self.ratio_solved = cells["ratio_solved"]
        self.f_solved = cells["f_solved"]
        self.psi_ss = cells["psi_ss"]
        self.rho0 = cells["rho0"]
        self.E = self.modulus(self.state)
        s = meta["state"]["loop"]
        self.loop = LoopState(**s)
        # the mechanics must see the modulus of the last solve (reproduces the stimulus)
        self.mech.set_modulus(self.E_solved)

    def _fail(self, exc: BaseException) -> None:
        """Save a checkpoint of the last good state and record the failure."""
        logger.error("run failed at step %d, t = %g days: %s", self.loop.step, self.loop.t, exc)
        if self.output is not None:
            try:
                self.checkpoint()
            finally:
                self.output.failed(self, exc)
