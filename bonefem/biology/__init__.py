"""Bone cell biology: cell population model, systemic signals, drugs, 0-D runner (numpy only).

Modules:

* :mod:`~bonefem.biology.pivonka` -- the Pivonka/Scheiner signalling chain, written once
  (rates, derived fields and, on :mod:`~bonefem.biology.dual` values, the Jacobian).
* :mod:`~bonefem.biology.cells` -- :class:`~bonefem.biology.cells.BoneCellModel`, the
  vectorised cell model with bone volume fraction and mineral content (``healthy_state``,
  ``derived``, ``advance``).
* :mod:`~bonefem.biology.integrator` -- generic Rosenbrock-W integrator (ROS34PW2, ROS2)
  with error control, milestones and a stop event.
* :mod:`~bonefem.biology.cell_problem` -- the cell model as the integrator's problem (state
  layout, bone rates, blocks of points).
* :mod:`~bonefem.biology.parameters`, :mod:`~bonefem.biology.calibrated` -- parameter sets
  (Pivonka 2008, Scheiner 2013) and calibrated constants.
* :mod:`~bonefem.biology.effects` -- the named model terms hormones and drugs act on.
* :mod:`~bonefem.biology.agents` -- one module per hormone, condition or drug;
  :mod:`~bonefem.biology.drugs` -- their pharmacokinetics.
* :mod:`~bonefem.biology.signals` -- :func:`~bonefem.biology.signals.build_signals`
  composes the agents of a scenario (schema: :mod:`bonefem.config.scenario`).
* :mod:`~bonefem.biology.zerod`, :mod:`~bonefem.biology.calibration` -- 0-D runner, CLI and
  the calibration.
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
