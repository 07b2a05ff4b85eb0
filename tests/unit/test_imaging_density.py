"""Segmentation, calibration and QCT density mapping on the code-made phantoms."""

from __future__ import annotations

import numpy as np
import pytest

from bonefem.errors import InputError
from bonefem.imaging.density import (
    SCHILEO_2008,
    Calibration,
    DensityRelations,
    block_average,
    cylinder_mask,
    integrate_cells,
    reference_points,
    to_density,
)
from bonefem.imaging.image import Image, read_image, write_image
from bonefem.imaging.phantoms import qct_phantom, random_core, rod_lattice
from bonefem.imaging.segment import (
    fill_holes,
    from_labels,
    largest_component,
    split_by_density,
    threshold_mask,
)

pytestmark = pytest.mark.serial


@pytest.fixture(scope="module")
def phantom():
    return qct_phantom()


def fitted_calibration(ph) -> Calibration:
    """Fit the calibration from the phantom's rods (ROIs shrunk by 1 mm from the edge)."""
    means = [
        float(ph.image.array[cylinder_mask(ph.image, c, ph.rod_radius - 1.0)].mean())
        for c in ph.rod_centers
    ]
    return Calibration.fit(means, ph.rod_densities)


def test_calibration_fit_recovers_the_line(phantom) -> None:
    cal = fitted_calibration(phantom)
    assert cal.slope == pytest.approx(0.0008, rel=0.01)
    assert abs(cal.intercept) < 0.005
    assert cal.r_squared is not None and cal.r_squared > 0.9999
    assert len(cal.rods) == 5


def test_calibration_fit_exact_and_r2() -> None:
    cal = Calibration.fit([0.0, 100.0, 200.0], [0.05, 0.15, 0.25])
    assert cal.slope == pytest.approx(0.001) and cal.intercept == pytest.approx(0.05)
    assert cal.r_squared == pytest.approx(1.0)
    # a noisy point: R² = 1 − SS_res/SS_tot by hand
    cal2 = Calibration.fit([0, 1, 2, 3], [0.0, 1.0, 2.0, 3.4])
    y = np.array([0.0, 1.0, 2.0, 3.4])
    fit = cal2.slope * np.arange(4) + cal2.intercept
    r2 = 1 - np.sum((y - fit) ** 2) / np.sum((y - y.mean()) ** 2)
    assert cal2.r_squared is not None
    assert cal2.r_squared == pytest.approx(r2) and cal2.r_squared < 0.995
    assert cal.hu(cal.density(123.0)) == pytest.approx(123.0)


def test_mapped_density_per_region_within_1_percent(phantom) -> None:
    cal = fitted_calibration(phantom)
    rho = to_density(phantom.image.array, calibration=cal)
    seg = phantom.segmentation
    for name, truth in phantom.densities.items():
        mean = rho[seg.labels == seg.regions[name]].mean()
        assert mean == pytest.approx(truth, rel=0.01), name


def test_density_chain_schileo() -> None:
    r = SCHILEO_2008
    assert r.ash(1.0) == pytest.approx(0.956)  # 0.877 + 0.079
    assert r.apparent(1.0) == pytest.approx(0.956 / 0.6)
    assert r.bvtv(0.2) == pytest.approx((0.877 * 0.2 + 0.079) / 0.6 / 2.0)
    assert r.bvtv(5.0) == 1.0  # clipped
    own = DensityRelations(ash_slope=1.0, ash_intercept=0.0, ash_to_apparent=0.5)
    assert own.apparent(0.3) == pytest.approx(0.6)
    with pytest.raises(InputError, match="positive"):
        DensityRelations(ash_to_apparent=0.0)


def test_hu_without_calibration_is_an_input_error() -> None:
    with pytest.raises(InputError, match="no calibration") as err:
        to_density(np.zeros((2, 2, 2)), units="HU", source="scan.nii.gz")
    assert err.value.field == "calibration" and err.value.file == "scan.nii.gz"
    assert to_density(np.ones(3), units="g/cm3").tolist() == [1.0, 1.0, 1.0]
    with pytest.raises(InputError):
        Calibration.fit([1.0], [0.1])
    with pytest.raises(InputError, match="positive"):
        Calibration(slope=-1.0, intercept=0.0)


def test_phantom_roundtrip_nifti_and_mha(tmp_path, phantom) -> None:
    for ext in ("nii.gz", "mha"):
        p = write_image(phantom.image, tmp_path / f"phantom.{ext}")
        back = read_image(p)
        assert np.array_equal(back.array, phantom.image.array)
        assert p.stat().st_size < 1_000_000


def test_threshold_segmentation_recovers_bone(phantom) -> None:
    cal = fitted_calibration(phantom)
    # trabecular 0.2 g/cm³ = 250 HU; noise σ 15 HU: a 125 HU threshold, largest component
    # (drops the dense rods) and hole filling.
    mask = threshold_mask(phantom.image.array, float(cal.hu(0.1)), keep_largest=True, fill=True)
    truth = phantom.segmentation.mask
    assert np.count_nonzero(mask ^ truth) <= 0.001 * truth.sum()
    rho_app = SCHILEO_2008.apparent(to_density(phantom.image.array, calibration=cal))
    seg = split_by_density(mask, rho_app)
    assert set(seg.regions) == {"cortical", "trabecular"}
    agree = seg.labels[truth] == phantom.segmentation.labels[truth]
    assert agree.mean() > 0.999


def test_segmentation_helpers() -> None:
    m = np.zeros((6, 10, 10), bool)
    m[1:4, 1:8, 1:8] = True
    m[2, 3:6, 3:6] = False  # enclosed cavity
    m[5, 9, 9] = True  # a lone voxel, separate
    big = largest_component(m)
    assert not big[5, 9, 9] and big.sum() == 3 * 49 - 9
    assert fill_holes(big).sum() == 3 * 49
    # a canal open at both ends is filled slice by slice
    tube = np.zeros((4, 7, 7), bool)
    tube[:, 1:6, 1:6] = True
    tube[:, 3, 3] = False
    assert fill_holes(tube).sum() == 4 * 25
    with pytest.raises(InputError, match="no voxel") as err:
        threshold_mask(np.zeros((3, 3, 3)), 1.0, source="scan.mha")
    assert err.value.field == "threshold"
    lab = np.zeros((2, 3, 3), np.int16)
    lab[0, 0, 0], lab[1, 1, 1] = 3, 5
    seg = from_labels(lab, {"cortical": 3})
    assert seg.regions == {"cortical": 3} and seg.count() == 1
    with pytest.raises(InputError, match="not in the label image"):
        from_labels(lab, {"trabecular": 4})
    with pytest.raises(InputError, match="empty"):
        from_labels(np.zeros((2, 2, 2)))


def test_reference_points_integrate_exactly() -> None:
    # ∫ over the unit tet of x dV / vol = 1/4; of x² = 1/10 (midpoint rule converges)
    pts, w = reference_points("tetrahedron", 16)
    assert w.sum() == pytest.approx(1.0)
    assert np.dot(w, pts[:, 0]) == pytest.approx(0.25, rel=5e-3)
    assert np.dot(w, pts[:, 2]) == pytest.approx(0.25, rel=5e-3)
    assert np.dot(w, pts[:, 1] ** 2) == pytest.approx(0.1, rel=5e-3)
    pts, w = reference_points("hexahedron", 3)
    assert pts.shape == (27, 3) and np.allclose(w, 1 / 27)


def test_integrate_cells_linear_field_and_partial_volume() -> None:
    # A field linear in x over 1 mm voxels: the mean over a cell of a piecewise-constant
    # field sampled at n³ points converges to the voxel average.
    img = Image(np.zeros((10, 10, 10)), spacing=(1.0, 1.0, 1.0))
    i = np.arange(10)
    vals = np.broadcast_to(i[None, None, :].astype(float), (10, 10, 10))
    # one hex covering voxels x 2..5 (index space [1.5, 5.5]) -> mean of 2,3,4,5 = 3.5
    lo, hi = 1.5, 5.5
    nodes = np.array(
        [[x, y, z] for z in (1.5, 3.5) for y in (1.5, 3.5) for x in (lo, hi)], dtype=float
    )
    cells = np.arange(8)[None, :]
    mean, frac = integrate_cells(nodes, cells, "hexahedron", img, vals, n=8)
    assert mean[0] == pytest.approx(3.5) and frac[0] == 1.0
    # partial volume: bone only at x >= 4 -> the mean over bone voxels (4, 5) = 4.5
    mask = vals >= 4
    mean, frac = integrate_cells(nodes, cells, "hexahedron", img, vals, mask=mask, n=8)
    assert mean[0] == pytest.approx(4.5) and frac[0] == pytest.approx(0.5)
    # a tetrahedron: the 6 tets of a Kuhn split of the same box average to the box mean
    v = nodes
    kuhn = [[0, 1, 3, 7], [0, 1, 5, 7], [0, 2, 3, 7], [0, 2, 6, 7], [0, 4, 5, 7], [0, 4, 6, 7]]
    m6, _ = integrate_cells(v, np.array(kuhn), "tetrahedron", img, vals, n=12)
    assert np.mean(m6) == pytest.approx(3.5, abs=0.02)
    # no bone point in the cell: the nearest bone voxel's value
    mask2 = vals >= 8
    m2, f2 = integrate_cells(nodes, cells, "hexahedron", img, vals, mask=mask2, n=4)
    assert f2[0] == 0 and m2[0] == 8.0
    with pytest.raises(InputError, match="outside the image"):
        integrate_cells(nodes + 100.0, cells, "hexahedron", img, vals)


def test_block_average() -> None:
    v = np.arange(64, dtype=float).reshape(4, 4, 4)
    mean, frac = block_average(v, 2)
    assert mean.shape == (2, 2, 2) and frac.min() == 1.0
    assert mean[0, 0, 0] == pytest.approx(np.mean(v[:2, :2, :2]))
    mean, frac = block_average(v, 3, mask=v < 10)  # padded to 6³
    assert mean.shape == (2, 2, 2)
    sub = v[:3, :3, :3]
    assert mean[0, 0, 0] == pytest.approx(np.mean(sub[sub < 10]))  # 35 / 8
    assert frac[0, 0, 0] == pytest.approx(8 / 27)
    assert np.isnan(mean[1, 1, 1])


def test_micro_ct_phantoms() -> None:
    img, mask, bvtv = rod_lattice(rods=3, width=2, period=5, height=10)
    assert bvtv == pytest.approx(0.16) and mask.mean() == pytest.approx(0.16)
    assert img.shape == (10, 15, 15) and img.array[mask].min() == 1000
    img2, mask2 = random_core(shape=(24, 24, 24), bvtv=0.3, smoothing=2.0)
    assert img2.shape == (24, 24, 24) and img2.spacing == (0.02, 0.02, 0.02)
    assert 0.2 < mask2.mean() <= 0.3 + 1e-12
    assert np.array_equal(largest_component(mask2), mask2)
    again = random_core(shape=(24, 24, 24), bvtv=0.3, smoothing=2.0)[1]
    assert np.array_equal(again, mask2)  # deterministic
