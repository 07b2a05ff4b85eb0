"""Progress reporting of long runs (rank 0 only).

On a terminal: a rich progress bar with simulated time, step, wall time, ETA and the latest
key metrics. Otherwise (batch jobs, pipes): a plain log line at most every ``interval``
seconds of wall time and at every metrics row, so cluster logs stay readable.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from bonefem.metrics import columns as C

logger = logging.getLogger("bonefem.progress")


def _fmt_metrics(metrics: Mapping[str, float]) -> str:
    parts = []
    for key, label, unit in (
        (C.pct(C.ABMD), "aBMD", "%"),
        (C.pct(C.BMD_VOL), "vBMD", "%"),
        (C.pct(C.STIFFNESS), "K", "%"),
        (C.RISK_INDEX, "FRI", ""),
    ):
        if key in metrics and metrics[key] == metrics[key]:  # skip NaN
            parts.append(
                f"{label} {metrics[key]:+.2f}{unit}" if unit else f"{label} {metrics[key]:.3f}"
            )
    return "  ".join(parts)


class Progress:
    """Progress of a run from t = t_start to t_end (days).

    Args:
        t_end: end time (days).
        enabled: show anything at all (False on ranks other than 0 and with --quiet).
        interval: seconds between plain log lines when not on a terminal.
        t_start: start time (days), > 0 on restart.
    """

    def __init__(
        self, t_end: float, *, enabled: bool = True, interval: float = 30.0, t_start: float = 0.0
    ) -> None:
        self.t_end = t_end
        self.t_start = t_start
        self.enabled = enabled
        self.interval = interval
        self.tty = enabled and sys.stderr.isatty()
        self._bar: Any = None
        self._task: Any = None
        self._t0 = time.perf_counter()
        self._last_log = -1e9
        self._metrics: dict[str, float] = {}

    def __enter__(self) -> Progress:
        if self.tty:
            from rich.progress import (
                BarColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
            from rich.progress import (
                Progress as RichProgress,
            )

            self._bar = RichProgress(
                TextColumn("[bold]{task.fields[years]:7.2f} y"),
                BarColumn(),
                TextColumn("step {task.fields[step]}"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                TextColumn("{task.fields[metrics]}"),
                transient=False,
            )
            self._bar.__enter__()
            self._task = self._bar.add_task(
                "run",
                total=self.t_end,
                completed=self.t_start,
                years=self.t_start / 365.25,
                step=0,
                metrics="",
            )
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.__exit__(exc_type, exc, tb)

    def update(self, t: float, step: int, metrics: Mapping[str, float] | None = None) -> None:
        """Report simulated time t (days) after a step; ``metrics`` when a row was written."""
        if not self.enabled:
            return
        if metrics is not None:
            # a NaN (e.g. the virtual tests in rows between their own cadence) keeps the
            # last value shown
            for key, value in metrics.items():
                if value == value or key not in self._metrics:
                    self._metrics[key] = value
        text = _fmt_metrics(self._metrics)
        if self._bar is not None:
            self._bar.update(self._task, completed=t, years=t / 365.25, step=step, metrics=text)
            return
        now = time.perf_counter()
        if metrics is not None or now - self._last_log >= self.interval or t >= self.t_end:
            self._last_log = now
            wall = now - self._t0
            done = (t - self.t_start) / max(self.t_end - self.t_start, 1e-12)
            eta = wall * (1 - done) / done if done > 0 else float("nan")
            logger.info(
                "t = %.3f y (%5.1f %%), step %d, wall %.1f s, ETA %.0f s  %s",
                t / 365.25,
                100 * t / self.t_end,
                step,
                wall,
                eta,
                text,
            )
