"""Segmentation of bone in CT images: threshold, largest component, holes, regions.

A segmentation is a **label array** (same shape (z, y, x) as the image, integer): 0 is
background, every other value is one region. :class:`Segmentation` keeps the labels and
the region names (``{"cortical": 1, "trabecular": 2}``), which become the cell regions of
the meshes made from it.

Ways to get one:

* :func:`threshold_mask` -- ``lower <= value <= upper``, then (optional) the largest
  26-connected component (:func:`largest_component`) and hole filling (:func:`fill_holes`:
  background voxels not 6-connected to the image border become bone, slice by slice in
  every direction and in 3-D), all with ``scipy.ndimage``;
* :func:`component_at` -- the connected component holding a given voxel (a seed point:
  the femur of a hip scan, not the pelvis or the other femur);
* :func:`separate` -- bones that the scan's blur (or an osteophyte) joins across a joint
  space are cut apart: markers by erosion (:func:`fill_capped` first), every voxel to its
  nearest marker (marker-based separation: Soille 2003, *Morphological Image Analysis*,
  2nd ed., Springer, ch. 9), one part chosen (seed or largest); :func:`bone_labels` labels
  all of them (``bonefem image components``);
* :func:`from_labels` -- a label image (e.g. from ITK-SNAP, 3D Slicer, Amira) with a name
  per label value;
* :func:`split_by_density` -- a bone mask split into ``cortical`` (density >= a threshold)
  and ``trabecular`` (below). Default threshold :data:`CORTICAL_THRESHOLD_RHO_APP`
  = 1.0 g/cm³ apparent density, the value between trabecular (≤ ~1 g/cm³) and cortical
  (1.5-2.0 g/cm³) bone used by many QCT models (e.g. Schileo et al. 2008, J Biomech 41:356;
  Carter & Hayes 1977, J Bone Joint Surg Am 59:954 give 0.1-1.0 g/cm³ trabecular and
  ~1.8 g/cm³ cortical). It is an *assumption* a user can replace.

An empty result raises :class:`~bonefem.errors.InputError`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from bonefem.errors import InputError

__all__ = [
    "CORTICAL_THRESHOLD_RHO_APP",
    "Segmentation",
    "bone_labels",
    "component_at",
    "face_connected",
    "fill_capped",
    "fill_holes",
    "from_labels",
    "largest_component",
    "separate",
    "split_by_density",
    "threshold_bounds",
    "threshold_mask",
]

#: Apparent density (g/cm³) above which bone is called cortical by :func:`split_by_density`.
CORTICAL_THRESHOLD_RHO_APP = 1.0


@dataclass
class Segmentation:
    """A label array (z, y, x) with region names.

    Attributes:
        labels: int32 array, 0 = background, else the region's value.
        regions: region name -> label value (only values that occur).
        source: what it came from, for messages.
    """

    labels: npt.NDArray[np.int32]
    regions: dict[str, int] = field(default_factory=lambda: {"bone": 1})
    source: str = "segmentation"

    def __post_init__(self) -> None:
        self.labels = np.asarray(self.labels, dtype=np.int32)
        if self.labels.ndim != 3:
            raise InputError(
                "a segmentation is a 3-D label array (z, y, x)",
                file=self.source,
                field="labels",
                value=self.labels.shape,
            )
        if not np.any(self.labels):
            raise InputError(
                "the segmentation is empty: no voxel is bone (check the threshold or the "
                "label values)",
                file=self.source,
                field="mask",
            )

    @property
    def mask(self) -> npt.NDArray[np.bool_]:
        """Bone voxels (any non-zero label)."""
        return self.labels != 0

    def count(self, region: str | None = None) -> int:
        """Number of voxels of a region (or of all bone)."""
        if region is None:
            return int(np.count_nonzero(self.labels))
        return int(np.count_nonzero(self.labels == self.regions[region]))


def _require_nonempty(mask: npt.NDArray[np.bool_], *, what: str, source: str | None) -> None:
    if not np.any(mask):
        raise InputError(
            f"the mask is empty after {what}: no voxel is bone", file=source, field="mask"
        )


def largest_component(mask: npt.ArrayLike, *, connectivity: int = 3) -> npt.NDArray[np.bool_]:
    """The largest connected component of a mask.

    Args:
        mask: boolean array (z, y, x).
        connectivity: 1 = faces (6-neighbours), 2 = + edges (18), 3 = + corners (26).

    Returns:
        Boolean array of the largest component (ties: the lowest label).
    """
    from scipy import ndimage

    m = np.asarray(mask, dtype=bool)
    _require_nonempty(m, what="thresholding", source=None)
    structure = ndimage.generate_binary_structure(3, connectivity)
    lab, n = ndimage.label(m, structure=structure)
    if n <= 1:
        return m.copy()
    sizes = np.bincount(lab.ravel())
    sizes[0] = 0
    return np.asarray(lab == int(np.argmax(sizes)))


def component_at(
    mask: npt.ArrayLike, seed: tuple[int, int, int], *, connectivity: int = 3
) -> npt.NDArray[np.bool_]:
    """The connected component of ``mask`` that holds the voxel ``seed``.

    Args:
        mask: boolean array (z, y, x).
        seed: voxel index (k, j, i) = (z, y, x) of the array; must be in the mask.
        connectivity: 1 = faces (6-neighbours), 2 = + edges (18), 3 = + corners (26).

    Returns:
        Boolean array of that component.

    Raises:
        ValueError: the seed voxel is not in the mask (callers name the case-file field).
    """
    from scipy import ndimage

    m = np.asarray(mask, dtype=bool)
    if not m[seed]:
        raise ValueError("the seed voxel is not in the mask")
    structure = ndimage.generate_binary_structure(3, connectivity)
    lab, _ = ndimage.label(m, structure=structure)
    return np.asarray(lab == lab[seed])


def _markers_and_owners(
    mask: npt.NDArray[np.bool_], layers: int, spacing: tuple[float, float, float]
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32]]:
    """The markers of :func:`separate` and, for every voxel, the label of its nearest marker.

    Raises:
        ValueError: ``layers`` < 1, or erosion leaves nothing.
    """
    from scipy import ndimage

    if layers < 1:
        raise ValueError("layers must be at least 1")
    core = ndimage.binary_erosion(
        fill_capped(mask),
        structure=ndimage.generate_binary_structure(3, 1),
        iterations=layers,
    )
    if not np.any(core):
        raise ValueError(f"nothing is left of the mask after eroding {layers} layer(s)")
    lab, _ = ndimage.label(core, structure=ndimage.generate_binary_structure(3, 3))
    nearest = np.empty((3, *mask.shape), dtype=np.int32)
    sampling = (spacing[2], spacing[1], spacing[0])
    ndimage.distance_transform_edt(
        lab == 0, sampling=sampling, return_distances=False, return_indices=True,
        indices=nearest,
    )  # fmt: skip
    owner = np.asarray(lab[nearest[0], nearest[1], nearest[2]], dtype=np.int32)
    return np.asarray(lab, dtype=np.int32), owner


def bone_labels(
    mask: npt.ArrayLike, layers: int = 0, *, spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)
) -> tuple[npt.NDArray[np.int32], int]:
    """Label the bones of a mask (connected components, or the parts of :func:`separate`).

    With ``layers`` = 0 the 26-connected components; with ``layers`` ≥ 1 the parts that
    :func:`separate` cuts apart, each voxel of the mask with its nearest marker.

    Returns:
        (labels (z, y, x): 0 background, 1 … n, numbered by decreasing voxel count; n).
    """
    from scipy import ndimage

    m = np.asarray(mask, dtype=bool)
    if layers == 0:
        lab, n = ndimage.label(m, structure=ndimage.generate_binary_structure(3, 3))
    else:
        _, owner = _markers_and_owners(m, layers, spacing)
        lab = np.where(m, owner, 0)
        n = int(lab.max(initial=0))
    sizes = np.bincount(np.asarray(lab).ravel(), minlength=n + 1)
    order = np.argsort(-sizes[1:], kind="stable") + 1  # old labels, largest first
    kept = order[sizes[order] > 0]
    renumber = np.zeros(n + 1, dtype=np.int32)
    renumber[kept] = np.arange(1, kept.size + 1, dtype=np.int32)
    return renumber[lab], int(kept.size)


def separate(
    mask: npt.ArrayLike,
    layers: int,
    seed: tuple[int, int, int] | None = None,
    *,
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0),
) -> npt.NDArray[np.bool_]:
    """One bone of a mask in which the scan's blur or an osteophyte joins it to a neighbour.

    At clinical CT resolution a joint space of 1-3 mm (hip, knee, facet joints) is narrow
    enough for a few voxels above the bone threshold, or a real bony bridge, to join the
    femoral head to the acetabulum. Marker-based separation (``scipy.ndimage``, no loop
    over voxels):

    1. markers: the mask with its cavities filled (:func:`fill_capped`: a marrow canal
       open at a cut end of the image counts as enclosed), eroded ``layers`` times
       (6-neighbour element), in 26-connected components: bridges up to
       2 · ``layers`` voxels thick are cut, every bone keeps a marker;
    2. the chosen marker: the one holding ``seed`` or, if the seed voxel was eroded, the
       nearest one; without a seed the largest;
    3. every voxel of the mask goes to its nearest marker (Euclidean distance in mm, the
       voxel ``spacing``: a Voronoi partition by the markers, as in marker-based
       watershed separation; Soille 2003, *Morphological Image Analysis*, 2nd ed.,
       ch. 9), so a bridge is split at its middle and thin walls whose erosion left no
       marker of their own go to the nearest bone;
    4. the chosen marker's voxels, their largest 26-connected part.

    A joint space filled wholesale (no gap below the threshold anywhere) cannot be cut
    this way: that needs a label image (3D Slicer, ITK-SNAP).

    Args:
        mask: boolean array (z, y, x).
        layers: voxels eroded for the markers (≥ 1).
        seed: voxel index (k, j, i), or None for the largest part.
        spacing: voxel size (x, y, z) in mm, for the distances.

    Returns:
        Boolean array of the chosen bone (cavities not filled: see :func:`fill_holes`).

    Raises:
        ValueError: ``layers`` < 1, or erosion leaves nothing (callers name the field).
    """
    from scipy import ndimage

    m = np.asarray(mask, dtype=bool)
    lab, owner = _markers_and_owners(m, layers, spacing)
    if seed is None:
        sizes = np.bincount(lab.ravel())
        sizes[0] = 0
        chosen = int(np.argmax(sizes))
    else:
        chosen = int(owner[seed])
    parts, _ = ndimage.label(
        m & (owner == chosen), structure=ndimage.generate_binary_structure(3, 3)
    )
    sizes = np.bincount(parts.ravel())
    sizes[0] = 0
    if sizes.max(initial=0) == 0:
        raise ValueError("the chosen part holds no voxel of the mask")
    return np.asarray(parts == int(np.argmax(sizes)))


def fill_capped(mask: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Fill the cavities of a mask, with the bones' cut ends at the image faces capped.

    A long bone cut by the image box has its marrow canal open at the cut, so a 3-D fill
    (background not 6-connected to the border) leaves it. Here each face of the box is
    closed, before the 3-D fill, by the 2-D filled cross-section of the mask on that face:
    a canal inside its cortical ring is capped, while background between bones on the
    face (soft tissue, a joint space) stays open. Unlike :func:`fill_holes` no slice is
    filled, so a joint space enclosed in a slice by a cup-shaped bone stays background.

    Args:
        mask: boolean array (z, y, x).

    Returns:
        The filled mask.
    """
    from scipy import ndimage

    m = np.asarray(mask, dtype=bool)
    padded = np.pad(m, 1)
    inner = (slice(1, -1),) * 3
    for axis in range(3):
        for side, layer in ((0, 0), (-1, -1)):
            face = ndimage.binary_fill_holes(np.take(m, side, axis=axis))
            index = list(inner)
            index[axis] = layer  # type: ignore[call-overload]
            padded[tuple(index)] = face
    return np.asarray(ndimage.binary_fill_holes(padded)[inner], dtype=bool)


def fill_holes(mask: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Fill enclosed background (marrow cavities, pores) of a mask.

    3-D filling (``scipy.ndimage.binary_fill_holes``: background not 6-connected to the
    border), then 2-D filling of every slice along z, so that a canal open at the ends of
    a long bone (not enclosed in 3-D) is filled too.

    Args:
        mask: boolean array (z, y, x).

    Returns:
        The filled mask.
    """
    from scipy import ndimage

    m = ndimage.binary_fill_holes(np.asarray(mask, dtype=bool))
    s2 = np.zeros((3, 3, 3), dtype=bool)
    s2[1] = ndimage.generate_binary_structure(2, 1)
    return np.asarray(ndimage.binary_fill_holes(m, structure=s2), dtype=bool)


def threshold_bounds(threshold: Sequence[float]) -> tuple[float, float]:
    """``(lower, upper)`` of a threshold given as ``[lower]`` or ``[lower, upper]``."""
    return float(threshold[0]), float(threshold[1]) if len(threshold) > 1 else float("inf")


def threshold_mask(
    values: npt.ArrayLike,
    lower: float,
    upper: float = np.inf,
    *,
    keep_largest: bool = True,
    fill: bool = False,
    source: str | None = None,
) -> npt.NDArray[np.bool_]:
    """Bone mask ``lower <= value <= upper`` (units of the image: HU, g/cm³ or grey value).

    Args:
        values: image array (z, y, x).
        lower: lower threshold (inclusive).
        upper: upper threshold (inclusive).
        keep_largest: keep only the largest 26-connected component.
        fill: fill enclosed holes (:func:`fill_holes`).
        source: file name for messages.

    Returns:
        Boolean mask.

    Raises:
        InputError: the mask is empty.
    """
    v = np.asarray(values)
    m = (v >= lower) & (v <= upper)
    if not np.any(m):
        raise InputError(
            f"no voxel is within [{lower}, {upper}]; the image values range over "
            f"[{float(v.min()):.6g}, {float(v.max()):.6g}]",
            file=source,
            field="threshold",
            value=(lower, upper),
        )
    if keep_largest:
        m = largest_component(m)
    if fill:
        m = fill_holes(m)
    return m


def from_labels(
    labels: npt.ArrayLike,
    names: Mapping[str, int] | None = None,
    *,
    source: str = "labels",
) -> Segmentation:
    """A segmentation from a label image.

    Args:
        labels: integer array (z, y, x); 0 is background.
        names: region name -> label value; labels not named are dropped (set to 0).
            Default: every non-zero value is a region ``region_<value>``.
        source: for messages.

    Returns:
        The :class:`Segmentation`.

    Raises:
        InputError: a named value does not occur, or nothing is left.
    """
    lab = np.rint(np.asarray(labels)).astype(np.int32)
    present = sorted(int(v) for v in np.unique(lab) if v != 0)
    if names is None:
        regions = {f"region_{v}": v for v in present}
    else:
        regions = {str(n): int(v) for n, v in names.items()}
        for n, v in regions.items():
            if v not in present:
                raise InputError(
                    f"label value {v} of region '{n}' is not in the label image; its values "
                    f"are: {', '.join(map(str, present)) or '(none)'}",
                    file=source,
                    field=f"regions.{n}",
                    value=v,
                )
        lab = np.where(np.isin(lab, list(regions.values())), lab, 0).astype(np.int32)
    return Segmentation(lab, regions, source=source)


def split_by_density(
    mask: npt.ArrayLike,
    density: npt.ArrayLike,
    threshold: float = CORTICAL_THRESHOLD_RHO_APP,
    *,
    source: str = "density",
) -> Segmentation:
    """Split a bone mask into ``cortical`` (label 1) and ``trabecular`` (label 2).

    Cortical: density >= threshold; trabecular: below.

    Args:
        mask: bone voxels (z, y, x).
        density: density per voxel (g/cm³; apparent density for the default threshold).
        threshold: the cortical threshold (g/cm³), default 1.0 g/cm³ apparent density.
        source: for messages.

    Returns:
        A :class:`Segmentation` with the regions that occur (one or both).
    """
    m = np.asarray(mask, dtype=bool)
    _require_nonempty(m, what="segmentation", source=source)
    rho = np.asarray(density, dtype=np.float64)
    lab = np.where(m, np.where(rho >= threshold, 1, 2), 0).astype(np.int32)
    regions = {n: v for n, v in (("cortical", 1), ("trabecular", 2)) if np.any(lab == v)}
    return Segmentation(lab, regions, source=source)


def face_connected(labels: npt.ArrayLike) -> tuple[npt.NDArray[np.int32], int]:
    """The largest face-connected (6-connected) part of a label array; (labels, removed).

    Voxels of a Q1 voxel mesh that touch the rest by an edge or a corner only share 2 or 1
    nodes with it: a hinge, a zero-energy mode and a singular stiffness matrix. Micro-FE
    pre-processing keeps the face-connected bone (``scipy.ndimage.label``, 6-connectivity);
    :func:`bonefem.imaging.voxelmesh.voxel_mesh_arrays` applies it to the kept elements
    (blocks of k³ voxels), ``bonefem test`` also to the voxels.
    """
    from scipy import ndimage

    lab = np.asarray(labels, dtype=np.int32)
    parts, n = ndimage.label(lab != 0)  # default structure: face neighbours
    if n <= 1:
        return lab, 0
    sizes = np.bincount(parts.ravel())
    sizes[0] = 0
    keep = parts == int(np.argmax(sizes))
    return np.where(keep, lab, 0).astype(np.int32), int(np.count_nonzero(lab) - keep.sum())
