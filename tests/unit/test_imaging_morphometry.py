"""Morphometry (BV/TV, BS/BV, plate-model Tb.Th/Tb.Sp) against parallel plates."""

from __future__ import annotations

import numpy as np
import pytest

from bonefem.errors import InputError
from bonefem.imaging.morphometry import morphometry
from bonefem.imaging.phantoms import rod_lattice

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
