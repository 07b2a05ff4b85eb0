"""Load cases: supports and loads on named surfaces (pure data, no DOLFINx).

A *load case* is one static loading of the bone: Dirichlet supports (``fixed`` or a
prescribed ``displacement``, full vector or one component), elastic (Robin) supports
(``elastic``: an elastic foundation, traction t = -k u, such as the intervertebral disc
under an endplate) and Neumann loads (``traction``
vector in MPa, ``pressure`` normal to the surface in MPa, or a total ``force`` in N spread
uniformly over the surface, i.e. traction = F / area). Each load case carries the number of
loading cycles per day it represents, so that several load cases combine into a *daily*
mechanical stimulus (Beaupré, Orr & Carter 1990, J Orthop Res 8:651, eq. 1).

Several load cases that share the same supports (same surfaces and components) share one
assembled operator in :mod:`bonefem.mechanics`; only the right-hand side differs.

Units: displacement mm, traction and pressure MPa (N/mm²), force N, foundation stiffness
N/mm³ (MPa per mm of displacement), cycles per day 1/day.
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


class Elastic(_Strict):
    """An elastic foundation (Winkler layer) under a surface: a Robin support.

    The layer exerts the traction t = -(k_n (u·n) n + k_t (u - (u·n) n)) on the bone (MPa,
    u in mm, n the outward normal): a thin layer of modulus E and thickness h between the
    surface and a fixed base has k_n = E/h and k_t = G/h (N/mm³). Intervertebral disc:
    homogenised effective modulus 5.8-42.7 MPa (higher at higher loading rates) and
    height 3-9 mm (T8-L5; Yang, Jekir, Davis & Keaveny 2016, J Biomech 49:1134-1140);
    lumbar discs are about 10 mm high, so k_n of about 0.5-1 N/mm³. With k_t > 0 the
    layer alone holds the bone against every rigid-body motion of a plane surface.
    """

    type: Literal["elastic"] = Field(
        default="elastic", description="Support type: elastic foundation (Robin condition)."
    )
    surface: str = Field(description="Name of the surface (facet physical group).")
    stiffness_N_per_mm3: float = Field(
        gt=0.0,
        le=1.0e6,
        description="Normal stiffness k_n of the foundation in N/mm³ (traction in MPa per mm "
        "of normal displacement): layer modulus / layer thickness, e.g. an intervertebral "
        "disc of 8 MPa over 10 mm gives 0.8 (Yang et al. 2016).",
    )
    shear_stiffness_N_per_mm3: float | None = Field(
        default=None,
        gt=0.0,
        le=1.0e6,
        description="Tangential stiffness k_t in N/mm³ (layer shear modulus / thickness; about "
        "k_n / 3 for a nearly incompressible layer); default: equal to the normal stiffness.",
    )

    @property
    def shear(self) -> float:
        """The tangential stiffness k_t (N/mm³)."""
        if self.shear_stiffness_N_per_mm3 is None:
            return self.stiffness_N_per_mm3
        return self.shear_stiffness_N_per_mm3

    def signature_key(self) -> str:
        """The operator key of this support (its stiffnesses change the operator)."""
        return f"elastic:{self.stiffness_N_per_mm3!r}:{self.shear!r}"


Support = Annotated[Fixed | Displacement | Elastic, Field(discriminator="type")]
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
        min_length=1,
        description="Supports: `fixed` or `displacement` (Dirichlet) or `elastic` (an elastic "
        "foundation, N/mm³) entries.",
    )
    loads: list[Load] = Field(
        default_factory=list,
        description="Neumann loads: `traction` (MPa), `pressure` (MPa) or `force` (N) entries.",
    )

    @model_validator(mode="after")
    def _check_supports(self) -> LoadCase:
        seen: set[tuple[str, str | None]] = set()
        for s in self.supports:
            component = None if isinstance(s, Elastic) else s.component
            key = (s.surface, component)
            if key in seen or (s.surface, None) in seen:
                raise ValueError(f"surface '{s.surface}' is supported twice")
            if component is None and any(k[0] == s.surface for k in seen):
                raise ValueError(f"surface '{s.surface}' is supported twice")
            seen.add(key)
        return self

    def surfaces(self) -> set[str]:
        """All surface names this load case refers to."""
        return {s.surface for s in self.supports} | {f.surface for f in self.loads}

    def support_signature(self) -> tuple[tuple[str, str], ...]:
        """Which (surface, component) pairs are constrained; equal signatures share an operator.

        An elastic support appears as (surface, ``"elastic:<k_n>:<k_t>"``): it constrains
        no dof but changes the operator.
        """
        pairs: list[tuple[str, str]] = []
        for s in self.supports:
            if isinstance(s, Elastic):
                pairs.append((s.surface, s.signature_key()))
            else:
                pairs.append((s.surface, s.component or "xyz"))
        return tuple(sorted(pairs))

    def elastic_supports(self) -> list[Elastic]:
        """The elastic (Robin) supports."""
        return [s for s in self.supports if isinstance(s, Elastic)]

    def displacement_supports(self) -> list[Displacement]:
        """The supports with a non-zero prescribed displacement."""
        return [s for s in self.supports if isinstance(s, Displacement)]
