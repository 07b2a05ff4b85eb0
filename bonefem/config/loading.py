"""Load cases: supports and loads on named surfaces (pure data, no DOLFINx).

A *load case* is one static loading of the bone: Dirichlet supports (``fixed`` or a
prescribed ``displacement``, full vector or one component) and Neumann loads (``traction``
vector in MPa, ``pressure`` normal to the surface in MPa, or a total ``force`` in N spread
uniformly over the surface, i.e. traction = F / area). Each load case carries the number of
loading cycles per day it represents, so that several load cases combine into a *daily*
mechanical stimulus (Beaupré, Orr & Carter 1990, J Orthop Res 8:651, eq. 1).

Several load cases that share the same supports (same surfaces and components) share one
assembled operator in :mod:`bonefem.mechanics`; only the right-hand side differs.

Units: displacement mm, traction and pressure MPa (N/mm²), force N, cycles per day 1/day.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Component = Literal["x", "y", "z"]
COMPONENTS: dict[str, int] = {"x": 0, "y": 1, "z": 2}
Vector3 = Annotated[list[float], Field(min_length=3, max_length=3)]


class _Strict(BaseModel):
    # finite numbers only: a force of [0, 0, nan] or inf must not reach the solver
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Fixed(_Strict):
    """Clamp a surface: zero displacement in all (or one) components."""

    type: Literal["fixed"] = Field(default="fixed", description="Support type: clamp.")
    surface: str = Field(description="Name of the surface (facet physical group).")
    component: Component | None = Field(
        default=None,
        description="Fix only this component ('x', 'y' or 'z'); default: all three (clamped).",
    )


class Displacement(_Strict):
    """Prescribe a displacement (mm) on a surface: a full vector or one component."""

    type: Literal["displacement"] = Field(
        default="displacement", description="Support type: prescribed displacement."
    )
    surface: str = Field(description="Name of the surface (facet physical group).")
    value: float | Vector3 = Field(
        description="Imposed displacement in mm: a 3-vector, or a number with `component`."
    )
    component: Component | None = Field(
        default=None, description="Component the scalar `value` applies to ('x', 'y' or 'z')."
    )
    gradient: list[Vector3] | None = Field(
        default=None,
        min_length=3,
        max_length=3,
        description="Optional displacement gradient G (3x3, mm/mm): the imposed field is "
        "u(x) = value + G·(x − origin), e.g. a tilted plate or a rotation. Needs a 3-vector "
        "`value`.",
    )
    origin: Vector3 = Field(
        default_factory=lambda: [0.0, 0.0, 0.0],
        description="Point x0 (mm) about which `gradient` acts.",
    )

    @model_validator(mode="after")
    def _check_shape(self) -> Displacement:
        if self.gradient is not None and not isinstance(self.value, list):
            raise ValueError("`gradient` needs a 3-vector `value` (not a single component)")
        if isinstance(self.value, list) and self.component is not None:
            raise ValueError("give either a 3-vector `value` or a scalar `value` with `component`")
        if not isinstance(self.value, list) and self.component is None:
            raise ValueError("a scalar `value` needs `component` ('x', 'y' or 'z')")
        return self

    def vector(self) -> tuple[float, float, float]:
        """Imposed displacement as a 3-vector (mm); unconstrained components are 0."""
        if isinstance(self.value, list):
            return (self.value[0], self.value[1], self.value[2])
        out = [0.0, 0.0, 0.0]
        out[COMPONENTS[self.component or "x"]] = float(self.value)
        return (out[0], out[1], out[2])


class Traction(_Strict):
    """A uniform traction vector (MPa) on a surface."""

    type: Literal["traction"] = Field(default="traction", description="Load type: traction vector.")
    surface: str = Field(description="Name of the surface (facet physical group).")
    traction: Vector3 = Field(description="Traction vector in MPa (N/mm²).")


class Pressure(_Strict):
    """A uniform pressure (MPa) acting against the outward normal of a surface."""

    type: Literal["pressure"] = Field(default="pressure", description="Load type: normal pressure.")
    surface: str = Field(description="Name of the surface (facet physical group).")
    pressure: float = Field(description="Pressure in MPa; positive pushes into the bone.")


class Force(_Strict):
    """A total force (N) spread uniformly over a surface (traction = force / area)."""

    type: Literal["force"] = Field(default="force", description="Load type: total force.")
    surface: str = Field(description="Name of the surface (facet physical group).")
    force: Vector3 = Field(description="Total force vector in N.")


Support = Annotated[Fixed | Displacement, Field(discriminator="type")]
Load = Annotated[Traction | Pressure | Force, Field(discriminator="type")]


class LoadCase(_Strict):
    """One static load case with its daily number of cycles.

    The supports must remove all rigid-body motions (the solver has the six rigid-body
    modes only as a *near*-nullspace for the preconditioner).
    """

    name: str = Field(description="Name of the load case (used in outputs and messages).")
    cycles_per_day: float = Field(
        default=1000.0,
        gt=0.0,
        description="Loading cycles per day this case represents (1/day); weights the daily "
        "stimulus (Beaupré et al. 1990).",
    )
    supports: list[Support] = Field(
        min_length=1, description="Dirichlet supports: `fixed` or `displacement` entries."
    )
    loads: list[Load] = Field(
        default_factory=list,
        description="Neumann loads: `traction` (MPa), `pressure` (MPa) or `force` (N) entries.",
    )

    @model_validator(mode="after")
    def _check_supports(self) -> LoadCase:
        seen: set[tuple[str, str | None]] = set()
        for s in self.supports:
            key = (s.surface, s.component)
            if key in seen or (s.surface, None) in seen:
                raise ValueError(f"surface '{s.surface}' is supported twice")
            if s.component is None and any(k[0] == s.surface for k in seen):
                raise ValueError(f"surface '{s.surface}' is supported twice")
            seen.add(key)
        return self

    def surfaces(self) -> set[str]:
        """All surface names this load case refers to."""
        return {s.surface for s in self.supports} | {f.surface for f in self.loads}

    def support_signature(self) -> tuple[tuple[str, str], ...]:
        """Which (surface, component) pairs are constrained; equal signatures share an operator."""
        pairs: list[tuple[str, str]] = []
        for s in self.supports:
            pairs.append((s.surface, s.component or "xyz"))
        return tuple(sorted(pairs))

    def displacement_supports(self) -> list[Displacement]:
        """The supports with a non-zero prescribed displacement."""
        return [s for s in self.supports if isinstance(s, Displacement)]
