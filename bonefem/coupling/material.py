"""The coupled model's material: bone composition → densities → Young's modulus per cell.

ρ_app = f ρ_tissue(m) (apparent density, g/cm³) and the mineral density f ρ_mineral m
(g/cm³) come from :mod:`bonefem.remodeling.bone` (Martínez-Reina et al. 2019); Young's
modulus E = a ρ_app^b (MPa) from each region's law (:mod:`bonefem.material`).

:meth:`BoneMaterial.qct_modulus` is the modulus a QCT-based finite-element study would give
the same bone: the law's density taken from the mineral density alone through a constant
ash-to-apparent ratio (0.6, Schileo et al. 2008, J Biomech 41:356; the convention of
Keyak et al. 1998 and of the QCT-FE studies Keaveny et al. 2010 report), so that tissue
mineral lost by younger, less mineralised bone counts like lost bone volume. It is a
*measurement* model for the ``metrics.qct_fe`` virtual tests; the coupled loop's own
mechanics keeps :meth:`BoneMaterial.modulus`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt

from bonefem.material import ModulusLaw, law_arrays, power_law
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

    @cached_property
    def _law_per_cell(self) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """Each cell's law as arrays (:func:`bonefem.material.law_arrays`), built once."""
        return law_arrays(self.region_index, self.laws)

    def modulus(self, f: FloatArray, m: FloatArray) -> FloatArray:
        """Young's modulus per cell (MPa) from f and m: E = a ρ^b clipped to [E_min, E_max].

        :func:`bonefem.material.modulus_by_region` with the per-cell coefficients kept: the
        integrator evaluates E several times per substep (the local stimulus update and
        the re-solve event), and a mask per region cost a quarter of the cell model's time
        (quick-start case, issue 15).
        """
        return power_law(self.density(f, m), *self._law_per_cell)

    def qct_modulus(self, mineral_density: FloatArray, ash_to_apparent: float) -> FloatArray:
        """Young's modulus per cell (MPa) under the QCT-FE convention (module docstring).

        E = a (ρ_min / r)^b clipped to [E_min, E_max], with ρ_min = f ρ_mineral m the
        mineral density per cell (g/cm³, :meth:`mineral_density`) and r =
        ``ash_to_apparent`` (dimensionless).
        """
        return power_law(mineral_density / ash_to_apparent, *self._law_per_cell)

    def yield_strain(self) -> FloatArray:
        """Yield strain per cell (-), from the region's law."""
        return np.array([law.yield_strain for law in self.laws])[self.region_index]
