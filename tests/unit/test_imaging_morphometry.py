"""Morphometry: BV/TV, BS/BV, plate-model and direct (local thickness) Tb.Th, Tb.Sp."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bonefem.errors import InputError
from bonefem.imaging.morphometry import local_radius, local_thickness, morphometry
from bonefem.imaging.phantoms import random_core, rod_lattice

pytestmark = pytest.mark.serial


def test_parallel_plates_exact() -> None:
    # plates normal to z: 3 voxels thick, 5 voxels apart (period 8), 20 µm voxels
    h, t, gap = 0.02, 3, 5
    nz = 4 * (t + gap)
    k = np.arange(nz)
    plate = ((k % (t + gap)) >= 2) & ((k % (t + gap)) < 2 + t)
    mask = np.broadcast_to(plate[:, None, None], (nz, 16, 16))
    r = morphometry(mask, (h, h, h))
    assert r.bv_tv == pytest.approx(3 / 8)
    side = 16 * h
    assert r.bs == pytest.approx(4 * 2 * side**2, rel=1e-6)  # two faces per plate (VTK float32)
    assert r.tb_th_plate == pytest.approx(t * h, rel=1e-6)
    assert r.tb_sp_plate == pytest.approx(gap * h, rel=1e-6)
    assert r.bs_bv == pytest.approx(2 / (t * h), rel=1e-6)


def test_rods_bvtv_and_surface() -> None:
    _, mask, bvtv = rod_lattice(rods=3, width=4, period=8, height=10)
    mask = np.roll(mask, 2, axis=(1, 2))  # rods inside the volume, not on its faces
    r = morphometry(mask, (0.01, 0.01, 0.01))
    assert r.bv_tv == pytest.approx(bvtv)
    # square rods with chamfered corners: perimeter 4 (a − 1) h + 4 h/√2 per rod
    per = 4 * 3 * 0.01 + 4 * 0.01 / np.sqrt(2)
    assert r.bs == pytest.approx(9 * per * 10 * 0.01, rel=1e-6)
    with pytest.raises(InputError):
        morphometry(np.zeros((3, 3, 3), bool), (1.0, 1.0, 1.0))
    with pytest.raises(InputError, match="no bone surface"):
        morphometry(np.ones((3, 3, 3), bool), (1.0, 1.0, 1.0))


# --- direct (Hildebrand & Rüegsegger 1997) thickness ------------------------------------
# Tolerance: one voxel size h (+1e-6 h for rounding) for plates and for rods and spheres
# centred on a voxel centre; 1.5 h for rods and spheres off the grid; 2 h for a sphere
# centred on a voxel corner (the voxel-centred spheres overshoot a flat face by h/2 and
# undershoot a curved staircase, docs/imaging.md).
ONE = 1.000001


def _plates(t: int, gap: int, n: int = 3, side: int = 8) -> np.ndarray:
    # plates normal to z, the box faces in the middle of a gap (so the plate model's BS
    # sees every plate face)
    k = np.arange(n * (t + gap))
    plate = ((k - gap // 2) % (t + gap)) < t
    return np.broadcast_to(plate[:, None, None], (k.size, side, side)).copy()


@pytest.mark.parametrize(("t", "gap"), [(3, 6), (4, 5), (5, 8)])
def test_direct_plates_match_thickness_and_plate_model(t: int, gap: int) -> None:
    h = 0.02
    mask = _plates(t, gap)
    r = morphometry(mask, (h, h, h), boundary="periodic")
    assert r.tb_th is not None and r.tb_sp is not None and r.tb_n is not None
    assert r.thickness is not None and r.separation is not None
    # 2 d h: t + 1 voxels for odd t, t for even t
    assert r.tb_th == pytest.approx((t + t % 2) * h)
    assert r.tb_sp == pytest.approx((gap + gap % 2) * h)
    assert abs(r.tb_th - t * h) <= ONE * h and abs(r.tb_sp - gap * h) <= ONE * h
    assert r.tb_th_sd == pytest.approx(0.0, abs=1e-12)
    assert r.thickness.exact and r.separation.exact
    assert r.tb_n == pytest.approx(1.0 / (r.tb_th + r.tb_sp))
    # the plate model is exact on plates: both agree within one voxel
    assert abs(r.tb_th - r.tb_th_plate) <= ONE * h
    assert abs(r.tb_sp - r.tb_sp_plate) <= ONE * h
    assert sum(r.thickness.counts) == mask.sum() == r.thickness.voxels


def _rod(diameter: float, offset: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    n = int(diameter) + 6
    y, x = np.mgrid[:n, :n]
    c = (n - 1) / 2
    disk = (x - c - offset[1]) ** 2 + (y - c - offset[0]) ** 2 <= (diameter / 2) ** 2
    return np.broadcast_to(disk, (6, n, n)).copy()


@pytest.mark.parametrize("d", [7.0, 9.0, 13.0])
def test_direct_rod_gives_its_diameter_plate_model_half(d: float) -> None:
    h = 0.01
    for offset, tol in [((0.0, 0.0), ONE), ((0.3, 0.1), 1.5), ((0.5, 0.5), 1.5)]:
        rod = _rod(d, offset)
        tmap, _, exact = local_thickness(rod, (h, h, h), boundary="replicate", max_levels=None)
        assert exact
        assert abs(tmap[rod].mean() - d * h) <= tol * h, offset
    r = morphometry(_rod(d), (h, h, h), boundary="replicate")
    assert r.tb_th is not None
    assert abs(r.tb_th - d * h) <= ONE * h
    # cylinder: 2 BV/BS = d/2 -- the plate model halves a rod's thickness (why the direct
    # method is the standard); the voxel staircase makes BS a little larger still
    assert r.tb_th_plate == pytest.approx(d * h / 2, rel=0.15)
    assert r.tb_th_plate < 0.6 * r.tb_th


@pytest.mark.parametrize("d", [7.0, 11.0])
def test_direct_sphere_gives_its_diameter(d: float) -> None:
    h = 0.01
    n = int(d) + 4
    z, y, x = np.mgrid[:n, :n, :n]
    c = (n - 1) / 2
    # centred on a voxel corner: the worst case measured, -1.62 h at d = 11 h
    for off, tol in [((0.0, 0.0, 0.0), ONE), ((0.25, 0.4, 0.1), 1.5), ((0.5, 0.5, 0.5), 2.0)]:
        ball = (x - c - off[2]) ** 2 + (y - c - off[1]) ** 2 + (z - c - off[0]) ** 2 <= d * d / 4
        tmap, _, _ = local_thickness(ball, (h, h, h), boundary="background", max_levels=None)
        assert abs(tmap[ball].mean() - d * h) <= tol * h, off
        assert np.all(tmap[~ball] == 0.0)


# continuum mean local thickness of a square of side a (corner points lie only in the
# smaller circles tangent to two sides): 0.92847 a
SQUARE_MEAN = 0.9284673


def test_direct_rod_lattice_converges_under_refinement() -> None:
    a_mm, g_mm = 0.08, 0.12  # rod width, gap (period 0.2 mm)
    errors = []
    for k in (1, 2, 3):
        h = 0.02 / k
        _, mask, bvtv = rod_lattice(rods=3, width=4 * k, period=10 * k, height=2, spacing=h)
        r = morphometry(mask, (h, h, h), boundary="periodic")
        assert r.bv_tv == pytest.approx(bvtv)
        assert r.tb_th is not None and r.tb_sp is not None
        assert r.thickness is not None and r.separation is not None
        errors.append(abs(r.tb_th - SQUARE_MEAN * a_mm))
        assert errors[-1] <= h
        assert r.thickness.max == pytest.approx(a_mm)  # the inscribed square's circle
        # marrow: channels of width g, the circle through four rod corners g√2
        assert g_mm - h <= r.tb_sp <= g_mm * np.sqrt(2)
        assert r.separation.max == pytest.approx(g_mm * np.sqrt(2), abs=h)
        # the plate model gives less than the rods' thickness
        assert r.tb_th_plate < 0.7 * r.tb_th
    assert errors[2] < errors[0]
    assert errors[2] < 0.6 * 0.02 / 3


def test_direct_painting_equals_levels_and_levels_are_a_lower_bound() -> None:
    _, mask = random_core(shape=(40, 40, 40), bvtv=0.3, smoothing=1.5)
    marrow = np.pad(~mask, 1)
    # all distinct radii by distance transforms only, against the default (ridge painting)
    exact, n_all, ok = local_radius(marrow, max_levels=None, paint_budget=0.0)
    painted, _, ok1 = local_radius(marrow, max_levels=None)
    assert ok and ok1 and n_all > 20
    np.testing.assert_array_equal(painted, exact)
    mixed, n_mixed, ok2 = local_radius(marrow, max_levels=None, paint_budget=3.0)
    assert ok2 and 0 < n_mixed < n_all
    np.testing.assert_array_equal(mixed, exact)
    # small ball tables (radius 3): larger centres unreduced, larger radii by levels
    import bonefem.imaging.morphometry as morpho

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(morpho, "BALL_TABLE_MAX", 9)
        capped, n_capped, ok4 = local_radius(marrow, max_levels=None)
    assert ok4 and n_capped > 0
    np.testing.assert_array_equal(capped, exact)
    # quantised levels: rounded down, never up
    rough, n, ok3 = local_radius(marrow, max_levels=12, paint_budget=0.0)
    assert not ok3 and n == 12
    assert np.all(rough <= exact + 1e-12)
    assert rough[marrow].mean() > 0.85 * exact[marrow].mean()


def test_direct_refuses_bad_input() -> None:
    mask = _plates(3, 3)
    with pytest.raises(InputError, match="isotropic"):
        morphometry(mask, (0.02, 0.02, 0.03))
    r = morphometry(mask, (0.02, 0.02, 0.03), direct=False)  # plate model only: fine
    assert r.tb_th is None
    with pytest.raises(InputError, match="no marrow"):
        morphometry(mask, (0.02,) * 3, envelope=mask)
    # an envelope: TV = envelope ∪ bone, marrow only inside it
    env = np.zeros_like(mask)
    env[:, :4, :] = True
    r2 = morphometry(mask, (0.02,) * 3, envelope=env)
    assert r2.tv == pytest.approx(np.count_nonzero(env | mask) * 0.02**3)
    assert r2.separation is not None
    assert r2.separation.voxels == np.count_nonzero(env & ~mask)
    with pytest.raises(InputError, match="fills the whole volume"):
        local_thickness(np.ones((4, 4, 4), bool), (1.0, 1.0, 1.0), boundary="replicate")
    with pytest.raises(InputError, match="non-empty"):
        local_thickness(np.zeros((4, 4, 4), bool), (1.0, 1.0, 1.0))


def test_command_morphometry_prints_and_writes(tmp_path: Path, capsys) -> None:
    from bonefem.imaging.command import main
    from bonefem.imaging.image import read_image

    img = tmp_path / "rods.mha"
    assert main(["phantom", "rods", "-o", str(img)]) == 0  # 2-voxel rods, period 5, 20 µm
    capsys.readouterr()
    js, th = tmp_path / "m.json", tmp_path / "th.nii.gz"
    argv = ["morphometry", str(img), "--threshold", "500", "--boundary", "periodic"]
    assert main([*argv, "--json", str(js), "--thickness-image", str(th)]) == 0
    out = capsys.readouterr().out
    assert "BV/TV  0.1600" in out and "Tb.Th  0.0400 mm" in out and "Tb.N" in out
    d = json.loads(js.read_text())
    assert d["indices"]["BV/TV"] == pytest.approx(0.16)
    assert d["indices"]["Tb.Th"] == pytest.approx(0.04)  # 2 voxels
    # gap of 3 voxels: the sphere through the four rod corners, 2 √8 voxels (continuum 3 √2)
    assert d["indices"]["Tb.Sp"] == pytest.approx(2 * np.sqrt(8) * 0.02)
    assert sum(d["thickness"]["counts"]) == d["thickness"]["voxels"] == 9 * 4 * 20
    t = read_image(th)
    assert t.spacing == pytest.approx((0.02, 0.02, 0.02))
    assert float(np.max(t.array)) == pytest.approx(0.04)
    assert np.count_nonzero(t.array) == 9 * 4 * 20
    labels = str(tmp_path / "rods-labels.mha")
    assert main(["morphometry", str(img), "--labels", labels, "--plate-only"]) == 0
    assert "plate model 2 BV/BS" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["morphometry", "missing.mha", "--threshold", "500"], "no such image"),
        (["morphometry", "{img}"], "exactly one of --labels or --threshold"),
        (["morphometry", "{img}", "--threshold", "99999"], "no voxel is within"),
        (["morphometry", "{img}", "--labels", "{lab}", "--bone-label", "7"], "no bone"),
        (["morphometry", "{img}", "--threshold", "500", "--envelope", "{lab}"], "no marrow"),
        (
            ["morphometry", "{img}", "--threshold", "500", "--spacing", "0.02", "0.02", "0.04"],
            "isotropic",
        ),
    ],
)
def test_command_morphometry_bad_input_exit_2(tmp_path: Path, capsys, argv, message) -> None:
    from bonefem.imaging.command import main

    img = tmp_path / "rods.mha"
    assert main(["phantom", "rods", "-o", str(img)]) == 0
    capsys.readouterr()
    lab = tmp_path / "rods-labels.mha"
    assert main([a.format(img=img, lab=lab) for a in argv]) == 2
    assert message in capsys.readouterr().err
