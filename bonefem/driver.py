"""From a case file to a finished run folder: ``bonefem run CASE``.

Steps: validate the case; choose the run folder (never silently overwriting another run);
get the mesh (generate, reuse from the cache, or import), save it into the run folder and
read it back, so that every run and every restart works on the same file with the same
cell order; build the coupled model (:func:`bonefem.build.build`); resume from the newest
checkpoint if asked; run the loop (:class:`bonefem.coupling.loop.CoupledRun`) with
progress reporting; record provenance in ``manifest.json``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np

from bonefem._dolfinx import MPI, versions
from bonefem.allocator import tune_allocator
from bonefem.biology.calibrated import (
    CALIBRATED,
    CalibratedConstants,
    adopt_recorded_constants,
    constants_record,
)
from bonefem.biology.cells import complete_state
from bonefem.build import CoupledModel, build
from bonefem.config import restart as restart_rules
from bonefem.config.case import Case, case_to_toml_dict, load_case
from bonefem.coupling.loop import CoupledRun, RunHooks
from bonefem.coupling.memory import MemoryEstimate, peak_rss_bytes, require_memory
from bonefem.coupling.stop import SignalStop
from bonefem.coupling.timers import Timers
from bonefem.errors import InputError, OutputWriteError, on_rank_0
from bonefem.kernels import kernels_of_ranks
from bonefem.mesh.bonemesh import BoneMesh
from bonefem.output.atomic import write_text_atomic
from bonefem.output.checkpoint import CheckpointStore
from bonefem.output.run import RunOutput
from bonefem.output.run_folder import CALIBRATION_FILE, choose_run_folder, git_revision
from bonefem.progress import Progress
from bonefem.state import RunState

logger = logging.getLogger(__name__)


def _prepare_folder(
    case: Case,
    case_path: Path,
    comm: MPI.Intracomm,
    output: str | Path | None,
    restart: bool,
    overwrite: bool,
    cleanup: ExitStack,
) -> tuple[Path, Case]:
    """Choose and lock the run folder, check a restart's case, write the case files.

    Returns the folder and the case to run: on a restart, fields the case leaves at a
    default that changed since the run was started keep their recorded values
    (:func:`bonefem.config.restart.adopt_recorded_defaults`). The lock (rank 0) is
    released by ``cleanup`` when the run ends, however it ends.
    """

    def claim() -> Path:
        path, lock = choose_run_folder(output, case.run.name, restart=restart, overwrite=overwrite)
        cleanup.callback(lock.release)  # rank 0 only: the lock stays in this process
        return path

    folder: Path = on_rank_0(comm, claim)
    resolved = case_to_toml_dict(case)
    if restart:
        recorded = on_rank_0(
            comm, lambda: json.loads((folder / "case_resolved.json").read_text(encoding="utf-8"))
        )
        case, adopted = restart_rules.adopt_recorded_defaults(
            case, recorded, resolved, str(folder / "case_resolved.json")
        )
        for line in adopted:
            logger.info("restart: %s", line)
        resolved = case_to_toml_dict(case)
        changed = restart_rules.differences(
            restart_rules.comparable(recorded), restart_rules.comparable(resolved)
        )
        if changed:  # the same data on every rank: every rank raises
            raise InputError(
                "--restart needs the case the run was started with (only run.duration_days, "
                "metrics.tests_every_days and [output] may change); changed: "
                + "; ".join(changed[:5])
                + " (compare with case_resolved.json in the run folder)",
                file=case_path,
            )

    def write_case_files() -> None:
        try:
            (folder / "case.toml").write_bytes(case_path.read_bytes())
            (folder / "case_resolved.json").write_text(
                json.dumps(resolved, indent=1) + "\n", encoding="utf-8"
            )
        except OSError as exc:
            raise OutputWriteError(
                f"cannot write the run's case files ({exc.strerror or exc})",
                file=exc.filename or folder,
            ) from None

    on_rank_0(comm, write_case_files)
    logger.info("run folder: %s", folder)
    return folder, case


def _mesh(
    case: Case, case_path: Path, folder: Path, comm: MPI.Intracomm, restart: bool
) -> BoneMesh:
    """The run's mesh: generated or imported into the run folder, always read back from it."""
    from bonefem.mesh import load_bone_mesh, read_mesh, write_mesh
    from bonefem.mesh.generators.config import cached_mesh_file
    from bonefem.mesh.meshfile import copy_mesh_file
    from bonefem.mesh.validate import precheck_case_mesh

    mesh_file = folder / "mesh" / "mesh.xdmf"
    bone: BoneMesh | None = None
    if not restart:
        precheck_case_mesh(case.mesh, case_path.parent, comm)  # before DOLFINx sees it
        base, file = case_path.parent, str(case_path)
        cached = cached_mesh_file(case.mesh, comm, base_dir=base, file=file)
        if cached is not None:
            # the cache's file is what reading it and writing it again would give: copy it
            # (a read and a write of the whole mesh fewer; 1.65M cells: about 13 s)
            try:
                copy_mesh_file(cached, mesh_file, comm)
                bone = read_mesh(mesh_file, comm)
                logger.info("mesh copied from the cache %s", cached)
            except InputError as exc:  # a damaged cache entry: load_bone_mesh regenerates
                logger.warning("could not use the cached mesh (%s)", exc)
        if bone is None:
            generated = load_bone_mesh(case.mesh, comm, base_dir=base, file=file)
            write_mesh(generated, mesh_file)
            del generated
    if bone is None:
        bone = read_mesh(mesh_file, comm)
    if not restart:
        _write_paraview_mesh(bone, folder / "mesh")
    logger.info(
        "mesh: %d cells, regions %s, surfaces %s",
        bone.num_cells_global,
        ", ".join(bone.region_names),
        ", ".join(bone.surface_names),
    )
    return bone


def _write_paraview_mesh(bone: BoneMesh, folder: Path) -> None:
    """``mesh/mesh.pvd``: the mesh with its region tags and names for every ParaView reader.

    A scanned initial state (``bone.cell_data``, e.g. ``initial_mineral_density``) goes in
    too, as ``"name [unit]"`` (g/cm^3 for densities, - for BV/TV).

    ``mesh.xdmf`` (DOLFINx's XDMF 3) is what restarts read back, but ParaView's legacy XDMF
    reader crashes on it; the VTK XML files open in every reader of every ParaView 5.x.
    """
    from bonefem.output.vtk import ParaViewSeries

    n = bone.num_cells_local
    tags = bone.cell_tags.values[:n].astype(np.int32)
    try:  # raised on every rank alike (ParaViewSeries.write is collective about failures)
        extra = {
            f"{k} [{'g/cm^3' if 'density' in k else '-'}]": np.asarray(v[:n])
            for k, v in bone.cell_data.items()
        }
        ParaViewSeries(bone, folder, "mesh").write(0.0, cell_data={"region": tags, **extra})
    except OSError as exc:
        raise OutputWriteError(f"cannot write the ParaView mesh ({exc})", file=folder) from None


def _checkpoint(folder: Path, bone: BoneMesh) -> tuple[dict[str, Any], dict[str, Any]]:
    """The newest checkpoint of the run folder: (meta, per-cell arrays)."""
    n = bone.num_cells_local
    store = CheckpointStore(
        folder / "checkpoints",
        bone.comm,
        bone.mesh.topology.original_cell_index[:n],
        bone.num_cells_global,
    )
    latest = store.newest_valid()
    if latest is None:
        raise InputError("no checkpoint to restart from", file=folder)
    meta, cells = store.load(latest)
    logger.info("restarting from %s (t = %g days)", latest.name, meta["time_days"])
    return meta, cells


def _write_paraview_script(folder: Path) -> None:
    """``open_fields.py``: opens the run's fields in ParaView with colour maps (rank 0)."""
    from bonefem.output.paraview import write_open_script

    try:
        write_open_script(folder)
    except OSError as exc:  # the run's own files report a full disk; this one is a helper
        logger.warning("could not write %s: %s", folder / "open_fields.py", exc)


def run_case(
    case_path: str | Path,
    *,
    output: str | Path | None = None,
    restart: bool = False,
    overwrite: bool = False,
    comm: MPI.Intracomm | None = None,
    progress: bool = True,
    hooks: RunHooks | None = None,
    constants: CalibratedConstants | None = None,
    max_cells: float | None = None,
    overrides: Sequence[str] = (),
    max_memory_per_rank: float | None = None,
) -> Path:
    """Run a case; returns the run folder.

    Args:
        case_path: the TOML case file.
        output: run folder; default ``runs/<run.name>`` (or the next free ``-N`` suffix).
        restart: resume the run in ``output`` from its newest checkpoint.
        overwrite: replace an existing run folder.
        comm: communicator (default ``MPI.COMM_WORLD``).
        progress: show progress (rank 0).
        hooks: clock and step hook of the loop (benchmarks, fault injection in tests).
        constants: calibrated constants (default: the shipped calibration; the FE
            calibration passes its trial values).
        max_cells: refuse a generated mesh estimated above this many cells before
            building it (:mod:`bonefem.mesh.estimate`); None: no limit.
        overrides: ``key=value`` changes of case fields (``--set``,
            :mod:`bonefem.config.overrides`), validated with the file and recorded in
            ``case_resolved.json`` and the manifest.
        max_memory_per_rank: refuse the run (InputError) when its estimated peak memory per
            rank is above this many bytes (:mod:`bonefem.coupling.memory`), checked on the
            generator's size estimate before meshing and on the mesh before the set-up;
            None: no limit. The estimate and the measured peak go into the manifest.

    Raises:
        InputError: bad case, mesh or folder.
        SolverError: a solver failed (a checkpoint was saved and the manifest says so).
        RunStopped: SIGTERM, SIGINT or SIGUSR1 arrived; the run stopped at the next step
            boundary after a checkpoint (manifest status "stopped").
    """
    tune_allocator()  # before the mesh: large per-cell arrays stay in the heap
    with SignalStop() as stop, ExitStack() as cleanup:
        hooks = hooks or RunHooks()
        if hooks.stop_requested is None:
            hooks = dataclasses.replace(hooks, stop_requested=stop.poll)
        path = Path(case_path)
        comm = comm or MPI.COMM_WORLD
        case = load_case(path, overrides, comm)  # rank 0 reads, every rank validates
        # the size checks follow settings files: rank 0 decides, every rank raises alike
        if max_cells is not None and not restart:
            from bonefem.mesh.estimate import require_affordable

            on_rank_0(
                comm, lambda: require_affordable(case.mesh, path.parent, max_cells, file=str(path))
            )
        if max_memory_per_rank is not None:
            limit = max_memory_per_rank
            on_rank_0(comm, lambda: _memory_precheck(case, path, comm.size, limit))
        return _run_case(
            (path, case, list(overrides), max_memory_per_rank),
            output,
            (restart, overwrite),
            comm,
            progress,
            hooks,
            constants,
            cleanup,
        )


def _run_case(
    source: tuple[Path, Case, list[str], float | None],
    output: str | Path | None,
    mode: tuple[bool, bool],
    comm: MPI.Intracomm | None,
    progress: bool,
    hooks: RunHooks,
    constants: CalibratedConstants | None,
    cleanup: ExitStack,
) -> Path:
    restart, overwrite = mode
    comm = comm or MPI.COMM_WORLD
    t0, cpu0 = hooks.clock(), time.process_time()
    case_path, case, overrides, memory_limit = source
    folder, case = _prepare_folder(case, case_path, comm, output, restart, overwrite, cleanup)
    constants = _run_constants(folder, comm, restart, constants)
    t_mesh = hooks.clock()
    bone = _mesh(case, case_path, folder, comm, restart)
    t_mesh = hooks.clock() - t_mesh
    dofs = 3 * bone.mesh.geometry.index_map().size_global  # P1: 3 per node
    memory = require_memory(
        case, dofs, bone.num_cells_global, comm.size, memory_limit, file=str(case_path)
    )
    logger.info("memory estimate: %s", memory.describe())
    checkpoint = _checkpoint(folder, bone) if restart else None
    out = RunOutput(
        folder,
        comm,
        restart_time=None if checkpoint is None else checkpoint[0]["time_days"],
        field_precision=case.output.field_precision,
        field_files=case.output.field_files,
    )
    t_setup = hooks.clock()
    model = build(case, bone, constants=constants, case_file=str(case_path), clock=hooks.clock)
    state = None
    if checkpoint is not None:
        law_params = model.law.params
        state = RunState.from_checkpoint(
            *checkpoint, model.material.modulus, lambda c: complete_state(c, law_params)
        )
    t_setup = hooks.clock() - t_setup
    run = CoupledRun(model, out, hooks, state)
    run.timers.add("mesh", t_mesh)
    run.timers.add("setup", t_setup)
    out.attach(bone)
    cold = model.mechanics.cold_solve_seconds(model.habitual)  # None on a restart
    kernels = kernels_of_ranks(comm)
    if kernels.get("mixed"):
        logger.warning(
            "the ranks use different numerical kernels (NumPy SIMD, OpenBLAS core): the run "
            "reproduces only on the same mix of nodes; NPY_DISABLE_CPU_FEATURES and "
            "OPENBLAS_CORETYPE pin them (README, Parallel runs)"
        )
    out.start(
        **({} if cold is None else {"cold_solve_s": cold}),
        case=case.run.name,
        case_file=str(case_path),
        overrides=overrides,
        versions={**versions(), "allocator": tune_allocator(), "kernels": kernels},
        git_revision=git_revision(Path(__file__).parent),
        ranks=comm.size,
        mesh={
            "source": bone.source,
            "cells": bone.num_cells_global,
            "regions": bone.region_names,
            "surfaces": bone.surface_names,
            "displacement_dofs": model.mechanics.num_dofs_global,
        },
        memory={"estimate": memory.as_dict(), "limit_per_rank_bytes": memory_limit},
    )
    if comm.rank == 0:
        _write_paraview_script(folder)
    with Progress(
        case.run.duration_days, enabled=progress and comm.rank == 0, t_start=run.loop.t
    ) as bar:
        run.run(bar)
    run.timers.add("total", hooks.clock() - t0)
    costs = _solve_costs(model, run, comm, time.process_time() - cpu0)
    out.finished(run.loop, run.timers.seconds, memory=_memory_record(memory, comm), **costs)
    return folder


def _run_constants(
    folder: Path, comm: MPI.Intracomm, restart: bool, explicit: CalibratedConstants | None
) -> CalibratedConstants:
    """The calibrated constants of the run, recorded in ``calibration.json``.

    A new run uses ``explicit`` or the shipped calibration and records it. A restart without
    ``explicit`` goes on with the recorded constants where this version's differ (a
    recalibration between the start and the restart would otherwise change the biology in
    the middle of the run; logged per constant); a folder without a record (bonefem before
    December 2026) goes on with this version's and gets a record.
    """
    path = folder / CALIBRATION_FILE
    chosen = explicit or CALIBRATED
    if restart and explicit is None:
        recorded = on_rank_0(comm, lambda: _read_record(path))
        if recorded is None:
            logger.warning(
                "restart: %s has no %s (started before December 2026): the run goes on with "
                "this version's calibrated constants",
                folder,
                CALIBRATION_FILE,
            )
        else:
            try:
                chosen, lines = adopt_recorded_constants(CALIBRATED, recorded)
            except ValueError as exc:  # the same record on every rank: every rank raises
                raise InputError(str(exc), file=path) from None
            for line in lines:
                logger.info("restart: calibrated constant %s", line)
    record = json.dumps(constants_record(chosen), indent=1) + "\n"

    def write() -> None:
        try:
            write_text_atomic(path, record)
        except OSError as exc:
            raise OutputWriteError(
                f"cannot write the calibration record ({exc.strerror or exc})", file=path
            ) from None

    on_rank_0(comm, write)
    return chosen


def _read_record(path: Path) -> Any:
    """The JSON record at ``path``, or None when there is none."""
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read the calibration record ({exc})", file=path) from None


def _memory_precheck(case: Case, path: Path, ranks: int, limit: float) -> None:
    """Refuse a generated mesh whose size estimate is above the memory limit per rank."""
    from bonefem.mesh.estimate import require_affordable

    est = require_affordable(case.mesh, path.parent, None, file=str(path))
    if est is not None:
        require_memory(case, est.dofs, est.cells, ranks, limit, file=str(path))


def _memory_record(estimate: MemoryEstimate, comm: MPI.Intracomm) -> dict[str, Any]:
    """The manifest's ``memory``: estimate and measured peak RSS per rank (bytes)."""
    peaks = comm.allgather(peak_rss_bytes())
    return {
        "estimate": estimate.as_dict(),
        "peak_rss_max_rank_bytes": max(peaks),
        "peak_rss_per_rank_bytes": peaks,
        "measured_over_estimate": round(max(peaks) / estimate.per_rank, 3),
    }


def _solve_costs(
    model: CoupledModel, run: CoupledRun, comm: MPI.Intracomm, cpu_seconds: float
) -> dict[str, Any]:
    """The virtual tests' phase times into the run's timers; the cold-solve entries.

    ``cold_solve_s`` (s): the first cold solve of the habitual load (operator assembly,
    preconditioner set-up, solve) in this session; ``run_cost_cold_solves`` (-): this
    session's total time over it, i.e. the run's cost in cold solves of its mesh.
    ``cold_solve_cpu_s`` and ``run_cost_cold_solves_cpu``: the same in CPU time of the
    slowest rank (``cpu_seconds``: this rank's CPU time of the session), which other jobs
    on a shared machine disturb far less than the wall-clock ratio (± 30 % measured,
    docs/performance.md).
    """
    for metric in model.metrics.metrics:
        phases = getattr(metric, "timers", None)
        if isinstance(phases, Timers):
            run.timers.merge(phases.seconds)
    cold = model.mechanics.cold_solve_seconds(model.habitual)
    if cold is None or cold <= 0.0:
        return {}
    total = float(comm.allreduce(run.timers.seconds["total"], op=MPI.MAX))
    costs = {"cold_solve_s": cold, "run_cost_cold_solves": total / cold}
    cold_cpu = model.mechanics.cold_solve_seconds(model.habitual, cpu=True)
    if cold_cpu is not None and cold_cpu > 0.0:
        cpu = float(comm.allreduce(cpu_seconds, op=MPI.MAX))
        costs |= {"cold_solve_cpu_s": cold_cpu, "run_cost_cold_solves_cpu": cpu / cold_cpu}
    return costs
