"""The registry entry of a geometry generator, and the discovery of the generator modules.

A geometry is one module ``bonefem/mesh/generators/<name>.py`` that defines, besides its
parameter model and its function, a module attribute

    GENERATOR = Generator(function, ParameterModel, "one-line description")

The module's file name is the geometry name used in case files (``generator = "<name>"``).
:func:`discover` imports every public module of the package (names not starting with ``_``
and not in :data:`NOT_GEOMETRIES`) and collects those entries, so adding a geometry needs
no edit elsewhere. All lengths in mm, angles in degrees.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from bonefem.mesh.bonemesh import BoneMesh
from bonefem.mesh.generators._params import GeneratorParameters

#: Public modules of :mod:`bonefem.mesh.generators` that are not geometries.
NOT_GEOMETRIES = frozenset({"config"})


@dataclass(frozen=True)
class Generator:
    """A registered geometry: its function, parameter model and one-line description."""

    function: Callable[..., BoneMesh]
    parameters: type[GeneratorParameters]
    description: str


def discover(package: str, path: Iterable[str]) -> dict[str, Generator]:
    """Geometry name -> :class:`Generator` of every generator module, by name.

    Args:
        package: the package name (``bonefem.mesh.generators``).
        path: its ``__path__``.

    Raises:
        RuntimeError: a public module of the package defines no ``GENERATOR``.
    """
    found: dict[str, Generator] = {}
    for info in sorted(pkgutil.iter_modules(list(path)), key=lambda m: m.name):
        if info.name.startswith("_") or info.name in NOT_GEOMETRIES:
            continue
        module = importlib.import_module(f"{package}.{info.name}")
        entry = getattr(module, "GENERATOR", None)
        if not isinstance(entry, Generator):
            raise RuntimeError(
                f"{module.__name__} defines no GENERATOR = Generator(...): every public module "
                "of bonefem.mesh.generators is a geometry (or is listed in NOT_GEOMETRIES)"
            )
        found[info.name] = entry
    return found
