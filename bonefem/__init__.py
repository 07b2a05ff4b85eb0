"""bonefem: MPI-parallel finite-element simulation of bone adaptation under hormones and drugs.

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

Importing :mod:`bonefem` itself is cheap and does not import DOLFINx; the sub-modules that
need it import it through :mod:`bonefem._dolfinx`.
"""

from bonefem._version import __version__
from bonefem.errors import BonefemError, InputError, SolverError

__all__ = ["BonefemError", "InputError", "SolverError", "__version__"]
