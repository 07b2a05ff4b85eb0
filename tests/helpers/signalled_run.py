"""Run a case and send a signal to one rank before a given step (clean-stop tests).

``python -m tests.helpers.signalled_run CASE OUTPUT STEP SIGNAL [RANK]``: the loop's
``before_step`` hook sends SIGNAL (e.g. ``TERM``) to this process on rank RANK (default 0)
only, just before step STEP, as SLURM or ``kill`` would; the exit code is the CLI's.
"""

from __future__ import annotations

import os
import signal
import sys

from bonefem._dolfinx import MPI
from bonefem.coupling.loop import RunHooks
from bonefem.coupling.stop import RunStopped
from bonefem.driver import run_case


def main(argv: list[str]) -> int:
    case, output, step, name = argv[0], argv[1], int(argv[2]), argv[3]
    rank = int(argv[4]) if len(argv) > 4 else 0
    signum = signal.Signals[f"SIG{name}"]

    def send(k: int) -> None:
        if k == step and MPI.COMM_WORLD.rank == rank:
            os.kill(os.getpid(), signum)

    try:
        run_case(case, output=output, progress=False, hooks=RunHooks(before_step=send))
    except RunStopped as exc:
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
