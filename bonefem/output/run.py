"""The writers of one run: metrics CSV, ParaView fields, checkpoints, manifest.

:class:`RunOutput` is what the coupled loop (:mod:`bonefem.coupling.loop`) calls at
output and checkpoint times; it knows the run folder layout (see
:mod:`bonefem.output.run_folder`) but no physics: values come from a read-only
:class:`~bonefem.state.RunView`, the field registry (:mod:`bonefem.output.fields`) and
the :class:`~bonefem.state.RunState` of a checkpoint.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bonefem._version import __version__
from bonefem.errors import OutputWriteError
from bonefem.output.checkpoint import CheckpointStore
from bonefem.output.collective import CollectiveWriteError, collective_write
from bonefem.output.fields import BY_NAME
from bonefem.output.run_folder import Manifest, MetricsLog, read_metrics
from bonefem.output.vtk import ParaViewSeries
from bonefem.state import LoopState, RunState, RunView

if TYPE_CHECKING:
    from bonefem.mesh.bonemesh import BoneMesh


class RunOutput:
    """Files of a run in ``folder`` (collective where the writers are).

    Args:
        folder: the run folder (exists).
        comm: communicator.
        restart_time: time (days) of the checkpoint a restart resumes from; later rows and
            field steps are dropped. None for a new run.
        field_precision: ``"float64"`` or ``"float32"`` field arrays (``output.field_precision``).
        field_files: ``"per_rank"`` or ``"single"`` (``output.field_files``).
    """

    def __init__(
        self,
        folder: Path,
        comm: Any,
        restart_time: float | None = None,
        field_precision: str = "float64",
        field_files: str = "per_rank",
    ) -> None:
        self.folder = Path(folder)
        self.field_precision = field_precision
        self.field_files = field_files
        self.comm = comm
        self.restart_time = restart_time
        self.log: MetricsLog | None = None
        self.series: ParaViewSeries | None = None
        self.store: CheckpointStore | None = None
        self.manifest = Manifest.load(self.folder) if comm.rank == 0 else None
        self.t_start = time.time()

    def _io[T](self, what: Path, fn: Callable[[], T]) -> T:
        """Run the write ``fn`` on this rank; share its failure with every rank.

        An OSError (or MPI-IO error) on any rank becomes an :class:`OutputWriteError`
        on every rank (collective), naming the path and the reason.
        """
        try:
            return collective_write(self.comm, what, fn)
        except CollectiveWriteError as exc:
            raise OutputWriteError(
                f"cannot write the run's output ({exc.reason}); the run stopped. Free space "
                "(or fix the file system), then resume with --restart",
                file=exc.path,
            ) from None

    # ------------------------------------------------------------------ setup
    def attach(self, bone: BoneMesh) -> None:
        """Create the field series and checkpoint store for a run on ``bone``."""
        n = bone.num_cells_local
        original = bone.mesh.topology.original_cell_index[:n]
        self.store = CheckpointStore(
            self.folder / "checkpoints", self.comm, original, bone.num_cells_global
        )
        self.series = ParaViewSeries(
            bone,
            self.folder,
            "fields",
            restart_time=self.restart_time,
            precision=self.field_precision,
            files=self.field_files,
        )
        if self.comm.rank == 0 and self.restart_time is not None:
            path = self.folder / "metrics.csv"
            if path.exists():
                with open(path, encoding="utf-8") as fh:
                    header = fh.readline().strip().split(",")
                self.log = MetricsLog(self.folder, header, restart_time=self.restart_time)

    # ---------------------------------------------------------------- outputs
    def metrics_row(self, row: dict[str, float]) -> None:
        """Append a row to metrics.csv (rank 0)."""

        def write() -> None:
            if self.comm.rank != 0:
                return
            if self.log is None:
                self.log = MetricsLog(self.folder, list(row))
            self.log.append(row)

        self._io(self.folder / "metrics.csv", write)

    def fields(self, view: RunView, names: Sequence[str]) -> None:
        """Write the ParaView fields ``names`` of the registry at the view's time (collective)."""
        assert self.series is not None
        specs = [BY_NAME[name] for name in names]
        cell = {sp.label: sp.value(view) for sp in specs if sp.location == "cell"}
        point = {sp.label: sp.value(view) for sp in specs if sp.location == "point"}
        series = self.series
        self._io(
            self.folder / "fields.pvd",
            lambda: series.write(view.t, point_data=point, cell_data=cell),
        )

    def checkpoint(self, state: RunState, timers: Mapping[str, float]) -> Path:
        """Write a checkpoint of ``state`` (collective) and record it in the manifest."""
        assert self.store is not None
        lp = state.loop
        store = self.store
        path: Path = self._io(
            store.folder,
            lambda: store.save(lp.step, lp.t, state.checkpoint_arrays(), state.checkpoint_meta()),
        )
        self.progress(lp, timers, status="running", last_checkpoint=path.name)
        return path

    def latest_checkpoint(self) -> Path | None:
        """The newest complete checkpoint, or None."""
        assert self.store is not None
        return self.store.latest()

    # --------------------------------------------------------------- manifest
    def start(self, **items: Any) -> None:
        """Record the start of a run in the manifest (rank 0)."""
        self._io(self.folder / "manifest.json", lambda: self._start(items))

    def _start(self, items: dict[str, Any]) -> None:
        if self.manifest is not None:
            runs = list(self.manifest.data.get("sessions", []))
            runs.append(
                {
                    "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                    "ranks": self.comm.size,
                    "restart_time_days": self.restart_time,
                }
            )
            self.manifest.update(bonefem=__version__, sessions=runs, status="running", **items)

    def progress(self, loop: LoopState, timers: Mapping[str, float], **items: Any) -> None:
        """Update timing and counters in the manifest (phase times reduced: max over ranks)."""
        timings = {k: self.comm.allreduce(v, op=_max()) for k, v in timers.items()}
        self._io(self.folder / "manifest.json", lambda: self._progress(loop, timings, items))

    def _progress(self, loop: LoopState, timings: dict[str, float], items: dict[str, Any]) -> None:
        if self.manifest is not None:
            self.manifest.update(
                time_days=loop.t,
                steps=loop.step,
                mechanics_solves=loop.mechanics_solves,
                ksp_iterations=loop.ksp_iterations,
                wall_time_s=time.time() - self.t_start,
                wall_time_per_phase_s=timings,
                **items,
            )

    def finished(self, loop: LoopState, timers: Mapping[str, float], **items: Any) -> None:
        """Record a finished run (``items``: more manifest entries, e.g. ``cold_solve_s``)."""
        self.progress(loop, timers, status="finished", **items)

    def stopped(self, loop: LoopState, timers: Mapping[str, float], signum: int) -> None:
        """Record a run stopped on a signal (after its checkpoint)."""
        import signal

        name = signal.Signals(signum).name
        self.progress(loop, timers, status="stopped", stopped_by=name)

    def failed(self, loop: LoopState, timers: Mapping[str, float], exc: BaseException) -> None:
        """Record a failed run (the error message) in the manifest."""
        self.progress(loop, timers, status="failed", error=f"{type(exc).__name__}: {exc}")

    def metrics(self) -> list[dict[str, str]]:
        """The rows of metrics.csv (rank 0; empty elsewhere)."""
        path = self.folder / "metrics.csv"
        return read_metrics(path) if self.comm.rank == 0 and path.exists() else []


def _max() -> Any:
    from mpi4py import MPI

    return MPI.MAX
