"""The ``[mesh]`` table of a case file (schema only; importing it does not load DOLFINx).

See :mod:`bonefem.mesh.generators.config` for what the table does.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bonefem.imaging.selector_schema import Selection
from bonefem.imaging.source import ImageMeshSource

__all__ = ["MeshConfig"]


class MeshConfig(BaseModel):
    """Where a case's mesh comes from: a generator, a file, a settings file or an image."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    generator: str | None = Field(
        default=None,
        description="Geometry generator: 'specimen', 'diaphysis', 'vertebra' or 'femur'.",
    )
    parameters: dict[str, Any] = Field(
        default_factory=dict,
        description="Generator parameters (lengths in mm, angles in deg); see "
        "`bonefem mesh --list NAME`. Missing ones take their defaults.",
    )
    file: str | None = Field(
        default=None,
        description="Mesh file to import (bonefem .xdmf, gmsh .msh, .vtu, .inp, .mesh, .med, "
        ".xdmf ...), relative to the case file.",
    )
    settings: str | None = Field(
        default=None,
        description="TOML file with a [mesh] table (e.g. 'meshes/vertebra.toml'), relative to "
        "the case file, then to the repository's meshes/ folder.",
    )
    image: ImageMeshSource | None = Field(
        default=None,
        description="A mesh from a CT image ([mesh.image]: file, labels + regions or "
        "threshold, voxel hexahedra or smooth tetrahedra); see docs/imaging.md.",
    )
    regions: dict[str, int] = Field(
        default_factory=dict, description="Imported meshes: region name -> cell tag value."
    )
    surfaces: dict[str, int] = Field(
        default_factory=dict, description="Imported meshes: surface name -> facet tag value."
    )
    select: list[Selection] = Field(
        default_factory=list,
        description="Geometric selectors ([[mesh.select]]: name, type = 'plane' | 'box' | "
        "'sphere' | 'patch' | 'extreme' and its fields, lengths in mm) that add named "
        "surfaces after the mesh is loaded, for supports and loads on meshes without named "
        "facets (image meshes); each must select something; a later selector takes the "
        "facets it shares with an earlier one. See docs/imaging.md.",
    )
    cell_data_key: str | None = Field(
        default=None,
        description="Imported meshio files: the cell data array holding the tags.",
    )
    initial_bvtv: str | None = Field(
        default=None,
        description="Imported meshes: name of a cell data array holding each cell's initial "
        "BV/TV (-, in (0, 1]), used instead of the region's bvtv (bonefem.mesh.celldata).",
    )
    initial_mineral_density: str | None = Field(
        default=None,
        description="Imported meshes: name of a cell data array holding each cell's initial "
        "mineral density (g/cm³, > 0; e.g. QCT-mapped vBMD): the initial BV/TV is solved so "
        "that the model's vBMD at t = 0 equals it (bonefem.coupling.initial).",
    )
    cache: bool = Field(
        default=True,
        description="Reuse generated meshes from the mesh cache ($BONEFEM_MESH_CACHE, "
        "default ~/.cache/bonefem/meshes).",
    )

    @model_validator(mode="after")
    def _one_source(self) -> MeshConfig:
        given = [k for k in ("generator", "file", "settings", "image") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError("give exactly one of 'generator', 'file', 'settings' or 'image'")
        if self.parameters and not self.generator:
            raise ValueError("'parameters' go with 'generator'")
        if (self.initial_bvtv or self.initial_mineral_density) and not self.file:
            raise ValueError(
                "'initial_bvtv' and 'initial_mineral_density' name cell arrays of an imported "
                "'file' (image meshes: [mesh.image.density])"
            )
        if self.initial_bvtv and self.initial_mineral_density:
            raise ValueError("give one of 'initial_bvtv' or 'initial_mineral_density'")
        return self
