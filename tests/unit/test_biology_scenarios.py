"""0-D scenarios: each hormone change and therapy moves bone in its expected direction."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pytest

from bonefem.biology.calibrated import CALIBRATED
from bonefem.biology.signals import (
    BisphosphonateConfig,
    DenosumabConfig,
    EstrogenConfig,
    GlucocorticoidConfig,
    HRTConfig,
    InflammationConfig,
    PTHConfig,
    ScenarioConfig,
    TeriparatideConfig,
    TRTConfig,
)
from bonefem.biology.signals import TestosteroneConfig as TConfig
from bonefem.biology.zerod import RunConfig, cli_main, load_zero_d_case, run_zero_d

YEAR = 365.25
RUN = RunConfig(step_days=28.0)
LS = "abmd_change_pct_lumbar_spine"
CASES = Path(__file__).resolve().parents[2] / "cases" / "biology"


def _meno(**kw) -> ScenarioConfig:
    return ScenarioConfig(
        estrogen=EstrogenConfig(menopause="natural", menopause_time_days=YEAR), **kw
    )


@pytest.fixture(scope="module")
def menopause():
    return run_zero_d(_meno(), 8 * YEAR, run=RUN)


def test_healthy_no_drift_30_years() -> None:
    """The healthy adult stays at steady state for decades (calibration-data.md): 20 to 50
    years of age, before the age-related loss (bonefem.biology.agents.aging) begins."""
    r = run_zero_d(
        ScenarioConfig(age_at_start_years=20.0), 30 * YEAR, run=RunConfig(step_days=60.0)
    )
    assert abs(r[LS][-1]) < 0.1
    assert abs(r["bvtv_change_pct_trab"][-1]) < 0.1


@pytest.mark.parametrize("sex", ["female", "male"])
def test_age_related_loss_begins_at_its_onset_and_accelerates(
    sex: Literal["female", "male"],
) -> None:
    """Premenopausal hormones (or T = 1) from 50 to 90: no loss before the fitted onset
    (``age_onset_years``, about 60), then a loss that accelerates (the rate grows about as
    age - onset: 85-90 at least 2.5 times 67-72)."""
    r = run_zero_d(
        ScenarioConfig(sex=sex, age_at_start_years=50.0), 40 * YEAR, run=RunConfig(step_days=60.0)
    )
    hip = "abmd_change_pct_total_hip"
    onset = CALIBRATED.age_onset_years
    assert abs(r.at(hip, (onset - 50.0 - 0.5) * YEAR)) < 1e-6
    early = r.at(hip, 22 * YEAR) - r.at(hip, 17 * YEAR)
    late = r.at(hip, 40 * YEAR) - r.at(hip, 35 * YEAR)
    assert early < 0.0 and late < 2.5 * early


def test_age_factor_shape() -> None:
    """1 up to the onset, 1 + c_age at 80 years, quadratic in between; an onset at or above
    80 is refused."""
    from bonefem.biology.agents.aging import age_factor

    assert age_factor(55.0, 0.2, 60.0) == 1.0
    assert age_factor(60.0, 0.2, 60.0) == 1.0
    assert age_factor(80.0, 0.2, 60.0) == pytest.approx(1.2, abs=1e-15)
    assert age_factor(70.0, 0.2, 60.0) == pytest.approx(1.05, abs=1e-15)
    with pytest.raises(ValueError, match="below 80"):
        age_factor(70.0, 0.2, 80.0)


def test_estrogen_loss_causes_loss(menopause) -> None:
    assert menopause.at(LS, 6 * YEAR) < -3.0
    assert menopause.at("OCa_pM_trab", 2 * YEAR) > 1.1 * menopause["OCa_pM_trab"][0]


def test_surgical_faster_than_natural(menopause) -> None:
    surg = run_zero_d(
        ScenarioConfig(estrogen=EstrogenConfig(menopause="surgical", menopause_time_days=YEAR)),
        2 * YEAR,
        run=RUN,
    )
    assert surg.at(LS, 2 * YEAR) < menopause.at(LS, 2 * YEAR)


def test_hrt_prevents_most_loss(menopause) -> None:
    r = run_zero_d(_meno(hrt=[HRTConfig(start_days=YEAR)]), 6 * YEAR, run=RUN)
    assert r.at(LS, 6 * YEAR) > 0.5 * menopause.at(LS, 6 * YEAR)


def test_denosumab_gain_then_rebound(menopause) -> None:
    start = 3 * YEAR
    dmab = DenosumabConfig(start_days=start, stop_days=start + 2 * YEAR)
    r = run_zero_d(_meno(denosumab=[dmab]), 8 * YEAR, run=RUN)
    assert r.at(LS, start + 2 * YEAR) > r.at(LS, start) + 2.0
    assert r.at("OCa_pM_trab", start + 0.5 * YEAR) < 0.7 * menopause.at(
        "OCa_pM_trab", start + 0.5 * YEAR
    )
    # discontinuation: faster loss than placebo over the following 2 years
    after = r.at(LS, start + 4.5 * YEAR) - r.at(LS, start + 2.5 * YEAR)
    placebo = menopause.at(LS, start + 4.5 * YEAR) - menopause.at(LS, start + 2.5 * YEAR)
    assert after < placebo


def test_bisphosphonate_gain(menopause) -> None:
    start = 3 * YEAR
    bp = BisphosphonateConfig(start_days=start, stop_days=start + 3 * YEAR)
    r = run_zero_d(_meno(bisphosphonate=[bp]), start + 3 * YEAR, run=RUN)
    assert r.at(LS, start + 3 * YEAR) - r.at(LS, start) > 1.0
    assert r.at(LS, start + 3 * YEAR) > menopause.at(LS, start + 3 * YEAR) + 2.0


def test_pth_continuous_loss_intermittent_gain() -> None:
    cont = run_zero_d(ScenarioConfig(pth=PTHConfig(continuous_excess_fold=3.0)), 3 * YEAR, run=RUN)
    inter = run_zero_d(
        ScenarioConfig(teriparatide=[TeriparatideConfig(start_days=0.0, stop_days=3 * YEAR)]),
        3 * YEAR,
        run=RUN,
    )
    assert cont[LS][-1] < -1.0
    assert inter[LS][-1] > 1.0


def test_glucocorticoid_loss() -> None:
    r = run_zero_d(
        ScenarioConfig(glucocorticoid=[GlucocorticoidConfig(dose_mg_per_day=7.5)]),
        3 * YEAR,
        run=RUN,
    )
    assert r[LS][-1] < -1.0


def test_andropause_loss_and_trt() -> None:
    t = TConfig(andropause=True, decline_per_year=0.05, floor=0.3)
    andro = run_zero_d(ScenarioConfig(sex="male", testosterone=t), 10 * YEAR, run=RUN)
    trt = run_zero_d(
        ScenarioConfig(sex="male", testosterone=t, trt=[TRTConfig(start_days=4 * YEAR)]),
        10 * YEAR,
        run=RUN,
    )
    assert andro[LS][-1] < -1.0
    assert trt[LS][-1] > andro[LS][-1] + 1.0


def test_inflammation_loss() -> None:
    r = run_zero_d(
        ScenarioConfig(inflammation=[InflammationConfig(cytokine_increase=2.0)]), 3 * YEAR, run=RUN
    )
    assert r[LS][-1] < -0.5


def test_all_case_files_load() -> None:
    files = sorted(CASES.glob("*.toml"))
    assert len(files) >= 13
    for f in files:
        load_zero_d_case(f)


def test_cli_writes_csv_and_figure(tmp_path) -> None:
    assert cli_main(["healthy", "--output", str(tmp_path), "--years", "1"]) == 0
    csv_text = (tmp_path / "healthy.csv").read_text().splitlines()
    assert csv_text[0].startswith("time_days,time_years")
    assert (tmp_path / "healthy.png").stat().st_size > 10_000
    assert cli_main([str(tmp_path / "missing.toml")]) == 2


@pytest.mark.parametrize(
    ("years", "allowed"), [("-1", "greater than 0"), ("1e6", "less than or equal to 100")]
)
def test_cli_years_override_obeys_the_field_bounds(
    tmp_path, capsys, years: str, allowed: str
) -> None:
    """``--years`` goes through ``run.duration_years``'s bounds: exit 2 with the option, the
    field, the value and what is allowed (was: a traceback for -1, an endless run for 1e6)."""
    assert cli_main(["healthy", "--output", str(tmp_path), "--years", years]) == 2
    out = capsys.readouterr().out
    assert "--years" in out and "run.duration_years" in out and allowed in out
    assert f"value {float(years)!r}" in out
    assert not any(tmp_path.iterdir())  # nothing written
