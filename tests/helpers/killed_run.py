"""Run a case and SIGKILL the process before a given step (fault injection for restarts).

``python -m tests.helpers.killed_run CASE OUTPUT STEP``: the loop's ``before_step`` hook
kills the process just before step STEP runs, as a node failure or ``kill -9`` would.
"""

from __future__ import annotations

import os
import signal
import sys

from bonefem.coupling.loop import RunHooks
from bonefem.driver import run_case


def main(argv: list[str]) -> int:
    case, output, step = argv[0], argv[1], int(argv[2])

    def kill(k: int) -> None:
        if k == step:
            os.kill(os.getpid(), signal.SIGKILL)

    run_case(case, output=output, progress=False, hooks=RunHooks(before_step=kill))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
