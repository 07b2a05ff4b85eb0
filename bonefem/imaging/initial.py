"""The scanned bone's density as the initial state: ``[mesh.image.density]``.

A ``[mesh.image]`` mesh with a ``density`` table carries, per cell, the density its
voxels show (:func:`map_cells`); :mod:`bonefem.build` turns it into the initial BV/TV
``f0`` of every cell (:func:`bonefem.coupling.initial.initial_bvtv`). Chain (units HU,
g/cm³; docs/imaging.md, "Initial state from the image")::

    ρ_QCT = slope · HU + intercept            phantom calibration (given, or fitted to rods)
    ρ̄_QCT = mean of ρ_QCT over the element    n³ sub-samples, bone voxels only (Taddei 2007)
    initial = "mineral_density" (default):   f₀ such that f₀ ρ_mineral m_ss(f₀) = ρ̄_QCT
    initial = "bvtv":                        f₀ = ((a ρ̄_QCT + b) / r) / ρ_tissue  (Schileo 2008)

The first makes the model's vBMD at t = 0 (mineral mass per volume,
:func:`bonefem.remodeling.mineral_density`) the scan's equivalent mineral density, with
the mineral content m at the model's mineralisation equilibrium of f₀ (so the start is
homeostatic); the second takes BV/TV from the cited relations of
:class:`bonefem.imaging.density.DensityRelations` (the vBMD then follows the model's
composition). Calibration and relation coefficients are replaceable in the table::

    [mesh.image.density]
    units = "HU"                       # or "g/cm3": the image is already calibrated
    slope = 0.0008                     # g/cm³ per HU   or, fitted by least squares:
    intercept = 0.0                    # g/cm³          rods = [{ center = [x, y],
                                       #   radius = 2.0, density = 0.1 }, ...] (mm, g/cm³)
    subsamples = 4                     # n (n³ sub-samples per element)
    initial = "mineral_density"        # or "bvtv"
    # ash_slope = 0.877, ash_intercept = 0.079, ash_to_apparent = 0.6, tissue_density = 2.0
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, model_validator

from bonefem.errors import FieldValueError, InputError, raise_on_every_rank
from bonefem.imaging.density import Calibration, DensityRelations, cylinder_mask, element_values
from bonefem.imaging.image import Image
from bonefem.mesh.initial_arrays import INITIAL_BVTV, INITIAL_MINERAL_DENSITY

__all__ = [
    "INITIAL_BVTV",
    "INITIAL_MINERAL_DENSITY",
    "DensityMapping",
    "RodROI",
    "calibration_of",
    "map_cells",
]

FloatArray = npt.NDArray[np.float64]


class RodROI(BaseModel):
    """A calibration rod in the field of view: a cylinder along the image's z axis (k)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    center: list[float] = Field(
        min_length=2, max_length=3, description="A point (x, y[, z]) on the rod's axis, mm."
    )
    radius: float = Field(gt=0.0, description="ROI radius in mm (inside the rod).")
    density: float = Field(
        ge=0.0, le=3.0, description="The rod's known equivalent mineral density, g/cm³."
    )


class DensityMapping(BaseModel):
    """``[mesh.image.density]``: HU → equivalent mineral density per element → initial state."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    units: Literal["HU", "g/cm3"] = Field(
        default="HU",
        description="Image units: 'HU' (Hounsfield units or grey values; needs slope and "
        "intercept or rods) or 'g/cm3' (already calibrated equivalent mineral density).",
    )
    slope: float | None = Field(
        default=None, gt=0.0, description="Calibration slope, g/cm³ per HU."
    )
    intercept: float | None = Field(default=None, description="Calibration intercept, g/cm³.")
    rods: list[RodROI] = Field(
        default_factory=list,
        description="Calibration rods in the image (≥ 2): the line is fitted by least squares "
        "to each rod ROI's mean HU and known density (g/cm³).",
    )
    equivalent: Literal["K2HPO4", "HA"] = Field(
        default="K2HPO4", description="Calibration material of the phantom."
    )
    ash_slope: float = Field(
        default=0.877, gt=0.0, description="a in ρ_ash = a ρ_QCT + b (-; Schileo 2008)."
    )
    ash_intercept: float = Field(default=0.079, description="b, g/cm³ (Schileo 2008).")
    ash_to_apparent: float = Field(
        default=0.6, gt=0.0, le=1.0, description="ρ_ash / ρ_app (-; Schileo 2008: 0.598)."
    )
    tissue_density: float = Field(
        default=2.0, gt=1.0, le=3.0, description="ρ_tissue in BV/TV = ρ_app/ρ_tissue, g/cm³."
    )
    subsamples: int = Field(
        default=4, ge=1, le=10, description="Sub-samples per element edge n (n³ per element)."
    )
    initial: Literal["mineral_density", "bvtv"] = Field(
        default="mineral_density",
        description="What the mapped density sets: 'mineral_density' (the model's vBMD at "
        "t = 0 = the element's ρ_QCT, m at its equilibrium) or 'bvtv' (BV/TV from the "
        "relations ρ_QCT → ρ_ash → ρ_app → BV/TV).",
    )

    @model_validator(mode="after")
    def _one_calibration(self) -> DensityMapping:
        given = self.slope is not None or self.intercept is not None
        if self.units == "g/cm3":
            if given or self.rods:
                raise FieldValueError(
                    "an image in g/cm3 is already calibrated: leave out slope, intercept and rods",
                    field="units",
                    value=self.units,
                )
            return self
        if not given and not self.rods:
            raise FieldValueError(
                "the image is in HU but no calibration was given: give the phantom's 'slope' "
                "(g/cm³ per HU) and 'intercept' (g/cm³), or 'rods' (≥ 2, each with center, "
                "radius in mm and density in g/cm³), or units = 'g/cm3'",
                field="units",
                value=self.units,
            )
        if given and self.rods:
            raise FieldValueError(
                "give either slope and intercept or rods, not both", field="rods", value=None
            )
        if given and (self.slope is None or self.intercept is None):
            raise FieldValueError(
                "give both 'slope' (g/cm³ per HU) and 'intercept' (g/cm³)",
                field="slope" if self.slope is None else "intercept",
                value=None,
            )
        if self.rods and len(self.rods) < 2:
            raise FieldValueError(
                "a rod calibration needs at least two rods", field="rods", value=len(self.rods)
            )
        return self

    @property
    def relations(self) -> DensityRelations:
        """The density relations of the table (defaults: Schileo et al. 2008)."""
        return DensityRelations(
            ash_slope=self.ash_slope,
            ash_intercept=self.ash_intercept,
            ash_to_apparent=self.ash_to_apparent,
            tissue_density=self.tissue_density,
        )


def calibration_of(settings: DensityMapping, image: Image) -> Calibration | None:
    """The calibration of the table: given, fitted to the rod ROIs, or None (g/cm³ image).

    Raises:
        InputError: a rod ROI outside the image, or rods that do not define a line.
    """
    if settings.units == "g/cm3":
        return None
    if settings.slope is not None and settings.intercept is not None:
        return Calibration(settings.slope, settings.intercept, equivalent=settings.equivalent)
    means = []
    for i, rod in enumerate(settings.rods):
        roi = cylinder_mask(image, rod.center, rod.radius)
        if not np.any(roi):
            raise InputError(
                "the rod ROI holds no voxel of the image",
                file=image.source,
                field=f"mesh.image.density.rods[{i}].center",
                value=rod.center,
            )
        means.append(float(np.mean(image.array[roi])))
    try:
        return Calibration.fit(means, [r.density for r in settings.rods],
                               equivalent=settings.equivalent)  # fmt: skip
    except InputError as exc:
        raise InputError(exc.reason, file=image.source, field="mesh.image.density.rods",
                         value=exc.value) from None  # fmt: skip


def _density_on_root(
    settings: DensityMapping,
    image: Image,
    bone_mask: npt.NDArray[np.bool_],
    calibration: Calibration | None = None,
) -> tuple[Image, FloatArray, npt.NDArray[np.bool_], Calibration | None]:
    """The image of ρ_QCT (g/cm³), ρ_QCT, the bone mask and the calibration, on rank 0."""
    cal = calibration if calibration is not None else calibration_of(settings, image)
    arr = np.asarray(image.array, dtype=np.float64)
    rho = arr if cal is None else cal.density(arr)
    if not np.all(np.isfinite(rho[bone_mask])):
        raise InputError("the image has non-finite values in bone", file=image.source,
                         field="mesh.image.file")  # fmt: skip
    grid = Image(rho, image.spacing, image.origin, image.direction, image.source)
    return grid, rho, bone_mask, cal


def map_cells(
    comm: Any,
    bone: Any,
    image: Image | None,
    bone_mask: npt.NDArray[np.bool_] | None,
    settings: DensityMapping,
    *,
    calibration: Calibration | None = None,
) -> tuple[dict[str, FloatArray], Calibration | None]:
    """Per local cell: the initial-state array the table asks for (collective).

    Rank 0 holds the image and its bone mask (other ranks pass None); ρ_QCT and the mask
    are broadcast and every rank integrates its own cells (:func:`element_values`,
    partial-volume aware).

    Args:
        comm: the mesh communicator.
        bone: the distributed :class:`~bonefem.mesh.BoneMesh` in the image's frame (mm).
        image: the image (rank 0), in HU or g/cm³.
        bone_mask: bone voxels (z, y, x) of the segmentation (rank 0).
        settings: the ``[mesh.image.density]`` table.
        calibration: the calibration to use (rank 0), e.g. fitted to rods of the whole
            image before a crop; None: from ``settings`` on ``image``.

    Returns:
        ({:data:`INITIAL_MINERAL_DENSITY` (g/cm³) or :data:`INITIAL_BVTV` (-): value per
        local cell}, the calibration used or None).

    Raises:
        InputError: on every rank, if rank 0 finds a calibration problem.
    """
    payload: Any = None
    if comm.rank == 0:
        assert image is not None and bone_mask is not None
        try:
            payload = _density_on_root(settings, image, bone_mask, calibration)
        except InputError as exc:
            payload = exc
    payload = comm.bcast(payload, root=0)
    if isinstance(payload, InputError):
        raise payload
    grid, rho, mask, cal = payload
    qct, error = None, None
    try:  # each rank integrates its own cells: a cell outside the image fails every rank
        qct, _ = element_values(bone, grid, rho, mask=mask, n=settings.subsamples)
    except InputError as exc:
        error = exc
    raise_on_every_rank(comm, error)
    assert qct is not None
    if settings.initial == "bvtv":
        return {INITIAL_BVTV: settings.relations.bvtv(qct)}, cal
    return {INITIAL_MINERAL_DENSITY: qct}, cal
