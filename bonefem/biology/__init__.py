"""Bone cell biology: cell population model, systemic signals, drugs, 0-D runner (numpy only).

Public entry points:

* :class:`~bonefem.biology.cells.BoneCellModel` -- vectorised cell model with bone volume
  fraction and mineral content; ``healthy_state``, ``derived``, ``advance``.
* :data:`~bonefem.biology.parameters.PIVONKA_2008`,
  :data:`~bonefem.biology.parameters.SCHEINER_2013` -- parameter sets.
* :class:`~bonefem.biology.signals.ScenarioConfig`,
  :func:`~bonefem.biology.signals.build_signals` -- scenarios and their signals.
* :func:`~bonefem.biology.zerod.run_zero_d`, :func:`~bonefem.biology.zerod.cli_main`.
"""

from bonefem.biology.calibrated import CALIBRATED, CalibratedConstants
from bonefem.biology.cells import N_STATES, STATE_NAMES, AdvanceResult, BoneCellModel
from bonefem.biology.effects import NEUTRAL, ConstantSignals, Effects, SystemicSignals
from bonefem.biology.parameters import PIVONKA_2008, SCHEINER_2013, CellParameters
from bonefem.biology.signals import ScenarioConfig, ScenarioSignals, build_signals
from bonefem.biology.zerod import cli_main, load_zero_d_case, run_zero_d, write_outputs

__all__ = [
    "CALIBRATED",
    "NEUTRAL",
    "N_STATES",
    "PIVONKA_2008",
    "SCHEINER_2013",
    "STATE_NAMES",
    "AdvanceResult",
    "BoneCellModel",
    "CalibratedConstants",
    "CellParameters",
    "ConstantSignals",
    "Effects",
    "ScenarioConfig",
    "ScenarioSignals",
    "SystemicSignals",
    "build_signals",
    "cli_main",
    "load_zero_d_case",
    "run_zero_d",
    "write_outputs",
]
