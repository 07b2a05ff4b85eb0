"""The coupled model's material: bone composition → densities → Young's modulus per cell.

ρ_app = f ρ_tissue(m) (apparent density, g/cm³) and the mineral density f ρ_mineral m
(g/cm³) come from :mod:`bonefem.remodeling.bone` (Martínez-Reina et al. 2019); Young's
modulus E = a ρ_app^b (MPa) from each region's law (:mod:`bonefem.material`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from bonefem.material import ModulusLaw, modulus_by_region
from bonefem.remodeling.bone import RemodelingParameters, apparent_density, mineral_density

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class BoneMaterial:
    """Density and stiffness of the owned cells from their bone state.

    Attributes:
        params: bone composition (tissue density from the mineral content).
        region_index: region index per owned cell.
        laws: the density–modulus law of each region (by region index).
    """

    params: RemodelingParameters
    region_index: npt.NDArray[np.int32]
    laws: list[ModulusLaw]

    def density(self, f: FloatArray, m: FloatArray) -> FloatArray:
        """Apparent density ρ = f ρ_tissue(m) per cell (g/cm³)."""
        return apparent_density(f, m, self.params)

    def mineral_density(self, f: FloatArray, m: FloatArray) -> FloatArray:
        """Mineral mass per total volume per cell (g/cm³)."""
        return mineral_density(f, m, self.params)

    def modulus(self, f: FloatArray, m: FloatArray) -> FloatArray:
        """Young's modulus per cell (MPa) from f and m."""
        return modulus_by_region(self.density(f, m), self.region_index, self.laws)

    def yield_strain(self) -> FloatArray:
        """Yield strain per cell (-), from the region's law."""
        return np.array([law.yield_strain for law in self.laws])[self.region_index]
