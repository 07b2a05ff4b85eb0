"""Cohorts at any age: the state at t = 0 from a 0-D history, not from decades of FE.

A trial cohort (say women of 70, 19 years past menopause) is not at the healthy steady
state: their bone cells, BV/TV, mineral content and mechanical stimulus carry the decades
before. Simulating those decades with the finite-element model costs hours; the cell model
at a few points costs seconds. :class:`CohortHistory` integrates the scenario's own
signals (estrogen with a final menstrual period before t = 0, the age-related loss) from
``history_from_age_years`` to the age at t = 0, at the distinct initial BV/TV values of the
case (one per material region), with the 0-D mechanical feedback of
:mod:`bonefem.biology.zerod` (habitual stress constant, so Ψ/Ψ_ss = (f₀/f)^2.58
(ash₀/ash)^2.74, Hernandez et al. 2001). A run then starts every cell from the history of
its region:

* cells, f and m: the history's state at t = 0 (f₀ of the case is the BV/TV at the start of
  the history, i.e. the young-adult value);
* mechanical reference: Ψ_ss is set so that the relative stimulus at the first solve equals
  the history's Ψ/Ψ_ss (the mechanostat keeps the brake the bone loss has built up).

Windows of therapies start at t >= 0, so a history holds no therapy; the andropause decline
starts at t >= 0 too (ASSUMPTION: a history is menopause plus ageing). A measured baseline
T-score is matched by scaling the young-adult BV/TV the history starts from
(``baseline_t_score``, :mod:`bonefem.biology.densitometry`).
The points are the same on every MPI rank (from the case, not the partition), so the state
does not depend on the rank count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from bonefem.biology.cells import BoneCellModel
from bonefem.biology.effects import SystemicSignals
from bonefem.remodeling import ash_fraction

__all__ = ["HERNANDEZ_ASH_EXP", "HERNANDEZ_F_EXP", "CohortHistory", "stress_feedback"]

FloatArray = npt.NDArray[np.float64]

HERNANDEZ_F_EXP = 2.58
"""Exponent of BV/TV in E ~ f^2.58 ash^2.74 (Hernandez et al. 2001, Bone 29:74)."""
HERNANDEZ_ASH_EXP = 2.74
"""Exponent of the ash fraction in the same law."""
HISTORY_STEP_DAYS = 28.0
"""Outer step of the history (days); the cell model subdivides with error control."""


def stress_feedback(
    f0: FloatArray, ash0: FloatArray, f: FloatArray, m: FloatArray, scale: float = 1.0
) -> FloatArray:
    """Ψ/Ψ_ss at constant habitual stress x ``scale`` (dimensionless, 0-D feedback).

    Args:
        f0: reference BV/TV (dimensionless).
        ash0: reference ash fraction (dimensionless).
        f: BV/TV now.
        m: mineral content now (dimensionless).
        scale: habitual load factor (dimensionless).
    """
    return np.asarray(
        scale**2 * (f0 / f) ** HERNANDEZ_F_EXP * (ash0 / ash_fraction(m)) ** HERNANDEZ_ASH_EXP
    )


@dataclass(frozen=True)
class CohortHistory:
    """The state at t = 0 of points with initial BV/TV ``points`` after a 0-D history.

    Attributes:
        points: young-adult BV/TV values (dimensionless), sorted, distinct.
        cells: state (8, k) at t = 0, one column per point.
        ratio: Ψ/Ψ_ss at t = 0 per point (dimensionless).
        years: length of the history (years).
    """

    points: FloatArray
    cells: FloatArray
    ratio: FloatArray
    years: float

    @classmethod
    def run(
        cls, model: BoneCellModel, signals: SystemicSignals, f0: FloatArray, years: float
    ) -> CohortHistory:
        """Integrate from t = -years (in years before t = 0) to 0 at the distinct ``f0``."""
        points = np.unique(np.asarray(f0, dtype=float))
        state = model.healthy_state(points)
        ash0 = ash_fraction(state[4])
        t, t_end = -365.25 * years, 0.0
        while t < t_end - 1e-9:
            dt = min(HISTORY_STEP_DAYS, t_end - t)
            m_now = state[4].copy()

            def stim(f: FloatArray, m_now: FloatArray = m_now) -> FloatArray:
                return stress_feedback(points, ash0, f, m_now)

            state = model.advance(state, t, dt, signals, stim).state
            t += dt
        ratio = stress_feedback(points, ash0, state[3], state[4])
        return cls(points, state, ratio, years)

    def _index(self, f0: FloatArray) -> npt.NDArray[np.intp]:
        idx = np.searchsorted(self.points, f0)
        idx = np.clip(idx, 0, self.points.size - 1)
        if not np.all(self.points[idx] == f0):
            raise ValueError("initial BV/TV values outside the history's points")
        return idx

    def state(self, f0: FloatArray) -> FloatArray:
        """State (8, n) at t = 0 for points with young-adult BV/TV ``f0``."""
        return np.asarray(self.cells[:, self._index(np.asarray(f0, dtype=float))])

    def stimulus_ratio(self, f0: FloatArray) -> FloatArray:
        """Ψ/Ψ_ss at t = 0 (dimensionless) for points with young-adult BV/TV ``f0``."""
        return np.asarray(self.ratio[self._index(np.asarray(f0, dtype=float))])
