"""Report figures and the progress line with metrics rows whose test columns are NaN
(``metrics.tests_every_days``: the virtual tests run only in some rows)."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import numpy as np
import pytest

from bonefem.output.run_folder import MetricsLog
from bonefem.progress import Progress
from bonefem.report import _plot, make_report

pytestmark = pytest.mark.serial

NAN = float("nan")


def rows() -> list[dict[str, float]]:
    """Quarterly rows over 2 years, tests every other row and at the end."""
    out = []
    for k in range(9):
        tested = k % 2 == 0 or k == 8
        stiffness = 1000.0 * (1.0 - 0.01 * k)
        out.append(
            {
                "time_days": k * 91.3125,
                "time_years": k / 4.0,
                "bmd_vol_mean_trabecular": 0.2,
                "bmd_vol_mean_trabecular_pct_change": -0.5 * k,
                "abmd": 0.9,
                "apparent_stiffness": stiffness if tested else NAN,
                "failure_load": 3000.0 - 10.0 * k if tested else NAN,
                "fracture_risk_index": 0.8 + 0.01 * k if tested else NAN,
                "tests_evaluated": 1.0 if tested else 0.0,
                "abmd_pct_change": -0.4 * k,
                "apparent_stiffness_pct_change": -1.0 * k if tested else NAN,
                "failure_load_pct_change": -0.3 * k if tested else NAN,
            }
        )
    return out


def test_plot_drops_nan_points_so_the_line_is_continuous() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    x = np.arange(5.0)
    _plot(ax, x, np.array([1.0, NAN, 3.0, NAN, 5.0]))
    _plot(ax, x, np.array([NAN, NAN, 2.0, NAN, NAN]))
    _plot(ax, x, 2.0 * x)
    line, single, full = ax.get_lines()
    assert np.asarray(line.get_xdata()).tolist() == [0.0, 2.0, 4.0]
    assert np.asarray(line.get_ydata()).tolist() == [1.0, 3.0, 5.0]
    # series with gaps show their points (a single point is visible at all)
    assert line.get_marker() == "o" and single.get_marker() == "o"
    assert full.get_marker() in (None, "None", "")
    plt.close(fig)


def test_report_of_a_run_with_nan_test_rows(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    data = rows()
    log = MetricsLog(run, list(data[0]))
    for row in data:
        log.append(row)
    assert ",nan," in (run / "metrics.csv").read_text()  # how metrics.csv writes NaN
    (run / "manifest.json").write_text(json.dumps({"case": "cadence", "wall_time_s": 1.0}))
    out = make_report([run], tmp_path / "report", render=False)
    for stem in ("stiffness_change", "fracture_risk", "bmd_change"):
        assert (out / f"{stem}.png").stat().st_size > 10_000
    summary = (out / "summary.md").read_text()
    # the last and first evaluated values, not NaN
    assert "| -8.00 |" in summary and "0.800 → 0.880" in summary, summary
    assert "nan" not in summary.split("## Figures")[0].lower(), summary


def test_progress_keeps_the_last_test_values_through_nan_rows(caplog) -> None:
    caplog.set_level(logging.INFO, logger="bonefem.progress")
    data = rows()
    with Progress(730.5, interval=1e9) as bar:
        assert not bar.tty
        for row in data[2:4]:  # with tests, then without
            bar.update(row["time_days"], 1, row)
    assert math.isnan(data[3]["apparent_stiffness_pct_change"])
    last = caplog.records[-1].getMessage()
    assert "aBMD -1.20%" in last and "K -2.00%" in last and "FRI 0.820" in last, last


def test_labels_name_the_command_line_changes_of_a_run() -> None:
    """A run changed by ``--set`` is not labelled as its case file describes it (a 5-year
    run of a 10-year case); output settings are left out; names decide when the
    descriptions do not tell the runs apart."""
    from bonefem.report_align import labels

    folders = [Path("a"), Path("b")]
    cases = [{"run": {"description": "menopause, 10 years"}}] * 2
    got = labels(
        folders,
        cases,
        ["x", "y"],
        [["run.duration_days=1826.25"], ["output.fields_every_days=365.25"]],
    )
    assert got == ["menopause, 10 years (--set run.duration_days)", "menopause, 10 years"]
    many = [["a.b=1", "c.d=2", "e.f=3", "g.h=4"], []]
    assert labels(folders, cases, ["x", "y"], many)[0].endswith("(--set a.b, c.d, e.f, ...)")
    assert labels(folders, cases, ["x", "y"]) == ["x", "y"]  # same descriptions: the names


@pytest.mark.parametrize("cells", [True, False])
def test_turnover_figure_only_for_runs_with_the_turnover_columns(
    tmp_path: Path, cells: bool
) -> None:
    """A cell-law run's report draws formation and resorption (the model's P1NP and CTX),
    with the run's own values; a run without them (the Huiskes law) has no such figure."""
    run = tmp_path / "run"
    run.mkdir()
    data = rows()
    for k, row in enumerate(data):
        if cells:
            row["bone_formation_rate_pct_change"] = -10.0 * k
            row["bone_resorption_rate_pct_change"] = 5.0 * k
    log = MetricsLog(run, list(data[0]))
    for row in data:
        log.append(row)
    (run / "manifest.json").write_text(json.dumps({"case": "turnover", "wall_time_s": 1.0}))
    out = make_report([run], tmp_path / "report", render=False)
    assert (out / "turnover.png").exists() is cells
    if cells:
        series = (out / "turnover.csv").read_text()
        assert "-80" in series and "40" in series, series
