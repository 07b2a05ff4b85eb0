"""Numerical defaults shared by the case schema and the runtime (schema only, no imports).

The case schema (:mod:`bonefem.config.case`) shows them as defaults of its fields, the cell
model (:class:`bonefem.biology.cells.BoneCellModel`) uses them when none are passed, so the
two cannot drift apart and the schema does not import the runtime.
"""

from __future__ import annotations

__all__ = ["DEFAULT_RTOL_BONE", "DEFAULT_RTOL_CELLS"]

#: Default local error tolerance of the cell integrator on the log cell populations
#: (dimensionless: the error of ln(x) is controlled). Chosen by the accuracy study in
#: docs/performance.md (10-year femur menopause, metrics vs a 300x tighter run).
DEFAULT_RTOL_CELLS = 3.0e-2

#: Default local error tolerance of the cell integrator on the bone volume fraction f and
#: the mineral content m, relative (dimensionless); same accuracy study.
DEFAULT_RTOL_BONE = 3.0e-4
