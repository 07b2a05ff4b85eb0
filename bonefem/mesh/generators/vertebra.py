"""Idealised lumbar vertebral body: elliptic cross-section with a waist, shell and endplates.

Geometry (mm): the body stands on its caudal endplate (z = 0) with the cranial endplate at
z = height; x is mediolateral (``width``), y anteroposterior (``depth``, +y anterior). The
cross-section at height z is an ellipse whose semi-axes are reduced by
``waist * sin(pi z / height)``, giving the concave (waisted) lateral wall of a real
vertebral body. A cortical shell of ``cortical_thickness`` covers the wall and cortical
endplates of ``endplate_thickness`` close the top and bottom; inside is trabecular bone.
The inner (trabecular) body is the same waisted ellipse with semi-axes reduced by the
shell thickness, so the shell is of nearly uniform thickness.

Posterior elements (``posterior_elements = true``; :mod:`._vertebra_arch`): pedicles,
laminae, a spinous process and two transverse processes, boxes fused into one solid joined
to the posterior wall (dimensions: rounded adult L3 values of Panjabi et al. 1992, Spine
17:299-306). They form the region ``"posterior"``, a homogenised cortical-type bone (a
cortical shell around a trabecular core, see docs/meshes.md for its material), so that a
DXA-like projection includes them. Without them (the default, the geometry before issue
13) the body alone is meshed: it carries most of the axial load and is where
osteoporotic fractures happen.

Regions: ``"cortical"`` (shell + endplates), ``"trabecular"`` (centrum), with posterior
elements also ``"posterior"``.
Surfaces: ``"cranial_endplate"`` (z = height), ``"caudal_endplate"`` (z = 0),
``"periosteal"`` (outer lateral wall).
Landmarks: ``"caudal_endplate_centre"``, ``"cranial_endplate_centre"``, ``"centre"`` (mm);
``"axis"`` (caudal -> cranial), ``"anterior_direction"``, ``"lateral_direction"`` (unit);
with posterior elements also ``"spinous_process_tip"`` (mm).

Default dimensions approximate an adult L3 body: endplate width about 46 mm, depth about
34 mm, height about 27 mm (quantitative 3-D anatomy of lumbar vertebrae, Panjabi et al.
1992, Spine 17:299-306; prediction equations of Kunkel et al. 2010, J Anat 216:320-328).
The shell of 0.5 mm follows the issue brief and common continuum models; micro-CT gives a
mean of 0.38 +/- 0.06 mm (Eswaran et al. 2007, Comput Methods Appl Mech Eng 196:3025-3032)
with a range of about 0.1-0.9 mm (Silva et al. 1994). Endplate and shell thickness vary
by level and region (Palepu et al. 2019, Int J Spine Surg 13:361-370); here each is uniform.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from pydantic import model_validator

from bonefem._dolfinx import MPI
from bonefem.mesh.bonemesh import BoneMesh
from bonefem.mesh.generators import _gmsh as g
from bonefem.mesh.generators import _vertebra_arch as arch
from bonefem.mesh.generators._params import GeneratorParameters, check_shell, quantity
from bonefem.mesh.generators._registry import Generator

#: Number of elliptic sections the waisted wall is lofted through.
_SECTIONS = 7


class VertebraParameters(GeneratorParameters):
    """Parameters of :func:`vertebra` (all lengths in mm)."""

    width: float = quantity(
        46.0,
        "mm",
        "Mediolateral endplate width (adult L3, Panjabi et al. 1992).",
        gt=0.0,
        le=150.0,
    )
    depth: float = quantity(
        34.0,
        "mm",
        "Anteroposterior endplate depth (adult L3, Panjabi et al. 1992).",
        gt=0.0,
        le=150.0,
    )
    height: float = quantity(
        27.0,
        "mm",
        "Vertebral body height, endplate to endplate (adult L3, Panjabi et al. 1992).",
        gt=0.0,
        le=150.0,
    )
    waist: float = quantity(
        1.5,
        "mm",
        "Depth of the lateral-wall concavity at mid-height (0 = straight elliptic cylinder).",
        ge=0.0,
        le=20.0,
    )
    cortical_thickness: float = quantity(
        0.5,
        "mm",
        "Cortical shell thickness of the lateral wall (Eswaran et al. 2007: 0.38 +/- 0.06).",
        gt=0.0,
        le=10.0,
    )
    endplate_thickness: float = quantity(
        0.5,
        "mm",
        "Thickness of the cortical endplates (Palepu et al. 2019).",
        gt=0.0,
        le=10.0,
    )
    posterior_elements: bool = quantity(
        False,
        "-",
        "Add the posterior elements (pedicles, laminae, spinous and transverse processes) "
        "as the region 'posterior' (meshes/vertebra_posterior.toml; false: body only).",
    )
    pedicle_width: float = quantity(
        10.0, "mm", "Pedicle width, mediolateral (L3, Panjabi et al. 1992).", gt=2.0, le=30.0
    )
    pedicle_height: float = quantity(
        15.0, "mm", "Pedicle height, axial (L3, Panjabi et al. 1992).", gt=2.0, le=40.0
    )
    pedicle_angle: float = quantity(
        12.0,
        "deg",
        "Transverse pedicle angle: convergence towards the midline anteriorly (L3, about "
        "10-15 deg; Panjabi et al. 1992, Zindrick et al. 1987).",
        ge=0.0,
        le=40.0,
    )
    canal_width: float = quantity(
        23.0, "mm", "Spinal canal width between the pedicles (L3, Panjabi 1992).", gt=5.0, le=60.0
    )
    canal_depth: float = quantity(
        17.5, "mm", "Spinal canal depth, body to laminae (L3, Panjabi 1992).", gt=5.0, le=60.0
    )
    lamina_thickness: float = quantity(
        6.0, "mm", "Thickness of the laminae (anteroposterior).", gt=1.0, le=30.0
    )
    spinous_length: float = quantity(
        30.0, "mm", "Spinous process length behind the laminae (Panjabi 1992).", gt=2.0, le=80.0
    )
    spinous_width: float = quantity(
        6.0, "mm", "Spinous process thickness (mediolateral).", gt=1.0, le=30.0
    )
    transverse_span: float = quantity(
        76.0,
        "mm",
        "Transverse processes, tip to tip (L3, Panjabi et al. 1992: about 75-80 mm).",
        gt=10.0,
        le=200.0,
    )
    mesh_size: float = quantity(
        3.5, "mm", "Target cell size in the trabecular centrum.", gt=0.0, le=100.0
    )
    posterior_mesh_size: float = quantity(
        2.5, "mm", "Target cell size in the posterior elements.", gt=0.0, le=100.0
    )
    cortical_mesh_size: float = quantity(
        1.5,
        "mm",
        "Target cell size in the shell and endplates (at most 5 x the thinner of the two).",
        gt=0.0,
        le=100.0,
    )

    @model_validator(mode="after")
    def _check(self) -> VertebraParameters:
        if self.waist + self.cortical_thickness >= 0.5 * min(self.width, self.depth):
            raise ValueError("waist + cortical_thickness must be less than min(width, depth) / 2")
        if 2.0 * self.endplate_thickness >= self.height:
            raise ValueError("endplate_thickness must be less than height / 2")
        thinnest = min(self.cortical_thickness, self.endplate_thickness)
        check_shell(thinnest, self.cortical_mesh_size, name="thinnest cortex")
        if self.posterior_elements:
            x_out = self.canal_width / 2.0 + self.pedicle_width
            if x_out >= self.width / 2.0:
                raise ValueError(
                    "canal_width / 2 + pedicle_width must be less than width / 2 (the "
                    "pedicles must meet the posterior wall of the body)"
                )
            if self.pedicle_height + 2.0 * arch.ENDPLATE_MARGIN > self.height:
                raise ValueError("pedicle_height must be less than height - 4 mm")
            if self.transverse_span / 2.0 <= x_out + 2.0:
                raise ValueError("transverse_span / 2 must exceed canal_width / 2 + pedicle_width")
        return self

    def arch(self) -> arch.ArchDimensions:
        """The dimensions of the posterior elements (mm)."""
        return arch.ArchDimensions(
            pedicle_width=self.pedicle_width,
            pedicle_height=self.pedicle_height,
            pedicle_angle=self.pedicle_angle,
            canal_width=self.canal_width,
            canal_depth=self.canal_depth,
            lamina_thickness=self.lamina_thickness,
            spinous_length=self.spinous_length,
            spinous_width=self.spinous_width,
            transverse_span=self.transverse_span,
        )


def _waisted_body(a: float, b: float, z0: float, z1: float, waist: float, height: float) -> int:
    """OCC solid lofted through ellipses (semi-axes a, b minus the waist profile)."""
    import gmsh

    occ = gmsh.model.occ
    loops = []
    for z in np.linspace(z0, z1, _SECTIONS):
        inset = waist * math.sin(math.pi * z / height)
        ax, by = a - inset, b - inset
        # gmsh ellipses need the major radius along x.
        if ax >= by:
            curve = occ.addEllipse(0, 0, float(z), ax, by)
        else:
            curve = occ.addEllipse(0, 0, float(z), by, ax, zAxis=[0, 0, 1], xAxis=[0, 1, 0])
        loops.append(occ.addCurveLoop([curve]))
    out = occ.addThruSections(loops, makeSolid=True, makeRuled=False)
    return int(out[0][1])


def _describe(p: VertebraParameters) -> str:
    """``vertebra(key=value, ...)``; without posterior elements their dimensions are left out."""
    if p.posterior_elements:
        return g.describe("vertebra", p)
    skip = set(VertebraParameters.model_fields) - set(_BODY_PARAMETERS)
    items = ", ".join(f"{k}={v!r}" for k, v in p.model_dump(exclude=skip).items())
    return f"vertebra({items})"


#: Parameters of the body alone (the geometry before the posterior elements, issue 13).
_BODY_PARAMETERS = (
    "refine",
    "width",
    "depth",
    "height",
    "waist",
    "cortical_thickness",
    "endplate_thickness",
    "mesh_size",
    "cortical_mesh_size",
)


def vertebra(
    comm: MPI.Intracomm,
    params: VertebraParameters | None = None,
    *,
    msh_file: str | Path | None = None,
) -> BoneMesh:
    """Mesh an idealised lumbar vertebral body with cortical shell and endplates.

    Args:
        comm: MPI communicator.
        params: the geometry and mesh sizes (mm); defaults if None.
        msh_file: also write the gmsh mesh (with physical groups) to this path.

    Returns:
        The mesh with regions ``cortical``, ``trabecular`` (and ``posterior`` with
        ``posterior_elements``) and surfaces ``cranial_endplate``, ``caudal_endplate``,
        ``periosteal``.
    """
    p = params or VertebraParameters()
    a, b, h = p.width / 2, p.depth / 2, p.height
    t, tep = p.cortical_thickness, p.endplate_thickness

    def build() -> g.GmshGroups:
        outer = _waisted_body(a, b, 0.0, h, p.waist, h)
        inner = _waisted_body(a - t, b - t, tep, h - tep, p.waist, h)
        posterior: list[int] = []
        if p.posterior_elements:
            parts = arch.add_arch(p.arch(), p.depth, h, outer)
            shell, core, posterior = arch.fragment_body_and_arch(outer, inner, parts)
        else:
            shell, core = g.fragment_shell([(3, outer)], [(3, inner)])
        tol = 1e-6 * max(a, h)
        faces = g.classify_surfaces(
            g.boundary_surfaces(shell + core + posterior),
            {
                "cranial_endplate": lambda x: bool(abs(x[:, 2] - h).max() < tol),
                "caudal_endplate": lambda x: bool(abs(x[:, 2]).max() < tol),
                "periosteal": lambda x: True,
            },
        )
        regions = {"cortical": shell, "trabecular": core}
        sizes = [(core, p.size(p.mesh_size)), (shell, p.size(p.cortical_mesh_size))]
        if posterior:
            regions["posterior"] = posterior
            sizes.append((posterior, p.size(p.posterior_mesh_size)))
        groups = g.add_groups(regions, faces)
        g.set_volume_sizes(sizes)
        return groups

    landmarks = {
        "caudal_endplate_centre": (0.0, 0.0, 0.0),
        "cranial_endplate_centre": (0.0, 0.0, float(h)),
        "centre": (0.0, 0.0, float(h) / 2),
        "axis": (0.0, 0.0, 1.0),
        "anterior_direction": (0.0, 1.0, 0.0),
        "lateral_direction": (1.0, 0.0, 0.0),
    }
    if p.posterior_elements:
        tip = -b - p.canal_depth - p.lamina_thickness - p.spinous_length
        landmarks["spinous_process_tip"] = (0.0, float(tip), float(0.6 * h))
    return g.build_bone_mesh(
        comm,
        build,
        name="vertebra",
        source=_describe(p),
        landmarks=landmarks,
        msh_file=msh_file,
    )


#: The registry entry (see :mod:`bonefem.mesh.generators._registry`).
GENERATOR = Generator(
    vertebra,
    VertebraParameters,
    "idealised lumbar vertebra: waisted elliptic body, shell, endplates (+ posterior elements)",
)
