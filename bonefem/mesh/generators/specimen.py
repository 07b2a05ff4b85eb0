"""Trabecular bone specimen for virtual compression tests: a cylindrical core or a cube.

Geometry (mm): the specimen stands on the plane z = 0 with its axis along z. A cylinder
has diameter ``width``; a cube has lateral edge ``width`` (x and y from -width/2 to
width/2). An optional cortical shell of thickness ``cortical_thickness`` covers the lateral
faces (as in a specimen cored with its cortex, or a vertebral section); top and bottom are
cut faces through all materials, for loading between platens.

Regions: ``"trabecular"`` (and ``"cortical"`` with a shell).
Surfaces: ``"top"`` (z = height), ``"bottom"`` (z = 0), ``"side"`` (lateral faces).
Landmarks: ``"bottom_centre"``, ``"top_centre"`` (mm), ``"axis"`` (unit vector).

Default size: cylindrical cores 8 mm in diameter with a 2:1 length-to-diameter ratio are
the standard for compression testing of trabecular bone, chosen to limit end artefacts
(Keaveny et al. 1997, J Orthop Res 15:101-110; Morgan & Keaveny 2001, J Biomech
34:569-577).
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


class SpecimenParameters(GeneratorParameters):
    """Parameters of :func:`specimen` (all lengths in mm)."""

    shape: Literal["cylinder", "cube"] = quantity(
        "cylinder",
        "-",
        "Specimen shape: 'cylinder' (core) or 'cube' (square prism of lateral edge width).",
    )
    width: float = quantity(
        8.0,
        "mm",
        "Cylinder diameter or cube edge (Keaveny et al. 1997: 8-mm cores).",
        gt=0.0,
        le=200.0,
    )
    height: float | None = quantity(
        None,
        "mm",
        "Specimen height along z; None gives 2 x width for a cylinder (2:1 aspect ratio, "
        "Keaveny et al. 1997) and width for a cube.",
        gt=0.0,
        le=400.0,
    )
    cortical_thickness: float = quantity(
        0.0,
        "mm",
        "Thickness of a cortical shell on the lateral faces; 0 = no shell (pure trabecular).",
        ge=0.0,
        le=50.0,
    )
    mesh_size: float = quantity(
        0.8, "mm", "Target cell size in the trabecular core.", gt=0.0, le=100.0
    )
    cortical_mesh_size: float = quantity(
        0.5,
        "mm",
        "Target cell size in the cortical shell (at most 5 x its thickness).",
        gt=0.0,
        le=100.0,
    )

    @model_validator(mode="after")
    def _check(self) -> SpecimenParameters:
        if 2.0 * self.cortical_thickness >= self.width:
            raise ValueError("cortical_thickness must be less than width / 2")
        check_shell(self.cortical_thickness, self.cortical_mesh_size, name="cortical thickness")
        return self

    @property
    def specimen_height(self) -> float:
        """Height (mm), with the shape-dependent default."""
        if self.height is not None:
            return float(self.height)
        return 2.0 * self.width if self.shape == "cylinder" else self.width


def specimen(
    comm: MPI.Intracomm,
    params: SpecimenParameters | None = None,
    *,
    msh_file: str | Path | None = None,
) -> BoneMesh:
    """Mesh a trabecular specimen (cylinder or cube) with an optional cortical shell.

    Args:
        comm: MPI communicator.
        params: the geometry and mesh sizes (mm); defaults if None.
        msh_file: also write the gmsh mesh (with physical groups) to this path.

    Returns:
        The mesh with regions ``trabecular`` (+ ``cortical``) and surfaces ``top``,
        ``bottom``, ``side``.
    """
    p = params or SpecimenParameters()
    w, h, t = p.width, p.specimen_height, p.cortical_thickness

    def solid(inset: float) -> list[tuple[int, int]]:
        import gmsh

        occ = gmsh.model.occ
        if p.shape == "cylinder":
            return [(3, occ.addCylinder(0, 0, 0, 0, 0, h, w / 2 - inset))]
        return [(3, occ.addBox(-w / 2 + inset, -w / 2 + inset, 0, w - 2 * inset, w - 2 * inset, h))]

    def build() -> g.GmshGroups:
        import gmsh

        if t > 0.0:
            shell, core = g.fragment_shell(solid(0.0), solid(t))
        else:
            core, shell = [solid(0.0)[0][1]], []
            gmsh.model.occ.synchronize()
        tol = 1e-6 * max(w, h)
        faces = g.classify_surfaces(
            g.boundary_surfaces(shell + core),
            {
                "top": lambda x: bool(abs(x[:, 2] - h).max() < tol),
                "bottom": lambda x: bool(abs(x[:, 2]).max() < tol),
                "side": lambda x: True,
            },
        )
        regions = {"cortical": shell, "trabecular": core} if shell else {"trabecular": core}
        groups = g.add_groups(regions, faces)
        g.set_volume_sizes([(core, p.size(p.mesh_size)), (shell, p.size(p.cortical_mesh_size))])
        return groups

    landmarks = {
        "bottom_centre": (0.0, 0.0, 0.0),
        "top_centre": (0.0, 0.0, float(h)),
        "axis": (0.0, 0.0, 1.0),
    }
    return g.build_bone_mesh(
        comm,
        build,
        name="specimen",
        source=g.describe("specimen", p),
        landmarks=landmarks,
        msh_file=msh_file,
    )


#: The registry entry (see :mod:`bonefem.mesh.generators._registry`).
GENERATOR = Generator(
    specimen,
    SpecimenParameters,
    "trabecular bone specimen (cylinder or cube), optional cortical shell",
)
