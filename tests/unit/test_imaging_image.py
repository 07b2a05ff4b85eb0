"""Image I/O and inspection (bonefem.imaging.image): formats, conventions, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bonefem.errors import InputError
from bonefem.imaging.image import (
    Image,
    inspect_image,
    keeps_locale,
    read_header,
    read_image,
    write_image,
)

pytestmark = pytest.mark.serial


def sample_image() -> Image:
    a = np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6) - 50  # (z, y, x)
    return Image(a, spacing=(0.5, 0.6, 0.7), origin=(1.0, -2.0, 3.0), source="sample")


@pytest.mark.parametrize("ext", ["nii", "nii.gz", "mha", "mhd", "nrrd"])
def test_roundtrip_formats(tmp_path: Path, ext: str) -> None:
    img = sample_image()
    p = write_image(img, tmp_path / f"img.{ext}")
    back = read_image(p)
    assert back.shape == (4, 5, 6) and back.size == (6, 5, 4)
    assert np.array_equal(back.array, img.array)
    assert back.array[1, 2, 3] == 1 * 30 + 2 * 6 + 3 - 50  # (z, y, x) indexing
    assert np.allclose(back.spacing, (0.5, 0.6, 0.7), rtol=1e-6)  # NIfTI stores float32
    assert np.allclose(back.origin, (1.0, -2.0, 3.0))
    assert back.voxel_volume == pytest.approx(0.21, rel=1e-6)


def test_index_physical_maps() -> None:
    d = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # axes rotated 90°
    img = Image(np.zeros((2, 3, 4)), spacing=(0.5, 2.0, 1.0), origin=(10, 0, 0), direction=d)
    x = img.index_to_physical([[2, 1, 1]])[0]
    # i=2 -> 1.0 mm along column 0 of d = +y; j=1 -> 2.0 mm along column 1 = -x; k=1 -> +z
    assert np.allclose(x, [10 - 2.0, 1.0, 1.0])
    assert np.allclose(img.physical_to_index(x), [[2, 1, 1]])
    centers = img.voxel_centers()
    assert np.allclose(centers[1, 1, 2], x)


@keeps_locale  # SimpleITK's DICOM writer sets the C locale of the process: put it back,
# or the tests after this one in the same process read UTF-8 text files as ASCII
def _dicom_series(img: Image, folder: Path, uid: str) -> Path:
    """Write ``img`` as a DICOM series (one file per slice, positions in the header)."""
    import SimpleITK as sitk

    s3 = img.to_sitk()
    folder.mkdir()
    w = sitk.ImageFileWriter()
    w.KeepOriginalImageUIDOn()
    for k in range(s3.GetDepth()):
        s = s3[:, :, k]
        pos = s3.TransformIndexToPhysicalPoint((0, 0, k))
        s.SetMetaData("0020|0032", "\\".join(f"{v:.6f}" for v in pos))
        s.SetMetaData("0020|0037", "1\\0\\0\\0\\1\\0")
        s.SetMetaData("0020|0013", str(k + 1))
        s.SetMetaData("0008|0060", "CT")
        s.SetMetaData("0020|000e", uid)
        w.SetFileName(str(folder / f"s{k:03d}.dcm"))
        w.Execute(s)
    return folder


def test_dicom_series_folder(tmp_path: Path) -> None:
    img = sample_image()
    folder = _dicom_series(img, tmp_path / "dicom", "1.2.826.0.1.3680043.2.1125.14")
    import locale

    before = locale.setlocale(locale.LC_ALL)
    back = read_image(folder)
    # reading a series leaves the process's locale alone (read_image guards it)
    assert locale.setlocale(locale.LC_ALL) == before
    assert back.shape == (4, 5, 6)
    assert np.array_equal(back.array, img.array)
    assert back.spacing[2] == pytest.approx(0.7, rel=1e-6)  # slice distance from positions
    assert back.metadata["format"] == "dicom"


def test_tiff_stack_needs_spacing(tmp_path: Path) -> None:
    import SimpleITK as sitk

    img = sample_image()
    a = (img.array + 100).astype(np.uint8)
    for k in range(a.shape[0]):
        sitk.WriteImage(sitk.GetImageFromArray(a[k]), str(tmp_path / f"slice_{k:03d}.tif"))
    with pytest.raises(InputError, match="spacing") as err:
        read_image(tmp_path)
    assert err.value.field == "spacing"
    back = read_image(tmp_path, spacing=(0.02, 0.02, 0.03))
    assert np.array_equal(back.array, a)
    assert back.spacing == (0.02, 0.02, 0.03)


def _mhd_with_spacing(tmp_path: Path, spacing: str) -> Path:
    p = write_image(sample_image(), tmp_path / "good.mhd", compress=False)
    text = p.read_text().splitlines()
    text = [f"ElementSpacing = {spacing}" if t.startswith("ElementSpacing") else t for t in text]
    bad = tmp_path / "bad.mhd"
    bad.write_text("\n".join(text).replace("good.raw", "good.raw") + "\n")
    return bad


@pytest.mark.parametrize("spacing", ["0 0.6 0.7", "-0.5 0.6 0.7"])
def test_zero_or_negative_spacing_rejected(tmp_path: Path, spacing: str) -> None:
    bad = _mhd_with_spacing(tmp_path, spacing)
    with pytest.raises(InputError) as err:
        read_image(bad)
    assert err.value.field == "spacing"
    assert str(bad) in str(err.value) and "positive" in str(err.value)
    assert err.value.value[0] == float(spacing.split()[0])


def test_two_d_image_rejected(tmp_path: Path) -> None:
    import SimpleITK as sitk

    p = tmp_path / "slice.nii"
    sitk.WriteImage(sitk.GetImageFromArray(np.zeros((5, 6), np.int16)), str(p))
    with pytest.raises(InputError, match="3-D") as err:
        read_image(p)
    assert err.value.field == "dimension" and err.value.value == 2
    with pytest.raises(InputError, match="3-D"):
        Image(np.zeros((5, 6)))


def test_too_large_rejected_before_reading(tmp_path: Path) -> None:
    p = write_image(sample_image(), tmp_path / "img.nii.gz")
    head = read_header(p)
    assert head.num_voxels == 120 and head.estimated_bytes == 960
    with pytest.raises(InputError, match="over the limit") as err:
        read_image(p, max_bytes=959)
    assert err.value.field == "size" and err.value.value == (6, 5, 4)
    read_image(p, max_bytes=960)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such image"):
        read_image(tmp_path / "none.nii")


def test_inspect_summary_and_figure(tmp_path: Path) -> None:
    p = write_image(sample_image(), tmp_path / "img.mha")
    info = inspect_image(p, figure=tmp_path / "hist.png")
    assert info.size == (6, 5, 4)
    assert info.minimum == -50 and info.maximum == 69
    assert info.mean == pytest.approx(9.5)
    assert info.extent_mm == pytest.approx((3.0, 3.0, 2.8))
    assert sum(info.histogram_counts) == 120
    assert info.orientation == "LPS"
    png = Path(info.figure or "")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert any("0.5 x 0.6 x 0.7 mm" in line for line in info.lines())


@pytest.mark.parametrize("ext", ["mha", "nii.gz", "nrrd"])
def test_crop_on_read_equals_crop_after(tmp_path: Path, ext: str) -> None:
    """Reading a region gives the region of the whole image, positions included."""
    img = sample_image()
    p = write_image(img, tmp_path / f"img.{ext}")
    box = [[1, 5], [2, 4], [1, 3]]
    part = read_image(p, crop=box)
    whole = read_image(p).crop(box)
    assert np.array_equal(part.array, whole.array)
    np.testing.assert_allclose(part.origin, whole.origin, atol=1e-6)
    assert part.size == (4, 2, 2)
    with pytest.raises(InputError) as err:
        read_image(p, crop=[[0, 6], [0, 5], [2, 9]], crop_field="mesh.image.crop")
    assert err.value.field == "mesh.image.crop[2]"


def test_crop_on_read_fits_the_memory_limit(tmp_path: Path) -> None:
    """A scan over the limit is refused whole and read in a part that fits."""
    img = Image(np.zeros((40, 50, 60), np.int16), spacing=(0.1, 0.1, 0.1), source="big")
    p = write_image(img, tmp_path / "big.mha", compress=False)
    limit = 40 * 50 * 60 * 8 // 2  # half the whole image's working copy
    with pytest.raises(InputError, match="over the limit"):
        read_image(p, max_bytes=limit)
    part = read_image(p, max_bytes=limit, crop=[[0, 30], [0, 50], [0, 40]])
    assert part.shape == (40, 50, 30)
    with pytest.raises(InputError, match="cropped region") as err:
        read_image(p, max_bytes=limit, crop=[[0, 60], [0, 50], [0, 39]])
    assert err.value.field == "crop"


def test_crop_on_read_of_a_series(tmp_path: Path) -> None:
    """DICOM and TIFF series read only the slices of the crop."""
    import SimpleITK as sitk

    img = sample_image()
    folder = _dicom_series(img, tmp_path / "dicom", "1.2.826.0.1.3680043.2.1125.16")
    box = [[2, 6], [0, 3], [1, 3]]
    part = read_image(folder, crop=box)
    whole = read_image(folder).crop(box)
    assert np.array_equal(part.array, whole.array)
    np.testing.assert_allclose(part.origin, whole.origin, atol=1e-5)
    tif = tmp_path / "tif"
    tif.mkdir()
    a = (img.array + 100).astype(np.uint8)
    for k in range(a.shape[0]):
        sitk.WriteImage(sitk.GetImageFromArray(a[k]), str(tif / f"slice_{k:03d}.tif"))
    part = read_image(tif, spacing=(0.02, 0.02, 0.03), crop=box)
    whole = read_image(tif, spacing=(0.02, 0.02, 0.03)).crop(box)
    assert np.array_equal(part.array, a[1:3, 0:3, 2:6])
    np.testing.assert_allclose(part.origin, whole.origin, atol=1e-12)
    np.testing.assert_allclose(part.origin, (0.04, 0.0, 0.03), atol=1e-12)


def test_hu_check_finds_air_and_flags_other_scales() -> None:
    """Air at −1000 and water at 0 by the definition of HU; an offset or no negatives flagged."""
    from bonefem.imaging.image import hu_check
    from bonefem.imaging.phantoms import joint_phantom

    hu = joint_phantom().image.array
    text = hu_check(hu)
    assert text is not None and "air peaks at -1000 HU" in text and "soft tissue at 0 HU" in text
    assert "not near" not in text
    shifted = hu_check(hu.astype(np.int32) - 300)  # an uncalibrated scale: air at -1300
    assert shifted is not None and "air is not near -1000" in shifted
    padded = hu.copy()
    padded[:, :4, :] = -3024  # outside the reconstruction circle
    text = hu_check(padded)
    assert text is not None and "air peaks at -1000 HU" in text and "not near" not in text
    stored = hu.astype(np.int32) + 1024  # stored values, rescale not applied
    assert hu_check(stored) is None  # grey values of an image of unknown kind: no claim
    dicom = hu_check(stored, dicom=True)
    assert dicom is not None and "RescaleSlope/RescaleIntercept" in dicom
    assert hu_check(np.arange(100.0)) is None  # micro-CT grey values
