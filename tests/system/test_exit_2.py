"""Exit 2 with one line instead of tracebacks (issue 16, items 7 and 8): a case file that
is not UTF-8, --output naming a file, a full disk during a run (2 ranks), and a folder
left by a failed set-up."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from bonefem.cli import main
from bonefem.output.lock import LOCK_NAME
from tests.conftest import ROOT, mpiexec
from tests.helpers.cases import write_case


def _cli(capsys, *args: str) -> tuple[int, str]:
    code = main(["-q", *args])
    _, err = capsys.readouterr()
    return code, err


def _one_line(err: str) -> str:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.serial
def test_case_file_not_utf8(capsys, tmp_path) -> None:
    case = write_case(tmp_path, "latin")
    case.write_bytes(case.read_bytes().replace(b'description = ""', b"") + b"# caf\xe9\n")
    code, err = _cli(capsys, "check", "--no-mesh", str(case))
    assert code == 2
    line = _one_line(err)
    assert str(case) in line and "not UTF-8" in line and "0xe9" in line


@pytest.mark.serial
def test_case_file_is_a_folder(capsys, tmp_path) -> None:
    code, err = _cli(capsys, "check", "--no-mesh", str(tmp_path))
    assert code == 2
    assert "is a folder" in _one_line(err)


@pytest.mark.serial
def test_output_naming_a_file(capsys, tmp_path) -> None:
    case = write_case(tmp_path, "ok")
    target = tmp_path / "some_file.txt"
    target.write_text("keep me")
    code, err = _cli(capsys, "run", str(case), "--output", str(target), "--no-progress")
    assert code == 2
    line = _one_line(err)
    assert str(target) in line and "is a file, not a folder" in line
    assert target.read_text() == "keep me"


@pytest.mark.serial
@pytest.mark.slow
def test_full_disk_on_two_ranks_exits_2_and_records_failed(tmp_path) -> None:
    case = write_case(tmp_path, "full", duration=730.5, step=7.0, checkpoint_every=182.625)
    run = tmp_path / "run"
    env = dict(os.environ)
    env.pop("PMI_RANK", None)
    env.pop("PMI_SIZE", None)
    cmd = [mpiexec(), "-n", "2", sys.executable, "-m", "tests.helpers.full_disk_run"]
    proc = subprocess.run(
        [*cmd, str(case), str(run), "40"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2, proc.stderr  # not a hang, not a traceback, not 1
    assert "Traceback" not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert f"{run}/metrics.csv" in last and "No space left on device" in last
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "failed"
    assert "No space left on device" in manifest["error"]
    assert (run / LOCK_NAME).read_text() == ""  # the lock was released
    assert (run / "checkpoints" / "LATEST").read_text().strip() == "step_000028"  # kept


@pytest.mark.serial
def test_folder_of_a_failed_set_up_is_taken_over_by_the_next_run(
    capsys, tmp_path, monkeypatch
) -> None:
    """A failed set-up leaves the case copies and no results: the same command again (or the
    fixed case) runs into the folder; the default folder name does not move on to -2."""
    good = write_case(tmp_path, "setup", duration=91.3125)
    bad = tmp_path / "bad.toml"
    bad.write_text(good.read_text().replace('surface = "top", force', 'surface = "topp", force'))
    run = tmp_path / "run"
    for _ in range(2):  # the same failure twice: the mesh error both times, not "not empty"
        code, err = _cli(capsys, "run", str(bad), "--output", str(run), "--no-progress")
        assert code == 2 and "unknown surface 'topp'" in _one_line(err)
    assert (run / "case_resolved.json").exists() and not (run / "manifest.json").exists()
    code, err = _cli(capsys, "run", str(good), "--output", str(run), "--restart", "--no-progress")
    assert code == 2
    assert "did not get past its set-up); start it again without --restart" in _one_line(err)
    code, err = _cli(capsys, "run", str(good), "--output", str(run), "--no-progress")
    assert code == 0, err
    assert json.loads((run / "manifest.json").read_text())["status"] == "finished"
    # a finished run is never taken over
    code, err = _cli(capsys, "run", str(good), "--output", str(run), "--no-progress")
    assert code == 2 and "not empty" in _one_line(err)
    # the default folder: runs/<name> of a failed set-up is reused, not runs/<name>-2
    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        assert _cli(capsys, "run", str(bad), "--no-progress")[0] == 2
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["setup"]


@pytest.mark.serial
def test_a_user_file_beside_the_case_copies_keeps_the_folder(capsys, tmp_path) -> None:
    """Only bonefem's set-up artefacts make a folder free to take over: one more file (the
    user's) and the run refuses it as before."""
    good = write_case(tmp_path, "setup", duration=91.3125)
    run = tmp_path / "run"
    run.mkdir()
    (run / "case_resolved.json").write_text("{}")
    (run / "notes.txt").write_text("mine")
    code, err = _cli(capsys, "run", str(good), "--output", str(run), "--no-progress")
    assert code == 2 and "not empty" in _one_line(err)
    assert (run / "notes.txt").read_text() == "mine"


@pytest.mark.serial
def test_overwrite_refuses_a_folder_bonefem_did_not_make(capsys, tmp_path) -> None:
    case = write_case(tmp_path, "mine")
    precious = tmp_path / "data"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    code, err = _cli(capsys, "run", str(case), "--output", str(precious), "--overwrite")
    assert code == 2 and "only replaces bonefem run folders" in _one_line(err)
    assert (precious / "thesis.tex").read_text() == "years of work"
