"""The bundled FE vertebra meets the SWAN points it is calibrated on (issue 13, Must show).

``cases/menopause_vertebra.toml`` as bundled (L3 with posterior elements on the disc, the
FMP at 2 years, 10 years, one loop step a quarter) with the recorded constants, read as
``bonefem.calibration_fe`` and ``scripts/run_validation.py`` read it. The targets are
calibration data (shared/science/calibration-data.md): SWAN's lumbar-spine aBMD change over
FMP−2..FMP+8, −10.6 % (Greendale et al. 2012), within ±1 percentage point, and the three
lumbar-spine stage rates −1.7 / −3.3 / −1.1 %/y (Sowers et al. 2010), each within
±0.7 %/y. Recorded: −11.09 %, −1.29 / −2.64 / −0.69 %/y (December 2026). Fitted to the
total alone, the factor 0.829 gave −2.52 %/y after the FMP, and this test failed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bonefem import calibration_fe as fe
from bonefem.biology.calibrated import CALIBRATED

pytestmark = pytest.mark.serial


def test_the_bundled_vertebra_meets_every_swan_point_within_its_band(tmp_path: Path) -> None:
    values = fe.swan_for(CALIBRATED.fe_rankl_estrogen_factor, tmp_path)
    for name, (_, _, target, band, _) in fe.SWAN_POINTS.items():
        assert abs(values[name] - target) <= band, (name, values[name], target, band)
    # the fitted optimum, pinned to its recorded reading (the fit's tolerance on ln(factor),
    # 2e-3, moves the total by about 0.015 pp)
    assert values["total_10y"] == pytest.approx(-11.09, abs=0.03)
    assert values["rate_post"] == pytest.approx(-2.64, abs=0.01)
