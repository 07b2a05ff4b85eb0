"""Run a case slowly: ``python -m tests.helpers.slow_run CASE OUTPUT SECONDS`` sleeps
SECONDS before every step (a long run, for tests of concurrent access to its folder)."""

from __future__ import annotations

import sys
import time

from bonefem.coupling.loop import RunHooks
from bonefem.driver import run_case


def main(argv: list[str]) -> int:
    case, output, pause = argv[0], argv[1], float(argv[2])
    run_case(
        case, output=output, progress=False, hooks=RunHooks(before_step=lambda _: time.sleep(pause))
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
