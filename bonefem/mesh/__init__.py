"""Bone meshes: generators (gmsh), import, named regions and surfaces, quality checks."""

from bonefem.mesh.bonemesh import BoneMesh
from bonefem.mesh.box import box

__all__ = ["BoneMesh", "box"]
