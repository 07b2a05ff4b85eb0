"""Case-file schema of geometric selectors (pydantic; importing it loads no DOLFINx).

A selector names a new surface of an image-derived mesh, for supports and loads::

    [[mesh.selections]]            # (suggested place; wiring is the case schema's)
    name = "distal"
    type = "extreme"
    direction = [0, 0, -1]
    band = 2.0

    [[mesh.selections]]
    name = "head_contact"
    type = "patch"
    point = [10.0, 25.0, 80.0]
    radius = 8.0

Types and fields (mm): ``plane`` (normal, offset, band), ``box`` (lower, upper),
``sphere`` (center, radius), ``patch`` (point, radius), ``extreme`` (direction, band).
:func:`apply_selections` evaluates them on a :class:`~bonefem.mesh.BoneMesh` (collective)
and adds each as a named surface (see :mod:`bonefem.imaging.selectors`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Selection", "apply_selections"]

Vec3 = Annotated[list[float], Field(min_length=3, max_length=3)]


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(description="Name of the new surface (used by supports and loads).")


class PlaneSelection(_Base):
    """Boundary facets with |n̂·x − offset| ≤ band."""

    type: Literal["plane"]
    normal: Vec3 = Field(description="Plane normal (any length).")
    offset: float = Field(description="Signed distance of the plane from the origin (mm).")
    band: float = Field(ge=0.0, description="Half-width of the slab (mm).")


class BoxSelection(_Base):
    """Boundary facets with lower ≤ midpoint ≤ upper."""

    type: Literal["box"]
    lower: Vec3 = Field(description="Lower corner (mm).")
    upper: Vec3 = Field(description="Upper corner (mm).")


class SphereSelection(_Base):
    """Boundary facets within radius of center."""

    type: Literal["sphere"]
    center: Vec3 = Field(description="Centre (mm).")
    radius: float = Field(gt=0.0, description="Radius (mm).")


class PatchSelection(_Base):
    """Boundary facets within radius of the boundary point nearest to point."""

    type: Literal["patch"]
    point: Vec3 = Field(description="A point near the surface (mm).")
    radius: float = Field(gt=0.0, description="Patch radius (mm).")


class ExtremeSelection(_Base):
    """Boundary facets with d̂·x ≥ max(d̂·x) − band."""

    type: Literal["extreme"]
    direction: Vec3 = Field(description="Direction (any length).")
    band: float = Field(ge=0.0, description="Depth of the band below the extreme (mm).")


Selection = Annotated[
    PlaneSelection | BoxSelection | SphereSelection | PatchSelection | ExtremeSelection,
    Field(discriminator="type"),
]


def apply_selections(bone: Any, selections: Sequence[Any]) -> dict[str, int]:
    """Evaluate selectors on a BoneMesh and add each as a named surface (collective).

    Args:
        bone: the :class:`~bonefem.mesh.BoneMesh`.
        selections: :data:`Selection` models or plain tables (validated here).

    Returns:
        Surface name -> tag value of the added surfaces.

    Raises:
        InputError: invalid table, or a selector that selects nothing (on all ranks).
    """
    from pydantic import TypeAdapter, ValidationError

    from bonefem.errors import validation_to_input_error
    from bonefem.imaging import selectors as sel

    adapter: TypeAdapter[Any] = TypeAdapter(Selection)
    out: dict[str, int] = {}
    for i, item in enumerate(selections):
        try:
            s: Any = item if isinstance(item, BaseModel) else adapter.validate_python(dict(item))
        except ValidationError as exc:
            raise validation_to_input_error(exc, prefix=f"selections[{i}]", drop=(
                "plane", "box", "sphere", "patch", "extreme")) from None  # fmt: skip
        if s.type == "plane":
            facets = sel.plane(bone, s.normal, s.offset, s.band)
        elif s.type == "box":
            facets = sel.box(bone, s.lower, s.upper)
        elif s.type == "sphere":
            facets = sel.sphere(bone, s.center, s.radius)
        elif s.type == "patch":
            facets = sel.patch(bone, s.point, s.radius)
        else:
            facets = sel.extreme(bone, s.direction, s.band)
        out[s.name] = sel.add_surface(bone, s.name, facets)
    return out
