"""From a case file to a finished run folder: ``bonefem run CASE``.

Steps: validate the case; choose the run folder (never silently overwriting another run);
get the mesh (generate, reuse from the cache, or import), save it into the run folder and
read it back, so that every run and every restart works on the same file with the same
cell order; build the :class:`~bonefem.simulation.Simulation`; resume from the newest
checkpoint if asked; run with progress reporting; record provenance in ``manifest.json``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bonefem._dolfinx import MPI, versions
from bonefem.config.case import Case, case_to_toml_dict, load_case
from bonefem.errors import BonefemError, InputError
from bonefem.output.checkpoint import CheckpointStore
from bonefem.output.run import RunOutput
from bonefem.output.run_folder import choose_run_folder, git_revision
from bonefem.progress import Progress
from bonefem.simulation import Simulation

logger = logging.getLogger(__name__)

#: Case fields a restart may change (extend the run, change output and test intervals).
RESTART_MAY_CHANGE = {("run", "duration_days"), ("output",), ("metrics", "tests_every_days")}


def _collective[T](comm: MPI.Intracomm, fn: Callable[[], T]) -> T:
    """Run ``fn`` on rank 0 and broadcast its result, or re-raise its InputError everywhere."""
    result: Any = None
    error: BonefemError | None = None
    if comm.rank == 0:
        try:
            result = fn()
        except BonefemError as exc:
            error = exc
    result, error = comm.bcast((result, error), root=0)
    if error is not None:
        raise error
    return result


def _comparable(data: dict[str, Any]) -> dict[str, Any]:
    out = json.loads(json.dumps(data))
    for path in RESTART_MAY_CHANGE:
        *parents, key = path
        section = out
        for name in parents:
            section = section.get(name) or {}
        section.pop(key, None)
    return out


def run_case(
    case_path: str | Path,
    *,
    output: str | Path | None = None,
    restart: bool = False,
    overwrite: bool = False,
    comm: MPI.Intracomm | None = None,
    progress: bool = True,
) -> Path:
    """Run a case; returns the run folder.

    Args:
        case_path: the TOML case file.
        output: run folder; default ``runs/<run.name>`` (or the next free ``-N`` suffix).
        restart: resume the run in ``output`` from its newest checkpoint.
        overwrite: replace an existing run folder.
        comm: communicator (default ``MPI.COMM_WORLD``).
        progress: show progress (rank 0).

    Raises:
        InputError: bad case, mesh or folder.
        SolverError: a solver failed (a checkpoint was saved and the manifest says so).
    """
    comm = comm or MPI.COMM_WORLD
    t0 = time.perf_counter()
    case_path = Path(case_path)
    case: Case = load_case(case_path)
    folder: Path = _collective(
        comm,
        lambda: choose_run_folder(output, case.run.name, restart=restart, overwrite=overwrite),
    )
    resolved = case_to_toml_dict(case)
    if restart:

        def check_same() -> None:
            old = json.loads((folder / "case_resolved.json").read_text())
            if _comparable(old) != _comparable(resolved):
                raise InputError(
                    "--restart needs the case the run was started with (only run.duration_days, "
                    "metrics.tests_every_days and [output] may change); compare with "
                    "case_resolved.json in the run folder",
                    file=case_path,
                )

        _collective(comm, check_same)
    if comm.rank == 0:
        (folder / "case.toml").write_text(case_path.read_text(encoding="utf-8"), encoding="utf-8")
        (folder / "case_resolved.json").write_text(json.dumps(resolved, indent=1) + "\n")
    logger.info("run folder: %s", folder)

    from bonefem.mesh import load_bone_mesh, read_mesh, write_mesh

    mesh_file = folder / "mesh" / "mesh.xdmf"
    t_mesh = time.perf_counter()
    if not restart:
        generated = load_bone_mesh(case.mesh, comm, base_dir=case_path.parent, file=str(case_path))
        write_mesh(generated, mesh_file)
        del generated
    bone = read_mesh(mesh_file, comm)
    t_mesh = time.perf_counter() - t_mesh
    logger.info(
        "mesh: %d cells, regions %s, surfaces %s",
        bone.num_cells_global,
        ", ".join(bone.region_names),
        ", ".join(bone.surface_names),
    )

    restart_meta: dict[str, Any] | None = None
    cells: dict[str, Any] | None = None
    if restart:
        n = bone.num_cells_local
        store = CheckpointStore(
            folder / "checkpoints",
            comm,
            bone.mesh.topology.original_cell_index[:n],
            bone.num_cells_global,
        )
        latest = store.latest()
        if latest is None:
            raise InputError("no checkpoint to restart from", file=folder)
        restart_meta, cells = store.load(latest)
        logger.info("restarting from %s (t = %g days)", latest.name, restart_meta["time_days"])

    out = RunOutput(
        folder, comm, restart_time=None if restart_meta is None else restart_meta["time_days"]
    )
    sim = Simulation(case, bone, out, case_file=case_path)
    sim.timers.add("mesh", t_mesh)
    out.attach(sim)
    if restart_meta is not None and cells is not None:
        sim.restore(restart_meta, cells)
    out.start(
        case=case.run.name,
        case_file=str(case_path),
        versions=versions(),
        git_revision=git_revision(Path(__file__).parent),
        ranks=comm.size,
        mesh={
            "source": bone.source,
            "cells": bone.num_cells_global,
            "regions": bone.region_names,
            "surfaces": bone.surface_names,
            "displacement_dofs": sim.mech.num_dofs_global,
        },
    )
    with Progress(
        case.run.duration_days, enabled=progress and comm.rank == 0, t_start=sim.loop.t
    ) as bar:
        sim.run(bar)
    sim.timers.add("total", time.perf_counter() - t0)
    out.finished(sim)
    return folder
