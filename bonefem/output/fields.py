"""The registry of output fields: name, unit, location and how to get it from a run view.

One list used by case validation (``output.fields``), the ParaView writer and the
generated case reference. Adding a field is one :class:`FieldSpec` here (see
docs/architecture.md, "How to add an output field"). Array names in the files are
``"<name> [<unit>]"``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt

from bonefem.remodeling.bone import per_bone_volume_pct_per_year

if TYPE_CHECKING:
    from bonefem.state import RunView

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class FieldSpec:
    """One output field.

    Attributes:
        name: name in the case file (``output.fields``).
        unit: unit shown in the array name ("-" for dimensionless).
        location: "cell" (one value per cell) or "point" (per mesh node; vector fields).
        value: the values of the owned cells (or the points) from a run view.
        description: what it is, for the case reference.
        default: written unless the case lists its own fields.
    """

    name: str
    unit: str
    location: Literal["cell", "point"]
    value: Callable[[RunView], npt.NDArray[np.generic]]
    description: str
    default: bool = True

    @property
    def label(self) -> str:
        """The array name in the ParaView files: ``"name [unit]"``."""
        return f"{self.name} [{self.unit}]"


def _derived(name: str) -> Callable[[RunView], FloatArray]:
    def value(v: RunView) -> FloatArray:
        d = v.derived()
        return np.asarray(d[name]) if name in d else np.full(v.geometry.n, np.nan)

    return value


def _per_bone_volume(which: int) -> Callable[[RunView], FloatArray]:
    """Formation (0) or resorption (1) per bone volume, %/year; NaN without the cell law."""

    def value(v: RunView) -> FloatArray:
        rates = v.turnover()
        if rates is None:
            return np.full(v.geometry.n, np.nan)
        return per_bone_volume_pct_per_year(rates[which], v.state.f)

    return value


FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec(
        "displacement",
        "mm",
        "point",
        lambda v: v.displacement(),
        "displacement under the first habitual load case at the last elasticity solve",
    ),
    FieldSpec("density", "g/cm^3", "cell", lambda v: v.density, "apparent (wet) density"),
    FieldSpec(
        "density_change",
        "%",
        "cell",
        lambda v: 100.0 * (v.density / v.state.rho0 - 1.0),
        "apparent density change from t = 0",
    ),
    FieldSpec("bvtv", "-", "cell", lambda v: v.state.f, "bone volume fraction BV/TV"),
    FieldSpec(
        "mineral_density",
        "g/cm^3",
        "cell",
        lambda v: v.mineral_density,
        "mineral mass per total volume (what densitometry measures)",
        default=False,
    ),
    FieldSpec("youngs_modulus", "MPa", "cell", lambda v: v.state.E, "Young's modulus"),
    FieldSpec("stimulus", "-", "cell", lambda v: v.stimulus, "relative stimulus Ψ/Ψ_ss"),
    FieldSpec(
        "strain_energy_density",
        "MPa",
        "cell",
        lambda v: v.sed,
        "daily strain energy density Ψ (load-controlled since the last solve)",
    ),
    FieldSpec(
        "OBp", "pM", "cell", lambda v: v.state.cells[0], "precursor osteoblasts", default=False
    ),
    FieldSpec("OBa", "pM", "cell", lambda v: v.state.cells[1], "active osteoblasts"),
    FieldSpec("OCa", "pM", "cell", lambda v: v.state.cells[2], "active osteoclasts"),
    FieldSpec("RANKL", "pM", "cell", _derived("RANKL"), "RANKL concentration"),
    FieldSpec("OPG", "pM", "cell", _derived("OPG"), "OPG concentration", default=False),
    FieldSpec(
        "bfr_bv",
        "%/year",
        "cell",
        _per_bone_volume(0),
        "bone formation rate per bone volume BFR/BV (cell law; NaN with the Huiskes law)",
        default=False,
    ),
    FieldSpec(
        "resorption_per_bv",
        "%/year",
        "cell",
        _per_bone_volume(1),
        "bone volume resorbed per bone volume (cell law; NaN with the Huiskes law)",
        default=False,
    ),
    FieldSpec(
        "region",
        "-",
        "cell",
        lambda v: v.geometry.tags,
        "region tag of the mesh (names in mesh/mesh.bonefem.json)",
    ),
)

#: field name -> spec
BY_NAME = {spec.name: spec for spec in FIELDS}
#: names in the order of the registry
FIELD_NAMES = tuple(BY_NAME)
#: the fields written when the case does not list its own
DEFAULT_FIELDS = tuple(spec.name for spec in FIELDS if spec.default)
