"""Named model terms through which systemic signals (hormones, cytokines, drugs) act.

Every systemic signal is reduced, at each time, to one :class:`Effects` record of scalars
(the same in every FE cell). Each field is one named term of the cell model; the mapping
from signals to these terms is documented in ``docs/model-biology.md`` (table "signal ->
term") and implemented by the hormone/drug modules of :mod:`bonefem.biology.agents`.

Neutral values (``Effects()``) leave the cell model at its healthy steady state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

__all__ = [
    "NEUTRAL",
    "ConstantSignals",
    "Effects",
    "PiecewiseSignals",
    "StageSignals",
    "SystemicSignals",
]


@dataclass(frozen=True, slots=True)
class Effects:
    """Values of the hormone/drug-controlled terms of the cell model at one time.

    Attributes:
        rankl_production: extra RANKL production P_RANKL,d (pM/day), added to beta_RANKL
            (estrogen deficiency, glucocorticoids, sympathetic tone, injections).
        opg_production: extra OPG production P_OPG,d (pM/day) (injections).
        opg_factor: multiplier of the cellular OPG production beta_OPG (dimensionless;
            estrogen raises OPG, glucocorticoids lower it).
        pth_production: extra PTH production P_PTH,d (pM/day) (continuous PTH excess,
            pulse-averaged teriparatide exposure).
        obu_factor: multiplier of the OBu -> OBp differentiation flux D_OBu
            (dimensionless; intermittent PTH anabolic action, insulin resistance).
        obp_factor: multiplier of the OBp -> OBa differentiation rate D_OBp
            (dimensionless; testosterone, glucocorticoids).
        oba_apoptosis_factor: multiplier of A_OBa (dimensionless; glucocorticoids up,
            intermittent PTH and androgens down).
        ocp_factor: multiplier of the OCp -> OCa differentiation flux D_OCp
            (dimensionless; TNF-alpha / IL-1).
        oca_apoptosis_factor: multiplier of A_OCa (dimensionless; estrogen shortens the
            osteoclast lifespan, bisphosphonates induce apoptosis).
        rank_sensitivity: multiplier of the RANKL-RANK potency, i.e. K_RANKL is divided by
            it (dimensionless; TNF-alpha / IL-1 sensitise precursors to RANKL).
        rankl_decoy: additional dimensionless binding term in the RANKL denominator,
            chi * K_den * C_den (denosumab).
        resorption_factor: multiplier of the bone volume resorbed per osteoclast
            (dimensionless; bisphosphonates).
        modelling_formation: bone apposition on quiescent surfaces, independent of
            resorption (mm/day: mineral apposition rate x fraction of the surface
            activated; intermittent PTH, modelling-based formation). Added to the
            remodelling formation per unit bone surface in
            :class:`~bonefem.remodeling.bone.CellDrivenRemodeling`.
        obp_injection: external OBp source (pM/day; Lemaire/Pivonka test injections).
        oba_injection: external OBa source (pM/day).
        oca_injection: external OCa source (pM/day).
    """

    rankl_production: float = 0.0
    opg_production: float = 0.0
    opg_factor: float = 1.0
    pth_production: float = 0.0
    obu_factor: float = 1.0
    obp_factor: float = 1.0
    oba_apoptosis_factor: float = 1.0
    ocp_factor: float = 1.0
    oca_apoptosis_factor: float = 1.0
    rank_sensitivity: float = 1.0
    rankl_decoy: float = 0.0
    resorption_factor: float = 1.0
    modelling_formation: float = 0.0
    obp_injection: float = 0.0
    oba_injection: float = 0.0
    oca_injection: float = 0.0


NEUTRAL = Effects()
"""Neutral effects: the healthy, premenopausal, untreated reference."""


@runtime_checkable
class SystemicSignals(Protocol):
    """Time-dependent systemic signals as seen by the cell model.

    ``effects(t)`` is evaluated by the integrator at its stage times (t in days from the
    start of the simulation); ``milestones(t_end)`` lists the times (days) at which the
    signals are discontinuous (therapy starts/stops, surgery, dose times where relevant),
    which integrator substeps never step across.
    """

    def effects(self, t: float) -> Effects:
        """Return the model-term values at time t (days)."""
        ...

    def milestones(self, t_end: float) -> list[float]:
        """Return sorted discontinuity times in [0, t_end] (days)."""
        ...


@dataclass(frozen=True, slots=True)
class ConstantSignals:
    """Signals constant in time (used for the healthy reference and for tests).

    Attributes:
        value: the effects applied at every time.
    """

    value: Effects = NEUTRAL

    def effects(self, t: float) -> Effects:
        """Return the constant effects (any t, days)."""
        return self.value

    def milestones(self, t_end: float) -> list[float]:
        """No discontinuities."""
        return []


@dataclass(frozen=True, slots=True)
class PiecewiseSignals:
    """Effects switched on in a time window [start, stop) (days), neutral elsewhere.

    This is the form of the Lemaire (2004) / Pivonka (2008) injection tests.

    Attributes:
        start: start of the window (days).
        stop: end of the window (days).
        during: effects inside the window.
        outside: effects outside the window.
    """

    start: float
    stop: float
    during: Effects
    outside: Effects = field(default=NEUTRAL)

    def effects(self, t: float) -> Effects:
        """Return ``during`` inside [start, stop), else ``outside`` (t in days)."""
        return self.during if self.start <= t < self.stop else self.outside

    def milestones(self, t_end: float) -> list[float]:
        """The window edges that fall in [0, t_end] (days)."""
        return sorted(x for x in (self.start, self.stop) if 0.0 <= x <= t_end)


class StageSignals:
    """Signals with the effects at a substep's stage times computed once, shared by its parts.

    Args:
        signals: the signals.
        known: effects by time (days); None = computed at the first request, then kept.
    """

    def __init__(self, signals: SystemicSignals, known: dict[float, Effects | None]) -> None:
        self.signals = signals
        self.known = known

    def effects(self, t: float) -> Effects:
        """The effects at t (days)."""
        e = self.known.get(t)
        if e is None:
            e = self.known[t] = self.signals.effects(t)
        return e

    def milestones(self, t_end: float) -> list[float]:
        """The signals' milestones (days)."""
        return self.signals.milestones(t_end)


def merge_milestones(times: Sequence[float], t_end: float) -> list[float]:
    """Sort, deduplicate (to 1e-9 day) and clip milestone times to [0, t_end] (days)."""
    out: list[float] = []
    for x in sorted(float(v) for v in times if 0.0 <= v <= t_end):
        if not out or x - out[-1] > 1e-9:
            out.append(x)
    return out
