"""Parametric bone geometries meshed with gmsh (OpenCASCADE), by name.

:data:`GENERATORS` maps a geometry name to its generator function and parameter model, so
that a case file can say::

    [mesh]
    generator = "vertebra"
    [mesh.parameters]
    height = 30.0
    mesh_size = 2.5

and :func:`generate` builds it. Every generator builds on rank 0, distributes with
:func:`dolfinx.io.gmsh.model_to_mesh`, names every region and loaded surface, and is
deterministic (same parameters, same mesh). All lengths in mm, angles in degrees.

A geometry is one module of this package, ``<name>.py``, with a parameter model, a
function ``(comm, params, *, msh_file=None) -> BoneMesh`` (usually via
:func:`~bonefem.mesh.generators._gmsh.build_bone_mesh`) and the registry entry
``GENERATOR = Generator(function, Parameters, "description")``; it is found by
:func:`~bonefem.mesh.generators._registry.discover`, nothing else needs an edit. The
bundled geometries:

============  ==============================  ========================================
name          regions                         surfaces
============  ==============================  ========================================
specimen      trabecular (+ cortical)         top, bottom, side
diaphysis     cortical (+ trabecular)         proximal, distal, periosteal (+ endosteal)
vertebra      cortical, trabecular            cranial_endplate, caudal_endplate, periosteal
              (+ posterior)
femur         cortical, trabecular            head_contact, abductor_insertion, head_fall,
                                              trochanter_support, distal, periosteal
============  ==============================  ========================================
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bonefem._dolfinx import MPI
from bonefem.errors import InputError, did_you_mean
from bonefem.mesh.bonemesh import BoneMesh
from bonefem.mesh.generators._params import (
    GeneratorParameters,
    describe_parameters,
    validate_parameters,
)
from bonefem.mesh.generators._registry import Generator, discover
from bonefem.mesh.generators.diaphysis import DiaphysisParameters, diaphysis
from bonefem.mesh.generators.femur import FemurParameters, femur
from bonefem.mesh.generators.specimen import SpecimenParameters, specimen
from bonefem.mesh.generators.vertebra import VertebraParameters, vertebra

#: Geometry name -> generator: every module of this package defining ``GENERATOR``
#: (see :mod:`bonefem.mesh.generators._registry`), in alphabetical order.
GENERATORS: dict[str, Generator] = discover(__name__, __path__)


def get_generator(
    name: str, *, file: str | None = None, field: str = "mesh.generator"
) -> Generator:
    """The registered generator ``name``, or an :class:`InputError` listing the names."""
    try:
        return GENERATORS[name]
    except KeyError:
        raise InputError(
            f"unknown geometry generator.{did_you_mean(name, GENERATORS)} "
            f"Available: {', '.join(GENERATORS)}.",
            file=file,
            field=field,
            value=name,
        ) from None


def generate(
    name: str,
    comm: MPI.Intracomm | None = None,
    parameters: Mapping[str, Any] | GeneratorParameters | None = None,
    *,
    msh_file: str | Path | None = None,
    file: str | None = None,
) -> BoneMesh:
    """Build the geometry ``name`` with (validated) ``parameters``.

    Args:
        name: registered generator name (see :data:`GENERATORS`).
        comm: MPI communicator; default ``MPI.COMM_WORLD``.
        parameters: parameter values (a mapping, e.g. a TOML table, or the model);
            missing ones take their documented defaults.
        msh_file: also write the gmsh mesh with its physical groups to this path.
        file: the file the request came from, for error messages.

    Returns:
        The distributed :class:`BoneMesh`.
    """
    gen = get_generator(name, file=file)
    params = validate_parameters(gen.parameters, parameters, file=file)
    return gen.function(comm or MPI.COMM_WORLD, params, msh_file=msh_file)


__all__ = [
    "GENERATORS",
    "DiaphysisParameters",
    "FemurParameters",
    "Generator",
    "GeneratorParameters",
    "SpecimenParameters",
    "VertebraParameters",
    "describe_parameters",
    "diaphysis",
    "femur",
    "generate",
    "get_generator",
    "specimen",
    "validate_parameters",
    "vertebra",
]
