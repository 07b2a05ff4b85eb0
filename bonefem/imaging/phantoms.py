"""Deterministic test phantoms made by the code (small; units mm, HU, g/cm³).

* :func:`qct_phantom` -- a clinical-QCT-like image in HU: a water-equivalent body
  (0 HU) in air (−1000 HU), a long-bone shaft (a cylinder along z) with a cortical shell
  and a trabecular core of known equivalent mineral densities, and calibration rods of
  known density beside the bone (as an in-scan K2HPO4 phantom under the patient), with
  seeded Gaussian noise. HU are made from densities by a known calibration line.
* :func:`joint_phantom` -- a hip-like clinical scan: a femur-like bone (shaft and head)
  whose head sits in a pelvis-like cup that continues into a plate larger than the femur,
  a small bony bridge (an osteophyte) across the joint space, calibration rods under the
  bone, anisotropic voxels, the scanner's blur (Gaussian point-spread function) and noise:
  the things that make a threshold pick the wrong bone in a real scan.
* :func:`rod_lattice` -- a micro-CT core of square rods along z with known BV/TV
  ``(a / p)²`` (rod width a voxels, period p voxels), every rod spanning the full height.
* :func:`random_core` -- a thresholded, Gaussian-smoothed white-noise field (seeded):
  a trabecular-like open structure at a chosen BV/TV, its largest 26-connected
  component kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from bonefem.errors import InputError
from bonefem.imaging.density import Calibration
from bonefem.imaging.image import Image
from bonefem.imaging.segment import Segmentation

__all__ = [
    "JointPhantom",
    "QCTPhantom",
    "joint_phantom",
    "qct_phantom",
    "random_core",
    "rod_lattice",
]

#: Calibration line used to make the phantom's HU: ρ = 0.0008 HU + 0.0 (g/cm³), i.e.
#: 1250 HU per g/cm³ K2HPO4 (a typical clinical scanner slope, ASSUMPTION).
PHANTOM_CALIBRATION = Calibration(slope=0.0008, intercept=0.0)


@dataclass
class QCTPhantom:
    """A QCT phantom and its ground truth.

    Attributes:
        image: the CT image in HU.
        segmentation: bone labels (cortical 1, trabecular 2).
        densities: region name -> true equivalent mineral density ρ_QCT (g/cm³).
        rod_centers: (x, y) physical centre of each calibration rod (mm); rods run along z.
        rod_radius: mm.
        rod_densities: true ρ_QCT of each rod (g/cm³).
        calibration: the line that made the HU.
        noise_hu: standard deviation of the noise (HU).
    """

    image: Image
    segmentation: Segmentation
    densities: dict[str, float]
    rod_centers: list[tuple[float, float]]
    rod_radius: float
    rod_densities: list[float]
    calibration: Calibration = PHANTOM_CALIBRATION
    noise_hu: float = 0.0
    bone_axis_center: tuple[float, float] = field(default=(0.0, 0.0))


def qct_phantom(
    *,
    shape: tuple[int, int, int] = (24, 72, 72),
    spacing: float = 0.75,
    outer_radius: float = 12.0,
    inner_radius: float = 8.0,
    cortical_density: float = 1.0,
    trabecular_density: float = 0.2,
    rod_densities: tuple[float, ...] = (0.0, 0.1, 0.2, 0.4, 0.8),
    rod_radius: float = 2.6,
    noise_hu: float = 15.0,
    seed: int = 14,
) -> QCTPhantom:
    """A small QCT phantom (default 72 x 72 x 24 voxels of 0.75 mm, ~0.25 MB as int16).

    Geometry (mm, axis z through the image centre in x and offset +4 mm in y): bone
    cylinder of ``outer_radius`` (cortical shell down to ``inner_radius``, trabecular
    core inside) in an elliptic water body; rods of ``rod_radius`` in a row near the
    bottom (y low) of the field of view, inside the body.

    Args:
        shape: voxels (nz, ny, nx).
        spacing: isotropic voxel size (mm).
        outer_radius: periosteal radius (mm).
        inner_radius: endosteal radius (mm).
        cortical_density: ρ_QCT of the cortex (g/cm³).
        trabecular_density: ρ_QCT of the trabecular core (g/cm³).
        rod_densities: ρ_QCT of the calibration rods (g/cm³).
        rod_radius: mm.
        noise_hu: Gaussian noise σ (HU).
        seed: random seed.

    Returns:
        The :class:`QCTPhantom` (image array int16, HU).
    """
    _, ny, nx = shape
    cal = PHANTOM_CALIBRATION
    img = Image(np.zeros(shape, np.int16), spacing=(spacing,) * 3, source="qct_phantom")
    pts = img.voxel_centers()
    x, y = pts[..., 0], pts[..., 1]
    cx, cy = 0.5 * (nx - 1) * spacing, 0.5 * (ny - 1) * spacing
    bx, by = cx, cy + 4.0
    hu = np.full(shape, -1000.0)
    body = ((x - cx) / (0.48 * nx * spacing)) ** 2 + ((y - cy) / (0.47 * ny * spacing)) ** 2 <= 1
    hu[body] = 0.0
    r = np.hypot(x - bx, y - by)
    cort = (r <= outer_radius) & (r > inner_radius)
    trab = r <= inner_radius
    hu[cort] = cal.hu(cortical_density)
    hu[trab] = cal.hu(trabecular_density)
    n_rods = len(rod_densities)
    pitch = 2.6 * rod_radius
    y_rod = by - outer_radius - 2.0 * rod_radius - 1.5
    centers = [(cx + (i - 0.5 * (n_rods - 1)) * pitch, y_rod) for i in range(n_rods)]
    for (rx, ry), rho in zip(centers, rod_densities, strict=True):
        rod = np.hypot(x - rx, y - ry) <= rod_radius
        if np.any(rod & (cort | trab)) or not np.all(body[rod]):
            raise InputError("the calibration rods do not fit beside the bone", field="shape")
        hu[rod] = cal.hu(rho)
    rng = np.random.default_rng(seed)
    hu = hu + rng.normal(0.0, noise_hu, size=shape)
    labels = np.where(cort, 1, np.where(trab, 2, 0)).astype(np.int32)
    return QCTPhantom(
        image=img.with_array(np.rint(hu).astype(np.int16)),
        segmentation=Segmentation(labels, {"cortical": 1, "trabecular": 2}, "qct_phantom"),
        densities={"cortical": cortical_density, "trabecular": trabecular_density},
        rod_centers=centers,
        rod_radius=rod_radius,
        rod_densities=list(rod_densities),
        calibration=cal,
        noise_hu=noise_hu,
        bone_axis_center=(bx, by),
    )


@dataclass
class JointPhantom:
    """A hip-like scan and its ground truth (:func:`joint_phantom`).

    Attributes:
        image: the CT image in HU (int16), blurred and noisy.
        truth: labels of the unblurred geometry: 1 femur cortex, 2 femur trabecular bone,
            3 pelvis (cup and plate), 4 the bridge across the joint space, 0 elsewhere.
        densities: true ρ_QCT (g/cm³) of ``cortical``, ``trabecular``, ``pelvis``,
            ``bridge``.
        rod_centers: (x, y) physical centre of each calibration rod (mm); rods run along z.
        rod_radius: mm.
        rod_densities: true ρ_QCT of each rod (g/cm³).
        femur_seed: a point (x, y, z) in mm inside the femoral shaft's cortex.
        femur_box: voxel ranges [[i0, i1], [j0, j1], [k0, k1]] holding the femur, the joint
            and part of the pelvis but no rod.
        calibration: the line that made the HU.
        blur_mm: σ of the Gaussian point-spread function (mm).
        noise_hu: standard deviation of the noise (HU).
    """

    image: Image
    truth: npt.NDArray[np.int32]
    densities: dict[str, float]
    rod_centers: list[tuple[float, float]]
    rod_radius: float
    rod_densities: list[float]
    femur_seed: tuple[float, float, float]
    femur_box: list[list[int]]
    calibration: Calibration = PHANTOM_CALIBRATION
    blur_mm: float = 0.0
    noise_hu: float = 0.0


#: (x, y) of the phantom femur's shaft axis (mm)
_HIP_AXIS = (20.0, 30.0)


def _hip_geometry(
    x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], z: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.bool_], ...]:
    """Masks of :func:`joint_phantom`: femoral cortex, femoral trabecular bone, pelvis, bridge."""
    fx, fy = _HIP_AXIS
    hz = 38.0
    r_shaft = np.hypot(x - fx, y - fy)
    d_head = np.sqrt((x - fx) ** 2 + (y - fy) ** 2 + (z - hz) ** 2)
    femur = ((r_shaft <= 7.0) & (z <= hz)) | (d_head <= 10.0)
    trab = ((r_shaft <= 4.5) & (z <= hz)) | (d_head <= 10.0 - 1.2)
    cup = (d_head >= 12.5) & (d_head <= 16.0) & (z >= hz)
    plate = (z >= 50.0) & (y >= 14.0) & (y <= 46.0) & (d_head >= 12.5)
    pelvis = (cup | plate) & ~femur
    # the bridge: a rod of radius 1 mm along x from the head (x = fx + 10) to the cup
    # (x = fx + 12.5) at z = 43 -- inside both bones at its ends
    bridge = (np.hypot(y - fy, z - 43.0) <= 1.0) & (x >= fx + 8.0) & (x <= fx + 13.5)
    return femur & ~trab, trab, pelvis, bridge & ~femur & ~pelvis


def joint_phantom(
    *,
    spacing: tuple[float, float, float] = (0.8, 0.8, 1.0),
    size: tuple[int, int, int] = (56, 64, 60),
    blur_mm: float = 0.5,
    noise_hu: float = 15.0,
    seed: int = 14,
) -> JointPhantom:
    """A hip-like clinical scan (default 56 x 64 x 60 voxels of 0.8 x 0.8 x 1.0 mm, HU).

    Geometry (mm; x, y, z physical, identity direction, origin 0): femoral shaft along z
    through (20, 30), outer radius 7, endosteal radius 4.5, from the bottom slice up to the
    head, a sphere of radius 10 centred at z = 38 with a 1.2-mm cortical shell; the pelvis
    is a cup (spherical shell of radii 12.5-16 about the head centre, above z = 38: a joint
    space of 2.5 mm) joined to a plate (z ≥ 50, y 14-46) that makes it larger than the
    femur; a bridge (radius 1 mm, ρ 0.8 g/cm³) crosses the joint space laterally at
    z = 43, as an osteophyte does. Densities ρ_QCT: cortex 1.0, trabecular 0.15, pelvis
    0.6, in water (0 HU) in air; five K2HPO4 rods (0-0.8 g/cm³, radius 3) at y = 10.
    HU = ρ / 0.0008 (:data:`PHANTOM_CALIBRATION`), blurred by a Gaussian point-spread
    function of σ = ``blur_mm``, plus Gaussian noise of σ = ``noise_hu``.

    Args:
        spacing: voxel size (x, y, z) in mm.
        size: voxels along (x, y, z).
        blur_mm: point-spread σ (mm).
        noise_hu: noise σ (HU).
        seed: random seed.

    Returns:
        The :class:`JointPhantom`.
    """
    from scipy import ndimage

    nx, ny, nz = size
    cal = PHANTOM_CALIBRATION
    img = Image(np.zeros((nz, ny, nx), np.int16), spacing=spacing, source="joint_phantom")
    pts = img.voxel_centers()
    x, y, z = pts[..., 0], pts[..., 1], pts[..., 2]
    fx, fy = _HIP_AXIS
    cortex, trab, pelvis, bridge = _hip_geometry(x, y, z)
    femur = cortex | trab
    rho = np.zeros(img.shape)
    rho[trab] = 0.15
    rho[cortex] = 1.0
    rho[pelvis] = 0.6
    rho[bridge] = 0.8
    rod_densities = (0.0, 0.1, 0.2, 0.4, 0.8)
    rod_radius = 3.0
    # an elliptic water body in air (the air is set after the blur: its edge is no test)
    cx, cy = 0.5 * (nx - 1) * spacing[0], 0.5 * (ny - 1) * spacing[1]
    ellipse = ((x - cx) / (0.5 * nx * spacing[0])) ** 2 + ((y - cy) / (0.5 * ny * spacing[1])) ** 2
    body = ellipse <= 1.0
    centers = [(10.0 + 6.5 * i, 10.0) for i in range(len(rod_densities))]
    for (rx, ry), r in zip(centers, rod_densities, strict=True):
        rod = np.hypot(x - rx, y - ry) <= rod_radius
        if np.any(rod & (femur | pelvis)) or not np.all(body[rod]):
            raise InputError("the calibration rods do not fit beside the bones", field="size")
        rho[rod] = r
    hu = cal.hu(rho)
    sigma = [blur_mm / s for s in (spacing[2], spacing[1], spacing[0])]
    hu = ndimage.gaussian_filter(hu, sigma, mode="nearest") if blur_mm > 0 else hu
    hu = hu + np.random.default_rng(seed).normal(0.0, noise_hu, size=hu.shape)
    hu[~body] = -1000.0
    truth = np.zeros(img.shape, np.int32)
    for label, part in enumerate((cortex, trab, pelvis, bridge), start=1):
        truth[part] = label
    j0 = int(np.ceil((10.0 + rod_radius + 1.0) / spacing[1]))  # above the rods
    return JointPhantom(
        image=img.with_array(np.rint(hu).astype(np.int16)),
        truth=truth,
        densities={"cortical": 1.0, "trabecular": 0.15, "pelvis": 0.6, "bridge": 0.8},
        rod_centers=centers,
        rod_radius=rod_radius,
        rod_densities=list(rod_densities),
        femur_seed=(fx + 5.75, fy, 10.0),
        femur_box=[[2, nx - 2], [j0, ny], [0, nz]],
        calibration=cal,
        blur_mm=blur_mm,
        noise_hu=noise_hu,
    )


def rod_lattice(
    *,
    rods: int = 3,
    width: int = 2,
    period: int = 5,
    height: int = 20,
    spacing: float = 0.02,
) -> tuple[Image, npt.NDArray[np.bool_], float]:
    """A micro-CT core of ``rods x rods`` square rods along z.

    Rod (p, q) occupies voxels ``x ∈ [p·period, p·period + width)``,
    ``y ∈ [q·period, q·period + width)`` over the full height; the image is
    ``rods·period`` voxels wide, so BV/TV = (width / period)² exactly.

    Args:
        rods: rods per row.
        width: rod width a (voxels).
        period: rod spacing p (voxels, > width).
        height: voxels along z.
        spacing: voxel size (mm; 0.02 = 20 µm, micro-CT).

    Returns:
        (grey-value image (bone 1000, marrow 0), mask, BV/TV).
    """
    if not 0 < width < period:
        raise InputError("need 0 < width < period", field="width", value=width)
    n = rods * period
    inrod = (np.arange(n) % period) < width
    mask2 = inrod[:, None] & inrod[None, :]
    mask = np.broadcast_to(mask2, (height, n, n)).copy()
    img = Image(np.where(mask, 1000, 0).astype(np.int16), spacing=(spacing,) * 3,
                source="rod_lattice")  # fmt: skip
    return img, mask, (width / period) ** 2


def random_core(
    *,
    shape: tuple[int, int, int] = (32, 32, 32),
    bvtv: float = 0.25,
    smoothing: float = 2.0,
    spacing: float = 0.02,
    seed: int = 14,
) -> tuple[Image, npt.NDArray[np.bool_]]:
    """A trabecular-like core: smoothed white noise thresholded at the ``1 − bvtv`` quantile.

    Args:
        shape: voxels (nz, ny, nx).
        bvtv: target bone volume fraction before the largest component is taken.
        smoothing: Gaussian σ in voxels (larger = thicker trabeculae).
        spacing: voxel size (mm).
        seed: random seed.

    Returns:
        (grey-value image: the smoothed field scaled to 0-1000, the mask of the largest
        26-connected component).
    """
    from scipy import ndimage

    from bonefem.imaging.segment import largest_component

    rng = np.random.default_rng(seed)
    field_ = ndimage.gaussian_filter(rng.standard_normal(shape), smoothing, mode="wrap")
    level = np.quantile(field_, 1.0 - bvtv)
    mask = largest_component(field_ >= level)
    grey = 1000.0 * (field_ - field_.min()) / (np.ptp(field_) or 1.0)
    img = Image(grey.astype(np.float32), spacing=(spacing,) * 3, source="random_core")
    return img, mask
