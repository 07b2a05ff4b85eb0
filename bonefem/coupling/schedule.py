"""When things happen in a run: step limits, output, metrics and checkpoint times.

Each step of the loop is at most ``run.biology_step_days`` long and is shortened to land
exactly on the next metrics, field or checkpoint time, the end of the run and every change
of activity (therapy starts/stops and injections are milestones inside the cell-model
integrator instead). All times in days from the start of the run.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

#: Times closer than this (days) are the same time.
TIME_EPS = 1.0e-9
#: Tolerance (days) of "this step lands on a scheduled output".
ON_SCHEDULE = 1.0e-6


def output_times(duration: float, every: float) -> FloatArray:
    """0, every, 2 every, ... up to ``duration`` (days), always with the end."""
    n = math.floor(duration / every + TIME_EPS)
    ts = [k * every for k in range(n + 1)]
    if duration - ts[-1] > TIME_EPS:
        ts.append(duration)
    return np.array(ts)


@dataclass(frozen=True)
class Schedule:
    """The time grid of a run.

    Attributes:
        duration: end of the run (days).
        max_step: longest coupled step (days).
        metrics: metrics-row times (days), with 0 and the end.
        fields: field-output times (days), with 0 and the end.
        checkpoints: checkpoint times (days), with 0 and the end.
        activity_changes: times the habitual load scale changes (days).
        load_scale: the habitual load scale s(t) (-).
        modulus_tolerance: re-solve when max |E/E_solved - 1| exceeds this (-).
    """

    duration: float
    max_step: float
    metrics: FloatArray
    fields: FloatArray
    checkpoints: FloatArray
    activity_changes: Sequence[float]
    load_scale: Callable[[float], float]
    modulus_tolerance: float

    def next_stop(self, t: float, next_metrics: int, next_fields: int, next_ckpt: int) -> float:
        """End of the step that starts at t (days), given the next output indices."""
        stops = [self.duration, t + self.max_step]
        for arr, idx in ((self.metrics, next_metrics), (self.fields, next_fields)):
            if idx < arr.size:
                stops.append(float(arr[idx]))
        if next_ckpt < self.checkpoints.size:
            stops.append(float(self.checkpoints[next_ckpt]))
        stops += [c for c in self.activity_changes if c > t + TIME_EPS]
        return min(s for s in stops if s > t + TIME_EPS)

    @staticmethod
    def due(times: FloatArray, index: int, t: float) -> bool:
        """Whether the output ``times[index]`` is at t."""
        return index < times.size and abs(t - times[index]) < ON_SCHEDULE
