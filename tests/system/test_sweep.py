"""``bonefem sweep``: the points of --set lists, a local sweep of three values end to end,
the SLURM job-array script (run here with a stand-in srun), and clear errors."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import bonefem
from bonefem.cli import main
from bonefem.sweep import plan_points, split_values
from tests.helpers.cases import write_case

pytestmark = pytest.mark.serial


def test_split_values_keeps_arrays_tables_and_strings_whole() -> None:
    assert split_values("1.0, 2.0,3") == ["1.0", "2.0", "3"]
    assert split_values("[1, 2],[3, 4]") == ["[1, 2]", "[3, 4]"]
    assert split_values('"a,b",c,{ x = 1, y = 2 }') == ['"a,b"', "c", "{ x = 1, y = 2 }"]


def test_points_are_the_cartesian_product_of_the_lists() -> None:
    points = plan_points(["a.x=1,2", "b=3", "c.y=[1, 2],[3, 4]"])
    assert [p.values for p in points] == [
        {"a.x": "1", "c.y": "[1, 2]"},
        {"a.x": "1", "c.y": "[3, 4]"},
        {"a.x": "2", "c.y": "[1, 2]"},
        {"a.x": "2", "c.y": "[3, 4]"},
    ]
    assert points[1].overrides == ["b=3", "a.x=1", "c.y=[3, 4]"]
    assert points[1].folder == "001_x=1_y=_3_4"
    assert len({p.folder for p in points}) == 4
    assert plan_points(["b=3"])[0].overrides == ["b=3"]  # no list: one point


def test_zipped_lists_are_paired_value_by_value() -> None:
    points = plan_points(["s=1.0,2.0", "e=5.0,6.0"], zip_lists=True)
    assert [p.overrides for p in points] == [["s=1.0", "e=5.0"], ["s=2.0", "e=6.0"]]
    with pytest.raises(bonefem.InputError, match="same number of values"):
        plan_points(["s=1.0,2.0", "e=5.0,6.0,7.0"], zip_lists=True)


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (["run.duration_days"], "give --set as KEY=VALUE"),
        (["run.duration_days=1,,2"], "give --set as KEY=VALUE"),
        (["a=1,2", "a=3"], "given twice"),
        (["run.duration_dayz=1.0,2.0"], "sweep point 0 .*unknown key"),
        (["run.duration_days=-1.0,2.0"], "sweep point 0"),
    ],
)
def test_bad_settings_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], sets: list[str], message: str
) -> None:
    case = write_case(tmp_path)
    args = ["sweep", str(case), "--output", str(tmp_path / "sw")]
    for s in sets:
        args += ["--set", s]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("bonefem: error:") and "\n" not in err
    assert __import__("re").search(message, err), err


@pytest.mark.slow
def test_a_sweep_of_three_values_runs_locally(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = write_case(tmp_path, duration=30.4375, step=30.4375, metrics_every=30.4375)
    out = tmp_path / "sw"
    sets = ["--set", "material.regions.trabecular.bvtv=0.1,0.15,0.2"]
    sets += ["--set", "output.fields_every_days=30.4375"]
    assert main(["sweep", str(case), *sets, "--output", str(out), "--jobs", "2"]) == 0
    table = pd.read_csv(out / "sweep.csv")
    assert list(table["material.regions.trabecular.bvtv"]) == [0.1, 0.15, 0.2]
    assert list(table["status"]) == ["finished"] * 3
    assert list(table["time_days [days]"]) == [30.4375] * 3
    # denser bone is stiffer: the final metrics differ per point as they should
    assert table["apparent_stiffness [N/mm]"].is_monotonic_increasing
    for folder in table["folder"]:
        manifest = (out / folder / "manifest.json").read_text()
        assert "output.fields_every_days=30.4375" in manifest
        assert (out / "logs" / f"{folder}.log").is_file()
    # a second call finds every point finished and only rewrites the summary
    assert main(["sweep", str(case), *sets, "--output", str(out), "--jobs", "2"]) == 0
    # another sweep into the same folder is refused
    other = ["--set", "material.regions.trabecular.bvtv=0.1,0.2"]
    assert main(["sweep", str(case), *other, "--output", str(out)]) == 2
    assert "holds another sweep" in capsys.readouterr().err


def test_the_slurm_script_runs_each_point_through_the_same_command(tmp_path: Path) -> None:
    case = write_case(tmp_path, duration=30.4375, step=30.0, metrics_every=30.4375)
    out = tmp_path / "sw"
    args = ["sweep", str(case), "--set", "run.biology_step_days=15.0,30.0", "--output", str(out)]
    assert main([*args, "--slurm", "--max-parallel", "4"]) == 0
    script = out / "sweep.sbatch"
    text = script.read_text()
    assert "#SBATCH --array=0-1%4" in text
    assert "--index" in text and "sweep" in text
    if shutil.which("shellcheck"):
        for name in ("sweep.sbatch", "sweep-report.sbatch"):
            lint = subprocess.run(["shellcheck", str(out / name)], capture_output=True, text=True)
            assert lint.returncode == 0, lint.stdout
    # a stand-in srun (drops its --mpi option) and SLURM's array index: task 1 runs point 1
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    srun = bin_dir / "srun"
    srun.write_text('#!/usr/bin/env bash\nshift\nexec "$@"\n')
    srun.chmod(srun.stat().st_mode | stat.S_IEXEC)
    env = dict(os.environ)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    env["SLURM_ARRAY_TASK_ID"] = "1"
    env["BONEFEM"] = f"{sys.executable} -m bonefem.cli"
    proc = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    table = pd.read_csv(out / "sweep.csv")
    assert list(table["status"]) == ["pending", "finished"]
    assert list(table["run.biology_step_days"]) == [15.0, 30.0]
    # the report job: sweep.csv and a report of the finished points
    report = out / "sweep-report.sbatch"
    assert "--report" in report.read_text() and "--array" not in report.read_text()
    proc = subprocess.run(["bash", str(report)], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "001_biology_step_days=30.0" in (out / "report" / "summary.md").read_text()  # label


@pytest.mark.slow
def test_local_points_run_on_several_ranks(tmp_path: Path) -> None:
    case = write_case(tmp_path, duration=30.4375, step=30.4375, metrics_every=30.4375)
    out = tmp_path / "sw"
    args = ["sweep", str(case), "--set", "run.biology_step_days=30.0", "--output", str(out)]
    assert main([*args, "--ranks", "2"]) == 0
    table = pd.read_csv(out / "sweep.csv")
    assert list(table["status"]) == ["finished"]
    assert '"ranks": 2' in (out / table["folder"][0] / "manifest.json").read_text()
