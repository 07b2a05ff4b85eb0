"""The image source of a case's ``[mesh]`` table: a voxel mesh made from a CT image.

::

    [mesh.image]
    file = "phantom.nii.gz"                    # image (NIfTI, MHA, NRRD, DICOM/TIFF folder)
    labels = "phantom-labels.nii.gz"           # a label image ...
    regions = { cortical = 1, trabecular = 2 } # ... and names of its values
    # threshold = [125.0]                      # ... or: bone = lower [, upper] (image units)
    # fill_holes = true
    coarsen = 2                                # voxels per element edge
    min_fraction = 0.5                         # keep blocks with ≥ this bone fraction
    # element = "tetrahedron"                  # smooth mesh instead: marching cubes + gmsh
    # max_size = 2.0                           # mm, inside
    [mesh.image.density]                       # optional: the scan's density as the
    slope = 0.0008                             # initial state (bonefem.imaging.initial):
    intercept = 0.0                            # g/cm³ per HU, g/cm³ (or rods = [...])

The schema (:class:`ImageMeshSource`) loads no DOLFINx; :func:`load_image_mesh` builds the
voxel (or tetrahedral) mesh (rank 0 reads and segments, DOLFINx distributes).
:func:`load_bone_mesh` is the ``[mesh]`` loader of :mod:`bonefem.mesh` with the image
source added: an ``image`` table builds the image mesh, anything else goes to
:func:`bonefem.mesh.generators.config.load_bone_mesh`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bonefem.errors import InputError
from bonefem.imaging.initial import DensityMapping

if TYPE_CHECKING:
    from bonefem.imaging.density import Calibration
    from bonefem.imaging.image import Image
    from bonefem.imaging.segment import Segmentation

__all__ = [
    "ImageMeshSource",
    "load_bone_mesh",
    "load_image_mesh",
    "scan_on_root",
    "threshold_segmentation",
]


class ImageMeshSource(BaseModel):
    """A mesh from a segmented CT image: voxel hexahedra or smooth tetrahedra."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str = Field(
        description="Image file or folder (NIfTI .nii/.nii.gz, MetaImage .mha/.mhd, NRRD, a "
        "DICOM series or TIFF-slice folder), relative to the case file."
    )
    labels: str | None = Field(
        default=None,
        description="Label image on the same grid (0 = background); each value a region.",
    )
    regions: dict[str, int] = Field(
        default_factory=dict,
        description="Label value of each region name (default: 'region_<value>').",
    )
    threshold: list[float] | None = Field(
        default=None,
        min_length=1,
        max_length=2,
        description="Bone = lower [, upper] in image units (HU or grey value), instead of "
        "labels; the largest connected component is kept (one region 'bone').",
    )
    fill_holes: bool = Field(default=False, description="Threshold: fill enclosed cavities.")
    crop: list[list[int]] | None = Field(
        default=None,
        min_length=3,
        max_length=3,
        description="Voxel ranges [[i0, i1], [j0, j1], [k0, k1]] (half-open, along the image "
        "axes x, y, z as `bonefem image inspect` counts them) to keep before segmenting; only "
        "they are read, except with calibration rods, which are read in the whole image.",
    )
    seed: list[float] | None = Field(
        default=None,
        min_length=3,
        max_length=3,
        description="Threshold: a point (x, y, z) in mm, in the image's physical frame (the "
        "header's, LPS for DICOM), inside the bone to keep: its connected component instead of "
        "the largest.",
    )
    separate: int = Field(
        default=0,
        ge=0,
        le=20,
        description="Threshold: voxel layers eroded to cut bridges that the scan's blur makes "
        "across a joint space (0: none); every bone voxel then goes to its nearest marker and "
        "the seed's part (else the largest) is kept (docs/imaging.md).",
    )
    cortical_apparent_density: float | None = Field(
        default=None,
        gt=0.0,
        le=3.0,
        description="Threshold: split the bone into regions 'cortical' (voxel apparent density "
        ">= this, g/cm³) and 'trabecular' instead of one region 'bone'; needs "
        "[mesh.image.density] (calibration and relations). 1.0 is the usual boundary "
        "(docs/imaging.md, Segmentation).",
    )
    element: Literal["hexahedron", "tetrahedron"] = Field(
        default="hexahedron",
        description="'hexahedron': voxel mesh (coarsen, min_fraction); 'tetrahedron': smooth "
        "mesh by marching cubes + gmsh (max_size, smoothing_iterations).",
    )
    coarsen: int = Field(default=1, ge=1, le=64, description="Voxels per element edge k.")
    min_fraction: float = Field(
        default=0.5, gt=0.0, le=1.0, description="Keep a k³ block with at least this bone fraction."
    )
    max_size: float | None = Field(
        default=None,
        gt=0.0,
        description="Tetrahedra: largest element size inside in mm (default 4 voxel sizes).",
    )
    connectivity: Literal["face", "none"] = Field(
        default="face",
        description="Hexahedra: keep the largest face-connected set of elements ('face'; "
        "elements touching the rest by an edge or a corner only are hinges that make the "
        "stiffness matrix singular) or every element ('none').",
    )
    smoothing_iterations: int = Field(
        default=20, ge=0, le=500, description="Tetrahedra: Taubin smoothing iterations."
    )
    spacing: list[float] | None = Field(
        default=None,
        min_length=3,
        max_length=3,
        description="Voxel size in mm (x, y, z) replacing the header's (needed for TIFF stacks).",
    )

    density: DensityMapping | None = Field(
        default=None,
        description="[mesh.image.density]: calibrate the image and map its density onto "
        "the elements as the initial state (per-cell BV/TV instead of the region's bvtv); "
        "see docs/imaging.md.",
    )

    @model_validator(mode="after")
    def _one_segmentation(self) -> ImageMeshSource:
        if (self.labels is None) == (self.threshold is None):
            raise ValueError("give exactly one of 'labels' or 'threshold'")
        if self.regions and self.labels is None:
            raise ValueError("'regions' name the values of a 'labels' image")
        if self.labels is not None:
            for name in ("seed", "separate", "cortical_apparent_density"):
                if getattr(self, name):
                    raise ValueError(f"'{name}' works on a 'threshold' segmentation, not 'labels'")
        if self.cortical_apparent_density is not None and self.density is None:
            raise ValueError(
                "'cortical_apparent_density' needs a [mesh.image.density] table (the "
                "calibration HU -> g/cm³ and the relations to apparent density)"
            )
        return self


def _resolve(path: str, base: Path | None) -> Path:
    p = Path(path).expanduser()
    return p if p.is_absolute() else (base or Path.cwd()) / p


def _validated(source: ImageMeshSource | Mapping[str, Any], file: str | None) -> ImageMeshSource:
    """The source as an :class:`ImageMeshSource` (a table is validated, errors as InputError)."""
    from pydantic import ValidationError

    from bonefem.errors import validation_to_input_error

    if isinstance(source, ImageMeshSource):
        return source
    try:
        return ImageMeshSource.model_validate(dict(source))
    except ValidationError as exc:
        raise validation_to_input_error(exc, file, ImageMeshSource, prefix="mesh.image") from None


def _seed_index(
    source: ImageMeshSource, image: Image, prefix: str = "mesh.image."
) -> tuple[int, int, int] | None:
    """The array index (k, j, i) of ``seed`` (mm) in the (cropped) image, or None."""
    import numpy as np

    if source.seed is None:
        return None
    ijk = np.rint(image.physical_to_index([source.seed])[0]).astype(int)
    if np.any(ijk < 0) or np.any(ijk >= np.asarray(image.size)):
        lo = image.index_to_physical([[0, 0, 0]])[0]
        hi = image.index_to_physical([[n - 1 for n in image.size]])[0]
        raise InputError(
            f"the seed point lies outside the{' cropped' if source.crop else ''} image, "
            f"whose voxel centres span {np.round(lo, 2).tolist()} to "
            f"{np.round(hi, 2).tolist()} mm (x, y, z; the header's physical frame)",
            file=image.source,
            field=f"{prefix}seed",
            value=source.seed,
        )
    return (int(ijk[2]), int(ijk[1]), int(ijk[0]))


def threshold_segmentation(
    source: ImageMeshSource,
    image: Image,
    calibration: Calibration | None,
    *,
    prefix: str = "mesh.image.",
) -> Segmentation:
    """Threshold, choose one bone (seed / separate / largest), fill, split (rank 0).

    ``prefix`` names the fields in messages (``mesh.image.`` in case files, ``--`` for the
    command line's ``--seed``).
    """
    import numpy as np

    from bonefem.imaging.segment import (
        Segmentation,
        component_at,
        fill_holes,
        largest_component,
        separate,
        split_by_density,
        threshold_bounds,
        threshold_mask,
    )

    assert source.threshold is not None
    lo, hi = threshold_bounds(source.threshold)
    mask = threshold_mask(image.array, lo, hi, keep_largest=False, source=image.source)
    seed = _seed_index(source, image, prefix)
    if seed is not None and not mask[seed] and not source.separate:
        raise InputError(
            f"the seed point is not bone: its voxel {seed[::-1]} (i, j, k"
            f"{' of the cropped image' if source.crop else ''}) has the value "
            f"{float(image.array[seed]):.6g}, outside the threshold [{lo}, {hi}]",
            file=image.source,
            field=f"{prefix}seed",
            value=source.seed,
        )
    if source.separate:
        try:
            mask = separate(mask, source.separate, seed, spacing=image.spacing)
        except ValueError as exc:
            raise InputError(
                f"{exc}: use fewer layers", file=image.source, field=f"{prefix}separate",
                value=source.separate,
            ) from None  # fmt: skip
    elif seed is not None:
        mask = component_at(mask, seed)
    else:
        mask = largest_component(mask)
    if source.fill_holes:
        mask = fill_holes(mask)
    if source.cortical_apparent_density is None:
        return Segmentation(mask.astype("int32"), {"bone": 1}, source=image.source)
    assert source.density is not None
    values = np.asarray(image.array, dtype=np.float64)
    rho_qct = values if calibration is None else calibration.density(values)
    rho_app = source.density.relations.apparent(rho_qct)
    return split_by_density(mask, rho_app, source.cortical_apparent_density, source=image.source)


def _read_and_segment(
    source: ImageMeshSource, base: Path | None
) -> tuple[Image, Segmentation, Calibration | None]:
    """Read, calibrate, crop and segment the image (rank 0).

    The density calibration fitted to rods is taken from the whole image, before ``crop``:
    the phantom's rods usually lie outside the bone's box. Without rods only the cropped
    region is read (:func:`~bonefem.imaging.image.read_image`, ``crop``).

    Returns:
        (the (cropped) :class:`~bonefem.imaging.image.Image` (voxel size in mm), the
        :class:`~bonefem.imaging.segment.Segmentation`, the calibration or None).

    Raises:
        InputError: an unreadable image, a label image on another grid, a crop outside the
            image, a seed outside the image or not in bone, an empty segmentation.
    """
    from bonefem.imaging.image import read_image
    from bonefem.imaging.initial import calibration_of
    from bonefem.imaging.segment import from_labels

    field = "mesh.image.crop"
    # rods calibrate on the whole image; otherwise only the crop is read (a micro-CT scan
    # larger than the memory limit can be read in parts)
    whole = source.crop is None or (source.density is not None and bool(source.density.rods))
    crop = None if whole else source.crop
    image = read_image(_resolve(source.file, base), spacing=source.spacing, crop=crop,
                       crop_field=field)  # fmt: skip
    calibration = None if source.density is None else calibration_of(source.density, image)
    lab = None
    if source.labels is not None:
        lab_path = _resolve(source.labels, base)
        lab = read_image(lab_path, spacing=source.spacing, crop=crop, crop_field=field)
        if lab.shape != image.shape:
            raise InputError(
                f"the label image has {lab.size} voxels, the image {image.size}",
                file=lab_path,
                field="mesh.image.labels",
            )
    if source.crop is not None and whole:
        image = image.crop(source.crop, field=field)
        lab = None if lab is None else lab.crop(source.crop, field=field)
    if lab is not None:
        seg = from_labels(lab.array, source.regions or None, source=lab.source)
        return image, seg, calibration
    return image, threshold_segmentation(source, image, calibration), calibration


def segmentation_on_root(
    source: ImageMeshSource, base: Path | None, comm: Any
) -> tuple[Image, Segmentation | None]:
    """Read and segment the image on rank 0 (collective; an InputError raised on every rank).

    Returns:
        (the image on rank 0 and its grid elsewhere (:func:`grid_on_every_rank`), the
        segmentation on rank 0 and None elsewhere).
    """
    image, seg, _ = scan_on_root(source, base, comm)
    return image, seg


def scan_on_root(
    source: ImageMeshSource, base: Path | None, comm: Any
) -> tuple[Image, Segmentation | None, Calibration | None]:
    """:func:`segmentation_on_root` and the density calibration (rank 0; None elsewhere)."""
    image: Image | None = None
    seg: Segmentation | None = None
    cal: Calibration | None = None
    error: InputError | None = None
    if comm.rank == 0:
        try:
            image, seg, cal = _read_and_segment(source, base)
        except InputError as exc:
            error = exc
    error = comm.bcast(error, root=0)
    if error is not None:
        raise error
    return grid_on_every_rank(comm, image), seg, cal


def grid_on_every_rank(comm: Any, image: Image | None) -> Image:
    """The image on rank 0; elsewhere its grid (spacing mm, origin, direction) with 1 voxel."""
    import numpy as np

    from bonefem.imaging.image import Image

    grid = None
    if image is not None:
        grid = Image(np.zeros((1, 1, 1)), image.spacing, image.origin, image.direction,
                     image.source)  # fmt: skip
    grid = comm.bcast(grid, root=0)
    on_rank = image if image is not None else grid
    assert on_rank is not None
    return on_rank


def _mesh_of(comm: Any, image: Image, seg: Segmentation | None, source: ImageMeshSource) -> Any:
    """The distributed voxel (or tetrahedral) BoneMesh of the segmentation on rank 0."""
    if source.element == "tetrahedron":
        from bonefem.imaging.tetmesh import tet_mesh

        bone, _ = tet_mesh(comm, image, seg, max_size=source.max_size,
                           smoothing_iterations=source.smoothing_iterations)  # fmt: skip
        return bone
    from bonefem.imaging.voxelmesh import voxel_mesh

    bone, _ = voxel_mesh(comm, image, seg, coarsen=source.coarsen,
                         min_fraction=source.min_fraction,
                         connectivity=source.connectivity)  # fmt: skip
    return bone


def load_image_mesh(
    source: ImageMeshSource | Mapping[str, Any],
    comm: Any = None,
    *,
    base_dir: str | Path | None = None,
    file: str | None = None,
) -> Any:
    """Build the voxel :class:`~bonefem.mesh.BoneMesh` an image source asks for.

    Args:
        source: the ``[mesh.image]`` table or an :class:`ImageMeshSource`.
        comm: communicator (default ``MPI.COMM_WORLD``).
        base_dir: folder relative paths are resolved against (the case file's folder).
        file: the case file, for messages.

    Returns:
        The distributed voxel mesh (regions from the labels or ``bone``; surfaces
        ``xmin`` ... ``zmax`` and ``surface``).
    """
    from bonefem._dolfinx import MPI

    comm = comm or MPI.COMM_WORLD
    source = _validated(source, file)
    base = Path(base_dir) if base_dir is not None else None
    image, seg, cal = scan_on_root(source, base, comm)
    bone = _mesh_of(comm, image, seg, source)
    if source.density is not None:
        _map_density(comm, bone, image if comm.rank == 0 else None, seg, source.density, cal)
    return bone


def _map_density(
    comm: Any,
    bone: Any,
    image: Image | None,
    seg: Segmentation | None,
    density: DensityMapping,
    calibration: Calibration | None,
) -> None:
    """Put the image's density on the mesh's cells (``bone.cell_data``) and log the calibration."""
    import logging

    from bonefem._dolfinx import MPI
    from bonefem.imaging.initial import map_cells

    mask = None if seg is None else seg.labels > 0
    values, cal = map_cells(comm, bone, image, mask, density, calibration=calibration)
    bone.cell_data.update(values)
    log = logging.getLogger("bonefem")
    if comm.rank == 0 and cal is not None:
        r2 = "" if cal.r_squared is None else f", R² {cal.r_squared:.6f} ({len(cal.rods)} rods)"
        log.info("density calibration: ρ_QCT = %.6g HU + %.6g g/cm³%s", cal.slope,
                 cal.intercept, r2)  # fmt: skip
    for name, v in values.items():
        own = v[: bone.num_cells_local]
        lo = comm.allreduce(float(own.min()) if own.size else float("inf"), op=MPI.MIN)
        hi = comm.allreduce(float(own.max()) if own.size else float("-inf"), op=MPI.MAX)
        unit = "g/cm³" if "density" in name else "-"
        log.info("initial state from the image: %s %.4g to %.4g %s", name, lo, hi, unit)


def load_bone_mesh(
    config: Any,
    comm: Any = None,
    *,
    base_dir: str | Path | None = None,
    file: str | None = None,
) -> Any:
    """The ``[mesh]`` loader with the image source (see the module docstring).

    Same signature as :func:`bonefem.mesh.generators.config.load_bone_mesh`.
    """
    from bonefem.mesh.generators.config import load_bone_mesh as load_other
    from bonefem.mesh.generators.config import parse_mesh_config

    cfg = parse_mesh_config(config, file=file)
    image = getattr(cfg, "image", None)
    if image is not None:
        return load_image_mesh(image, comm, base_dir=base_dir, file=file)
    bone = load_other(cfg, comm, base_dir=base_dir, file=file)
    if cfg.file is not None and (cfg.initial_bvtv or cfg.initial_mineral_density):
        from bonefem.mesh.celldata import attach_initial_array

        base = Path(base_dir) if base_dir is not None else None
        attach_initial_array(bone, _resolve(cfg.file, base), cfg, bone.comm)
    return bone
