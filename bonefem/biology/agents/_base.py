"""Framework of the hormone and drug modules: agents, levels, effect terms, registry.

An :class:`Agent` is one hormone, condition or drug. Built from the scenario
(:class:`~bonefem.config.scenario.ScenarioConfig`) and an :class:`AgentContext` (calibrated
constants, cell parameters), it

* computes named **levels** at a time t (dimensionless hormone levels, drug amounts with
  their unit in the name), possibly from other agents' levels (:class:`Levels` evaluates
  them on demand and memoises them);
* may add **level terms** to a level that another agent owns and sums (the cytokine index
  collects estrogen deficiency, inflammation and insulin resistance);
* contributes its **effect terms** to the named model terms of
  :class:`~bonefem.biology.effects.Effects` (:class:`EffectTerms`: production terms and the
  denosumab decoy add up from 0, factors multiply from 1);
* names its **output columns** (the ``signal_*`` columns of the coupled run and the 0-D
  table) and its **milestones** beyond its course windows.

Agents are found through the registry: every public module of
:mod:`bonefem.biology.agents` registers its class with :func:`register` when the package is
first used (:func:`registered_agents`), and their ``order`` fixes the order of composition
and of the output columns.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, ClassVar

from bonefem.biology.calibrated import CalibratedConstants
from bonefem.biology.effects import NEUTRAL, Effects
from bonefem.biology.parameters import CellParameters

if TYPE_CHECKING:
    from bonefem.config.scenario import ScenarioConfig

__all__ = [
    "Agent",
    "AgentContext",
    "EffectTerms",
    "LevelFunction",
    "Levels",
    "register",
    "registered_agents",
    "unregister",
]

LevelFunction = Callable[["Levels"], float]
"""A level as a function of the levels at one time (reads ``lv.t`` and other levels)."""


@dataclass(frozen=True, slots=True)
class AgentContext:
    """What agents may use besides the scenario.

    Attributes:
        constants: calibrated constants (:mod:`bonefem.biology.calibrated`).
        params: the cell parameter set of the run (PTH production and decay, ...).
    """

    constants: CalibratedConstants
    params: CellParameters


class Levels:
    """Levels of every agent at one time t (days), computed on demand and memoised.

    Args:
        t: time (days from the start of the simulation).
        providers: level name -> function (from the agents' :meth:`Agent.levels`).
        terms: level name -> functions whose sum :meth:`sum_of` returns.
    """

    __slots__ = ("_cache", "_providers", "_terms", "t")

    def __init__(
        self,
        t: float,
        providers: Mapping[str, LevelFunction],
        terms: Mapping[str, list[LevelFunction]],
    ) -> None:
        self.t = t
        self._providers = providers
        self._terms = terms
        self._cache: dict[str, float] = {}

    def __getitem__(self, name: str) -> float:
        v = self._cache.get(name)
        if v is None:
            try:
                fn = self._providers[name]
            except KeyError:
                raise KeyError(
                    f"no agent provides the level {name!r}; known: {sorted(self._providers)}"
                ) from None
            v = self._cache[name] = float(fn(self))
        return v

    def sum_of(self, name: str) -> float:
        """Sum of the level terms that agents add to ``name`` (in agent order, from 0)."""
        total = 0.0
        for fn in self._terms.get(name, ()):
            total += fn(self)
        return total


_NEUTRAL_VALUES = {f.name: getattr(NEUTRAL, f.name) for f in fields(Effects)}
_ADDITIVE = frozenset(k for k, v in _NEUTRAL_VALUES.items() if v == 0.0)
_FACTORS = frozenset(k for k, v in _NEUTRAL_VALUES.items() if v == 1.0)


class EffectTerms:
    """Accumulator of the agents' contributions to :class:`~bonefem.biology.effects.Effects`.

    Terms whose neutral value is 0 (productions, decoy, injections) are summed with
    :meth:`add`; terms whose neutral value is 1 (factors, RANK sensitivity) are multiplied
    with :meth:`scale` or divided with :meth:`divide`, in agent order.
    """

    __slots__ = ("_v",)

    def __init__(self) -> None:
        self._v = dict(_NEUTRAL_VALUES)

    def add(self, name: str, value: float) -> None:
        """Add ``value`` to the additive term ``name`` (its unit, e.g. pM/day)."""
        if name not in _ADDITIVE:
            raise ValueError(f"Effects.{name} is not an additive term (neutral 0)")
        self._v[name] += value

    def scale(self, name: str, factor: float) -> None:
        """Multiply the factor ``name`` by ``factor`` (dimensionless)."""
        if name not in _FACTORS:
            raise ValueError(f"Effects.{name} is not a factor (neutral 1)")
        self._v[name] *= factor

    def divide(self, name: str, divisor: float) -> None:
        """Divide the factor ``name`` by ``divisor`` (dimensionless)."""
        if name not in _FACTORS:
            raise ValueError(f"Effects.{name} is not a factor (neutral 1)")
        self._v[name] /= divisor

    def effects(self) -> Effects:
        """The accumulated record."""
        return Effects(**self._v)


class Agent:
    """Base class of a hormone, condition or drug module (see the module docstring).

    Subclasses set ``key`` (its name, normally the module and scenario field name) and
    ``order``, and override the methods they need; the defaults contribute nothing.

    Args:
        scenario: the validated scenario.
        ctx: constants and parameters of the run.
    """

    key: ClassVar[str] = ""
    order: ClassVar[float] = 1000.0

    def __init__(self, scenario: ScenarioConfig, ctx: AgentContext) -> None:
        self.scenario = scenario
        self.ctx = ctx

    def levels(self) -> Mapping[str, LevelFunction]:
        """Levels this agent owns: name -> function of the levels."""
        return {}

    def level_terms(self) -> Mapping[str, LevelFunction]:
        """Terms this agent adds to levels summed by their owner (:meth:`Levels.sum_of`)."""
        return {}

    def contribute(self, lv: Levels, terms: EffectTerms) -> None:
        """Add this agent's terms at time ``lv.t`` to ``terms``."""

    def outputs(self) -> Mapping[str, LevelFunction]:
        """Output columns (name with unit -> function of the levels), in column order."""
        return {}

    def milestones(self) -> list[float]:
        """Discontinuity times (days) besides the starts and stops of the course windows."""
        return []


_REGISTRY: dict[str, type[Agent]] = {}


def register(cls: type[Agent]) -> type[Agent]:
    """Register an agent class under its ``key`` (usable as a class decorator)."""
    if not cls.key:
        raise ValueError(f"agent class {cls.__name__} needs a key")
    known = _REGISTRY.get(cls.key)
    if known is not None and known is not cls:
        raise ValueError(f"agent key {cls.key!r} already registered by {known.__name__}")
    _REGISTRY[cls.key] = cls
    return cls


def unregister(key: str) -> None:
    """Remove an agent from the registry (for tests and plug-ins)."""
    _REGISTRY.pop(key, None)


@functools.cache
def _discover() -> None:
    """Import every public module of the package once (each registers its agent)."""
    import bonefem.biology.agents as pkg

    for mod in pkgutil.iter_modules(pkg.__path__):
        if not mod.name.startswith("_"):
            importlib.import_module(f"{pkg.__name__}.{mod.name}")


def registered_agents() -> list[type[Agent]]:
    """Agent classes of the modules of :mod:`bonefem.biology.agents` and any registered.

    Sorted by ``order``, then key.
    """
    _discover()
    return sorted(_REGISTRY.values(), key=lambda c: (c.order, c.key))
