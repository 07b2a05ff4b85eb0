"""Checkpoint integrity (issue 16, item 5): size and SHA-256 in meta.json, verified on
restart; a damaged newest checkpoint falls back to the previous one; none usable: exit 2."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from bonefem._dolfinx import MPI
from bonefem.driver import run_case
from bonefem.errors import InputError
from tests.helpers.cases import MENOPAUSE, write_case
from tests.helpers.checkpoint_case import fields_of, save, store_for
from tests.helpers.cli import run_main
from tests.system.test_simulation import metrics_of


def _truncate(path: Path, keep: int = 100) -> None:
    with open(path, "r+b") as fh:
        fh.truncate(keep)


def _flip_a_byte(path: Path) -> None:
    with open(path, "r+b") as fh:
        fh.seek(200)
        b = fh.read(1)
        fh.seek(200)
        fh.write(bytes([b[0] ^ 0xFF]))


@pytest.mark.mpi
def test_meta_records_size_and_sha256(mpi_tmp_path) -> None:
    save(str(mpi_tmp_path), MPI.COMM_WORLD)
    _, store = store_for(str(mpi_tmp_path), MPI.COMM_WORLD)
    if MPI.COMM_WORLD.rank == 0:
        meta = json.loads((mpi_tmp_path / "step_000003" / "meta.json").read_text())
        info = meta["files"]["cells.bin"]
        assert info["bytes"] == (mpi_tmp_path / "step_000003" / "cells.bin").stat().st_size
        assert len(info["sha256"]) == 64
        assert store.problem(mpi_tmp_path / "step_000003") is None
    assert store.newest_valid() == mpi_tmp_path / "step_000003"


@pytest.mark.serial
def test_checkpoints_without_checksums_are_checked_by_size(tmp_path) -> None:
    """Checkpoints of earlier versions (no "files" in meta.json) still restart."""
    save(str(tmp_path), MPI.COMM_SELF)
    _, store = store_for(str(tmp_path), MPI.COMM_SELF)
    meta_path = tmp_path / "step_000003" / "meta.json"
    meta = json.loads(meta_path.read_text())
    del meta["files"]
    meta_path.write_text(json.dumps(meta))
    _flip_a_byte(tmp_path / "step_000003" / "cells.bin")
    assert store.problem(tmp_path / "step_000003") is None  # no checksum to compare with
    _truncate(tmp_path / "step_000003" / "cells.bin")
    assert "truncated" in str(store.problem(tmp_path / "step_000003"))


@pytest.mark.mpi
@pytest.mark.parametrize("damage", [_truncate, _flip_a_byte])
def test_damaged_newest_checkpoint_falls_back_to_the_previous(mpi_tmp_path, damage, caplog):
    comm = MPI.COMM_WORLD
    save(str(mpi_tmp_path), comm)
    if comm.rank == 0:
        damage(mpi_tmp_path / "step_000003" / "cells.bin")
    comm.Barrier()
    bone, store = store_for(str(mpi_tmp_path), comm)
    with caplog.at_level(logging.WARNING):
        chosen = store.newest_valid()
    assert chosen == mpi_tmp_path / "step_000002"
    if comm.rank == 0:
        assert "checkpoint step_000003 is not usable" in caplog.text
        assert ("truncated" if damage is _truncate else "SHA-256") in caplog.text
    meta, loaded = store.load(chosen)
    assert meta["time_days"] == 20.0
    for key, value in fields_of(bone).items():
        np.testing.assert_allclose(loaded[key], 2 * value, rtol=0, atol=1e-12)


@pytest.mark.mpi
def test_no_usable_checkpoint_is_an_input_error_with_every_reason(mpi_tmp_path) -> None:
    comm = MPI.COMM_WORLD
    save(str(mpi_tmp_path), comm)
    if comm.rank == 0:
        _truncate(mpi_tmp_path / "step_000003" / "cells.bin")
        (mpi_tmp_path / "step_000002" / "meta.json").write_text("{not json")
    comm.Barrier()
    _, store = store_for(str(mpi_tmp_path), comm)
    with pytest.raises(InputError, match="no usable checkpoint") as info:
        store.newest_valid()
    assert "step_000003: cells.bin has" in str(info.value)
    assert "step_000002: meta.json is unreadable" in str(info.value)
    with pytest.raises(InputError, match="truncated"):
        store.load(mpi_tmp_path / "step_000003")  # not an mmap traceback


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """``bonefem -q ARGS --no-progress`` through the CLI's main in this process (1 rank):
    exit code and stderr."""
    code, _, err = run_main(["-q", *args, "--no-progress"], capsys)
    return code, err


@pytest.mark.serial
def test_restart_with_a_truncated_newest_checkpoint_uses_the_previous(
    tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = write_case(
        tmp_path, "trunc", duration=730.5, step=7.0, biology=MENOPAUSE, checkpoint_every=182.625
    )
    run = tmp_path / "run"
    # in process: the run, then the restarts through the CLI's main (messages, exit codes)
    run_case(case, output=run, comm=MPI.COMM_SELF, progress=False)
    # the uninterrupted run's rows, before the restart rewrites those after its checkpoint
    want = metrics_of(run)
    ckpts = sorted(p.name for p in (run / "checkpoints").glob("step_*"))
    assert len(ckpts) == 2
    _truncate(run / "checkpoints" / ckpts[-1] / "cells.bin")
    code, err = _cli(["run", str(case), "-o", str(run), "--restart"], capsys)
    assert code == 0, err
    assert f"checkpoint {ckpts[-1]} is not usable" in err and "truncated" in err
    got = metrics_of(run)
    np.testing.assert_array_equal(got["time_days"], want["time_days"])
    for key in ("bmd_vol_mean", "abmd", "apparent_stiffness", "failure_load", "bvtv_mean"):
        np.testing.assert_allclose(got[key], want[key], rtol=1e-6, err_msg=key)
    # now damage both: exit 2, one line, no traceback
    for name in (p.name for p in (run / "checkpoints").glob("step_*")):
        _truncate(run / "checkpoints" / name / "cells.bin")
    code, err = _cli(["run", str(case), "-o", str(run), "--restart"], capsys)
    assert code == 2, err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("bonefem: error:") and "no usable checkpoint" in last
