"""The bonefem command line end to end, and every class of bad input.

Bad input must give one clear paragraph naming the file, the field and the value, exit
code 2, and no traceback.
"""

from __future__ import annotations

import csv
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from bonefem.cli import main
from tests.helpers.cases import MENOPAUSE, write_case

pytestmark = pytest.mark.serial


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["-q", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("cli")
    case = write_case(base, "cli_run", duration=365.25, biology=MENOPAUSE)
    assert main(["-q", "run", str(case), "--output", str(base / "run"), "--no-progress"]) == 0
    return base / "run"


def test_run_writes_a_complete_run_folder(finished_run: Path) -> None:
    for name in ("case.toml", "case_resolved.json", "manifest.json", "metrics.csv", "fields.pvd"):
        assert (finished_run / name).exists(), name
    with open(finished_run / "metrics.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert float(rows[-1]["time_days"]) == pytest.approx(365.25)
    for column in ("time_days", "bmd_vol_mean", "apparent_stiffness", "fracture_risk_index"):
        assert column in rows[0]
    assert "bmd_vol_mean_trabecular" in rows[0]
    import json

    manifest = json.loads((finished_run / "manifest.json").read_text())
    assert manifest["status"] == "finished"
    assert {"dolfinx", "petsc", "python", "allocator"} <= set(manifest["versions"])
    assert set(manifest["versions"]["kernels"]) == {"machine", "numpy_simd", "openblas_core"}
    assert manifest["wall_time_per_phase_s"]["mechanics"] > 0


def test_run_never_overwrites_a_run(capsys, finished_run: Path) -> None:
    case = finished_run / "case.toml"
    code, _, err = run_cli(capsys, "run", str(case), "--output", str(finished_run))
    assert code == 2
    assert "not empty" in err and "--restart" in err and "Traceback" not in err


def _columns(run: Path) -> dict[str, np.ndarray]:
    with open(run / "metrics.csv") as fh:
        rows = list(csv.DictReader(fh))
    return {k: np.array([float(r[k]) for r in rows]) for k in rows[0] if k != "case"}


def _line_data(ax) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(np.asarray(ln.get_xdata(), float), np.asarray(ln.get_ydata(), float))
            for ln in ax.get_lines() if ln.get_label() == "cli_run"]  # fmt: skip


def _assert_plots(ax, x: np.ndarray, y: np.ndarray, ylabel: str) -> None:
    """The axes' one run line is y(x) from metrics.csv (exactly), with the axis labels."""
    assert ax.get_xlabel() == "time from the start of the run (years)"
    assert ax.get_ylabel() == ylabel
    (line,) = _line_data(ax)
    np.testing.assert_array_equal(line[0], x)
    np.testing.assert_allclose(line[1], y, rtol=1e-12, atol=0)
    assert np.ptp(y) > 0  # the run changed the quantity: a flat line would prove less


def test_report_makes_labelled_figures(
    capsys, finished_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The figures' content through matplotlib: titles, axis labels with units, and the
    plotted data equal to the columns of metrics.csv (the report reads nothing else)."""
    from matplotlib.figure import Figure

    figures: dict[str, object] = {}
    savefig = Figure.savefig

    def keep(fig: Figure, fname: Path, *args: object, **kwargs: object) -> None:
        figures[Path(fname).stem] = fig
        savefig(fig, fname, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Figure, "savefig", keep)
    code, _, _ = run_cli(capsys, "report", str(finished_run), "--output", str(tmp_path))
    assert code == 0
    for stem in ("bmd_change", "stiffness_change", "fracture_risk"):
        assert (tmp_path / f"{stem}.png").stat().st_size > 10_000
        assert (tmp_path / f"{stem}.svg").exists()
    assert (tmp_path / f"density_change_{finished_run.name}.png").exists()
    summary = (tmp_path / "summary.md").read_text()
    assert "aBMD" in summary and "cli_run" in summary

    c = _columns(finished_run)
    years = c["time_years"]
    np.testing.assert_allclose(years, c["time_days"] / 365.25, rtol=1e-12)
    pct = "change from baseline (%)"
    bmd = figures["bmd_change"].axes  # type: ignore[attr-defined]
    # this specimen's DXA ROI is the whole bone with a fixed projected area: its aBMD change
    # repeats the vBMD change, so the report leaves the aBMD panel out and says why
    np.testing.assert_allclose(c["abmd_pct_change"], c["bmd_vol_mean_pct_change"], atol=1e-6)
    assert [ax.get_title() for ax in bmd] == ["Volumetric BMD, trabecular"]
    _assert_plots(bmd[0], years, c["bmd_vol_mean_trabecular_pct_change"], pct)
    (stiff,) = figures["stiffness_change"].axes  # type: ignore[attr-defined]
    _assert_plots(stiff, years, c["apparent_stiffness_pct_change"], pct)
    risk, load = figures["fracture_risk"].axes  # type: ignore[attr-defined]
    _assert_plots(risk, years, c["fracture_risk_index"], "factor of risk (-)")
    _assert_plots(load, years, c["failure_load"] / 1000.0, "failure load (kN)")
    # the plotted percent change is the column's own change from its first row; metrics.csv
    # holds 10 significant digits, so the ratio is known to ~1e-9: 1e-6 percentage points
    np.testing.assert_allclose(
        c["abmd_pct_change"], 100.0 * (c["abmd"] / c["abmd"][0] - 1.0), rtol=0, atol=1e-6
    )


def test_check_validates_schema_and_mesh(capsys, tmp_path: Path) -> None:
    case = write_case(tmp_path, "ok")
    code, _, err = run_cli(capsys, "check", str(case))
    assert code == 0, err


def test_check_refuses_an_unreachable_baseline_t_score(capsys, tmp_path: Path) -> None:
    """`check` finds the peak factor of a baseline T-score before any mesh exists: exit 2
    with the field, the value and the factors allowed; a reachable one passes."""
    case = write_case(tmp_path, "t")
    code, _, err = run_cli(
        capsys, "check", str(case), "--no-mesh", "--set", "biology.baseline_t_score=1.5"
    )
    assert code == 2
    assert "biology.baseline_t_score" in err and "1.5" in err and "may lie between" in err
    code, _, err = run_cli(
        capsys, "check", str(case), "--no-mesh", "--set", "biology.baseline_t_score=-1.5"
    )
    assert code == 0, err


def test_mesh_command(capsys, tmp_path: Path) -> None:
    out = tmp_path / "cube.xdmf"
    code, stdout, _ = run_cli(
        capsys,
        "mesh",
        "specimen",
        "--set",
        "shape='cube'",
        "--set",
        "mesh_size=2.0",
        "--no-cache",
        "-o",
        str(out),
    )
    assert code == 0
    assert "trabecular" in stdout and out.exists()


def test_cases_list_and_copy(capsys, tmp_path: Path) -> None:
    code, out, _ = run_cli(capsys, "cases")
    assert code == 0 and "menopause_vertebra" in out and "denosumab_vertebra" in out
    code, out, _ = run_cli(capsys, "cases", "copy", "menopause_vertebra", str(tmp_path))
    assert code == 0 and (tmp_path / "menopause_vertebra.toml").exists()
    code, _, err = run_cli(capsys, "cases", "copy", "menopause_vertebra", str(tmp_path))
    assert code == 2 and "will not overwrite" in err


def test_biology_command(capsys, tmp_path: Path) -> None:
    code, _, _ = run_cli(capsys, "biology", "healthy", "--years", "2", "--output", str(tmp_path))
    assert code == 0
    assert list(tmp_path.glob("*.csv")) and list(tmp_path.glob("*.png"))


def test_version(capsys) -> None:
    code, out, _ = run_cli(capsys, "version")
    assert code == 0 and "dolfinx: 0.11" in out


# ------------------------------------------------------------------------ bad input


def bad_case(tmp_path: Path, edit) -> Path:
    path = write_case(tmp_path, "bad")
    path.write_text(edit(path.read_text()))
    return path


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda t: t.replace("duration_days = 730.5", "duration_days = = 3"), "TOML syntax error"),
        (
            lambda t: t.replace("biology_step_days", "biology_stp_days"),
            "run.biology_stp_days.*unknown key.*Did you mean 'biology_step_days'",
        ),
        (
            lambda t: t.replace("duration_days = 730.5", 'duration_days = "ten years"'),
            "run.duration_days.*ten years.*valid number",
        ),
        (
            lambda t: t.replace("duration_days = 730.5", "duration_days = -5.0"),
            "run.duration_days.*-5.0.*greater than 0",
        ),
        (
            lambda t: t.replace('generator = "specimen"', 'file = "no_such_mesh.msh"').replace(
                "parameters = { shape", "# parameters = { shape"
            ),
            "no_such_mesh.msh",
        ),
        (
            lambda t: t.replace('surface = "top"', 'surface = "topp"', 1),
            "unknown surface 'topp'.*Did you mean 'top'",
        ),
        (
            lambda t: t.replace("[material.regions.trabecular]", "[material.regions.trabeculr]"),
            "regions without material|unknown region",
        ),
        (
            lambda t: (
                t
                + "\n[[biology.hrt]]\nstart_days = 0.0\nstop_days = 400.0\n"
                + "\n[[biology.hrt]]\nstart_days = 300.0\nstop_days = 800.0\n"
            ),
            "hrt: courses overlap",
        ),
        (
            lambda t: t + "\n[[biology.denosumab]]\nstart_days = 500.0\nstop_days = 100.0\n",
            "stop_days.*must be after start_days",
        ),
        (
            lambda t: (
                t
                + "\n[biology.pth]\ncontinuous_excess_fold = 3.0\nstart_days = 400.0\n"
                + "stop_days = 100.0\n"
            ),
            "biology.pth.*stop_days \\(100.0\\) must be after start_days \\(400.0\\)",
        ),
        (
            lambda t: t.replace(
                "[metrics.stiffness_test]",
                "[metrics]\ntests_every_days = 100.0\n\n[metrics.stiffness_test]",
            ),
            "metrics.tests_every_days.*100.0.*multiple of output.metrics_every_days",
        ),
    ],
    ids=[
        "toml-syntax",
        "unknown-key",
        "wrong-type",
        "out-of-range",
        "missing-mesh-file",
        "unknown-surface",
        "unknown-region",
        "overlapping-therapy",
        "contradictory-schedule",
        "pth-window-backwards",
        "tests-not-on-metrics-rows",
    ],
)
def test_bad_input_is_one_clear_paragraph(capsys, tmp_path: Path, edit, expected: str) -> None:
    import re

    path = bad_case(tmp_path, edit)
    code, out, err = run_cli(capsys, "run", str(path), "--output", str(tmp_path / "out"))
    assert code == 2, err
    assert "Traceback" not in err + out
    assert str(path) in err or "no_such_mesh" in err
    assert re.search(expected, err, flags=re.S), err
    assert len(err.strip().splitlines()) <= 3


def test_unwritable_output_folder(capsys, tmp_path: Path) -> None:
    if os.geteuid() == 0:
        target = Path("/proc/bonefem-run")  # not creatable, even for root
    else:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(stat.S_IRUSR | stat.S_IXUSR)
        target = locked / "run"
    case = write_case(tmp_path, "ok")
    code, _, err = run_cli(capsys, "run", str(case), "--output", str(target))
    assert code == 2 and "not writable" in err and "Traceback" not in err


def test_missing_case_file(capsys, tmp_path: Path) -> None:
    code, _, err = run_cli(capsys, "check", str(tmp_path / "nope.toml"))
    assert code == 2 and "case file not found" in err and "menopause_vertebra" in err
