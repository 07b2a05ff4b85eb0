"""The ``bonefem`` command line (wiring only; the work is done in the modules it calls).

Subcommands::

    bonefem run CASE [--output DIR] [--restart | --overwrite]   run a case (also under mpiexec)
    bonefem check CASE [--no-mesh]                              validate a case without running
    bonefem mesh ...                                            generate / import / inspect meshes
    bonefem sweep CASE --set KEY=V1,V2 ... --output DIR [--jobs N | --slurm]   parameter sweep
    bonefem report RUN [RUN ...] [--output DIR] [--align A]     figures and summary of runs
    bonefem cases [list | copy NAME [DEST]]                     the bundled cases
    bonefem biology SCENARIO [--output DIR]                     0-D biology run (no mesh)
    bonefem test TESTFILE_OR_IMAGE [--output DIR] ...           virtual mechanical tests
    bonefem version                                             versions of the stack

Exit codes: 0 success, 2 bad input (case, mesh, parameters, folders), 1 failed run,
128 + signal number for a run stopped cleanly on a signal after a checkpoint (143 SIGTERM,
130 SIGINT, 138 SIGUSR1; :mod:`bonefem.coupling.stop`).
Only rank 0 logs unless ``--log-all-ranks``; bad input is reported as one paragraph
without traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bonefem._version import __version__
from bonefem.coupling.stop import RunStopped
from bonefem.errors import BonefemError, InputError, SolverError

logger = logging.getLogger("bonefem")

#: Folder of the bundled cases (the repository's cases/).
CASES_DIR = Path(__file__).resolve().parents[1] / "cases"


class _RankFilter(logging.Filter):
    def __init__(self, rank: int) -> None:
        super().__init__()
        self.rank = rank

    def filter(self, record: logging.LogRecord) -> bool:
        record.rank = self.rank
        return True


def setup_logging(verbose: int, quiet: bool, all_ranks: bool) -> None:
    """Log to stderr from rank 0 (or every rank, prefixed with it)."""
    from mpi4py import MPI

    rank = MPI.COMM_WORLD.rank
    level = logging.WARNING if quiet else (logging.DEBUG if verbose > 1 else logging.INFO)
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    if rank != 0 and not all_ranks:
        root.addHandler(logging.NullHandler())
        root.setLevel(logging.CRITICAL)
        return
    handler = logging.StreamHandler(sys.stderr)
    fmt = "[rank %(rank)d] %(levelname)s %(message)s" if all_ranks else "%(message)s"
    handler.setFormatter(logging.Formatter(fmt))
    handler.addFilter(_RankFilter(rank))
    root.addHandler(handler)
    root.setLevel(level)
    if verbose < 2:
        for noisy in ("matplotlib", "PIL", "pyvista", "vtk"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


def _add_check(sub: Any) -> None:
    """The ``check`` subcommand."""
    p = sub.add_parser("check", help="validate a case file without running it")
    p.add_argument("case", help="case file (TOML) or the name of a bundled case")
    p.add_argument(
        "--no-mesh", action="store_true", help="skip building the mesh (schema checks only)"
    )
    p.add_argument(
        "--ranks",
        type=int,
        default=None,
        metavar="N",
        help="MPI ranks of the planned run, for the run-time estimate (default: this check's)",
    )
    _add_set(p)
    _add_size_limit(p)


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with all subcommands."""
    parser = argparse.ArgumentParser(
        prog="bonefem",
        description="Finite-element simulation of bone adaptation under hormones and drugs.",
        epilog="Run `bonefem COMMAND --help` for the options of a command.",
    )
    parser.add_argument("-v", "--verbose", action="count", default=1, help="more log output")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    parser.add_argument(
        "--log-all-ranks", action="store_true", help="log from every MPI rank, not only rank 0"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("run", help="run a case (use under mpiexec for parallel runs)")
    p.add_argument("case", help="case file (TOML) or the name of a bundled case")
    p.add_argument("--output", "-o", help="run folder (default runs/<run.name>)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--restart", action="store_true", help="resume the run folder's last checkpoint")
    g.add_argument("--overwrite", action="store_true", help="replace an existing run folder")
    p.add_argument("--no-progress", action="store_true", help="no progress bar / progress lines")
    _add_set(p)
    _add_size_limit(p)

    _add_check(sub)

    from bonefem.mesh.command import add_arguments as add_mesh_arguments

    p = sub.add_parser("mesh", help="generate, import, convert and inspect bone meshes")
    add_mesh_arguments(p)

    from bonefem.imaging.command import add_arguments as add_image_arguments

    add_image_arguments(
        sub.add_parser("image", help="inspect CT images, make phantoms and voxel/tet meshes")
    )

    _add_sweep(sub)
    _add_test(sub)

    p = sub.add_parser("report", help="figures and a summary of one or more runs")
    p.add_argument("runs", nargs="+", help="run folders")
    p.add_argument("--output", "-o", help="report folder (default: <first run>/report)")
    p.add_argument("--no-render", action="store_true", help="skip the 3-D renders")
    p.add_argument(
        "--align",
        choices=["time", "age", "menopause", "therapy"],
        default="time",
        help="common x axis: time from each run's start (default), age, years from menopause, "
        "or years from the first therapy course",
    )
    p.add_argument(
        "--no-anchor",
        action="store_true",
        help="with --align menopause: do not chain runs that start later on the common axis "
        "onto the earliest (untreated) run's curve",
    )
    p.add_argument(
        "--label", action="append", default=None, help="legend label of each run, in order"
    )

    p = sub.add_parser("cases", help="list the bundled cases or copy one to edit")
    p.add_argument("action", nargs="?", choices=["list", "copy"], default="list")
    p.add_argument("name", nargs="?", help="case name (for copy)")
    p.add_argument("dest", nargs="?", default=".", help="destination folder or file (for copy)")

    p = sub.add_parser("biology", help="0-D bone biology scenario (no mesh), CSV and figure")
    p.add_argument("scenario", help="TOML file or name in cases/biology/")
    p.add_argument("--output", "-o", default="runs/biology", help="output folder")
    p.add_argument("--years", type=float, default=None, help="override run.duration_years")

    sub.add_parser("version", help="print bonefem and numerical-stack versions")
    return parser


def _add_size_limit(p: argparse.ArgumentParser) -> None:
    from bonefem.mesh.estimate import DEFAULT_MAX_CELLS

    p.add_argument(
        "--max-cells",
        type=float,
        default=DEFAULT_MAX_CELLS,
        help=f"refuse generated meshes estimated above this many cells (default "
        f"{DEFAULT_MAX_CELLS:,}; about 5 kB of memory per cell)",
    )
    p.add_argument("--force", action="store_true", help="build the mesh whatever its size")
    p.add_argument(
        "--max-memory-per-rank",
        type=_memory_amount,
        default=None,
        metavar="SIZE",
        help="refuse (exit 2) when the estimated peak memory per rank is above SIZE, "
        "e.g. 4GB, 3.5GiB (docs/reliability.md, memory estimate)",
    )


def _memory_amount(text: str) -> float:
    from bonefem.coupling.memory import parse_bytes

    try:
        return parse_bytes(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _max_cells(args: argparse.Namespace) -> float | None:
    return None if args.force else float(args.max_cells)


def resolve_case(name: str) -> Path:
    """A case path: the file itself, or a bundled case by name (with or without .toml)."""
    path = Path(name)
    if path.exists():
        return path
    for cand in (CASES_DIR / name, CASES_DIR / f"{name}.toml"):
        if cand.is_file():
            return cand
    available = ", ".join(sorted(p.stem for p in CASES_DIR.glob("*.toml")))
    raise InputError(f"case file not found; bundled cases: {available}", file=path)


def _add_set(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="change a case field, e.g. --set run.duration_days=730.5 --set "
        "biology.denosumab.0.start_days=365.25 (TOML value; repeatable; validated like "
        "the file, recorded in case_resolved.json)",
    )


def _add_sweep(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "sweep",
        help="parameter sweep: the cartesian product of --set values, one run folder each",
        description="Run a case for every combination of the values of the --set options "
        "(KEY=V1,V2,V3 sweeps KEY; KEY=V applies to every point): local parallel processes, "
        "or a SLURM job array (--slurm). DIR/sweep.csv summarises the final metrics.",
    )
    p.add_argument("case", help="case file (TOML) or the name of a bundled case")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=V1,V2,...",
        help="a case field and its values (TOML, comma-separated; repeatable)",
    )
    p.add_argument("--output", "-o", required=True, help="sweep folder")
    p.add_argument("--jobs", "-j", type=int, default=1, help="local runs at the same time")
    p.add_argument("--ranks", type=int, default=1, help="MPI ranks of each local run")
    p.add_argument(
        "--zip",
        action="store_true",
        help="pair the value lists element by element (same lengths) instead of crossing them",
    )
    p.add_argument(
        "--slurm", action="store_true", help="write DIR/sweep.sbatch (job array), run nothing"
    )
    p.add_argument("--max-parallel", type=int, help="SLURM array tasks at the same time")
    p.add_argument("--index", type=int, help="run only point INDEX here (SLURM task, worker)")
    p.add_argument("--summary", action="store_true", help="only rewrite DIR/sweep.csv")
    p.add_argument(
        "--report",
        action="store_true",
        help="only rewrite DIR/sweep.csv and `bonefem report` the finished points (DIR/report)",
    )
    p.add_argument("--no-summary", action="store_true", help=argparse.SUPPRESS)


def _add_test(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from bonefem.mechtest import add_arguments

    add_arguments(sub.add_parser("test", help="virtual mechanical tests of a mesh or image"))


def _cmd_sweep(args: argparse.Namespace) -> int:
    from bonefem import sweep

    for name in ("jobs", "ranks"):
        if getattr(args, name) < 1:
            raise InputError("must be at least 1", field=f"--{name}", value=getattr(args, name))
    if args.summary or args.report:
        sw = sweep.prepare(args.case, args.overrides, args.output, args.zip)
        out = sweep.report(sw) if args.report else sweep.summary(sw.folder, sw.points)
    else:
        out = sweep.run_sweep(
            args.case,
            args.overrides,
            args.output,
            jobs=args.jobs,
            ranks=args.ranks,
            zip_lists=args.zip,
            slurm=args.slurm,
            max_parallel=args.max_parallel,
            index=args.index,
            write_summary=not args.no_summary,
        )
    logger.info("sweep: %s", out)
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from bonefem.driver import run_case

    folder = run_case(
        resolve_case(args.case),
        output=args.output,
        restart=args.restart,
        overwrite=args.overwrite,
        progress=not (args.no_progress or args.quiet),
        max_cells=_max_cells(args),
        overrides=args.overrides,
        max_memory_per_rank=args.max_memory_per_rank,
    )
    logger.info("finished: %s (metrics.csv, fields.pvd, manifest.json)", folder)
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from bonefem.config.case import load_case

    path = resolve_case(args.case)
    comm = None  # --no-mesh: no collective follows, each process reads the file itself
    if not args.no_mesh:  # the mesh is built on every rank: rank 0 reads the case for all
        from bonefem._dolfinx import MPI

        comm = MPI.COMM_WORLD
    case = load_case(path, args.overrides, comm)
    logger.info("%s: schema OK (run '%s', %g days)", path, case.run.name, case.run.duration_days)
    if case.biology.baseline_t_score is not None:  # the peak factor and its range, no mesh
        from bonefem.build import cell_model_and_signals, peak_scale

        peak_scale(case, *cell_model_and_signals(case))
    from bonefem.mesh.estimate import require_affordable

    estimate = require_affordable(case.mesh, path.parent, _max_cells(args), file=str(path))
    if estimate is not None:
        logger.info("%s: mesh estimate: %s", path, estimate.describe())
        if args.no_mesh:
            line = _run_estimate(case, estimate.dofs, estimate.cells, args)
            logger.info("%s: run-time estimate: %s", path, line)
            _memory_estimate(case, estimate.dofs, estimate.cells, args, path)
    if comm is None:
        return 0
    from bonefem.mesh import load_bone_mesh
    from bonefem.mesh.validate import precheck_case_mesh

    precheck_case_mesh(case.mesh, path.parent, comm)
    bone = load_bone_mesh(case.mesh, comm, base_dir=path.parent, file=str(path))
    from bonefem.build import check_case_against_mesh

    check_case_against_mesh(case, bone, str(path))
    logger.info(
        "%s: mesh OK (%d cells; regions %s; surfaces %s)",
        path,
        bone.num_cells_global,
        ", ".join(bone.region_names),
        ", ".join(bone.surface_names),
    )
    dofs = 3 * bone.mesh.geometry.index_map().size_global  # P1: 3 per node
    hexahedral = bone.mesh.topology.cell_type.name == "hexahedron"
    line = _run_estimate(case, dofs, bone.num_cells_global, args, hexahedral)
    logger.info("%s: run-time estimate: %s", path, line)
    _memory_estimate(case, dofs, bone.num_cells_global, args, path)
    return 0


def _memory_estimate(
    case: Any, dofs: float, cells: float, args: argparse.Namespace, path: Path
) -> None:
    """Log the memory estimate per rank; InputError above ``--max-memory-per-rank``."""
    from bonefem._dolfinx import MPI
    from bonefem.coupling.memory import require_memory

    ranks = args.ranks if args.ranks is not None else MPI.COMM_WORLD.size
    est = require_memory(case, dofs, cells, ranks, args.max_memory_per_rank, file=str(path))
    logger.info("%s: memory estimate: %s", path, est.describe())


def _run_estimate(
    case: Any, dofs: float, cells: float, args: argparse.Namespace, hexahedral: bool = False
) -> str:
    """The run-time estimate of ``case`` on a mesh of ``dofs`` unknowns (one line)."""
    from bonefem._dolfinx import MPI
    from bonefem.coupling.cost import estimate_run, rows_with_tests

    ranks = args.ranks if args.ranks is not None else MPI.COMM_WORLD.size
    if ranks < 1:
        raise InputError("--ranks must be at least 1", field="--ranks", value=ranks)
    run, out = case.run, case.output
    rows = rows_with_tests(run.duration_days, out.metrics_every_days, case.metrics.tests_every_days)
    tests = bool(case.test_load_cases())
    if case.metrics.qct_fe:
        rows *= 2  # the tests run again under the QCT-FE convention in the same rows
    est = estimate_run(
        dofs, cells, ranks, run.duration_days, rows, tests=tests, hexahedral=hexahedral
    )
    return est.describe()


def _cmd_test(args: argparse.Namespace) -> int:
    from bonefem.mechtest import command

    return command(args)


def _cmd_cases(args: argparse.Namespace) -> int:
    cases = sorted(CASES_DIR.glob("*.toml"))
    if args.action == "list":
        import tomllib

        for p in cases:
            try:
                desc = (
                    tomllib.loads(p.read_text(encoding="utf-8"))
                    .get("run", {})
                    .get("description", "")
                )
            except tomllib.TOMLDecodeError:
                desc = "(unreadable)"
            print(f"{p.stem:34s} {desc}")
        return 0
    if not args.name:
        raise InputError("`bonefem cases copy` needs a case name", field="name")
    src = resolve_case(args.name)
    dest = Path(args.dest)
    target = dest / src.name if dest.is_dir() else dest
    if target.exists():
        raise InputError("will not overwrite an existing file", file=target)
    shutil.copyfile(src, target)
    print(f"copied {src.name} -> {target}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from bonefem.report import make_report

    out = make_report(
        [Path(r) for r in args.runs],
        args.output,
        render=not args.no_render,
        align=args.align,
        anchor=False if args.no_anchor else None,
        labels=args.label,
    )
    logger.info("report written to %s", out)
    return 0


def _cmd_version(_: argparse.Namespace) -> int:
    from bonefem._dolfinx import versions

    print(f"bonefem {__version__}")
    for key, value in versions().items():
        print(f"{key}: {value}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``bonefem`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.verbose, args.quiet, args.log_all_ranks)
    if args.command == "mesh":
        from bonefem.mesh.command import run as run_mesh

        return run_mesh(args)
    if args.command == "image":
        from bonefem.imaging.command import run as run_image

        return run_image(args)
    if args.command == "biology":
        from bonefem.biology.zerod import cli_main

        argv2 = [args.scenario, "--output", args.output]
        if args.years is not None:
            argv2 += ["--years", str(args.years)]
        return cli_main(argv2)
    commands = {
        "test": _cmd_test,
        "run": _cmd_run,
        "check": _cmd_check,
        "cases": _cmd_cases,
        "report": _cmd_report,
        "sweep": _cmd_sweep,
        "version": _cmd_version,
    }
    try:
        return commands[args.command](args)
    except RunStopped as exc:
        _print_error(exc, prefix="stopped")
        return exc.exit_code
    except InputError as exc:
        _print_error(exc)
        return 2
    except (SolverError, BonefemError) as exc:
        _print_error(exc, prefix="run failed")
        return 1
    except BrokenPipeError:
        # output piped into e.g. `head`, which closed early: not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        _print_error(BonefemError("interrupted"), prefix="stopped")
        return 130
    except Exception:
        # An unexpected error on one rank would leave the others waiting: abort them all.
        from mpi4py import MPI

        traceback.print_exc()
        if MPI.COMM_WORLD.size > 1:
            MPI.COMM_WORLD.Abort(1)
        return 1


def _print_error(exc: BaseException, prefix: str = "error") -> None:
    from mpi4py import MPI

    if MPI.COMM_WORLD.rank == 0:
        print(f"bonefem: {prefix}: {exc}", file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
