"""Systemic signals: hormones, cytokines and therapies as functions of time.

A scenario is described by :class:`~bonefem.config.scenario.ScenarioConfig` (the schema,
re-exported here). :func:`build_signals` turns it into a :class:`ScenarioSignals` object,
whose ``effects(t)`` gives the values of the named model terms
(:class:`~bonefem.biology.effects.Effects`) at time t (days from the start of the
simulation), ``values(t)`` the signal levels written as output columns and
``milestones(t_end)`` the times steps must not skip.

Each hormone, condition or drug is one module of :mod:`bonefem.biology.agents` (estrogen
with HRT, testosterone with TRT, PTH, glucocorticoid, inflammation, metabolic, sympathetic,
denosumab, bisphosphonate, teriparatide), found through the agent registry; this module
only composes them. Hormone levels are dimensionless, relative to the young-adult
reference of the person's sex (1 = reference). How each signal acts on the cell model,
with sources and assumptions, is in ``docs/model-biology.md`` and in the agent modules;
the calibrated constants are in :mod:`bonefem.biology.calibrated`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from bonefem.biology.agents import (
    Agent,
    AgentContext,
    EffectTerms,
    LevelFunction,
    Levels,
    registered_agents,
)
from bonefem.biology.calibrated import CALIBRATED, CalibratedConstants
from bonefem.biology.effects import Effects, merge_milestones
from bonefem.biology.parameters import CellParameters, cell_parameters
from bonefem.config.scenario import (
    BisphosphonateConfig,
    DenosumabConfig,
    EstrogenConfig,
    GlucocorticoidConfig,
    HRTConfig,
    InflammationConfig,
    MetabolicConfig,
    PTHConfig,
    ScenarioConfig,
    SympatheticConfig,
    TeriparatideConfig,
    TestosteroneConfig,
    TRTConfig,
)

__all__ = [
    "BisphosphonateConfig",
    "DenosumabConfig",
    "EstrogenConfig",
    "GlucocorticoidConfig",
    "HRTConfig",
    "InflammationConfig",
    "MetabolicConfig",
    "PTHConfig",
    "ScenarioConfig",
    "ScenarioSignals",
    "SympatheticConfig",
    "TRTConfig",
    "TeriparatideConfig",
    "TestosteroneConfig",
    "build_signals",
    "sample",
]


class ScenarioSignals:
    """Time-dependent systemic signals of one scenario, composed of its agents.

    Args:
        config: the scenario.
        constants: calibrated constants in use.
        params: cell parameter set of the run (PTH production and decay); default the
            calibrated Scheiner 2013 set of ``constants``.
        agents: agent classes to compose (default: every registered agent, in order).
    """

    def __init__(
        self,
        config: ScenarioConfig,
        constants: CalibratedConstants = CALIBRATED,
        params: CellParameters | None = None,
        agents: Sequence[type[Agent]] | None = None,
    ) -> None:
        self.config = config
        self.constants = constants
        self.params = params if params is not None else cell_parameters(constants)
        ctx = AgentContext(constants, self.params)
        classes = registered_agents() if agents is None else sorted(agents, key=_order)
        self.agents: list[Agent] = [cls(config, ctx) for cls in classes]
        self._providers: dict[str, LevelFunction] = {}
        self._terms: dict[str, list[LevelFunction]] = {}
        self._outputs: dict[str, LevelFunction] = {}
        self._recent: dict[float, Effects] = {}
        for a in self.agents:
            _merge_unique(self._providers, a.levels(), f"level of agent {a.key!r}")
            for name, fn in a.level_terms().items():
                self._terms.setdefault(name, []).append(fn)
            _merge_unique(self._outputs, a.outputs(), f"output column of agent {a.key!r}")

    def levels(self, t: float) -> Levels:
        """Every agent's levels at t (days), evaluated on demand."""
        return Levels(t, self._providers, self._terms)

    def level(self, name: str, t: float) -> float:
        """One level at t (days), e.g. ``"estrogen"`` (dimensionless) or ``"denosumab_pM"``."""
        return self.levels(t)[name]

    def estrogen(self, t: float) -> float:
        """Effective estrogen level (dimensionless) at t (days)."""
        return self.level("estrogen", t)

    def effects(self, t: float) -> Effects:
        """Values of the named model terms at t (days): every agent's terms composed.

        The last few results are kept (the integrator asks again for the end time of the
        previous substep); the record is immutable and a pure function of t.
        """
        e = self._recent.get(t)
        if e is None:
            lv = self.levels(t)
            terms = EffectTerms()
            for a in self.agents:
                a.contribute(lv, terms)
            e = terms.effects()
            if len(self._recent) >= 8:
                self._recent.clear()
            self._recent[t] = e
        return e

    def values(self, t: float) -> dict[str, float]:
        """Signal levels at t (days) for output: hormones (dimensionless), drugs (units)."""
        lv = self.levels(t)
        return {name: float(fn(lv)) for name, fn in self._outputs.items()}

    def milestones(self, t_end: float) -> list[float]:
        """Times (days) in [0, t_end] that integrator steps must not cross.

        The starts and stops of every course window, and each agent's own discontinuities
        (surgical menopause, start/stop of a PTH excess, denosumab injections,
        bisphosphonate intakes at least 28 days apart).
        """
        times = [x for w in self.config.courses() for x in (w.start_days, w.stop_days)]
        for a in self.agents:
            times += a.milestones()
        return merge_milestones([x for x in times if np.isfinite(x)], t_end)


def _order(cls: type[Agent]) -> tuple[float, str]:
    return (cls.order, cls.key)


def _merge_unique(
    into: dict[str, LevelFunction], new: Mapping[str, LevelFunction], what: str
) -> None:
    for name, fn in new.items():
        if name in into:
            raise ValueError(f"{what}: {name!r} is already provided by another agent")
        into[name] = fn


def build_signals(
    config: ScenarioConfig,
    constants: CalibratedConstants = CALIBRATED,
    params: CellParameters | None = None,
    *,
    agents: Sequence[type[Agent]] | None = None,
) -> ScenarioSignals:
    """Build the time-dependent signal object of a scenario.

    Args:
        config: validated scenario.
        constants: calibrated constants (default: :data:`~bonefem.biology.calibrated.CALIBRATED`).
        params: the run's cell parameter set (default: calibrated Scheiner 2013); the PTH
            production and decay rates of the signals are taken from it.
        agents: agent classes (default: the registry, :mod:`bonefem.biology.agents`).
    """
    return ScenarioSignals(config, constants, params, agents)


def sample(signals: ScenarioSignals, times_days: np.ndarray) -> dict[str, np.ndarray]:
    """Signal levels at many times (days) as arrays (for plots and CSV)."""
    rows = [signals.values(float(t)) for t in times_days]
    return {k: np.array([r[k] for r in rows]) for k in rows[0]} if rows else {}
