"""Case-file schema of geometric selectors (pydantic; importing it loads no DOLFINx).

A selector names a new surface of an image-derived mesh, for supports and loads::

    [[mesh.select]]                # the [mesh] table of a case or test file
    name = "distal"
    type = "extreme"
    direction = [0, 0, -1]
    band = 2.0

    [[mesh.select]]
    name = "head_contact"
    type = "patch"
    point = [10.0, 25.0, 80.0]
    radius = 8.0

Types and fields (mm): ``plane`` (normal, offset, band), ``box`` (lower, upper),
``sphere`` (center, radius), ``patch`` (point, radius), ``extreme`` (direction, band).
:func:`apply_selections` evaluates them on a :class:`~bonefem.mesh.BoneMesh` (collective)
and adds each as a named surface (see :mod:`bonefem.imaging.selectors`);
:func:`load_selected_mesh` is the ``[mesh]`` loader that applies ``mesh.select`` to a mesh
of any source (generator, file, settings, image).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Selection", "apply_selections", "load_bone_mesh", "load_selected_mesh"]

Vec3 = Annotated[list[float], Field(min_length=3, max_length=3)]


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(description="Name of the new surface (used by supports and loads).")


class PlaneSelection(_Base):
    """Boundary facets with |n̂·x − offset| ≤ band."""

    type: Literal["plane"] = Field(description="Selector type.")
    normal: Vec3 = Field(description="Plane normal (any length).")
    offset: float = Field(description="Signed distance of the plane from the origin (mm).")
    band: float = Field(ge=0.0, description="Half-width of the slab (mm).")


class BoxSelection(_Base):
    """Boundary facets with lower ≤ midpoint ≤ upper."""

    type: Literal["box"] = Field(description="Selector type.")
    lower: Vec3 = Field(description="Lower corner (mm).")
    upper: Vec3 = Field(description="Upper corner (mm).")


class SphereSelection(_Base):
    """Boundary facets within radius of center."""

    type: Literal["sphere"] = Field(description="Selector type.")
    center: Vec3 = Field(description="Centre (mm).")
    radius: float = Field(gt=0.0, description="Radius (mm).")


class PatchSelection(_Base):
    """Boundary facets within radius of the boundary point nearest to point."""

    type: Literal["patch"] = Field(description="Selector type.")
    point: Vec3 = Field(description="A point near the surface (mm).")
    radius: float = Field(gt=0.0, description="Patch radius (mm).")


class ExtremeSelection(_Base):
    """Boundary facets with d̂·x ≥ max(d̂·x) − band."""

    type: Literal["extreme"] = Field(description="Selector type.")
    direction: Vec3 = Field(description="Direction (any length).")
    band: float = Field(ge=0.0, description="Depth of the band below the extreme (mm).")


Selection = Annotated[
    PlaneSelection | BoxSelection | SphereSelection | PatchSelection | ExtremeSelection,
    Field(discriminator="type"),
]


def _facets(bone: Any, s: Any) -> Any:
    """The local facets selector ``s`` picks on ``bone`` (collective; InputError if none)."""
    from bonefem.imaging import selectors as sel

    if s.type == "plane":
        return sel.plane(bone, s.normal, s.offset, s.band)
    if s.type == "box":
        return sel.box(bone, s.lower, s.upper)
    if s.type == "sphere":
        return sel.sphere(bone, s.center, s.radius)
    if s.type == "patch":
        return sel.patch(bone, s.point, s.radius)
    return sel.extreme(bone, s.direction, s.band)


def apply_selections(
    bone: Any, selections: Sequence[Any], *, file: str | None = None, prefix: str = "selections"
) -> dict[str, int]:
    """Evaluate selectors on a BoneMesh and add each as a named surface (collective).

    Selectors are applied in order; a facet selected twice belongs to the later selection
    (a facet has one tag). Every selection must keep at least one facet (on all ranks).

    Args:
        bone: the :class:`~bonefem.mesh.BoneMesh`.
        selections: :data:`Selection` models or plain tables (validated here).
        file: the case file, for messages.
        prefix: the field of the list in messages (``mesh.select``).

    Returns:
        Surface name -> tag value of the added surfaces.

    Raises:
        InputError: invalid table, a name the mesh has already, a selector that selects
            nothing, or a selection whose facets a later one took (on all ranks); the
            message names the file, ``prefix[i]`` and the selector's name.
    """
    from pydantic import TypeAdapter, ValidationError

    from bonefem._dolfinx import MPI
    from bonefem.errors import InputError, validation_to_input_error
    from bonefem.imaging import selectors as sel

    adapter: TypeAdapter[Any] = TypeAdapter(Selection)
    out: dict[str, int] = {}
    for i, item in enumerate(selections):
        try:
            s: Any = item if isinstance(item, BaseModel) else adapter.validate_python(dict(item))
        except ValidationError as exc:
            raise validation_to_input_error(exc, file, prefix=f"{prefix}[{i}]", drop=(
                "plane", "box", "sphere", "patch", "extreme")) from None  # fmt: skip
        where = f"{prefix}[{i}] (name '{s.name}')"
        try:
            out[s.name] = sel.add_surface(bone, s.name, _facets(bone, s))
        except InputError as exc:
            raise InputError(exc.reason, file=file, field=where, value=exc.value) from None
    comm = bone.mesh.comm
    for i, (name, tag) in enumerate(out.items()):
        n = comm.allreduce(int(bone.facet_tags.find(tag).size), op=MPI.SUM)
        if n == 0:
            raise InputError(
                "every facet of this selection was taken by a later selector (a facet has "
                "one surface); make the selections disjoint",
                file=file,
                field=f"{prefix}[{i}] (name '{name}')",
            )
    return out


def load_selected_mesh(
    config: Any,
    comm: Any = None,
    *,
    base_dir: Any = None,
    file: str | None = None,
) -> Any:
    """The ``[mesh]`` loader of case files: load the mesh, then apply ``mesh.select``.

    Same signature as :func:`bonefem.imaging.source.load_bone_mesh` (which loads a mesh
    of any source); the selectors run collectively on the distributed mesh, so the named
    surfaces they add are seen by the case-vs-mesh checks, by load cases and by the mesh
    file the run writes.
    """
    from bonefem.imaging.source import load_bone_mesh
    from bonefem.mesh.generators.config import parse_mesh_config

    cfg = parse_mesh_config(config, file=file)
    bone = load_bone_mesh(cfg, comm, base_dir=base_dir, file=file)
    if cfg.select:
        apply_selections(bone, cfg.select, file=file, prefix="mesh.select")
    return bone


#: the name under which :mod:`bonefem.mesh` exports the loader
load_bone_mesh = load_selected_mesh
