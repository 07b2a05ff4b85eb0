"""The three vertebra cases (shortened, coarse mesh) aligned by menopause: denosumab's curve
starts on the untreated menopause curve, HRT follows it until the FMP and then keeps bone
(the plotted series are read back from the report's CSV)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bonefem
from bonefem.report import make_report

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.serial, pytest.mark.slow]

Y = 365.25


def _coarse_settings(folder: Path) -> Path:
    text = (ROOT / "meshes" / "vertebra_posterior.toml").read_text()
    text = text.replace("mesh_size = 3.5 ", "mesh_size = 6.0 ")
    text = text.replace("cortical_mesh_size = 1.5 ", "cortical_mesh_size = 2.5 ")
    text = text.replace("posterior_mesh_size = 2.5 ", "posterior_mesh_size = 4.0 ")
    path = folder / "coarse_vertebra.toml"
    path.write_text(text)
    return path


def test_vertebra_runs_aligned_by_menopause(tmp_path: Path) -> None:
    common = {
        "mesh.settings": str(_coarse_settings(tmp_path)),
        "run.biology_step_days": 30.0,
        "output.fields_every_days": 3 * Y,
    }
    runs = {
        "menopause": bonefem.run(  # FMP at 2 y: x = -2 .. +1
            "menopause_vertebra", output=tmp_path / "mv",
            overrides={**common, "run.duration_days": 3 * Y}),
        "hrt": bonefem.run(
            "hrt_vertebra", output=tmp_path / "hrt",
            overrides={**common, "run.duration_days": 3 * Y}),
        "denosumab": bonefem.run(  # FMP at 0: x = 0 .. 1, denosumab from x = 0.5
            "denosumab_vertebra", output=tmp_path / "dmab",
            overrides={**common, "run.duration_days": Y,
                       "biology.denosumab.0.start_days": Y / 2,
                       "biology.denosumab.0.stop_days": 2 * Y}),
    }  # fmt: skip
    out = make_report(
        [r.folder for r in runs.values()], tmp_path / "report", render=False, align="menopause"
    )
    series = pd.read_csv(out / "bmd_change.csv")
    trab = series[series["panel"] == "Volumetric BMD, trabecular"]
    by = {key: trab[trab["folder"] == str(r.folder)] for key, r in runs.items()}
    mv, hrt, dmab = by["menopause"], by["hrt"], by["denosumab"]
    assert mv["x_years"].iloc[0] == pytest.approx(-2.0) and dmab["x_years"].iloc[0] == 0.0
    # denosumab starts on the untreated menopause curve (not at 0 %)
    at_fmp = float(np.interp(0.0, mv["x_years"], mv["y"]))
    assert at_fmp < -1.0
    assert dmab["y"].iloc[0] == pytest.approx(at_fmp, abs=1e-9)
    assert dmab["y_run"].iloc[0] == 0.0  # its own baseline, kept in the CSV
    # HRT is the untreated run until the FMP, then keeps more bone
    before = hrt["x_years"] <= 0.0
    assert np.allclose(hrt["y"][before], mv["y"][before.to_numpy()], atol=1e-6)
    assert hrt["y"].iloc[-1] > mv["y"].iloc[-1] + 1.0
    # a year after the FMP, denosumab (from 0.5 y) has more bone than no treatment
    assert dmab["y"].iloc[-1] > mv["y"].iloc[-1]
    summary = (out / "summary.md").read_text()
    assert "anchored on *Idealised L3 vertebra, natural menopause (FMP at 2 years)" in summary
    risk = pd.read_csv(out / "fracture_risk.csv")
    fri = risk[risk["panel"].str.startswith("Fracture risk")]
    lo, hi = fri["y"].min(), fri["y"].max()
    assert 0.2 < lo < hi < 0.6  # the series the fitted axis shows
