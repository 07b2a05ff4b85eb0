"""Names of the per-cell initial-state arrays a mesh may carry (:attr:`BoneMesh.cell_data`).

Written by ``[mesh.image.density]`` (:mod:`bonefem.imaging.initial`) or read from an
imported file's cell array (:mod:`bonefem.mesh.celldata`); turned into the initial BV/TV
by :mod:`bonefem.coupling.initial`. No imports: the case schema uses them.
"""

__all__ = ["INITIAL_BVTV", "INITIAL_MINERAL_DENSITY"]

#: initial BV/TV per cell (-)
INITIAL_BVTV = "initial_bvtv"
#: initial mineral mass per total volume per cell (g/cm³)
INITIAL_MINERAL_DENSITY = "initial_mineral_density"
