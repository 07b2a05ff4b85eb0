"""The cell-driven law: the bone cell population model in every cell.

Pivonka et al. (2008, J Theor Biol 254:1099) with the mechanical regulation of Scheiner
et al. (2013, CMAME 254:181): osteoblasts and osteoclasts, driven by the systemic signals
(hormones, drugs) and the relative mechanical stimulus Ψ/Ψ_ss, resorb and form bone
(:mod:`bonefem.remodeling.bone`). Integrated by the cell model's Rosenbrock W-method with
error control; the loop's stop event is an event of that integrator. A cohort history
(:mod:`bonefem.biology.history`) may give the state at t = 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bonefem.biology.cells import BoneCellModel
from bonefem.biology.effects import SystemicSignals
from bonefem.biology.history import CohortHistory
from bonefem.remodeling.bone import RemodelingParameters
from bonefem.remodeling.law import (
    Drive,
    FloatArray,
    LawContext,
    LawStep,
    ReduceMax,
    StopEvent,
    register_law,
)


@dataclass
class CellDrivenLaw:
    """The coupled loop's view of :class:`~bonefem.biology.cells.BoneCellModel`.

    Args:
        model: the cell model.
        signals: systemic signals (hormones, drugs) over time (days).
    """

    model: BoneCellModel
    signals: SystemicSignals
    history: CohortHistory | None = None

    @property
    def params(self) -> RemodelingParameters:
        """Bone composition and bounds (the cell model's remodelling parameters)."""
        return self.model.remodeling.params

    def initial_state(self, f0: FloatArray) -> FloatArray:
        """State (8, n) at t = 0 of points with (young-adult) BV/TV f0.

        The healthy steady state (homeostatic Ψ/Ψ_ss = 1), or the end of the cohort history.
        """
        if self.history is not None:
            return self.history.state(f0)
        return self.model.healthy_state(f0)

    def initial_ratio(self, f0: FloatArray) -> FloatArray | None:
        """Ψ/Ψ_ss at the end of the cohort history (-), or None (homeostatic start)."""
        return None if self.history is None else self.history.stimulus_ratio(f0)

    def advance(
        self,
        cells: FloatArray,
        t: float,
        t_end: float,
        drive: Drive,
        *,
        reduce_max: ReduceMax,
        h_init: float | None,
        stop: StopEvent,
    ) -> LawStep:
        """Integrate the cell model from t to t_end (days), stopping at the stop event."""
        res = self.model.advance(
            cells,
            t,
            t_end - t,
            self.signals,
            drive.ratio,
            reduce_max=reduce_max,
            h_init=h_init,
            stop=stop,
        )
        return LawStep(
            res.state, res.t_end if res.stopped else t_end, bool(res.stopped), res.h_next
        )

    def derived(self, cells: FloatArray, t: float, ratio: FloatArray) -> Mapping[str, FloatArray]:
        """RANKL, OPG, ... (pM) of the cell model at time t and stimulus ratio."""
        return self.model.derived(cells, self.signals.effects(t), ratio)

    def turnover(self, cells: FloatArray, t: float) -> tuple[FloatArray, FloatArray] | None:
        """Bone volume formed and resorbed per total volume and day (1/day) per cell.

        Formation S (k_form OBa_F + F_mod (1 - w)) g_form and resorption S k_res OCa g_res
        (:meth:`bonefem.remodeling.bone.CellDrivenRemodeling.formation_resorption`), with
        the systemic effects just before time t (days; the step ending at t,
        :meth:`bonefem.biology.cells.BoneCellModel.turnover_at`): df/dt is their difference.
        """
        return self.model.turnover_at(cells, self.signals, t)


@register_law("cells")
def _cells(context: LawContext) -> CellDrivenLaw:
    return CellDrivenLaw(context.cell_model, context.signals, context.history)
