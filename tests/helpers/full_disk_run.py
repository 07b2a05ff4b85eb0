"""Run a case whose disk "fills up" before a given step (fault injection for write errors).

``python -m tests.helpers.full_disk_run CASE OUTPUT STEP``: before step STEP, rank 0
replaces metrics.csv by a symbolic link to /dev/full, so the next metrics row fails with
ENOSPC ("No space left on device") as on a full disk. Exit codes as the CLI's.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from bonefem._dolfinx import MPI
from bonefem.coupling.loop import RunHooks
from bonefem.driver import run_case
from bonefem.errors import InputError


def main(argv: list[str]) -> int:
    case, output, step = argv[0], Path(argv[1]), int(argv[2])

    def fill(k: int) -> None:
        if k == step and MPI.COMM_WORLD.rank == 0:
            metrics = output / "metrics.csv"
            link = output / ".metrics-full"
            link.symlink_to("/dev/full")
            os.replace(link, metrics)

    try:
        run_case(case, output=output, progress=False, hooks=RunHooks(before_step=fill))
    except InputError as exc:
        if MPI.COMM_WORLD.rank == 0:
            print(f"bonefem: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
