"""Density–modulus and density–strength laws of bone, per region (pure numpy).

A region's Young's modulus follows a power law of its apparent (wet) density,

    E = a · ρ_app^b        (E in MPa, ρ_app in g/cm³),

clipped to ``[E_min, E_max]`` so that a fully resorbed cell keeps a small positive
stiffness (the elasticity operator stays definite). Presets with their sources:

================================  ======  =====  =============================================
preset                             a MPa   b     source
================================  ======  =====  =============================================
``morgan2003_vertebra``            4730   1.56   Morgan, Bayraktar & Keaveny 2003, J Biomech
                                                 36:897, Table 3 (human vertebral trabecular)
``morgan2003_femoral_neck``        6850   1.49   ibid. (femoral neck trabecular)
``morgan2003_trochanter``         15010   2.18   ibid. (greater trochanter trabecular)
``morgan2003_tibia``              15520   1.93   ibid. (proximal tibia trabecular)
``morgan2003_pooled``              8920   1.83   ibid. (pooled over sites)
``carter_hayes1977``               2875   3.00   Carter & Hayes 1977, J Bone Joint Surg 59:954,
                                                 E = 3790 ε̇^0.06 ρ³ at ε̇ = 0.01 /s
                                                 (cortical and trabecular, compression)
================================  ======  =====  =============================================

Failure: the yield strain of trabecular and cortical bone is nearly independent of density
(Morgan & Keaveny 2001, J Biomech 34:569: compressive yield strain 0.77 ± 0.06 % vertebra,
0.70 ± 0.05 % femoral neck; Bayraktar et al. 2004, J Biomech 37:27: cortical 0.81 %).
:mod:`bonefem.metrics` uses a yield strain per region with the Pistoia et al. (2002)
volume criterion to estimate failure loads.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, model_validator

FloatArray = npt.NDArray[np.float64]

#: (a MPa, b) of the named power laws; sources in the module docstring.
PRESETS: dict[str, tuple[float, float]] = {
    "morgan2003_vertebra": (4730.0, 1.56),
    "morgan2003_femoral_neck": (6850.0, 1.49),
    "morgan2003_trochanter": (15010.0, 2.18),
    "morgan2003_tibia": (15520.0, 1.93),
    "morgan2003_pooled": (8920.0, 1.83),
    "carter_hayes1977": (2875.0, 3.0),
}

PresetName = Literal[
    "morgan2003_vertebra",
    "morgan2003_femoral_neck",
    "morgan2003_trochanter",
    "morgan2003_tibia",
    "morgan2003_pooled",
    "carter_hayes1977",
]


class ModulusLaw(BaseModel):
    """Power law E = a ρ_app^b (MPa, ρ_app in g/cm³) for one region, clipped to [E_min, E_max].

    Give either a ``preset`` name or both ``a`` and ``b``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    preset: PresetName | None = Field(
        default=None, description="Named law from the literature (see docs/model-mechanics.md)."
    )
    a: float | None = Field(default=None, gt=0, description="Coefficient a in MPa.")
    b: float | None = Field(default=None, gt=0, le=5, description="Exponent b (dimensionless).")
    E_min: float = Field(
        default=10.0, gt=0, description="Lower bound of E in MPa (resorbed tissue / marrow)."
    )
    E_max: float = Field(default=30000.0, gt=0, description="Upper bound of E in MPa.")
    poisson_ratio: float = Field(
        default=0.3,
        gt=-1.0,
        lt=0.5,
        description="Poisson's ratio ν (dimensionless); 0.3 for bone (e.g. Wirtz et al. 2000).",
    )
    yield_strain: float = Field(
        default=0.007,
        gt=0,
        lt=0.1,
        description="Tissue yield strain for the failure criterion (dimensionless); 0.7 % "
        "(Pistoia et al. 2002; Morgan & Keaveny 2001).",
    )

    @model_validator(mode="after")
    def _check(self) -> ModulusLaw:
        if self.preset is None and (self.a is None or self.b is None):
            raise ValueError("give a `preset` or both `a` (MPa) and `b`")
        if self.preset is not None and (self.a is not None or self.b is not None):
            raise ValueError("give either a `preset` or `a` and `b`, not both")
        if self.E_min >= self.E_max:
            raise ValueError(f"E_min ({self.E_min}) must be below E_max ({self.E_max}) MPa")
        return self

    @property
    def coefficients(self) -> tuple[float, float]:
        """(a in MPa, b)."""
        if self.preset is not None:
            return PRESETS[self.preset]
        assert self.a is not None and self.b is not None  # checked by the validator
        return self.a, self.b

    def modulus(self, rho_app: npt.ArrayLike) -> FloatArray:
        """Young's modulus (MPa) of apparent density ``rho_app`` (g/cm³), clipped."""
        a, b = self.coefficients
        return power_law(rho_app, a, b, self.E_min, self.E_max)

    def density(self, E: npt.ArrayLike) -> FloatArray:
        """Inverse law: apparent density (g/cm³) giving modulus ``E`` (MPa)."""
        a, b = self.coefficients
        return np.asarray((np.asarray(E, dtype=np.float64) / a) ** (1.0 / b))


#: Defaults per region name: Morgan 2003 vertebral law for trabecular bone,
#: Carter & Hayes 1977 for cortical bone.
DEFAULT_LAWS: dict[str, ModulusLaw] = {
    "trabecular": ModulusLaw(preset="morgan2003_vertebra"),
    "cortical": ModulusLaw(preset="carter_hayes1977", yield_strain=0.0081),
}


def power_law(
    rho_app: npt.ArrayLike,
    a: float | FloatArray,
    b: float | FloatArray,
    E_min: float | FloatArray,
    E_max: float | FloatArray,
) -> FloatArray:
    """E = a ρ^b (MPa) clipped to [E_min, E_max] (MPa), ρ in g/cm³ (negative read as 0).

    The coefficients are scalars (one law) or per-cell arrays (:func:`law_arrays`).
    """
    rho = np.maximum(np.asarray(rho_app, dtype=np.float64), 0.0)
    return np.asarray(np.clip(a * rho**b, E_min, E_max))


def law_arrays(
    region_index: npt.ArrayLike, laws: list[ModulusLaw]
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Each cell's law as arrays: a (MPa), b (-), E_min, E_max (MPa), by region index."""
    table = np.array([(*law.coefficients, law.E_min, law.E_max) for law in laws])
    per_cell = table[np.asarray(region_index)].T
    return per_cell[0], per_cell[1], per_cell[2], per_cell[3]


def modulus_by_region(
    rho_app: npt.ArrayLike, region_index: npt.ArrayLike, laws: list[ModulusLaw]
) -> FloatArray:
    """E (MPa) per cell, each cell with the law of its region.

    Args:
        rho_app: apparent density per cell (g/cm³).
        region_index: index into ``laws`` per cell.
        laws: one law per region index.

    Returns:
        Young's modulus per cell (MPa).
    """
    return power_law(rho_app, *law_arrays(region_index, laws))
