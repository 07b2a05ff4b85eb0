"""The run-folder lock (issue 16, item 2): one run per folder; stale locks are taken over."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from bonefem.errors import InputError
from bonefem.output.lock import LOCK_NAME, RunLock
from bonefem.output.run_folder import choose_run_folder
from tests.conftest import ROOT
from tests.helpers.cases import MENOPAUSE, write_case
from tests.helpers.cli import run_killed
from tests.system.test_simulation import metrics_of


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.mark.serial
def test_a_held_lock_refuses_a_second_holder_naming_it(tmp_path) -> None:
    first = RunLock(tmp_path).acquire()
    with pytest.raises(InputError, match=rf"in use by another bonefem run \(PID {os.getpid()}"):
        RunLock(tmp_path).acquire()
    first.release()
    assert (tmp_path / LOCK_NAME).read_text() == ""  # emptied, not deleted
    RunLock(tmp_path).acquire().release()


@pytest.mark.serial
def test_a_stale_lock_is_reported_and_taken_over(tmp_path, caplog) -> None:
    dead = _dead_pid()
    stale = {"host": socket.gethostname(), "pid": dead, "started": "2026-01-01T00:00:00"}
    (tmp_path / LOCK_NAME).write_text(json.dumps(stale))
    with caplog.at_level(logging.WARNING):
        lock = RunLock(tmp_path).acquire()
    assert f"stale lock of PID {dead}" in caplog.text
    assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == os.getpid()
    lock.release()


@pytest.mark.serial
def test_an_unlocked_file_naming_a_live_local_process_is_refused(tmp_path) -> None:
    """Where flock is not enforced (some network file systems), the PID check still holds."""
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        info = {"host": socket.gethostname(), "pid": live.pid}
        (tmp_path / LOCK_NAME).write_text(json.dumps(info))
        with pytest.raises(InputError, match="does not enforce flock"):
            RunLock(tmp_path).acquire()
    finally:
        live.kill()
        live.wait()


@pytest.mark.serial
@pytest.mark.parametrize("mode", [[], ["--restart"], ["--overwrite"]])
def test_overwrite_and_restart_never_touch_a_locked_folder(tmp_path, mode) -> None:
    folder = tmp_path / "run"
    (folder / "checkpoints").mkdir(parents=True)
    (folder / "checkpoints" / "LATEST").write_text("step_000001")
    (folder / "manifest.json").write_text("{}")
    lock = RunLock(folder).acquire()
    try:
        with pytest.raises(InputError, match="in use by another bonefem run"):
            choose_run_folder(
                folder, "x", restart="--restart" in mode, overwrite="--overwrite" in mode
            )
        assert (folder / "manifest.json").exists()  # --overwrite deleted nothing
    finally:
        lock.release()


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PMI_RANK", None)
    env.pop("PMI_SIZE", None)
    return env


@pytest.mark.serial
@pytest.mark.slow
def test_a_second_run_into_a_live_folder_exits_2_at_once(tmp_path) -> None:
    case = write_case(tmp_path, "locked", duration=730.5, step=14.0, biology=MENOPAUSE)
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "bonefem.cli", "-q", "run", str(case), "-o", str(run)]
    go = tmp_path / "go"  # the first run holds before each step until this exists
    slow = [sys.executable, "-m", "tests.helpers.slow_run", str(case), str(run), "0.4", str(go)]
    first = subprocess.Popen(slow, cwd=ROOT, env=_env(), stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not (run / "metrics.csv").exists():
        assert first.poll() is None and time.monotonic() < deadline, "first run did not start"
        time.sleep(0.1)
    for mode in ([], ["--restart"], ["--overwrite"]):
        t0 = time.monotonic()
        second = subprocess.run(
            [*cmd, *mode, "--no-progress"], cwd=ROOT, env=_env(), capture_output=True, text=True
        )
        assert second.returncode == 2, second.stderr
        assert f"in use by another bonefem run (PID {first.pid}" in second.stderr
        assert len(second.stderr.strip().splitlines()) == 1
        assert time.monotonic() - t0 < 60  # at once: before any mesh or solve
    go.touch()
    assert first.poll() is None  # the test is meaningful only if the first run still runs
    assert first.wait(timeout=300) == 0, first.stderr.read() if first.stderr else ""
    m = metrics_of(run)
    np.testing.assert_allclose(m["time_days"], np.arange(9) * 91.3125)  # intact, in order
    assert json.loads((run / "manifest.json").read_text())["status"] == "finished"
    assert (run / LOCK_NAME).read_text() == ""  # released at the end


@pytest.mark.serial
@pytest.mark.slow
def test_restart_after_sigkill_takes_over_the_stale_lock(tmp_path) -> None:
    case = write_case(tmp_path, "stale", duration=730.5, step=7.0, checkpoint_every=182.625)
    run = tmp_path / "run"
    run_killed(str(case), str(run), 40)
    holder = json.loads((run / LOCK_NAME).read_text())
    cmd = [sys.executable, "-m", "bonefem.cli", "-q", "run", str(case), "-o", str(run)]
    proc = subprocess.run(
        [*cmd, "--restart", "--no-progress"],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"stale lock of PID {holder['pid']}" in proc.stderr
