"""``bonefem mesh``: generate, import or convert a bone mesh and report on it.

Examples::

    bonefem mesh --list                      # geometries and their parameters
    bonefem mesh vertebra                    # default L3 body: summary only
    bonefem mesh femur --set mesh_size=4 --set cortical_mesh_size=2 -o femur.xdmf
    bonefem mesh --settings meshes/vertebra.toml -o vertebra.xdmf
    bonefem mesh --input scan.vtu --region cortical=1 --region trabecular=2 -o scan.xdmf
    mpiexec -n 4 bonefem mesh femur --set refine=4 -o femur-fine.xdmf

The summary (rank 0 prints it) lists cells, vertices, regions with volumes (mm³),
surfaces with areas (mm²), quality statistics and landmarks; ``--json`` prints it as JSON.
Output: ``.xdmf`` writes a bonefem mesh file (reload it with ``[mesh] file = ...``);
``.msh`` writes the gmsh mesh with its physical groups (generators only).
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from pathlib import Path
from typing import Any

from bonefem.errors import InputError


def _value(text: str) -> Any:
    """A TOML scalar (number, boolean, quoted string) or, failing that, the raw string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _pairs(items: list[str] | None, *, option: str, integer: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, val = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"expected NAME=VALUE, got {item!r}", field=option, value=item)
        if integer:
            try:
                out[key.strip()] = int(val)
            except ValueError:
                raise InputError("the tag must be an integer", field=option, value=item) from None
        else:
            out[key.strip()] = _value(val.strip())
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``bonefem mesh`` options to ``parser``."""
    parser.description = __doc__.split("\n\n")[0] if __doc__ else None
    parser.add_argument(
        "generator",
        nargs="?",
        help="geometry to generate: specimen, diaphysis, vertebra, femur",
    )
    parser.add_argument(
        "--set",
        dest="params",
        action="append",
        metavar="NAME=VALUE",
        help="generator parameter (lengths mm, angles deg); repeat for several",
    )
    parser.add_argument("--input", "-i", metavar="FILE", help="mesh file to import or convert")
    parser.add_argument(
        "--settings", metavar="TOML", help="TOML file with a [mesh] table (e.g. meshes/*.toml)"
    )
    parser.add_argument(
        "--region",
        action="append",
        metavar="NAME=TAG",
        help="imported mesh: name a region tag value; repeat for several",
    )
    parser.add_argument(
        "--surface",
        action="append",
        metavar="NAME=TAG",
        help="imported mesh: name a surface tag value; repeat for several",
    )
    parser.add_argument(
        "--cell-data-key", metavar="KEY", help="imported meshio file: the cell data with tags"
    )
    parser.add_argument(
        "--output",
        "-o",
        metavar="FILE",
        help="write a bonefem mesh file (.xdmf) or, for generators, a gmsh file (.msh)",
    )
    parser.add_argument(
        "--no-cache", action="store_true", help="generate again even if the mesh is cached"
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument(
        "--list", action="store_true", help="list the geometries (or one) with their parameters"
    )


def _list(name: str | None) -> str:
    from bonefem.mesh.generators import GENERATORS, describe_parameters, get_generator

    if name is None:
        lines = ["geometries (bonefem mesh --list NAME shows the parameters):"]
        lines += [f"  {n:<10} {g.description}" for n, g in GENERATORS.items()]
        return "\n".join(lines)
    gen = get_generator(name, field="generator")
    lines = [f"{name}: {gen.description}", "parameters:"]
    for pname, default, text in describe_parameters(gen.parameters):
        lines.append(f"  {pname} = {default}\n      {text}")
    return "\n".join(lines)


def _build(args: argparse.Namespace) -> Any:
    from bonefem._dolfinx import MPI
    from bonefem.mesh.generators import generate
    from bonefem.mesh.generators.config import generate_cached, load_bone_mesh
    from bonefem.mesh.io import read_mesh

    comm = MPI.COMM_WORLD
    sources = [s for s in (args.generator, args.input, args.settings) if s]
    if len(sources) != 1:
        raise InputError("give one of: a geometry name, --input FILE or --settings TOML")
    params = _pairs(args.params, option="--set")
    if params and not args.generator:
        raise InputError("--set goes with a geometry name", field="--set")
    out = Path(args.output) if args.output else None
    if out is not None and out.suffix not in (".xdmf", ".msh"):
        raise InputError("the output must end in .xdmf or .msh", field="--output", value=str(out))
    if out is not None and out.suffix == ".msh" and not args.generator:
        raise InputError("only generated meshes can be written as .msh", field="--output")
    if args.generator:
        if out is not None and out.suffix == ".msh":
            return generate(args.generator, comm, params, msh_file=out)
        if args.no_cache:
            return generate(args.generator, comm, params)
        return generate_cached(args.generator, params, comm)
    if args.settings:
        return load_bone_mesh({"settings": args.settings, "cache": not args.no_cache}, comm)
    return read_mesh(
        args.input,
        comm,
        regions=_pairs(args.region, option="--region", integer=True) or None,
        surfaces=_pairs(args.surface, option="--surface", integer=True) or None,
        cell_data_key=args.cell_data_key,
    )


def run(args: argparse.Namespace) -> int:
    """Run ``bonefem mesh``; returns the exit code (2 for bad input, message on stderr)."""
    from bonefem._dolfinx import MPI

    rank = MPI.COMM_WORLD.rank
    try:
        if args.list:
            if rank == 0:
                print(_list(args.generator))
            return 0
        from bonefem.mesh.meshfile import write_mesh
        from bonefem.mesh.quality import summarize

        bone = _build(args)
        out = Path(args.output) if args.output else None
        if out is not None and out.suffix == ".xdmf":
            write_mesh(bone, out)
        summary = summarize(bone)
    except InputError as exc:
        if rank == 0:
            print(f"bonefem mesh: error: {exc}", file=sys.stderr)
        return 2
    if rank == 0:
        if args.json:
            print(json.dumps(summary.as_dict(), indent=1, default=str))
        else:
            print(summary.format())
            if out is not None:
                print(f"written: {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point (``python -m bonefem.mesh.command``)."""
    parser = argparse.ArgumentParser(prog="bonefem mesh")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
