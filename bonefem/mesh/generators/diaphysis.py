"""Long-bone diaphysis: a cortical tube with a trabecular/medullary core (or hollow).

Geometry (mm): a circular tube along z from the distal cut (z = 0) to the proximal cut
(z = length), periosteal diameter ``outer_diameter`` and endosteal (medullary) diameter
``inner_diameter``. With ``core = "trabecular"`` the medullary canal is filled by the
``trabecular`` region (its stiffness is set by the material law, e.g. near zero for marrow);
with ``core = "hollow"`` it is empty and its wall is the ``endosteal`` surface.

Regions: ``"cortical"`` (and ``"trabecular"`` with a core).
Surfaces: ``"distal"`` (z = 0), ``"proximal"`` (z = length), ``"periosteal"`` (outer
wall), and ``"endosteal"`` (inner wall, hollow tube only).
Landmarks: ``"distal_centre"``, ``"proximal_centre"`` (mm), ``"axis"`` (unit vector).

Default dimensions: an adult femoral midshaft, periosteal diameter about 28 mm and
medullary diameter about 14 mm, i.e. a cortical thickness about a quarter of the diameter
(cross-sectional geometry of adult femora, Ruff & Hayes 1983, Am J Phys Anthropol
60:359-381; radiogrammetry of the femoral midshaft, Curate 2020, Mendeley Data
doi:10.17632/gxcvxtjk66.2). The length of 60 mm is a modelling choice (about two
diameters beyond the load introduction zone).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import model_validator

from bonefem._dolfinx import MPI
from bonefem.mesh.bonemesh import BoneMesh
from bonefem.mesh.generators import _gmsh as g
from bonefem.mesh.generators._params import GeneratorParameters, check_shell, quantity
from bonefem.mesh.generators._registry import Generator


class DiaphysisParameters(GeneratorParameters):
    """Parameters of :func:`diaphysis` (all lengths in mm)."""

    outer_diameter: float = quantity(
        28.0,
        "mm",
        "Periosteal diameter (adult femoral midshaft, Ruff & Hayes 1983).",
        gt=0.0,
        le=200.0,
    )
    inner_diameter: float = quantity(
        14.0,
        "mm",
        "Endosteal (medullary canal) diameter; must be below outer_diameter.",
        gt=0.0,
        le=200.0,
    )
    length: float = quantity(60.0, "mm", "Length of the segment along z.", gt=0.0, le=1000.0)
    core: Literal["trabecular", "hollow"] = quantity(
        "trabecular",
        "-",
        "'trabecular': the canal is the trabecular/medullary region; 'hollow': empty canal.",
    )
    mesh_size: float = quantity(3.0, "mm", "Target cell size in the core.", gt=0.0, le=100.0)
    cortical_mesh_size: float = quantity(
        2.5,
        "mm",
        "Target cell size in the cortical wall (at most 5 x the wall thickness).",
        gt=0.0,
        le=100.0,
    )

    @model_validator(mode="after")
    def _check(self) -> DiaphysisParameters:
        if self.inner_diameter >= self.outer_diameter:
            raise ValueError("inner_diameter must be less than outer_diameter")
        check_shell(self.wall_thickness, self.cortical_mesh_size, name="cortical wall thickness")
        return self

    @property
    def wall_thickness(self) -> float:
        """Cortical wall thickness (mm)."""
        return 0.5 * (self.outer_diameter - self.inner_diameter)


def diaphysis(
    comm: MPI.Intracomm,
    params: DiaphysisParameters | None = None,
    *,
    msh_file: str | Path | None = None,
) -> BoneMesh:
    """Mesh a long-bone diaphysis (cortical tube with trabecular core or hollow canal).

    Args:
        comm: MPI communicator.
        params: the geometry and mesh sizes (mm); defaults if None.
        msh_file: also write the gmsh mesh (with physical groups) to this path.

    Returns:
        The mesh with regions ``cortical`` (+ ``trabecular``) and surfaces ``distal``,
        ``proximal``, ``periosteal`` (+ ``endosteal`` when hollow).
    """
    p = params or DiaphysisParameters()
    ro, ri, length = p.outer_diameter / 2, p.inner_diameter / 2, p.length

    def build() -> g.GmshGroups:
        import gmsh

        occ = gmsh.model.occ
        outer = [(3, occ.addCylinder(0, 0, 0, 0, 0, length, ro))]
        inner = [(3, occ.addCylinder(0, 0, 0, 0, 0, length, ri))]
        if p.core == "trabecular":
            shell, core = g.fragment_shell(outer, inner)
        else:
            out, _ = occ.cut(outer, inner)
            occ.synchronize()
            shell, core = [t for _, t in out], []
        tol = 1e-6 * max(ro, length)

        def on_cylinder(r: float):  # type: ignore[no-untyped-def]
            return lambda x: bool(abs(((x[:, :2] ** 2).sum(axis=1)) ** 0.5 - r).max() < tol)

        rules = {
            "distal": lambda x: bool(abs(x[:, 2]).max() < tol),
            "proximal": lambda x: bool(abs(x[:, 2] - length).max() < tol),
            "periosteal": on_cylinder(ro),
        }
        if not core:
            rules["endosteal"] = on_cylinder(ri)
        faces = g.classify_surfaces(g.boundary_surfaces(shell + core), rules)
        regions = {"cortical": shell, "trabecular": core} if core else {"cortical": shell}
        groups = g.add_groups(regions, faces)
        g.set_volume_sizes([(core, p.size(p.mesh_size)), (shell, p.size(p.cortical_mesh_size))])
        return groups

    landmarks = {
        "distal_centre": (0.0, 0.0, 0.0),
        "proximal_centre": (0.0, 0.0, float(length)),
        "axis": (0.0, 0.0, 1.0),
    }
    return g.build_bone_mesh(
        comm,
        build,
        name="diaphysis",
        source=g.describe("diaphysis", p),
        landmarks=landmarks,
        msh_file=msh_file,
    )


#: The registry entry (see :mod:`bonefem.mesh.generators._registry`).
GENERATOR = Generator(
    diaphysis,
    DiaphysisParameters,
    "long-bone diaphysis: cortical tube with trabecular/medullary core",
)
