"""Standard trabecular morphometry of a segmented micro-CT volume (units mm, mm², mm³).

Indices (names and symbols of Parfitt AM et al. (1987), "Bone histomorphometry:
standardization of nomenclature, symbols, and units", J Bone Miner Res 2(6):595-610, and
of Bouxsein ML et al. (2010), "Guidelines for assessment of bone microstructure in
rodents using micro-computed tomography", J Bone Miner Res 25(7):1468-1486):

* TV -- total (box) volume; BV -- bone voxels × voxel volume; BV/TV.
* BS -- bone surface area: the marching-cubes iso-surface at 0.5 of the binary mask
  (edge voxels replicated, the surface cut at the faces of the volume of interest: a cut
  is not bone surface); on a flat bone face it lies exactly on the voxel faces, a
  convex voxel corner is cut by a half-voxel diagonal.
* BS/BV (1/mm), BS/TV (1/mm).
* Plate-model indices (Parfitt 1987): Tb.Th = 2 BV/BS, Tb.Sp = 2 (TV − BV)/BS,
  Tb.N = BV/TV / Tb.Th. They are exact for parallel plates and model-dependent
  otherwise; the model-independent distance-transform thickness of Hildebrand &
  Rüegsegger (1997, J Microsc 185:67-75) is not built yet.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from bonefem.errors import InputError

__all__ = ["Morphometry", "morphometry"]


@dataclass(frozen=True)
class Morphometry:
    """Morphometric indices of a volume of interest.

    Attributes:
        tv: total volume (mm³).
        bv: bone volume (mm³).
        bs: bone surface (mm²).
        bv_tv: BV/TV (-).
        bs_bv: BS/BV (1/mm).
        bs_tv: BS/TV (1/mm).
        tb_th_plate: plate-model trabecular thickness 2 BV/BS (mm).
        tb_sp_plate: plate-model separation 2 (TV − BV)/BS (mm).
        tb_n_plate: plate-model number (BV/TV)/Tb.Th (1/mm).
    """

    tv: float
    bv: float
    bs: float
    bv_tv: float
    bs_bv: float
    bs_tv: float
    tb_th_plate: float
    tb_sp_plate: float
    tb_n_plate: float


def morphometry(mask: npt.ArrayLike, spacing: tuple[float, float, float]) -> Morphometry:
    """Morphometry of a bone mask (z, y, x) with voxel size ``spacing`` (mm, x y z).

    Raises:
        InputError: an empty or full mask (no bone surface).
    """
    import pyvista as pv

    m = np.asarray(mask, dtype=bool)
    if m.ndim != 3 or not np.any(m):
        raise InputError("morphometry needs a non-empty 3-D mask", field="mask")
    sp = np.asarray(spacing, dtype=np.float64)
    # replicate the edge voxels, contour, and cut the surface at the VOI box (voxel faces)
    p = np.pad(m, 1, mode="edge")
    grid = pv.ImageData(dimensions=p.shape[::-1], spacing=tuple(sp), origin=tuple(-sp))
    grid.point_data["v"] = p.astype(np.float32).ravel(order="C")
    surf = grid.contour([0.5], scalars="v", method="flying_edges")
    bs = 0.0
    if surf.n_cells:
        nz, ny, nx = m.shape
        hi = (np.array([nx, ny, nz]) - 0.5) * sp
        lo = -0.5 * sp
        bounds = (lo[0], hi[0], lo[1], hi[1], lo[2], hi[2])
        inside = surf.clip_box(bounds, invert=False)
        if inside.n_cells:
            sizes = inside.compute_cell_sizes(length=False, area=True, volume=False)
            bs = float(np.sum(sizes.cell_data["Area"]))
    if bs <= 0:
        raise InputError("the mask has no bone surface inside the volume", field="mask")
    tv = float(m.size * sp.prod())
    bv = float(m.sum() * sp.prod())
    th = 2.0 * bv / bs
    return Morphometry(
        tv=tv,
        bv=bv,
        bs=bs,
        bv_tv=bv / tv,
        bs_bv=bs / bv,
        bs_tv=bs / tv,
        tb_th_plate=th,
        tb_sp_plate=2.0 * (tv - bv) / bs,
        tb_n_plate=(bv / tv) / th,
    )
