"""Bone meshes: generators (gmsh), import, named regions and surfaces, quality checks.

* :class:`BoneMesh` -- a distributed DOLFINx mesh with regions and surfaces by name;
* :func:`generate` / :data:`GENERATORS` -- parametric geometries (``specimen``,
  ``diaphysis``, ``vertebra``, ``femur``) meshed with gmsh on rank 0;
* :func:`read_mesh` / :func:`write_mesh` -- import (``.msh``, meshio formats) and the
  bonefem mesh file (XDMF + HDF5 + JSON names), reloadable on any number of ranks;
* :func:`load_bone_mesh` / :class:`MeshConfig` -- the ``[mesh]`` table of a case file;
* :func:`check_cells`, :func:`quality_stats`, :func:`summarize` -- validity and quality;
* :func:`box` -- structured boxes for verification.

All lengths in mm.
"""

from bonefem.mesh.bonemesh import BoneMesh
from bonefem.mesh.box import box
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
from bonefem.mesh.generators.config import MeshConfig, generate_cached, load_bone_mesh
from bonefem.mesh.io import mesh_from_arrays, read_mesh, write_mesh
from bonefem.mesh.quality import (
    MeshSummary,
    QualityStats,
    check_cells,
    quality_stats,
    region_at_points,
    summarize,
)

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
