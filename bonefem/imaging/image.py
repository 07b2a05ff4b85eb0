"""3-D image input and output through SimpleITK, and ``bonefem image inspect``.

Formats (read by SimpleITK / ITK): NIfTI ``.nii`` / ``.nii.gz``, MetaImage ``.mha`` /
``.mhd`` (+ ``.raw``), NRRD ``.nrrd`` / ``.nhdr``, a DICOM series (a folder; the first
series found, or ``series_id``), a TIFF stack (a folder of 2-D ``.tif``/``.tiff`` slices
in name order, a list of slice files, or one multi-page ``.tif``) and anything else ITK
reads (``.vtk`` structured points, ``.gipl``, ...).

Conventions
-----------
* :attr:`Image.array` is indexed **(z, y, x)** = (slice k, row j, column i), the order of
  ``SimpleITK.GetArrayFromImage`` and of a C-ordered stack of slices.
* :attr:`Image.spacing`, :attr:`Image.origin` are given in **(x, y, z)** order (i, j, k),
  in mm, as in ITK. ``origin`` is the physical position of the *centre* of voxel (0, 0, 0).
* :attr:`Image.direction` is the 3 x 3 matrix whose *columns* are the physical directions
  of the image axes i, j, k (ITK's direction cosines). The physical position of the centre
  of voxel (k, j, i) is ``origin + direction @ (spacing * (i, j, k))``; voxel (k, j, i)
  covers the box of half-width ``spacing / 2`` around it.

Checks before the voxels are read (:func:`read_header`): the image is 3-D and scalar, the
spacing is given, finite and positive, and the voxels fit the memory limit
(``max_bytes``, default :data:`DEFAULT_MAX_BYTES` or ``$BONEFEM_IMAGE_MAX_BYTES``; the
estimate is voxels x 8 bytes, the float64 working copy). A failure is an
:class:`~bonefem.errors.InputError` naming the file, the field, the value and what is
allowed.
"""

from __future__ import annotations

import functools
import locale
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bonefem.errors import InputError

__all__ = [
    "DEFAULT_MAX_BYTES",
    "Image",
    "ImageHeader",
    "ImageInfo",
    "histogram_figure",
    "hu_check",
    "inspect_image",
    "read_header",
    "read_image",
    "write_image",
]

#: Default limit on the estimated memory of an image (bytes): 4 GiB.
DEFAULT_MAX_BYTES = 4 * 1024**3

_TIFF = (".tif", ".tiff")
_DICOM = (".dcm", ".ima", "")


def _max_bytes(max_bytes: int | None) -> int:
    if max_bytes is not None:
        return int(max_bytes)
    env = os.environ.get("BONEFEM_IMAGE_MAX_BYTES")
    return int(float(env)) if env else DEFAULT_MAX_BYTES


def _check_spacing(spacing: Sequence[float], *, file: str | None, field: str = "spacing") -> None:
    sp = np.asarray(spacing, dtype=np.float64)
    if sp.shape != (3,) or not np.all(np.isfinite(sp)) or np.any(sp <= 0.0):
        raise InputError(
            "the voxel spacing must be 3 finite positive lengths in mm (x, y, z); give it in "
            "the image header or with the 'spacing' option",
            file=file,
            field=field,
            value=tuple(float(s) for s in np.atleast_1d(sp)),
        )


@dataclass
class Image:
    """A 3-D scalar image on a regular grid.

    Attributes:
        array: voxel values, shape (nz, ny, nx), indexed (z, y, x) = (k, j, i).
        spacing: voxel size (mm) along the image axes (x, y, z) = (i, j, k).
        origin: physical position (mm) of the centre of voxel (0, 0, 0).
        direction: 3 x 3 matrix, columns = physical directions of the axes i, j, k.
        source: where the image came from (file path), for messages.
        metadata: a few header entries (e.g. DICOM rescale, modality), as read.
    """

    array: npt.NDArray[Any]
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)
    direction: npt.NDArray[np.float64] = field(default_factory=lambda: np.eye(3))
    source: str = "array"
    metadata: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.array = np.asarray(self.array)
        if self.array.ndim != 3:
            raise InputError(
                "a 3-D image is needed (z, y, x); this one has "
                f"{self.array.ndim} dimension(s) of shape {self.array.shape}",
                file=self.source,
                field="dimension",
                value=self.array.ndim,
            )
        _check_spacing(self.spacing, file=self.source)
        self.spacing = tuple(float(s) for s in self.spacing)  # type: ignore[assignment]
        self.origin = tuple(float(s) for s in self.origin)  # type: ignore[assignment]
        d = np.asarray(self.direction, dtype=np.float64).reshape(3, 3)
        if not np.allclose(d.T @ d, np.eye(3), atol=1e-6):
            raise InputError(
                "the direction matrix must be orthonormal (direction cosines)",
                file=self.source,
                field="direction",
                value=d.ravel().tolist(),
            )
        self.direction = d

    @property
    def shape(self) -> tuple[int, int, int]:
        """Array shape (nz, ny, nx)."""
        s = self.array.shape
        return (int(s[0]), int(s[1]), int(s[2]))

    @property
    def size(self) -> tuple[int, int, int]:
        """Number of voxels along (x, y, z) = (i, j, k), ITK's order."""
        nz, ny, nx = self.shape
        return (nx, ny, nz)

    @property
    def voxel_volume(self) -> float:
        """Volume of one voxel (mm³)."""
        return float(np.prod(self.spacing))

    def index_to_physical(self, ijk: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Physical points (mm) of continuous indices ``ijk`` (shape (n, 3), order i, j, k)."""
        ijk = np.asarray(ijk, dtype=np.float64).reshape(-1, 3)
        return np.asarray(self.origin) + (ijk * np.asarray(self.spacing)) @ self.direction.T

    def physical_to_index(self, x: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Continuous indices (i, j, k) of physical points ``x`` (mm, shape (n, 3))."""
        x = np.asarray(x, dtype=np.float64).reshape(-1, 3)
        return ((x - np.asarray(self.origin)) @ self.direction) / np.asarray(self.spacing)

    def voxel_centers(self) -> npt.NDArray[np.float64]:
        """Physical centres (mm) of every voxel, shape (nz, ny, nx, 3)."""
        k, j, i = np.meshgrid(*(np.arange(n) for n in self.shape), indexing="ij")
        pts = self.index_to_physical(np.stack([i, j, k], axis=-1).reshape(-1, 3))
        return pts.reshape((*self.shape, 3))

    def with_array(self, array: npt.ArrayLike) -> Image:
        """A new image on the same grid with other voxel values."""
        return Image(
            np.asarray(array), self.spacing, self.origin, self.direction.copy(), self.source
        )

    def crop(self, ranges: Sequence[Sequence[int]], *, field: str = "crop") -> Image:
        """The sub-image of voxels ``i0 ≤ i < i1``, ``j0 ≤ j < j1``, ``k0 ≤ k < k1``.

        Args:
            ranges: ``[[i0, i1], [j0, j1], [k0, k1]]``, voxel indices along the image axes
                (x, y, z) = (i, j, k), half-open, as ``bonefem image inspect`` counts them
                (0 to size − 1).
            field: the case-file field, for messages.

        Returns:
            The cropped image: same spacing and direction, origin moved to the centre of
            voxel (i0, j0, k0), so every voxel keeps its physical position (mm).

        Raises:
            InputError: a range outside the image or empty (names the axis, the range and
                the image size).
        """
        box = _check_crop(ranges, self.size, file=self.source, field=field)
        lo = [a for a, _ in box]
        hi = [b for _, b in box]
        array = self.array[lo[2] : hi[2], lo[1] : hi[1], lo[0] : hi[0]]
        origin = self.index_to_physical([lo])[0]
        return Image(
            np.ascontiguousarray(array),
            self.spacing,
            (float(origin[0]), float(origin[1]), float(origin[2])),
            self.direction.copy(),
            self.source,
            dict(self.metadata),
        )

    def to_sitk(self) -> Any:
        """The image as a ``SimpleITK.Image``."""
        import SimpleITK as sitk

        arr = self.array
        if arr.dtype == np.bool_:
            arr = arr.astype(np.uint8)
        img = sitk.GetImageFromArray(np.ascontiguousarray(arr))
        img.SetSpacing(self.spacing)
        img.SetOrigin(self.origin)
        img.SetDirection(tuple(self.direction.ravel()))
        return img


@dataclass(frozen=True)
class ImageHeader:
    """What the header says, before the voxels are read.

    Attributes:
        files: the file(s) that hold the image (several for DICOM and TIFF series).
        size: voxels along (x, y, z).
        spacing: mm along (x, y, z).
        origin: mm, centre of voxel (0, 0, 0).
        direction: 3 x 3 direction cosines, columns = axes.
        pixel_type: ITK pixel type name (e.g. ``16-bit signed integer``).
        components: values per voxel (1 for a scalar image).
        dimension: number of image dimensions.
    """

    files: tuple[str, ...]
    size: tuple[int, ...]
    spacing: tuple[float, ...]
    origin: tuple[float, ...]
    direction: tuple[float, ...]
    pixel_type: str
    components: int
    dimension: int

    @property
    def num_voxels(self) -> int:
        """Total number of voxels."""
        return int(math.prod(self.size))

    @property
    def estimated_bytes(self) -> int:
        """Estimated working memory (bytes): voxels x components x 8 (float64 copy)."""
        return self.num_voxels * max(self.components, 1) * 8


def _sitk() -> Any:
    import SimpleITK as sitk

    return sitk


def keeps_locale[F: Callable[..., Any]](func: F) -> F:
    """Run ``func`` and put the process's locale back as it was.

    SimpleITK's DICOM writer (GDCM) sets the C locale of the whole process (measured:
    ``LC_CTYPE`` C.UTF-8 -> C after writing a series; reading left it alone with the pinned
    SimpleITK), after which Python opens text files as ASCII by default and a later write
    of "g/cm³" fails. Every SimpleITK file operation of this module goes through here, as a
    guard.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        saved = locale.setlocale(locale.LC_ALL)
        try:
            return func(*args, **kwargs)
        finally:
            if locale.setlocale(locale.LC_ALL) != saved:
                locale.setlocale(locale.LC_ALL, saved)

    return wrapper  # type: ignore[return-value]


@keeps_locale
def _series_files(path: Path, series_id: str | None) -> tuple[list[str], str]:
    """The files of a folder: a DICOM series or a TIFF stack; returns (files, kind)."""
    sitk = _sitk()
    ids = sitk.ImageSeriesReader.GetGDCMSeriesIDs(str(path))
    if ids:
        if series_id is not None and series_id not in ids:
            raise InputError(
                f"no DICOM series with this id; the folder has: {', '.join(ids)}",
                file=path,
                field="series_id",
                value=series_id,
            )
        sid = series_id or ids[0]
        return list(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(path), sid)), "dicom"
    tifs = sorted(str(p) for p in path.iterdir() if p.suffix.lower() in _TIFF)
    if tifs:
        return tifs, "tiff"
    raise InputError(
        "the folder holds no DICOM series and no .tif/.tiff slices", file=path, field="path"
    )


@keeps_locale
def _header_of(files: Sequence[str], *, source: str) -> ImageHeader:
    sitk = _sitk()
    reader = sitk.ImageFileReader()
    reader.SetFileName(files[0])
    try:
        reader.ReadImageInformation()
    except RuntimeError as exc:
        msg = str(exc).strip().splitlines()[-1][:300]
        raise InputError(f"the image cannot be read by SimpleITK: {msg}", file=source) from None
    size = tuple(int(s) for s in reader.GetSize())
    spacing = tuple(float(s) for s in reader.GetSpacing())
    origin = tuple(float(s) for s in reader.GetOrigin())
    direction = tuple(float(s) for s in reader.GetDirection())
    dim = int(reader.GetDimension())
    if len(files) > 1:
        if dim != 2 and not (dim == 3 and size[2] == 1):
            raise InputError(
                f"the slices of a series must be 2-D; {files[0]} has size {size}",
                file=source,
                field="dimension",
                value=dim,
            )
        size = (size[0], size[1], len(files))
        spacing = (*spacing[:2], float("nan"))  # known only after reading the series
        origin = (*origin[:2], 0.0)
        direction = tuple(np.eye(3).ravel())
        dim = 3
    return ImageHeader(
        files=tuple(files),
        size=size,
        spacing=spacing,
        origin=origin,
        direction=direction,
        pixel_type=str(sitk.GetPixelIDValueAsString(reader.GetPixelID())),
        components=int(reader.GetNumberOfComponents()),
        dimension=dim,
    )


def _files_of(
    path: str | Path | Sequence[str | Path], series_id: str | None
) -> tuple[list[str], str, str]:
    """Files of an image source and its kind ("file", "dicom", "tiff")."""
    if isinstance(path, (str, Path)):
        p = Path(path)
        if not p.exists():
            raise InputError("no such image file or folder", file=p, field="path")
        if p.is_dir():
            files, kind = _series_files(p, series_id)
            return files, kind, str(p)
        if not os.access(p, os.R_OK):
            raise InputError("the image file is not readable", file=p, field="path")
        return [str(p)], "file", str(p)
    files = [str(f) for f in path]
    if not files:
        raise InputError("an empty list of slice files", field="path")
    for f in files:
        if not Path(f).is_file():
            raise InputError("no such slice file", file=f, field="path")
    kind = "tiff" if Path(files[0]).suffix.lower() in _TIFF else "dicom"
    return files, kind, f"{files[0]} (+{len(files) - 1} slices)"


def read_header(
    path: str | Path | Sequence[str | Path],
    *,
    series_id: str | None = None,
    max_bytes: int | None = None,
) -> ImageHeader:
    """Read and check the header of an image without reading its voxels.

    Args:
        path: an image file, a folder (DICOM series or TIFF slices), or a list of slices.
        series_id: the DICOM series to take from a folder holding several.
        max_bytes: memory limit (bytes) for the estimate voxels x 8; default
            ``$BONEFEM_IMAGE_MAX_BYTES`` or 4 GiB.

    Returns:
        The :class:`ImageHeader`.

    Raises:
        InputError: missing file, not 3-D, not scalar, or too large for ``max_bytes``.
    """
    files, _, source = _files_of(path, series_id)
    head = _header_of(files, source=source)
    if head.dimension != 3 or len(head.size) != 3:
        raise InputError(
            f"a 3-D image is needed; this one is {head.dimension}-D of size {head.size} "
            "(give a folder or a list of 2-D slices to stack them)",
            file=source,
            field="dimension",
            value=head.dimension,
        )
    if head.components != 1:
        raise InputError(
            "a scalar image (one value per voxel) is needed, not a vector or colour image",
            file=source,
            field="components",
            value=head.components,
        )
    limit = _max_bytes(max_bytes)
    if head.estimated_bytes > limit:
        raise InputError(
            f"the image has {head.num_voxels} voxels ({'x'.join(map(str, head.size))}), "
            f"about {head.estimated_bytes / 1024**3:.2f} GiB in memory, over the limit of "
            f"{limit / 1024**3:.2f} GiB; crop or downsample it, or raise the limit "
            "(max_bytes / $BONEFEM_IMAGE_MAX_BYTES)",
            file=source,
            field="size",
            value=head.size,
        )
    return head


def _check_crop(crop: Sequence[Sequence[int]], size: Sequence[int], *, file: str,
                field: str) -> list[list[int]]:  # fmt: skip
    """``crop`` as [[i0, i1], [j0, j1], [k0, k1]] inside ``size`` (x, y, z), else InputError."""
    if len(crop) != 3 or any(len(r) != 2 for r in crop):
        raise InputError("give three [start, stop] voxel ranges, along i, j and k", file=file,
                         field=field, value=[list(r) for r in crop])  # fmt: skip
    out = [[int(r[0]), int(r[1])] for r in crop]
    for axis, ((a, b), n) in enumerate(zip(out, size, strict=True)):
        if not 0 <= a < b <= n:
            raise InputError(
                f"the range along {'ijk'[axis]} must satisfy 0 <= start < stop <= {n} "
                f"(the image has {n} voxels along {'ijk'[axis]}; stop is excluded)",
                file=file,
                field=f"{field}[{axis}]",
                value=[a, b],
            )
    return out


def _crop_within_limit(
    crop: Sequence[Sequence[int]],
    size: Sequence[int],
    max_bytes: int | None,
    *,
    file: str,
    field: str,
) -> list[list[int]]:
    """The checked crop box; InputError if its working copy is over the memory limit."""
    box = _check_crop(crop, size, file=file, field=field)
    sub = int(np.prod([b - a for a, b in box]))
    limit = _max_bytes(max_bytes)
    if sub * 8 > limit:
        raise InputError(
            f"the cropped region has {sub} voxels, about {sub * 8 / 1024**3:.2f} GiB in "
            f"memory, over the limit of {limit / 1024**3:.2f} GiB; crop smaller, or raise "
            "the limit (max_bytes / $BONEFEM_IMAGE_MAX_BYTES)",
            file=file,
            field=field,
            value=box,
        )
    return box


@keeps_locale
def _read_sitk(files: Sequence[str], box: list[list[int]] | None, *, source: str) -> Any:
    """SimpleITK image of ``files`` (a series, or one file: its region ``box`` if given)."""
    sitk = _sitk()
    try:
        if box is not None:
            reader = sitk.ImageFileReader()
            reader.SetFileName(files[0])
            reader.SetExtractIndex([a for a, _ in box])
            reader.SetExtractSize([b - a for a, b in box])
            return reader.Execute()
        return sitk.ReadImage(list(files) if len(files) > 1 else files[0])
    except RuntimeError as exc:
        msg = str(exc).strip().splitlines()[-1][:300]
        raise InputError(f"SimpleITK cannot read the image: {msg}", file=source) from None


def _series_crop(img: Any, box: list[list[int]], *, tiff: bool) -> Any:
    """The i, j crop of a series whose slices k0 … k1 − 1 were read (SimpleITK image)."""
    if tiff:  # no positions in the files: slice k0 sits k0 slices up
        d = np.asarray(img.GetDirection()).reshape(3, 3)[:, 2]
        o = np.asarray(img.GetOrigin()) + box[2][0] * img.GetSpacing()[2] * d
        img.SetOrigin(tuple(float(v) for v in o))
    return img[box[0][0] : box[0][1], box[1][0] : box[1][1], :]  # shifts the origin in i, j


def read_image(
    path: str | Path | Sequence[str | Path],
    *,
    spacing: Sequence[float] | None = None,
    series_id: str | None = None,
    max_bytes: int | None = None,
    crop: Sequence[Sequence[int]] | None = None,
    crop_field: str = "crop",
) -> Image:
    """Read a 3-D image (see the module docstring for formats and conventions).

    Args:
        path: an image file, a folder (DICOM series or TIFF slices) or a list of slices.
        spacing: voxel size (mm, x y z) replacing the header's -- needed for a TIFF stack,
            whose files carry no slice distance.
        series_id: the DICOM series to read from a folder with several.
        max_bytes: memory limit (bytes), checked from the header before reading voxels --
            for the cropped region when ``crop`` is given.
        crop: read only the voxels [[i0, i1], [j0, j1], [k0, k1]] (half-open; as
            :meth:`Image.crop`): a series reads only slices k0 … k1 − 1, a single file
            goes through SimpleITK's region extraction (streamed where ITK's reader for
            the format can, e.g. MetaImage); the memory limit applies to the crop.
        crop_field: the field named in messages about ``crop``.

    Returns:
        The :class:`Image` (array (z, y, x) in the file's pixel type; DICOM values
        rescaled to HU by the slope/intercept of the header).

    Raises:
        InputError: see :func:`read_header`; missing, zero or negative spacing; a crop
            outside the image.
    """
    sitk = _sitk()
    files, kind, source = _files_of(path, series_id)
    # with a crop the limit applies to the crop (below), not to the whole image
    head = read_header(
        files if len(files) > 1 else files[0], max_bytes=max_bytes if crop is None else 2**62
    )
    box = None
    if crop is not None:
        box = _crop_within_limit(crop, head.size, max_bytes, file=source, field=crop_field)
        if len(files) > 1:
            files = files[box[2][0] : box[2][1]]
    if spacing is not None:
        _check_spacing(spacing, file=source, field="spacing")
    elif kind == "tiff" and len(files) > 1:
        raise InputError(
            "a stack of TIFF slices has no slice distance; give the voxel size with the "
            "'spacing' option (mm, x y z)",
            file=source,
            field="spacing",
        )
    elif len(files) == 1:
        _check_spacing(head.spacing, file=source, field="spacing")
    img = _read_sitk(files, box if len(head.files) == 1 else None, source=source)
    meta: dict[str, str] = {"format": kind}
    if spacing is not None:
        img.SetSpacing(tuple(float(s) for s in spacing))
    if box is not None and len(head.files) > 1:
        img = _series_crop(img, box, tiff=kind == "tiff")
    if img.GetDimension() != 3:
        raise InputError(
            "a 3-D image is needed", file=source, field="dimension", value=img.GetDimension()
        )
    if kind == "dicom" and len(files) > 1:
        _check_spacing(img.GetSpacing(), file=source, field="spacing (slice distance)")
    array = sitk.GetArrayFromImage(img)
    return Image(
        array=array,
        spacing=tuple(img.GetSpacing()),
        origin=tuple(img.GetOrigin()),
        direction=np.asarray(img.GetDirection(), dtype=np.float64).reshape(3, 3),
        source=source,
        metadata=meta,
    )


@keeps_locale
def write_image(image: Image, path: str | Path, *, compress: bool = True) -> Path:
    """Write an image in the format of the extension (``.nii.gz``, ``.mha``, ``.nrrd`` ...).

    Args:
        image: the image.
        path: the output file.
        compress: compress the voxels when the format allows it.

    Returns:
        The path written.
    """
    sitk = _sitk()
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(image.to_sitk(), str(p), compress)
    return p


# --------------------------------------------------------------------------- inspect
@dataclass(frozen=True)
class ImageInfo:
    """Summary of an image for ``bonefem image inspect``.

    Attributes:
        source: file or folder.
        size: voxels along (x, y, z).
        spacing: mm along (x, y, z).
        origin: mm.
        direction: 3 x 3 direction cosines (rows of the matrix).
        orientation: the patient direction each axis points to (identity: ``LPS``).
        pixel_type: the array's numpy dtype.
        minimum, maximum, mean: value range and mean (image units, e.g. HU).
        percentiles: the 1st, 50th and 99th percentiles.
        extent_mm: physical size of the image box (mm) along (x, y, z).
        histogram_counts, histogram_edges: 256-bin histogram of the values.
        figure: the histogram PNG, if one was written.
        hu_check: for a CT in Hounsfield units, where air and soft tissue peak, and a
            warning when the values do not look like HU (:func:`hu_check`); None otherwise.
    """

    source: str
    size: tuple[int, int, int]
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float]
    direction: tuple[tuple[float, ...], ...]
    orientation: str
    pixel_type: str
    minimum: float
    maximum: float
    mean: float
    percentiles: tuple[float, float, float]
    extent_mm: tuple[float, float, float]
    histogram_counts: tuple[int, ...]
    histogram_edges: tuple[float, ...]
    figure: str | None = None
    hu_check: str | None = None

    def lines(self) -> list[str]:
        """Human-readable lines."""
        p1, p50, p99 = self.percentiles
        return [
            f"image        {self.source}",
            f"size         {' x '.join(map(str, self.size))} voxels (x, y, z)",
            f"spacing      {' x '.join(f'{s:.6g}' for s in self.spacing)} mm",
            f"extent       {' x '.join(f'{s:.6g}' for s in self.extent_mm)} mm",
            f"origin       ({', '.join(f'{s:.6g}' for s in self.origin)}) mm",
            f"orientation  {self.orientation}  direction {self.direction}",
            f"pixel type   {self.pixel_type}",
            f"values       min {self.minimum:.6g}, max {self.maximum:.6g}, mean {self.mean:.6g}",
            f"percentiles  1% {p1:.6g}, 50% {p50:.6g}, 99% {p99:.6g}",
            *([f"histogram    {self.figure}"] if self.figure else []),
            *([f"HU check     {self.hu_check}"] if self.hu_check else []),
        ]


def hu_check(values: npt.ArrayLike, *, dicom: bool = False) -> str | None:
    """Where air and soft tissue peak in a CT, and whether the values look like HU.

    A CT in Hounsfield units has air at −1000 and water at 0 by definition of the scale;
    soft tissue lies about −100 (fat) to +60 (muscle). With values below −500 the air peak
    (the mode of those values, 10-HU bins; a minimum of −1900 or below held by more than 1 %
    of the voxels is the padding outside the reconstruction circle and left out) and the
    soft-tissue peak (mode in −200 … 200) are reported, with a warning when air is not within
    100 HU of −1000 (an uncalibrated scanner, or stored values with an offset). A DICOM
    series without any value below 0 is reported as probably not rescaled to HU
    (RescaleSlope/RescaleIntercept) or not a CT. Grey values of other images (micro-CT)
    give None.
    """
    v = np.asarray(values).ravel()
    if v.size == 0:
        return None
    lo = float(v.min())
    if lo > -500.0:
        if dicom and lo >= 0.0:
            return (
                "no value below 0: a CT in HU has air near -1000; these may be stored values "
                "(RescaleSlope/RescaleIntercept not applied) or not a CT"
            )
        return None

    def mode(a: npt.NDArray[Any], lo: float, hi: float) -> float | None:
        a = a[(a >= lo) & (a <= hi)]
        if a.size == 0:
            return None
        bins = round((hi - lo) / 10.0) + 1  # centred on multiples of 10 HU
        counts, edges = np.histogram(a, bins=bins, range=(lo - 5.0, hi + 5.0))
        i = int(np.argmax(counts))
        return float(0.5 * (edges[i] + edges[i + 1]))

    pad = lo <= -1900.0 and np.count_nonzero(v == lo) > 0.01 * v.size
    if pad:  # the value scanners write outside the reconstruction circle (-2000, -3024, ...)
        v = v[v != lo]
    air = mode(v, -1800.0, -500.0)
    tissue = mode(v, -200.0, 200.0)
    text = f"air peaks at {air:.0f} HU (-1000 by definition)" if air is not None else ""
    if tissue is not None:
        text += f", soft tissue at {tissue:.0f} HU (fat about -100, water 0, muscle +40)"
    if air is not None and abs(air + 1000.0) > 100.0:
        text += "; air is not near -1000: check the scan's calibration to HU"
    return text


def _orientation(direction: npt.NDArray[np.float64]) -> str:
    """Orientation code of the axes i, j, k: the patient direction each one points *to*.

    ITK/DICOM physical space is LPS (+x = left, +y = posterior, +z = superior), so the
    identity direction is ``LPS`` (the convention of ``SimpleITK.DICOMOrientImageFilter``;
    ITK's older "from" naming calls the same ``RAI``).
    """
    try:
        sitk = _sitk()
        return str(
            sitk.DICOMOrientImageFilter.GetOrientationFromDirectionCosines(tuple(direction.ravel()))
        )
    except Exception:  # pragma: no cover - old SimpleITK
        return "?"


def histogram_figure(
    values: npt.ArrayLike, path: str | Path, *, bins: int = 256, title: str = ""
) -> Path:
    """Write a PNG histogram (log counts) of image values.

    Args:
        values: the voxel values (any shape).
        path: the PNG file.
        bins: number of bins.
        title: figure title.

    Returns:
        The path written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    v = np.asarray(values).ravel()
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    ax.hist(v, bins=bins, color="0.3", log=True)
    ax.set_xlabel("voxel value")
    ax.set_ylabel("voxels")
    ax.set_title(title)
    fig.tight_layout()
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(p, dpi=100)
    plt.close(fig)
    return p


def inspect_image(
    path: str | Path | Sequence[str | Path] | Image,
    *,
    figure: str | Path | None = None,
    spacing: Sequence[float] | None = None,
    max_bytes: int | None = None,
) -> ImageInfo:
    """Summarise an image: size, spacing, orientation, value range, histogram.

    Args:
        path: an image source (see :func:`read_image`) or an :class:`Image`.
        figure: write the histogram PNG here (None: no figure).
        spacing: voxel size (mm, x y z) for sources without one (TIFF stacks).
        max_bytes: memory limit (bytes).

    Returns:
        The :class:`ImageInfo`.
    """
    img = (
        path if isinstance(path, Image) else read_image(path, spacing=spacing, max_bytes=max_bytes)
    )
    v = np.asarray(img.array)
    lo, hi = float(v.min()), float(v.max())
    counts, edges = np.histogram(v, bins=256, range=(lo, hi if hi > lo else lo + 1.0))
    pct = np.percentile(v, [1.0, 50.0, 99.0])
    fig = None
    if figure is not None:
        fig = str(histogram_figure(v, figure, title=Path(img.source).name))
    return ImageInfo(
        source=img.source,
        size=img.size,
        spacing=img.spacing,
        origin=img.origin,
        direction=tuple(tuple(float(x) for x in row) for row in img.direction),
        orientation=_orientation(img.direction),
        pixel_type=str(v.dtype),
        minimum=lo,
        maximum=hi,
        mean=float(v.mean(dtype=np.float64)),
        percentiles=(float(pct[0]), float(pct[1]), float(pct[2])),
        extent_mm=tuple(float(n * s) for n, s in zip(img.size, img.spacing, strict=True)),  # type: ignore[arg-type]
        histogram_counts=tuple(int(c) for c in counts),
        histogram_edges=tuple(float(e) for e in edges),
        figure=fig,
        hu_check=hu_check(v, dicom=img.metadata.get("format") == "dicom"),
    )
