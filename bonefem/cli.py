"""The ``bonefem`` command line (wiring only; the work is done in the modules it calls)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from bonefem._version import __version__


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with all subcommands."""
    parser = argparse.ArgumentParser(prog="bonefem", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("version", help="print bonefem and numerical-stack versions")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``bonefem`` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    if args.command == "version":
        from bonefem._dolfinx import versions

        print(f"bonefem {__version__}")
        for key, value in versions().items():
            print(f"{key}: {value}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
