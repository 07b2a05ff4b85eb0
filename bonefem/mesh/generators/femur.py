"""Idealised proximal femur: shaft, intertrochanteric region, greater trochanter, neck, head.

Frame (mm): z along the shaft axis (superior), x medial (towards the head), y anterior.
The distal cut of the shaft is the plane z = 0; the neck axis meets the shaft axis at
``P = (0, 0, shaft_length)``. The bone is the union of simple solids:

* shaft: cylinder of ``shaft_diameter`` from z = 0 to P;
* intertrochanteric (metaphyseal) region: an ellipsoid around P that flares the shaft;
* greater trochanter: an ellipsoid lateral and superior to P, its tip near the level of
  the head centre;
* neck: cylinder of ``neck_diameter`` from P along the neck axis, which makes
  ``neck_shaft_angle`` with the shaft and is rotated ``anteversion`` about z;
* head: sphere of ``head_diameter`` centred on the neck axis at ``offset`` from the shaft
  axis.

The trabecular interior is the same union with every solid shrunk by its cortical thickness
(shaft, neck, head, trochanteric region), so the cortex is a shell of at least the smallest
of those thicknesses. The lesser trochanter, the linea aspera and the shaft curvature are
left out.

Regions: ``"cortical"``, ``"trabecular"``.
Surfaces (disjoint, on the periosteal boundary):

* ``"head_contact"``: cap of the head around the stance contact direction (superomedial,
  ``stance_angle`` from the shaft axis in the frontal plane), for the hip joint force in
  stance; the hip contact force of walking is inclined by roughly 15 deg to the femoral
  axis in the frontal plane (Bergmann et al. 2001, J Biomech 34:859-871);
* ``"abductor_insertion"``: superolateral greater trochanter (gluteus medius/minimus);
* ``"head_fall"``: cap of the head facing the acetabulum in a sideways fall, for the fall
  load; ``"trochanter_support"``: lateral greater trochanter, where the ground strikes.
  The fall orientation is the classic one of Courtney et al. 1994 (Calcif Tissue Int
  55:53-58): shaft 10 deg to the ground, 15 deg internal rotation; most hip fractures
  follow a sideways fall onto the greater trochanter (Parkkari et al. 1999, Calcif Tissue
  Int 65:183-187);
* ``"distal"``: the distal cut (fixation);
* ``"periosteal"``: the rest of the outer surface.

The patches are made of whole boundary triangles whose centroids lie within the given
half-angle of the patch direction, so their edges follow the mesh (area converges with
refinement). Patches that would overlap are refused.

Landmarks: ``"head_centre"``, ``"neck_shaft_intersection"``, ``"neck_centre"`` (midway
along the free neck, the DXA femoral-neck region), ``"greater_trochanter_centre"``,
``"distal_centre"`` (mm); unit vectors ``"neck_axis"`` (towards the head),
``"shaft_axis"`` (superior), ``"stance_load_direction"`` and ``"fall_load_direction"``
(direction of the joint force on the head), ``"fall_support_direction"`` (ground reaction
on the trochanter).

Default dimensions: head diameter 46 mm and neck diameter 31 mm (Saengnipanthkul &
Techasatien 2012, J Med Assoc Thai 95:790: male means 45.3 and 30.8 mm, head/neck ratio
1.47); neck-shaft angle 129 deg (Toogood et al. 2009, Clin Orthop Relat Res 467:876-885:
129.2 deg in 375 femora); femoral offset 41 mm (Preininger et al. 2012, Open Orthop J
6:578-581: men 43.6, women 39.5 mm); anteversion 0 deg, i.e. the femur internally rotated
as for a DXA scan (anatomical mean about 10 deg, Toogood et al. 2009). Cortical thicknesses
are idealised: about 1 mm in the head and trochanter, 1.5 mm in the neck (thin
superolateral, thick inferomedial cortex in reality; Mayhew et al. 2005, Lancet
366:129-135) and 5 mm in the subtrochanteric shaft.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import numpy.typing as npt
from pydantic import model_validator

from bonefem._dolfinx import MPI
from bonefem.mesh.bonemesh import BoneMesh
from bonefem.mesh.generators import _gmsh as g
from bonefem.mesh.generators._params import GeneratorParameters, check_shell, quantity
from bonefem.mesh.generators._refine import Geometry, refine_bone
from bonefem.mesh.generators._registry import Generator
from bonefem.mesh.generators._shapes import Cylinder, Ellipsoid, Plane, Primitive, Sphere

logger = logging.getLogger(__name__)

#: Surface names in physical-group order.
SURFACES = (
    "head_contact",
    "abductor_insertion",
    "head_fall",
    "trochanter_support",
    "distal",
    "periosteal",
)


class FemurParameters(GeneratorParameters):
    """Parameters of :func:`femur` (lengths in mm, angles in degrees)."""

    shaft_length: float = quantity(
        100.0,
        "mm",
        "Distance from the distal cut to where the neck axis meets the shaft axis.",
        gt=20.0,
        le=500.0,
    )
    shaft_diameter: float = quantity(
        30.0, "mm", "Periosteal diameter of the proximal shaft.", gt=10.0, le=80.0
    )
    shaft_cortical_thickness: float = quantity(
        5.0, "mm", "Cortical thickness of the shaft.", gt=0.0, le=20.0
    )
    head_diameter: float = quantity(
        46.0,
        "mm",
        "Femoral head diameter (Saengnipanthkul & Techasatien 2012).",
        gt=10.0,
        le=80.0,
    )
    head_cortical_thickness: float = quantity(
        1.0, "mm", "Subchondral cortical thickness of the head.", gt=0.0, le=10.0
    )
    neck_diameter: float = quantity(
        31.0,
        "mm",
        "Femoral neck diameter (Saengnipanthkul & Techasatien 2012).",
        gt=5.0,
        le=70.0,
    )
    neck_cortical_thickness: float = quantity(
        1.5, "mm", "Cortical thickness of the neck (uniform here).", gt=0.0, le=10.0
    )
    trochanter_cortical_thickness: float = quantity(
        1.0,
        "mm",
        "Cortical thickness of the greater trochanter and intertrochanteric region.",
        gt=0.0,
        le=10.0,
    )
    neck_shaft_angle: float = quantity(
        129.0,
        "deg",
        "Angle between neck axis and shaft axis (Toogood et al. 2009: 129.2).",
        ge=100.0,
        le=160.0,
    )
    offset: float = quantity(
        41.0,
        "mm",
        "Femoral offset: distance of the head centre from the shaft axis (Preininger 2012).",
        ge=20.0,
        le=80.0,
    )
    anteversion: float = quantity(
        0.0,
        "deg",
        "Rotation of neck and head about the shaft axis towards anterior (0 = DXA position; "
        "anatomical mean about 10, Toogood et al. 2009).",
        ge=-30.0,
        le=45.0,
    )
    stance_angle: float = quantity(
        15.0,
        "deg",
        "Angle of the head_contact patch centre from the shaft axis towards medial, i.e. "
        "the frontal-plane inclination of the stance hip force (Bergmann et al. 2001).",
        ge=0.0,
        le=60.0,
    )
    head_contact_half_angle: float = quantity(
        30.0, "deg", "Half-angle of the head_contact cap.", gt=0.0, le=80.0
    )
    fall_tilt: float = quantity(
        10.0,
        "deg",
        "Fall: angle between shaft and ground; tilts the head_fall direction superiorly "
        "(Courtney et al. 1994).",
        ge=0.0,
        le=45.0,
    )
    fall_rotation: float = quantity(
        15.0,
        "deg",
        "Fall: internal rotation of the femur; rotates the head_fall direction anteriorly "
        "(Courtney et al. 1994).",
        ge=-45.0,
        le=45.0,
    )
    head_fall_half_angle: float = quantity(
        25.0, "deg", "Half-angle of the head_fall cap.", gt=0.0, le=80.0
    )
    abductor_angle: float = quantity(
        30.0,
        "deg",
        "Angle of the abductor_insertion patch centre from superior towards lateral, seen "
        "from the trochanter centre.",
        ge=0.0,
        le=80.0,
    )
    abductor_half_angle: float = quantity(
        30.0, "deg", "Half-angle of the abductor_insertion patch.", gt=0.0, le=80.0
    )
    trochanter_support_half_angle: float = quantity(
        30.0, "deg", "Half-angle of the trochanter_support patch.", gt=0.0, le=80.0
    )
    mesh_size: float = quantity(
        6.0, "mm", "Target cell size in the trabecular interior.", gt=0.0, le=100.0
    )
    cortical_mesh_size: float = quantity(
        2.5,
        "mm",
        "Target cell size in the cortex (at most 5 x the thinnest cortical thickness).",
        gt=0.0,
        le=100.0,
    )

    uniform_refinements: int = quantity(
        0,
        "-",
        "Uniform refinements in parallel after gmsh (each splits every cell into 8; new "
        "boundary and cortical/trabecular interface nodes are projected onto the exact "
        "geometry, and the load patches are re-drawn on the refined boundary). gmsh "
        "builds the mesh of the other parameters, then DOLFINx refines it: refine = 1.25 "
        "with 2 refinements gives 4.3M cells in about 1.5 minutes on 2 ranks.",
        ge=0,
        le=4,
    )

    @model_validator(mode="after")
    def _check(self) -> FemurParameters:
        if self.neck_diameter >= self.head_diameter:
            raise ValueError("neck_diameter must be less than head_diameter")
        if self.neck_diameter >= 1.2 * self.shaft_diameter:
            raise ValueError("neck_diameter must be less than 1.2 x shaft_diameter")
        for part, t, d in (
            ("shaft", self.shaft_cortical_thickness, self.shaft_diameter),
            ("head", self.head_cortical_thickness, self.head_diameter),
            ("neck", self.neck_cortical_thickness, self.neck_diameter),
            ("trochanter", self.trochanter_cortical_thickness, 0.38 * self.shaft_diameter),
        ):
            if t >= 0.4 * d:
                raise ValueError(f"{part}_cortical_thickness is too large for its diameter")
        geo = _Geometry(self)
        if geo.d_head < 0.5 * self.head_diameter + 0.5 * self.shaft_diameter * 0.5:
            raise ValueError("offset too small: the head would swallow the shaft")
        pairs = (
            ("head_contact", "head_fall", geo.e_stance, geo.e_fall, self.head_contact_half_angle,
             self.head_fall_half_angle),
            ("abductor_insertion", "trochanter_support", geo.e_abductor, geo.e_support,
             self.abductor_half_angle, self.trochanter_support_half_angle),
        )  # fmt: skip
        for n1, n2, e1, e2, h1, h2 in pairs:
            between = math.degrees(math.acos(float(np.clip(e1 @ e2, -1.0, 1.0))))
            if h1 + h2 > between:
                raise ValueError(
                    f"the {n1} and {n2} patches overlap: their centres are {between:.1f} deg "
                    f"apart but their half-angles add up to {h1 + h2:g} deg"
                )
        thinnest = min(
            self.shaft_cortical_thickness,
            self.head_cortical_thickness,
            self.neck_cortical_thickness,
            self.trochanter_cortical_thickness,
        )
        check_shell(thinnest, self.cortical_mesh_size, name="thinnest cortex")
        return self


class _Geometry:
    """Derived points (mm) and unit directions of the femur (frame: x medial, z superior)."""

    def __init__(self, p: FemurParameters) -> None:
        rad = math.radians
        D = p.shaft_diameter
        self.L = p.shaft_length
        incl = rad(180.0 - p.neck_shaft_angle)  # neck axis from the vertical
        av = rad(p.anteversion)
        self.n = np.array(
            [math.sin(incl) * math.cos(av), math.sin(incl) * math.sin(av), math.cos(incl)]
        )
        self.P = np.array([0.0, 0.0, self.L])
        self.d_head = p.offset / math.sin(incl)  # along the neck axis from P
        self.C = self.P + self.d_head * self.n
        self.R_head = p.head_diameter / 2
        self.R_neck = p.neck_diameter / 2
        self.R_shaft = D / 2
        # intertrochanteric region and greater trochanter, scaled with the shaft diameter
        self.M = np.array([-0.1 * D, 0.0, self.L])
        self.M_axes = np.array([0.72, 0.60, 0.85]) * D
        self.G = np.array([-0.5 * D, 0.0, self.L + 0.45 * D])
        self.G_axes = np.array([0.38, 0.45, 0.65]) * D
        s, f, r = rad(p.stance_angle), rad(p.fall_tilt), rad(p.fall_rotation)
        self.e_stance = np.array([math.sin(s), 0.0, math.cos(s)])
        self.e_fall = np.array([math.cos(f) * math.cos(r), math.cos(f) * math.sin(r), math.sin(f)])
        self.e_support = -self.e_fall
        a = rad(p.abductor_angle)
        self.e_abductor = np.array([-math.sin(a), 0.0, math.cos(a)])

    def neck_centre(self) -> npt.NDArray[np.float64]:
        """Midpoint of the free neck: between the intertrochanteric surface and the head."""
        # ray P + s n leaves the ellipsoid (M, M_axes) at the positive root of a quadratic
        q = (self.P - self.M) / self.M_axes
        v = self.n / self.M_axes
        a, b, c = v @ v, 2 * q @ v, q @ q - 1.0
        s_out = (-b + math.sqrt(b * b - 4 * a * c)) / (2 * a)
        s_head = self.d_head - self.R_head
        return self.P + 0.5 * (s_out + max(s_head, s_out)) * self.n

    def landmarks(self) -> dict[str, tuple[float, float, float]]:
        """Named points (mm) and unit directions for building load cases and metrics."""
        return {
            "head_centre": g.point(self.C),
            "neck_shaft_intersection": g.point(self.P),
            "neck_centre": g.point(self.neck_centre()),
            "greater_trochanter_centre": g.point(self.G),
            "distal_centre": (0.0, 0.0, 0.0),
            "neck_axis": g.unit(self.n),
            "shaft_axis": (0.0, 0.0, 1.0),
            "stance_load_direction": g.unit(-self.e_stance),
            "fall_load_direction": g.unit(-self.e_fall),
            "fall_support_direction": g.unit(self.e_fall),
        }


def _angle_within(
    x: npt.NDArray[np.float64],
    centre: npt.NDArray[np.float64],
    e: npt.NDArray[np.float64],
    deg: float,
) -> npt.NDArray[np.bool_]:
    """Whether the direction from ``centre`` to each row of ``x`` is within ``deg`` of ``e``."""
    d = x - centre
    cos = (d @ e) / np.linalg.norm(d, axis=1)
    return np.asarray(cos >= math.cos(math.radians(deg)))


def _union(
    geo: _Geometry, shaft_t: float, troch_t: float, neck_t: float, head_t: float
) -> list[tuple[int, int]]:
    """Fuse shaft, metaphysis, trochanter, neck and head, each shrunk by its thickness (mm).

    With zero thicknesses the periosteal (outer) solid; with the cortical thicknesses the
    endosteal (inner) one.
    """
    import gmsh

    occ = gmsh.model.occ

    def ellipsoid(c: npt.NDArray[np.float64], axes: npt.NDArray[np.float64]) -> int:
        tag = occ.addSphere(0, 0, 0, 1.0)
        ax = axes - troch_t
        occ.dilate([(3, tag)], 0, 0, 0, float(ax[0]), float(ax[1]), float(ax[2]))
        occ.translate([(3, tag)], float(c[0]), float(c[1]), float(c[2]))
        return int(tag)

    shaft = occ.addCylinder(0, 0, 0, 0, 0, geo.L, geo.R_shaft - shaft_t)
    meta = ellipsoid(geo.M, geo.M_axes)
    troch = ellipsoid(geo.G, geo.G_axes)
    axis = geo.d_head * geo.n
    neck = occ.addCylinder(*map(float, geo.P), *map(float, axis), geo.R_neck - neck_t)
    head = occ.addSphere(*map(float, geo.C), geo.R_head - head_t)
    out, _ = occ.fuse([(3, shaft)], [(3, meta), (3, troch), (3, neck), (3, head)])
    return [(d, t) for d, t in out]


def _surface_rules(
    geo: _Geometry, p: FemurParameters
) -> dict[str, Callable[[npt.NDArray[np.float64]], bool]]:
    """Rules sorting the CAD boundary surfaces: distal cut, head sphere, trochanter, other."""
    scale = p.shaft_length + p.head_diameter
    tol = 1e-6 * scale

    def on_head(x: npt.NDArray[np.float64]) -> bool:
        r = np.linalg.norm(x - geo.C, axis=1)
        return bool(np.abs(r - geo.R_head).max() < 1e-5 * scale)

    def on_trochanter(x: npt.NDArray[np.float64]) -> bool:
        r = np.linalg.norm((x - geo.G) / geo.G_axes, axis=1)
        return bool(np.abs(r - 1.0).max() < 1e-3)

    return {
        "distal": lambda x: bool(np.abs(x[:, 2]).max() < tol),
        "head": on_head,
        "trochanter": on_trochanter,
        "other": lambda x: True,
    }


def _patch_labels(
    geo: _Geometry,
    p: FemurParameters,
    faces: Mapping[str, list[int]],
    surf: npt.NDArray[np.int32],
    centroid: npt.NDArray[np.float64],
) -> npt.NDArray[np.int32]:
    """Index into :data:`SURFACES` of each boundary triangle (later rules win overlaps)."""
    labels = np.full(surf.shape[0], SURFACES.index("periosteal"), dtype=np.int32)
    head = np.isin(surf, faces["head"])
    troch = np.isin(surf, faces["trochanter"])
    fall = head & _angle_within(centroid, geo.C, geo.e_fall, p.head_fall_half_angle)
    labels[fall] = SURFACES.index("head_fall")
    stance = head & _angle_within(centroid, geo.C, geo.e_stance, p.head_contact_half_angle)
    labels[stance] = SURFACES.index("head_contact")
    support = troch & _angle_within(centroid, geo.G, geo.e_support, p.trochanter_support_half_angle)
    labels[support] = SURFACES.index("trochanter_support")
    abductor = troch & _angle_within(centroid, geo.G, geo.e_abductor, p.abductor_half_angle)
    labels[abductor] = SURFACES.index("abductor_insertion")
    labels[np.isin(surf, faces["distal"])] = SURFACES.index("distal")
    return labels


def _build(geo: _Geometry, p: FemurParameters) -> g.GmshGroups:
    """Rank 0: cortical shell and trabecular core, sizes, and the load patches after meshing."""
    outer = _union(geo, 0.0, 0.0, 0.0, 0.0)
    inner = _union(
        geo,
        p.shaft_cortical_thickness,
        p.trochanter_cortical_thickness,
        p.neck_cortical_thickness,
        p.head_cortical_thickness,
    )
    shell, core = g.fragment_shell(outer, inner)
    groups = g.add_groups({"cortical": shell, "trabecular": core}, {})
    g.set_volume_sizes([(core, p.size(p.mesh_size)), (shell, p.size(p.cortical_mesh_size))])
    volumes = shell + core

    def after_mesh() -> dict[str, int]:
        faces = g.classify_surfaces(g.boundary_surfaces(volumes), _surface_rules(geo, p))
        surf, tri, centroid = g.boundary_triangles(volumes)
        return g.add_triangle_groups(tri, _patch_labels(geo, p, faces, surf, centroid), SURFACES)

    groups.after_mesh = after_mesh
    return groups


def _solids(
    geo: _Geometry, shaft_t: float, troch_t: float, neck_t: float, head_t: float
) -> tuple[Primitive, ...]:
    """The surfaces of the solids of :func:`_union` (same thicknesses), as primitives."""
    return (
        Cylinder((0.0, 0.0, 0.0), (0.0, 0.0, 1.0), geo.R_shaft - shaft_t),
        Ellipsoid(g.point(geo.M), g.point(geo.M_axes - troch_t)),
        Ellipsoid(g.point(geo.G), g.point(geo.G_axes - troch_t)),
        Cylinder(g.point(geo.P), g.point(geo.n), geo.R_neck - neck_t),
        Sphere(g.point(geo.C), geo.R_head - head_t),
    )


#: Index of the distal plane, the trochanter ellipsoid and the head sphere in
#: ``_geometry(...).outer``.
_DISTAL, _TROCHANTER, _HEAD = 0, 3, 5


def _geometry(geo: _Geometry, p: FemurParameters) -> Geometry:
    """Outer boundary (distal plane + periosteal solids) and cortical/trabecular interface."""
    inner = _solids(
        geo,
        p.shaft_cortical_thickness,
        p.trochanter_cortical_thickness,
        p.neck_cortical_thickness,
        p.head_cortical_thickness,
    )
    plane = Plane((0.0, 0.0, 0.0), (0.0, 0.0, -1.0))
    return Geometry(outer=(plane, *_solids(geo, 0.0, 0.0, 0.0, 0.0)), interface=inner)


def _relabel(
    geo: _Geometry,
    p: FemurParameters,
    surf: npt.NDArray[np.int32],
    centroid: npt.NDArray[np.float64],
) -> npt.NDArray[np.int32]:
    """Surface tag (1-based index into :data:`SURFACES`) of refined boundary facets.

    ``surf`` is the index of each facet's primitive in ``_geometry(...).outer``; the rule is
    that of the directly meshed femur (:func:`_patch_labels`).
    """
    faces = {"distal": [_DISTAL], "head": [_HEAD], "trochanter": [_TROCHANTER]}
    return _patch_labels(geo, p, faces, surf, centroid) + 1


def femur(
    comm: MPI.Intracomm,
    params: FemurParameters | None = None,
    *,
    msh_file: str | Path | None = None,
) -> BoneMesh:
    """Mesh an idealised proximal femur with cortex, trabecular interior and load patches.

    Args:
        comm: MPI communicator.
        params: the geometry, patch placement and mesh sizes (mm, deg); defaults if None.
        msh_file: also write the gmsh mesh (with physical groups) to this path (the
            coarse mesh if ``uniform_refinements`` > 0).

    Returns:
        The mesh with regions ``cortical``, ``trabecular``, the surfaces of
        :data:`SURFACES` and the landmarks described in the module docstring.
    """
    p = params or FemurParameters()
    geo = _Geometry(p)
    bone = g.build_bone_mesh(
        comm,
        lambda: _build(geo, p),
        name="femur",
        source=g.describe("femur", p),
        landmarks=geo.landmarks(),
        msh_file=msh_file,
    )
    if p.uniform_refinements == 0:
        return bone
    bone, report = refine_bone(
        bone,
        p.uniform_refinements,
        _geometry(geo, p),
        relabel=lambda surf, centroid: _relabel(geo, p, surf, centroid),
    )
    logger.info("femur refined: %s", report)
    return bone


#: The registry entry (see :mod:`bonefem.mesh.generators._registry`).
GENERATOR = Generator(
    femur,
    FemurParameters,
    "idealised proximal femur: head, neck, greater trochanter, shaft",
)
