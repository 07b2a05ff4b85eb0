"""The remodelling-law seam: what the coupled loop asks of a law, and the law registry.

A law advances the per-cell state (8, n) -- OBp, OBa, OCa (pM), f (BV/TV), m (mineral
content) -- from t to t_end (days) under the mechanical :class:`Drive`, and stops early
when the loop's ``stop(f, m)`` event fires (the adaptive coupling: Young's modulus moved
past the coupling tolerance since the last elasticity solve), so that the loop can
re-solve the mechanics inside the step. Every law honours the event.

Registering a law: decorate a factory ``(LawContext) -> RemodelingLaw`` with
``@register_law("name")`` in a module of this package; :func:`make_law` finds it by the
case's ``remodeling.law``. See docs/architecture.md, "How to add a remodeling law".
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt

from bonefem.remodeling.bone import RemodelingParameters

if TYPE_CHECKING:
    from bonefem.biology.cells import BoneCellModel
    from bonefem.biology.effects import SystemicSignals
    from bonefem.biology.history import CohortHistory
    from bonefem.config.case import RemodelingSettings

FloatArray = npt.NDArray[np.float64]
#: Event of the loop: True when the mechanics must be re-solved for these f, m (collective).
StopEvent = Callable[[FloatArray, FloatArray], bool]
#: Maximum over MPI ranks of a local float (collective).
ReduceMax = Callable[[float], float]


@dataclass(frozen=True)
class Drive:
    """The mechanical drive of one advance (built by the loop's stimulus model).

    Attributes:
        ratio: relative stimulus Ψ/Ψ_ss per cell as a function of the current f (-),
            including the load-controlled update between elasticity solves.
        apparent_sed: daily strain energy density Ψ per cell (MPa) as a function of f.
        reference_sed_per_mass: Ψ_ss/ρ₀ per cell (MPa·cm³/g), the homeostatic stimulus
            per unit mass.
    """

    ratio: Callable[[FloatArray], FloatArray]
    apparent_sed: Callable[[FloatArray], FloatArray]
    reference_sed_per_mass: FloatArray


@dataclass(frozen=True)
class LawStep:
    """Result of :meth:`RemodelingLaw.advance`.

    Attributes:
        cells: the new state (8, n).
        t_end: time reached (days): the requested end, or the time of the stop event.
        stopped: whether the stop event ended the advance early.
        h_next: the substep (days) the integrator's controller proposes to start the next
            advance with, or None for laws without step-size control.
    """

    cells: FloatArray
    t_end: float
    stopped: bool
    h_next: float | None = None


class RemodelingLaw(Protocol):
    """A law the coupled loop drives (implementations: ``cells``, ``huiskes``)."""

    @property
    def params(self) -> RemodelingParameters:
        """Bone composition (tissue density, bounds of f) used for density and modulus."""
        ...

    def initial_state(self, f0: FloatArray) -> FloatArray:
        """The state (8, n) at t = 0 for initial BV/TV ``f0``.

        The healthy equilibrium under homeostatic load, or the end of a cohort history.
        """
        ...

    def initial_ratio(self, f0: FloatArray) -> FloatArray | None:
        """Ψ/Ψ_ss the cells carry at t = 0 (-), or None for the homeostatic Ψ/Ψ_ss = 1."""
        ...

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
        """Advance from t to t_end (days), stopping early when ``stop(f, m)`` is True."""
        ...

    def derived(self, cells: FloatArray, t: float, ratio: FloatArray) -> Mapping[str, FloatArray]:
        """Derived fields (e.g. RANKL, OPG in pM) at time t; empty if the law has none."""
        ...

    def turnover(self, cells: FloatArray, t: float) -> tuple[FloatArray, FloatArray] | None:
        """Bone volume formed and resorbed per total volume and day (1/day) at time t.

        One value per cell each, or None for a law without cells that form and resorb.
        """
        ...


@dataclass(frozen=True)
class LawContext:
    """What a law factory may use.

    Attributes:
        settings: the case's ``[remodeling]`` section.
        cell_model: the bone cell model of the chosen parameter set (its remodelling
            parameters give the bone composition of every law).
        signals: the systemic signals (hormones, drugs) over time.
        history: the cohort history giving the state at t = 0, or None (healthy start).
    """

    settings: RemodelingSettings
    cell_model: BoneCellModel
    signals: SystemicSignals
    history: CohortHistory | None = None


LawFactory = Callable[[LawContext], RemodelingLaw]
_LAWS: dict[str, LawFactory] = {}


def register_law(name: str) -> Callable[[LawFactory], LawFactory]:
    """Decorator registering a law factory under the case-file name ``name``."""

    def deco(factory: LawFactory) -> LawFactory:
        _LAWS[name] = factory
        return factory

    return deco


def registered_laws() -> dict[str, LawFactory]:
    """Every registered law (imports the modules of this package once)."""
    package = importlib.import_module("bonefem.remodeling")
    for info in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"bonefem.remodeling.{info.name}")
    return dict(_LAWS)


def make_law(context: LawContext) -> RemodelingLaw:
    """The law named by ``context.settings.law``."""
    laws = registered_laws()
    name = context.settings.law
    if name not in laws:  # the schema lists the names; a stale schema is a bug
        raise KeyError(f"no remodeling law '{name}' (registered: {', '.join(sorted(laws))})")
    return laws[name](context)
