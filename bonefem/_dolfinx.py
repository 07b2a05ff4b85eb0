"""Import DOLFINx the right way for every supported install.

The PyPI wheel ``dolfinx-solver-real`` requires ``import dolfinx_solver`` before
``dolfinx`` (it loads ``mpi4py.MPI`` ahead of the compiled bindings and checks that no
foreign petsc4py shadows its own). conda-forge, Spack and the official containers have no
such module; there DOLFINx is imported directly. Every bonefem module that needs DOLFINx
imports it from here::

    from bonefem._dolfinx import dolfinx, PETSc, MPI
"""

from __future__ import annotations

import importlib.util

if importlib.util.find_spec("dolfinx_solver") is not None:  # pragma: no branch
    import dolfinx_solver  # noqa: F401  (orders MPI before the compiled bindings)

from mpi4py import MPI
from petsc4py import PETSc

import dolfinx
import dolfinx.fem
import dolfinx.fem.petsc
import dolfinx.io
import dolfinx.mesh
from dolfinx import fem

__all__ = ["MPI", "PETSc", "dolfinx", "fem"]


def versions() -> dict[str, str]:
    """Versions of the numerical stack, for run manifests and ``bonefem version``."""
    import platform

    import numpy as np

    petsc = ".".join(str(v) for v in PETSc.Sys.getVersion())
    lib_version = MPI.Get_library_version().splitlines()[0].strip()
    return {
        "dolfinx": dolfinx.__version__,
        "petsc": petsc,
        "mpi": lib_version,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "dolfinx_source": "dolfinx-solver-real wheel"
        if importlib.util.find_spec("dolfinx_solver") is not None
        else "system (conda-forge / container / source)",
    }
