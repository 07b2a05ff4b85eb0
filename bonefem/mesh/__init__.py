"""Bone meshes: generators (gmsh), import, named regions and surfaces, quality checks.

* :class:`BoneMesh` -- a distributed DOLFINx mesh with regions and surfaces by name;
* :func:`generate` / :data:`GENERATORS` -- parametric geometries (``specimen``,
  ``diaphysis``, ``vertebra``, ``femur``) meshed with gmsh on rank 0;
* :func:`read_mesh` / :func:`write_mesh` -- import (``.msh``, meshio formats) and the
  bonefem mesh file (XDMF + HDF5 + JSON names), reloadable on any number of ranks;
* :func:`load_bone_mesh` / :class:`MeshConfig` -- the ``[mesh]`` table of a case file
  (a generator, a file, a settings file, or a CT image: :mod:`bonefem.imaging.source`);
* :func:`check_cells`, :func:`quality_stats`, :func:`summarize` -- validity and quality;
* :func:`box` -- structured boxes for verification.

All lengths in mm.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Attributes are imported lazily (PEP 562) so that the schema module
# bonefem.mesh.config_schema can be used without loading DOLFINx.
_WHERE = {
    "BoneMesh": "bonefem.mesh.bonemesh",
    "box": "bonefem.mesh.boxes",
    "GENERATORS": "bonefem.mesh.generators",
    "DiaphysisParameters": "bonefem.mesh.generators",
    "FemurParameters": "bonefem.mesh.generators",
    "SpecimenParameters": "bonefem.mesh.generators",
    "VertebraParameters": "bonefem.mesh.generators",
    "diaphysis": "bonefem.mesh.generators",
    "femur": "bonefem.mesh.generators",
    "generate": "bonefem.mesh.generators",
    "specimen": "bonefem.mesh.generators",
    "vertebra": "bonefem.mesh.generators",
    "MeshConfig": "bonefem.mesh.config_schema",
    "generate_cached": "bonefem.mesh.generators.config",
    # the [mesh] loader: image source (imaging.source) or generators.config, then the
    # [[mesh.select]] selectors (imaging.selector_schema)
    "load_bone_mesh": "bonefem.imaging.selector_schema",
    "mesh_from_arrays": "bonefem.mesh.io",
    "read_mesh": "bonefem.mesh.io",
    "write_mesh": "bonefem.mesh.meshfile",
    "MeshSummary": "bonefem.mesh.quality",
    "QualityStats": "bonefem.mesh.quality",
    "check_cells": "bonefem.mesh.quality",
    "quality_stats": "bonefem.mesh.quality",
    "region_at_points": "bonefem.mesh.quality",
    "summarize": "bonefem.mesh.quality",
}

if TYPE_CHECKING:
    from bonefem.imaging.selector_schema import load_selected_mesh as load_bone_mesh
    from bonefem.mesh.bonemesh import BoneMesh
    from bonefem.mesh.boxes import box
    from bonefem.mesh.config_schema import MeshConfig
    from bonefem.mesh.generators import (
        GENERATORS,
        DiaphysisParameters,
        FemurParameters,
        SpecimenParameters,
        VertebraParameters,
        diaphysis,
        femur,
        generate,
        specimen,
        vertebra,
    )
    from bonefem.mesh.generators.config import generate_cached
    from bonefem.mesh.io import mesh_from_arrays, read_mesh
    from bonefem.mesh.meshfile import write_mesh
    from bonefem.mesh.quality import (
        MeshSummary,
        QualityStats,
        check_cells,
        quality_stats,
        region_at_points,
        summarize,
    )


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'bonefem.mesh' has no attribute '{name}'")


__all__ = [
    "GENERATORS",
    "BoneMesh",
    "DiaphysisParameters",
    "FemurParameters",
    "MeshConfig",
    "MeshSummary",
    "QualityStats",
    "SpecimenParameters",
    "VertebraParameters",
    "box",
    "check_cells",
    "diaphysis",
    "femur",
    "generate",
    "generate_cached",
    "load_bone_mesh",
    "mesh_from_arrays",
    "quality_stats",
    "read_mesh",
    "region_at_points",
    "specimen",
    "summarize",
    "vertebra",
    "write_mesh",
]
