"""One module per hormone, condition or drug acting on the cell model.

Each public module defines one :class:`~bonefem.biology.agents._base.Agent` subclass,
registered with :func:`register`; :func:`~bonefem.biology.signals.build_signals` builds
every registered agent from the scenario and composes their levels, effect terms, output
columns and milestones (see :mod:`bonefem.biology.agents._base`).

Adding a hormone or drug touches two source files and a test:

1. ``bonefem/config/scenario.py``: its settings as a field of ``ScenarioConfig`` (a course
   is ``list[<a Window subclass>]``: overlap checks and window milestones follow).
2. ``bonefem/biology/agents/<name>.py``: an ``Agent`` subclass decorated with
   ``@register`` (``key``, ``order``; ``levels``, ``contribute`` to the Effects terms,
   ``outputs`` if it has an output column, ``milestones`` for doses), its coefficients
   with units and sources as module constants.
3. A test in ``tests/unit/`` (see ``test_agents.py`` for a worked example).
"""

from bonefem.biology.agents._base import (
    Agent,
    AgentContext,
    EffectTerms,
    LevelFunction,
    Levels,
    register,
    registered_agents,
    unregister,
)

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
