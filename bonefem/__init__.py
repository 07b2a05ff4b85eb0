"""bonefem: MPI-parallel finite-element simulation of bone adaptation under hormones and drugs.

The package is layered (see ``docs/architecture.md``):

* :mod:`bonefem.biology` -- bone cell population model, systemic signals and drugs (numpy only);
* :mod:`bonefem.mesh` -- bone geometries (gmsh) and mesh import;
* :mod:`bonefem.material` -- density/modulus laws;
* :mod:`bonefem.mechanics` -- linear elasticity with PETSc (DOLFINx);
* :mod:`bonefem.remodeling` -- density update laws;
* :mod:`bonefem.simulation` -- the coupled time loop;
* :mod:`bonefem.metrics`, :mod:`bonefem.output` -- clinical metrics, files;
* :mod:`bonefem.cli` -- the ``bonefem`` command.

Units throughout: mm, N, MPa, days, g/cm³, pM.

Importing :mod:`bonefem` itself is cheap and does not import DOLFINx; the sub-modules that
need it import it through :mod:`bonefem._dolfinx`.
"""

from bonefem._version import __version__
from bonefem.errors import BonefemError, InputError, SolverError

__all__ = ["BonefemError", "InputError", "SolverError", "__version__"]
