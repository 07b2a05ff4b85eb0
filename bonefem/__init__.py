"""bonefem: MPI-parallel finite-element simulation of bone adaptation under hormones and drugs.

The Python API (``docs/api.md``)::

    import bonefem
    result = bonefem.run("menopause_vertebra", overrides={"run.duration_days": 730.5})
    result.metrics            # pandas DataFrame, units in result.metrics.attrs["units"]
    bonefem.load_run(result.folder).fields.cell_data(-1)

* :func:`bonefem.run`, :func:`bonefem.load_run`, :class:`bonefem.RunResult` -- run cases and
  read run folders (:mod:`bonefem.api`);
* :func:`bonefem.run_sweep` -- parameter studies (:mod:`bonefem.sweep`).

The package is layered (see ``docs/architecture.md``):

* :mod:`bonefem.config` -- the case-file schema (no runtime code);
* :mod:`bonefem.build` -- case + mesh → :class:`~bonefem.build.CoupledModel` (the only
  place option strings become objects);
* :mod:`bonefem.state` -- the run state and the read-only view of a run;
* :mod:`bonefem.coupling` -- the coupled time loop, stimulus, schedule;
* :mod:`bonefem.biology` -- bone cell population model, systemic signals and drugs (numpy only);
* :mod:`bonefem.remodeling` -- remodelling laws (cell-driven, Huiskes) behind one protocol;
* :mod:`bonefem.mesh` -- bone geometries (gmsh) and mesh import;
* :mod:`bonefem.material` -- density/modulus laws;
* :mod:`bonefem.mechanics` -- linear elasticity with PETSc (DOLFINx);
* :mod:`bonefem.metrics`, :mod:`bonefem.output` -- clinical metrics, files;
* :mod:`bonefem.driver`, :mod:`bonefem.cli` -- run folders, the ``bonefem`` command.

Units throughout: mm, N, MPa, days, g/cm³, pM.

Importing :mod:`bonefem` itself is cheap and does not import DOLFINx, pandas or the
runtime: the API functions are imported on first use.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

from bonefem._version import __version__
from bonefem.errors import BonefemError, InputError, SolverError

if TYPE_CHECKING:
    from bonefem.api import FieldSeries, RunResult, load_run, run
    from bonefem.sweep import run_sweep

#: Lazily imported names: attribute → module.
_LAZY = {
    "run": "bonefem.api",
    "load_run": "bonefem.api",
    "RunResult": "bonefem.api",
    "FieldSeries": "bonefem.api",
    "run_sweep": "bonefem.sweep",
}

__all__ = [
    "BonefemError",
    "FieldSeries",
    "InputError",
    "RunResult",
    "SolverError",
    "__version__",
    "load_run",
    "run",
    "run_sweep",
]


if "pdoc" in sys.modules:  # pragma: no cover - building the API reference
    # pdoc reads the names of __all__ from the module's namespace, not through __getattr__:
    # resolve the lazy ones now, so that the reference page of `bonefem` documents them
    for _name, _module in _LAZY.items():
        globals()[_name] = getattr(importlib.import_module(_module), _name)


def __getattr__(name: str) -> Any:
    """Import the API functions on first use (``import bonefem`` stays light)."""
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'bonefem' has no attribute {name!r}")
