"""Run a case slowly: ``python -m tests.helpers.slow_run CASE OUTPUT SECONDS [HOLD]`` sleeps
SECONDS before every step (a long run, for tests of concurrent access to its folder).

With HOLD (a path), every step also waits until that file exists (at most 300 s): the test
creates it when it is done with the running folder, so the run cannot end early however
loaded the machine is (e.g. the suite's other pytest-xdist worker). Once it exists the run
goes on at full speed (no more sleeps)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from bonefem.coupling.loop import RunHooks
from bonefem.driver import run_case

#: the longest a step waits for the HOLD file (s): a test that failed never creates it
MAX_HOLD = 300.0


def _pause(seconds: float, hold: Path | None) -> None:
    if hold is not None and hold.exists():
        return
    time.sleep(seconds)
    deadline = time.monotonic() + MAX_HOLD
    while hold is not None and not hold.exists() and time.monotonic() < deadline:
        time.sleep(0.05)


def main(argv: list[str]) -> int:
    case, output, pause = argv[0], argv[1], float(argv[2])
    hold = Path(argv[3]) if len(argv) > 3 else None
    run_case(case, output=output, progress=False,
             hooks=RunHooks(before_step=lambda _: _pause(pause, hold)))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
