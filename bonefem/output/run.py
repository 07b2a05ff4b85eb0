"""The writers of one run: metrics CSV, ParaView fields, checkpoints, manifest.

:class:`RunOutput` is what :class:`~bonefem.simulation.Simulation` calls at output and
checkpoint times; it knows the run folder layout (see :mod:`bonefem.output.run_folder`)
but no physics: the values come from the simulation.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from bonefem._version import __version__
from bonefem.output.checkpoint import CheckpointStore
from bonefem.output.run_folder import Manifest, MetricsLog, read_metrics
from bonefem.output.vtk import ParaViewSeries

#: field name in the case file -> (array name with unit in ParaView)
FIELD_LABELS = {
    "displacement": "displacement [mm]",
    "density": "density [g/cm^3]",
    "density_change": "density_change [%]",
    "bvtv": "bvtv [-]",
    "mineral_density": "mineral_density [g/cm^3]",
    "youngs_modulus": "youngs_modulus [MPa]",
    "stimulus": "stimulus [-]",
    "strain_energy_density": "strain_energy_density [MPa]",
    "OBp": "OBp [pM]",
    "OBa": "OBa [pM]",
    "OCa": "OCa [pM]",
    "RANKL": "RANKL [pM]",
    "OPG": "OPG [pM]",
    "region": "region [-]",
}


class RunOutput:
    """Files of a run in ``folder`` (collective where the writers are).

    Args:
        folder: the run folder (exists).
        comm: communicator.
        restart_time: time (days) of the checkpoint a restart resumes from; later rows and
            field steps are dropped. None for a new run.
    """

    def __init__(self, folder: Path, comm: Any, restart_time: float | None = None) -> None:
        self.folder = Path(folder)
        self.comm = comm
        self.restart_time = restart_time
        self.log: MetricsLog | None = None
        self.series: ParaViewSeries | None = None
        self.store: CheckpointStore | None = None
        self.manifest = Manifest.load(self.folder) if comm.rank == 0 else None
        self.t_start = time.time()

    # ------------------------------------------------------------------ setup
    def attach(self, sim: Any) -> None:
        """Create the field series and checkpoint store for a simulation."""
        bone = sim.bone
        n = bone.num_cells_local
        original = bone.mesh.topology.original_cell_index[:n]
        self.store = CheckpointStore(
            self.folder / "checkpoints", self.comm, original, bone.num_cells_global
        )
        self.series = ParaViewSeries(bone, self.folder, "fields", restart_time=self.restart_time)
        if self.comm.rank == 0 and self.restart_time is not None:
            path = self.folder / "metrics.csv"
            if path.exists():
                with open(path, encoding="utf-8") as fh:
                    header = fh.readline().strip().split(",")
                self.log = MetricsLog(self.folder, header, restart_time=self.restart_time)

    # ---------------------------------------------------------------- outputs
    def metrics_row(self, row: dict[str, float]) -> None:
        """Append a row to metrics.csv (rank 0)."""
        if self.comm.rank != 0:
            return
        if self.log is None:
            self.log = MetricsLog(self.folder, list(row))
        self.log.append(row)

    def fields(self, sim: Any) -> None:
        """Write the ParaView fields of the current state (collective)."""
        assert self.series is not None
        wanted = sim.case.output.fields
        st = sim.state
        rho = sim.density(st)
        ratio = sim.stimulus_ratio(st[4])(st[3])
        values: dict[str, Any] = {
            "density": lambda: rho,
            "density_change": lambda: 100.0 * (rho / sim.rho0 - 1.0),
            "bvtv": lambda: st[3],
            "mineral_density": lambda: _mineral(sim),
            "youngs_modulus": lambda: sim.E,
            "stimulus": lambda: ratio,
            "strain_energy_density": lambda: (
                sim.case.load_scale(sim.loop.t) ** 2 * sim.psi_solved * sim.E_solved / sim.E
            ),
            "OBp": lambda: st[0],
            "OBa": lambda: st[1],
            "OCa": lambda: st[2],
            "RANKL": lambda: sim.derived()["RANKL"],
            "OPG": lambda: sim.derived()["OPG"],
            "region": lambda: sim.bone.cell_tags.values[: sim.n].astype(np.int32),
        }
        cell = {FIELD_LABELS[k]: values[k]() for k in wanted if k in values}
        point = {}
        if "displacement" in wanted:
            point[FIELD_LABELS["displacement"]] = sim.mech.displacement(sim.habitual[0])
        self.series.write(sim.loop.t, point_data=point, cell_data=cell)

    def checkpoint(self, sim: Any) -> Path:
        """Write a checkpoint (collective) and record it in the manifest."""
        assert self.store is not None
        loop = asdict(sim.loop)
        path = self.store.save(sim.loop.step, sim.loop.t, sim.checkpoint_fields(), {"loop": loop})
        self.progress(sim, status="running", last_checkpoint=path.name)
        return path

    def latest_checkpoint(self) -> Path | None:
        """The newest complete checkpoint, or None."""
        assert self.store is not None
        return self.store.latest()

    # --------------------------------------------------------------- manifest
    def start(self, **items: Any) -> None:
        """Record the start of a run in the manifest (rank 0)."""
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

    def progress(self, sim: Any, **items: Any) -> None:
        """Update timing and counters in the manifest (phase times reduced: max over ranks)."""
        timings = {k: self.comm.allreduce(v, op=_max()) for k, v in sim.timers.seconds.items()}
        if self.manifest is not None:
            self.manifest.update(
                time_days=sim.loop.t,
                steps=sim.loop.step,
                mechanics_solves=sim.loop.mechanics_solves,
                ksp_iterations=sim.loop.ksp_iterations,
                wall_time_s=time.time() - self.t_start,
                wall_time_per_phase_s=timings,
                **items,
            )

    def finished(self, sim: Any) -> None:
        """Record a finished run."""
        self.progress(sim, status="finished")

    def failed(self, sim: Any, exc: BaseException) -> None:
        """Record a failed run (the error message) in the manifest."""
        self.progress(sim, status="failed", error=f"{type(exc).__name__}: {exc}")

    def metrics(self) -> list[dict[str, str]]:
        """The rows of metrics.csv (rank 0; empty elsewhere)."""
        path = self.folder / "metrics.csv"
        return read_metrics(path) if self.comm.rank == 0 and path.exists() else []


def _mineral(sim: Any) -> Any:
    from bonefem.remodeling import mineral_density

    return mineral_density(sim.state[3], sim.state[4], sim.model.remodeling.params)


def _max() -> Any:
    from mpi4py import MPI

    return MPI.MAX
