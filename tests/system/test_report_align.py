"""``bonefem report --align``: the common x axis, anchoring of later-starting runs, events,
labels, fitted y ranges and the plotted series CSV, on small synthetic run folders."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bonefem.cli import main
from bonefem.output.run_folder import MetricsLog
from bonefem.report import _fit_ylim, make_report

pytestmark = pytest.mark.serial

Y = 365.25


def _run(folder: Path, name: str, fmp_days: float, age: float, loss: list[float], **bio) -> Path:
    """A run folder whose BMD falls by ``loss`` (%) at its rows (quarterly)."""
    run = folder / name
    run.mkdir()
    case = {
        "run": {"name": name, "description": f"{name} described"},
        "biology": {
            "age_at_start_years": age,
            "estrogen": {"menopause": "natural", "menopause_time_days": fmp_days},
            **bio,
        },
    }
    (run / "case_resolved.json").write_text(json.dumps(case))
    (run / "manifest.json").write_text(json.dumps({"case": name, "wall_time_s": 1.0}))
    cols = ["time_days", "time_years", "bmd_vol_mean_pct_change", "abmd_pct_change"]
    cols += ["bmd_vol_mean_trabecular_pct_change", "fracture_risk_index", "failure_load"]
    log = MetricsLog(run, cols)
    for k, pct in enumerate(loss):
        log.append(
            {"time_days": k * Y / 4, "time_years": k / 4, "bmd_vol_mean_pct_change": pct,
             "abmd_pct_change": pct, "bmd_vol_mean_trabecular_pct_change": 1.5 * pct,
             "fracture_risk_index": 0.3 * (1 - pct / 100) ** -2,
             "failure_load": 5000.0 * (1 + pct / 100) ** 2}
        )  # fmt: skip
    return run


def _untreated(n: int, start_quarter: int) -> list[float]:
    """Loss of 1 %/quarter from quarter 4 (one year before an FMP at quarter 8) on."""
    return [-1.0 * max(0, k + start_quarter - 4) for k in range(n)]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The two run folders (read-only for the tests: each report goes to its own folder)."""
    tmp_path = tmp_path_factory.mktemp("runs")
    untreated = _run(tmp_path, "untreated", 2 * Y, 49.0, _untreated(13, 0))  # x -2 .. +1
    # starts at the FMP from the healthy state: own changes from 0, then treated after 0.5 y
    own = [0.0, -1.0, -1.5, -1.0, -0.5]
    treated = _run(
        tmp_path, "treated", 0.0, 51.0, own, denosumab=[{"start_days": Y / 2, "stop_days": None}]
    )
    return [untreated, treated]


@pytest.fixture(scope="module")
def time_report(runs: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report aligned by time (the default), read by two tests."""
    return make_report(runs, tmp_path_factory.mktemp("time") / "rep", render=False)


def _series(out: Path, stem: str = "bmd_change") -> pd.DataFrame:
    return pd.read_csv(out / f"{stem}.csv")


def test_aligned_by_menopause_a_later_run_starts_on_the_earlier_curve(
    runs: list[Path], tmp_path: Path
) -> None:
    out = make_report(runs, tmp_path / "rep", render=False, align="menopause")
    df = _series(out)
    panel = df[df["panel"] == "Volumetric BMD, trabecular"]
    untreated = panel[panel["label"] == "untreated described"]
    treated = panel[panel["label"] == "treated described"]
    assert list(untreated["x_years"])[:2] == [-2.0, -1.75]
    assert list(treated["x_years"]) == [0.0, 0.25, 0.5, 0.75, 1.0]
    # the untreated run has lost 1.5 x 4 % by the FMP: the treated run starts there
    at_fmp = float(untreated.loc[untreated["x_years"] == 0.0, "y"].iloc[0])
    assert at_fmp == pytest.approx(-6.0)
    assert float(treated["y"].iloc[0]) == pytest.approx(at_fmp)
    # chained multiplicatively, its own values kept beside
    assert list(treated["y_run"]) == pytest.approx([0.0, -1.5, -2.25, -1.5, -0.75])
    expected = ((1 - 0.06) * (1 + treated["y_run"] / 100) - 1) * 100
    assert np.allclose(treated["y"], expected)
    assert (treated["anchor_factor"] != 1.0).all() and (untreated["anchor_factor"] == 1.0).all()
    # absolute series are scaled onto the reference the same way
    risk = _series(out, "fracture_risk")
    fri = risk[risk["panel"].str.startswith("Fracture risk")]
    ref = fri[(fri["label"] == "untreated described") & (fri["x_years"] == 0.0)]["y"].iloc[0]
    assert fri[fri["label"] == "treated described"]["y"].iloc[0] == pytest.approx(ref)
    summary = (out / "summary.md").read_text()
    assert "aligned by **menopause**" in summary and "anchored on *untreated described*" in summary
    assert "denosumab +0.50 y" in summary and "menopause +0.00 y" in summary
    page = (out / "summary.html").read_text()
    assert page.count("<table>") == 1 and '<img src="bmd_change.png"' in page
    assert "<em>untreated described</em>" in page and page.count("<ul>") == 1


def test_without_anchoring_and_by_time_the_runs_keep_their_own_values(
    runs: list[Path], tmp_path: Path, time_report: Path
) -> None:
    out = make_report(runs, tmp_path / "a", render=False, align="menopause", anchor=False)
    df = _series(out)
    assert (df["y"] == df["y_run"]).all() and (df["anchor_factor"] == 1.0).all()
    df = _series(time_report)  # align time: no anchoring
    assert df["x_years"].min() == 0.0 and (df["y"] == df["y_run"]).all()


def test_aligned_by_age_and_by_therapy(runs: list[Path], tmp_path: Path) -> None:
    out = make_report(runs, tmp_path / "age", render=False, align="age")
    df = _series(out)
    assert df[df["label"] == "untreated described"]["x_years"].min() == 49.0
    assert df[df["label"] == "treated described"]["x_years"].min() == 51.0
    out = make_report(runs[1:], tmp_path / "th", render=False, align="therapy")
    assert _series(out)["x_years"].min() == -0.5


def test_a_run_without_the_event_is_a_clear_error(
    runs: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", *map(str, runs), "--align", "therapy", "--no-render"]) == 2
    err = capsys.readouterr().err.strip()
    assert "untreated" in err and "--align therapy" in err and "no therapy course" in err
    assert "\n" not in err


def test_repeated_abmd_panel_is_left_out_with_the_reason(time_report: Path) -> None:
    out = time_report
    assert not _series(out)["panel"].str.startswith("Areal").any()
    assert "aBMD panel is left out" in (out / "summary.md").read_text()


def test_labels_fall_back_to_names_and_can_be_given(runs: list[Path], tmp_path: Path) -> None:
    out = make_report(runs, tmp_path / "rep", render=False, labels=["A", "B"])
    assert set(_series(out)["label"]) == {"A", "B"}
    assert main(["report", *map(str, runs), "--no-render", "--label", "only one"]) == 2


def test_y_range_fits_the_data() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [0.30, 0.32])
    ax.axhline(1.0)
    _fit_ylim(ax, [np.array([0.30, 0.32, np.nan])], percent=False)
    lo, hi = ax.get_ylim()
    assert 0.29 < lo < 0.30 and 0.32 < hi < 0.33
    plt.close(fig)


def test_no_anchoring_onto_a_treated_history(runs: list[Path], tmp_path: Path) -> None:
    hrt = _run(tmp_path, "hrt", 2 * Y, 49.0, [0.0] * 13, hrt=[{"start_days": 0.0}])
    out = make_report([hrt, runs[1]], tmp_path / "rep", render=False, align="menopause")
    df = _series(out)
    assert (df["anchor_factor"] == 1.0).all() and (df["y"] == df["y_run"]).all()
    assert "anchored" not in (out / "summary.md").read_text()


def test_no_anchoring_onto_another_bone(runs: list[Path], tmp_path: Path) -> None:
    """A vertebra's curve is not continued from a femur's: runs of different meshes (the
    manifests' mesh sources) keep their own values under --align menopause."""
    femur = tmp_path / "femur"
    import shutil

    shutil.copytree(runs[0], femur)
    for run, source in ((femur, "femur(refine=1.0)"), (tmp_path / "vert", "vertebra(refine=1.0)")):
        if run.name == "vert":
            shutil.copytree(runs[1], run)
        manifest = json.loads((run / "manifest.json").read_text())
        manifest["mesh"] = {"source": source}
        (run / "manifest.json").write_text(json.dumps(manifest))
    out = make_report([femur, tmp_path / "vert"], tmp_path / "rep", render=False, align="menopause")
    df = _series(out)
    assert (df["anchor_factor"] == 1.0).all() and (df["y"] == df["y_run"]).all()
    assert "anchored" not in (out / "summary.md").read_text()


def test_a_run_stopped_at_its_start_is_reported_as_such(tmp_path: Path) -> None:
    """One row (stopped at t = 0): the summary says "stopped" and gives no rate per year
    (was +nan), and the figures draw without matplotlib's identical-limits warning."""
    import warnings

    run = _run(tmp_path, "early", 2 * Y, 49.0, [0.0])
    manifest = json.loads((run / "manifest.json").read_text())
    (run / "manifest.json").write_text(json.dumps({**manifest, "status": "stopped"}))
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        out = make_report([run], tmp_path / "rep", render=True)
    row = next(ln for ln in (out / "summary.md").read_text().splitlines() if "| early" in ln)
    assert "| 0.00 (stopped) |" in row and "| – |" in row and "nan" not in row
