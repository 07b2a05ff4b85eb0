"""Remodelling: how the mechanical stimulus and the biology change bone.

* :mod:`bonefem.remodeling.law` -- the seam: :class:`RemodelingLaw` (what the coupled
  loop drives, stop event included), :class:`Drive`, :class:`LawStep`, the registry.
* :mod:`bonefem.remodeling.cells` -- ``law = "cells"``: the bone cell population model.
* :mod:`bonefem.remodeling.huiskes` -- ``law = "huiskes"``: strain energy per unit mass
  with a lazy zone (Huiskes et al. 1987), no biology.
* :mod:`bonefem.remodeling.bone` -- bone volume and mineral from cell activity, and the
  bone's composition (tissue, apparent and mineral density).

The law modules are imported on demand (:func:`make_law`), so that the cell model can
import the bone-volume law from here without a cycle.
"""

from bonefem.remodeling.bone import (
    DEFAULT_REMODELING,
    CellDrivenRemodeling,
    RemodelingParameters,
    VolumeLaw,
    apparent_density,
    ash_fraction,
    mineral_density,
    specific_surface,
    specific_surface_derivative,
    tissue_density,
)
from bonefem.remodeling.law import Drive, LawContext, LawStep, RemodelingLaw, make_law

__all__ = [
    "DEFAULT_REMODELING",
    "CellDrivenRemodeling",
    "Drive",
    "LawContext",
    "LawStep",
    "RemodelingLaw",
    "RemodelingParameters",
    "VolumeLaw",
    "apparent_density",
    "ash_fraction",
    "make_law",
    "mineral_density",
    "specific_surface",
    "specific_surface_derivative",
    "tissue_density",
]
