"""Wall time per phase of a run, with the clock passed in (benchmarks pass CPU time)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping


class Timers:
    """Seconds per phase, accumulated.

    Args:
        clock: the clock (s); ``time.perf_counter`` by default, ``time.process_time`` for
            CPU-time phase statistics on a shared machine.
    """

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self.clock = clock
        self.seconds: dict[str, float] = {}

    def add(self, phase: str, seconds: float) -> None:
        """Add ``seconds`` to ``phase``."""
        self.seconds[phase] = self.seconds.get(phase, 0.0) + seconds

    def merge(self, seconds: Mapping[str, float]) -> None:
        """Add the phase times (s) of another timer, e.g. a metric's own phases."""
        for phase, value in seconds.items():
            self.add(phase, value)

    def timed(self, phase: str) -> _Timed:
        """Context manager timing a block."""
        return _Timed(self, phase)


class _Timed:
    def __init__(self, timers: Timers, phase: str) -> None:
        self.timers, self.phase = timers, phase

    def __enter__(self) -> None:
        self.t0 = self.timers.clock()

    def __exit__(self, *exc: object) -> None:
        self.timers.add(self.phase, self.timers.clock() - self.t0)
