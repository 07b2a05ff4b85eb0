"""The bone cell model as a Rosenbrock-W problem: state layout, bone rates, split substeps.

:class:`CellProblem` adapts :class:`~bonefem.biology.cells.BoneCellModel` to the
integrator's :class:`~bonefem.biology.integrator.WProblem` protocol: right-hand side and
W-solver (the exact 3x3 cell block per point, the bone rows explicit or linearly implicit
in their own decay), the time derivative along the drivers, the logarithmic state update
and the error norm. Large problems are computed in blocks of :data:`CELL_BLOCK` points
(:meth:`CellProblem.split`; ROS2 part by part, multi-stage methods stage by stage with
:meth:`CellProblem.prepare_stage`). Units: days, pM; f and m dimensionless.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from bonefem.biology.effects import Effects, StageSignals, SystemicSignals
from bonefem.biology.integrator import inverse_3x3, point_blocks
from bonefem.errors import SolverError
from bonefem.remodeling import CellDrivenRemodeling

if TYPE_CHECKING:
    from bonefem.biology.cells import BoneCellModel

__all__ = [
    "CELL_BLOCK",
    "IDS",
    "IF",
    "IM",
    "IOBA",
    "IOBP",
    "IOCA",
    "IZ1",
    "IZ2",
    "N_STATES",
    "SPLIT_MIN_BLOCKS",
    "STATE_NAMES",
    "CellProblem",
    "Stimulus",
    "bone_rates",
    "formation_activity",
]

FloatArray = npt.NDArray[np.float64]
Stimulus = None | float | FloatArray | Callable[[FloatArray], FloatArray]
"""Mechanical drive Psi/Psi_ss: None (homeostatic), a number or an array per point, or a
callable ``stimulus(f) -> Psi/Psi_ss`` evaluated with the stage value of f."""

IOBP, IOBA, IOCA, IF, IM, IDS, IZ1, IZ2 = 0, 1, 2, 3, 4, 5, 6, 7
N_STATES = 8
STATE_NAMES = ("OBp", "OBa", "OCa", "f", "m", "Ds", "z1", "z2")


def formation_activity(law: CellDrivenRemodeling, state: FloatArray) -> FloatArray:
    """OBa_F (pM): the active osteoblasts seen through the remodelling-period delay."""
    return state[IZ2] if law.params.delay_rate > 0.0 else state[IOBA]


def bone_rates(
    law: CellDrivenRemodeling, y: FloatArray, e: Effects
) -> tuple[FloatArray, FloatArray]:
    """Rates of rows 3-7 (f, m, Ds per day; z1, z2 in pM/day) and F/f (1/day).

    :mod:`bonefem.remodeling.bone`: volume and mineral from the (delayed) formation and the
    resorption, the slow mineral deficit, and the two-stage delay of the formation activity.
    """
    p = law.params
    out = np.empty((N_STATES - 3, y.shape[1]))
    slow = y[IDS] if p.slow_share > 0.0 else None
    out[0], out[1], form_rel = law.volume_rates(
        y[IF],
        y[IM],
        formation_activity(law, y),
        y[IOCA],
        e.resorption_factor,
        e.modelling_formation,
        slow,
    )
    out[2] = law.slow_deficit_rate(form_rel, y[IDS]) if slow is not None else 0.0
    rate = p.delay_rate
    out[3] = rate * (y[IOBA] - y[IZ1])
    out[4] = rate * (y[IZ1] - y[IZ2])
    return out, form_rel


CELL_BLOCK = 16384
"""Points per part of a split substep (:meth:`CellProblem.split`): numpy's temporaries stay
small and in cache instead of being allocated (and page-faulted) at the size of a rank's
arrays (issue 15). The work is per point: the numbers do not depend on the block size."""

SPLIT_MIN_BLOCKS = 2
"""Up to this many blocks a substep runs in one pass (the split's overhead is not repaid)."""


def _part(psi: FloatArray | float | None, sl: slice) -> FloatArray | float | None:
    """The points ``sl`` of a per-point stimulus (a number, None or one value as it is)."""
    return psi[sl] if isinstance(psi, np.ndarray) and psi.ndim == 1 and psi.size > 1 else psi


class CellProblem:
    """The cell model as a :class:`~bonefem.biology.integrator.WProblem` (state (8, N)).

    The cell populations are integrated in u = ln(x) (positive whatever the step: the
    Lemaire "OBp retraction" failure cannot occur), with the 3x3 Jacobian in u of
    :meth:`BoneCellModel.log_rates_jacobian` per point; f is explicit (W = I: its dynamics
    are slow) and m linearly implicit with the diagonal term of its own decay. F_t is the
    one-sided difference of the log-rates along the explicit drivers (signals, and f
    through the stimulus) over 1e-3 of the substep: without it the W-method lags a slowly
    moving quasi-steady state by O(h) once h >> 1/A_OCa, and its error estimate then
    forced substeps of ~0.3 day through years of post-menopausal drift. Milestones are
    never inside a substep, so the signals are smooth there.

    The integrator computes the stages block by block (:meth:`split`); the methods below
    compute them on all points at once (the reference the split is tested against).

    Args:
        model: the cell model.
        signals: systemic signals.
        stimulus: mechanical drive (see :data:`Stimulus`).
    """

    def __init__(self, model: BoneCellModel, signals: SystemicSignals, stimulus: Stimulus) -> None:
        self.model = model
        self.signals = signals
        self.stimulus = stimulus
        self.rp = model.remodeling.params

    def split(
        self, t: float, y: FloatArray, h: float
    ) -> tuple[tuple[int, ...], list[tuple[Any, CellProblem, FloatArray]]] | None:
        """The parts of one substep of size h from (t, y): blocks of :data:`CELL_BLOCK` points.

        None (one pass) for at most :data:`SPLIT_MIN_BLOCKS` blocks. The stimulus takes the
        whole f (the coupled loop's callable), so it is evaluated here on all points for each
        role: at f, at f moved by F_t's increment, and at the stage value f + h F_f (f is
        explicit without F_t: its stage is known before the stages).
        """
        blocks = point_blocks(y.shape[1], CELL_BLOCK)
        if len(blocks) <= SPLIT_MIN_BLOCKS:
            return None
        rp, dlt = self.rp, 1.0e-3 * h
        e = self.signals.effects(t)
        bone = [bone_rates(self.model.remodeling, y[:, sl], e) for sl in blocks]
        rate_f = np.concatenate([b[0][0] for b in bone])
        # the f of each role, as time_derivative and the stage update compute it
        f_roles = [y[IF], np.clip(y[IF] + dlt * rate_f, rp.f_min, rp.f_max)]
        if self.model.tableau is None:  # ROS2: the stage f is known before the stages
            f_roles.append(np.clip(y[IF] + h * (rate_f + 0.0), rp.f_min, rp.f_max))
        psi = [self.model._psi(self.stimulus, f) for f in f_roles]
        if self.model.tableau is not None:  # set stage by stage (prepare_stage)
            f_roles.append(y[IF])
            psi.append(None)
        known = StageSignals(
            self.signals, {t: e, t + dlt: self.signals.effects(t + dlt), t + h: None}
        )
        parts: list[tuple[Any, CellProblem, FloatArray]] = []
        for sl, rates in zip(blocks, bone, strict=True):
            part = _CellPart(self.model, known, None)
            part.psi, part.bone = [_part(p, sl) for p in psi], rates
            part.check = (f_roles[1][sl], f_roles[2][sl])
            parts.append(((slice(None), sl), part, y[:, sl]))
        return y.shape, parts

    def prepare_stage(
        self, t: float, parts: Sequence[tuple[Any, CellProblem, FloatArray]], states: list[Any]
    ) -> None:
        """Hand each part the stimulus at its stage state (a stage of a multi-stage method).

        The stimulus takes the whole f (:meth:`split`): it is evaluated once on the stage f
        of all parts. ``t`` (days) is the stage time (unused: the drive depends on f only).
        """
        f = np.empty(sum(st.shape[1] for st in states))
        for (index, _, _), st in zip(parts, states, strict=True):
            f[index[1]] = st[IF]
        psi = self.model._psi(self.stimulus, f)
        for (index, part, _), st in zip(parts, states, strict=True):
            assert isinstance(part, _CellPart)
            part.psi[2] = _part(psi, index[1])
            part.check = (part.check[0], st[IF])

    def _stimulus(self, role: int, f: FloatArray) -> FloatArray | float | None:
        """Psi/Psi_ss at f (role 0: at y, 1: moved for F_t, 2: at the stage)."""
        return self.model._psi(self.stimulus, f)

    def linearise(
        self, t: float, y: FloatArray, gh: float
    ) -> tuple[FloatArray, Callable[[FloatArray], FloatArray]]:
        """F(t, y) (log-rates 1/day, rows 3-7 per day) and the solver of W k = b.

        W is the exact 3x3 cell block per point; m, Ds and the delay stages are linearly
        implicit in their own decay (the delay chain's sub-diagonal included); f explicit.
        """
        e = self.signals.effects(t)
        bone, form_rel = bone_rates(self.model.remodeling, y, e)
        return self._linearise(e, y, gh, self._stimulus(0, y[IF]), bone, form_rel)

    def _linearise(
        self,
        e: Effects,
        y: FloatArray,
        gh: float,
        psi: FloatArray | float | None,
        bone: FloatArray,
        form_rel: FloatArray,
    ) -> tuple[FloatArray, Callable[[FloatArray], FloatArray]]:
        g, jac = self.model._log_rates_sparse(y[0:3], e, psi)
        f0 = np.empty_like(y)
        f0[0], f0[1], f0[2] = g[0], g[1], g[2]
        f0[3:] = bone
        w = [
            [(1.0 if i == j else 0.0) - gh * (0.0 if d is None else d) for j, d in enumerate(r)]
            for i, r in enumerate(jac)
        ]
        (c00, c01, c02, c10, c11, c12, c20, c21, c22), inv_det = inverse_3x3(w)
        wm = 1.0 / (1.0 + gh * (form_rel + self.rp.k_sec))
        wd = 1.0 / (1.0 + gh * (form_rel + self.rp.k_slow))
        rate = self.rp.delay_rate
        wz = 1.0 / (1.0 + gh * rate)

        def solve(b: FloatArray) -> FloatArray:
            k = np.empty_like(b)
            k[0] = (c00 * b[0] + c01 * b[1] + c02 * b[2]) * inv_det
            k[1] = (c10 * b[0] + c11 * b[1] + c12 * b[2]) * inv_det
            k[2] = (c20 * b[0] + c21 * b[1] + c22 * b[2]) * inv_det
            k[IF] = b[IF]
            k[IM] = b[IM] * wm
            k[IDS] = b[IDS] * wd
            k[IZ1] = b[IZ1] * wz
            k[IZ2] = (b[IZ2] + gh * rate * k[IZ1]) * wz
            return k

        return f0, solve

    def rhs(self, t: float, y: FloatArray) -> FloatArray:
        """F(t, y) (see :meth:`linearise`)."""
        e = self.signals.effects(t)
        g = self.model._log_rates(y[0:3], e, self._stimulus(2, y[IF]))
        out = np.empty_like(y)
        out[0], out[1], out[2] = g[0], g[1], g[2]
        out[3:] = bone_rates(self.model.remodeling, y, e)[0]
        return out

    def time_derivative(self, t: float, y: FloatArray, f0: FloatArray, h: float) -> FloatArray:
        """F_t of the log-rates along the explicit drivers (1/day^2); zero for f and m."""
        dlt = 1.0e-3 * h
        f_moved = np.clip(y[IF] + dlt * f0[IF], self.rp.f_min, self.rp.f_max)
        g = self.model._log_rates(y[0:3], self.signals.effects(t + dlt), self._stimulus(1, f_moved))
        ft = np.empty_like(y)
        for i in range(3):
            np.divide(np.subtract(g[i], f0[i], out=ft[i]), dlt, out=ft[i])
        ft[IF:] = 0.0
        return ft

    def update(self, y: FloatArray, h: float, k: FloatArray, final: bool) -> FloatArray:
        """Return y + h k (x exp(h k) for the cells; f and, at the end, m clipped)."""
        out = np.empty_like(y)
        for sl in point_blocks(y.shape[1], CELL_BLOCK, SPLIT_MIN_BLOCKS):
            self._update(out[:, sl], y[:, sl], h, k[:, sl], final)
        return out

    def _update(self, out: FloatArray, y: FloatArray, h: float, k: FloatArray, final: bool) -> None:
        cells = np.multiply(k[0:3], h, out=out[0:3])
        np.multiply(y[0:3], np.exp(cells, out=cells), out=cells)
        out[IF] = np.clip(y[IF] + h * k[IF], self.rp.f_min, self.rp.f_max)
        m = y[IM] + h * k[IM]
        out[IM] = np.clip(m, 0.0, self.rp.m_max) if final else m
        ds = y[IDS] + h * k[IDS]
        out[IDS] = np.maximum(ds, 0.0) if final else ds
        out[IZ1:] = y[IZ1:] + h * k[IZ1:]

    def error_norm(self, y: FloatArray, k_sum: FloatArray, half_h: float) -> float:
        """Max over points of the error h/2 (k1 + k2) over its tolerance (dimensionless)."""
        blocks = point_blocks(y.shape[1], CELL_BLOCK, SPLIT_MIN_BLOCKS)
        return max((self._error(y[:, s], k_sum[:, s], half_h) for s in blocks), default=0.0)

    def _error(self, y: FloatArray, k_sum: FloatArray, half_h: float) -> float:
        m = self.model
        err_c = float(np.max(np.abs(k_sum[0:3]), initial=0.0)) * half_h / m.rtol_cells
        scale_f = m.atol_f + m.rtol_bone * y[IF]
        scale_m = m.atol_m + m.rtol_bone * y[IM]
        err_f = float(np.max(np.abs(k_sum[IF]) / scale_f, initial=0.0)) * half_h
        err_m = float(np.max(np.abs(k_sum[IM]) / scale_m, initial=0.0)) * half_h
        # the slow deficit: an absolute scale like m's at the primary content
        scale_d = m.atol_m + m.rtol_bone * self.rp.m_primary
        err_d = float(np.max(np.abs(k_sum[IDS]), initial=0.0)) * half_h / scale_d
        scale_z = m.rtol_cells * np.abs(y[IZ1:]) + 1e-12
        err_z = float(np.max(np.abs(k_sum[IZ1:]) / scale_z, initial=0.0)) * half_h
        return max(err_c, err_f, err_m, err_d, err_z)


class _CellPart(CellProblem):
    """A block of a split substep: its stimulus per role and bone rates at y given by split."""

    psi: list[FloatArray | float | None]
    bone: tuple[FloatArray, FloatArray]  # rates of rows 3-7 and F/f at y
    check: tuple[FloatArray, FloatArray]  # the f of roles 1 and 2

    def linearise(
        self, t: float, y: FloatArray, gh: float
    ) -> tuple[FloatArray, Callable[[FloatArray], FloatArray]]:
        """:meth:`CellProblem.linearise` with the stimulus and bone rates given."""
        return self._linearise(self.signals.effects(t), y, gh, self.psi[0], *self.bone)

    def _stimulus(self, role: int, f: FloatArray) -> FloatArray | float | None:
        if role and not np.array_equal(f, self.check[role - 1]):
            raise SolverError("cell model: a stage f differs from the one its stimulus was for")
        return self.psi[role]
