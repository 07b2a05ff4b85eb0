"""Checkpoints of per-cell state that restart on any number of ranks (MPI-IO, no gather).

A checkpoint is a folder ``checkpoints/step_NNNNNN/`` holding

* ``cells.bin``: one float64 row per cell of the *mesh file* (row = original cell index in
  the run's saved mesh), all per-cell fields side by side; every rank writes its own rows
  collectively with MPI-IO through an indexed file view, so no rank gathers the mesh;
* ``meta.json``: step, time (days), field names and column counts, number of cells, and
  any JSON state of the run (systemic signals, counters, RNG-free).

``meta.json`` also records the size and SHA-256 of ``cells.bin``; a restart verifies them
(:meth:`CheckpointStore.newest_valid`) and falls back to the previous checkpoint, with a
log message, when the newest one is truncated or corrupt.

The folder is written under a temporary name and renamed when complete; the ``LATEST``
pointer file is replaced atomically afterwards. A run killed at any moment therefore
leaves the previous checkpoint intact. A restart on M ranks reads the rows of the cells it
owns (by original index) from a memory map; the partition of the writing run is irrelevant.
"""

from __future__ import annotations

from mpi4py import MPI

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bonefem.errors import InputError
from bonefem.output.atomic import write_text_atomic

LATEST = "LATEST"
FORMAT = "bonefem-checkpoint-1"

logger = logging.getLogger(__name__)


def sha256_of(path: Path) -> str:
    """SHA-256 (hex) of a file, read in 16 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 24):
            digest.update(block)
    return digest.hexdigest()


class CheckpointStore:
    """Write and read per-cell checkpoints in ``folder``.

    Args:
        folder: the run's checkpoint folder (created by rank 0).
        comm: communicator of the mesh.
        original_index: original (mesh-file) index of every owned cell, in local order.
        num_cells_global: number of cells in the mesh.
        keep: number of most recent checkpoints kept on disk (>= 1).
    """

    def __init__(
        self,
        folder: str | Path,
        comm: MPI.Intracomm,
        original_index: npt.ArrayLike,
        num_cells_global: int,
        keep: int = 2,
    ) -> None:
        self.folder = Path(folder)
        self.comm = comm
        self.original = np.asarray(original_index, dtype=np.int64)
        self.order = np.argsort(self.original, kind="stable")
        self.n_global = int(num_cells_global)
        self.keep = max(1, int(keep))
        if comm.rank == 0:
            self.folder.mkdir(parents=True, exist_ok=True)
        comm.Barrier()

    # ------------------------------------------------------------------- save
    def save(
        self,
        step: int,
        time: float,
        fields: Mapping[str, npt.ArrayLike],
        state: Mapping[str, Any] | None = None,
    ) -> Path:
        """Write a checkpoint (collective); returns its folder.

        Args:
            step: step index.
            time: simulated time (days).
            fields: name -> per owned cell values, shape (n,) or (n, k).
            state: extra JSON-serialisable run state.
        """
        names, columns, blocks = [], [], []
        n_local = self.original.size
        for name, value in fields.items():
            arr = np.asarray(value, dtype=np.float64).reshape(n_local, -1)
            names.append(name)
            columns.append(arr.shape[1])
            blocks.append(arr)
        data = np.ascontiguousarray(np.hstack(blocks)[self.order]) if blocks else np.empty((0, 0))
        ncol = int(sum(columns))
        final = self.folder / f"step_{step:06d}"
        tmp = self.folder / f".step_{step:06d}.tmp"
        self._on_root(lambda: _fresh_folder(tmp))

        row = MPI.DOUBLE.Create_contiguous(ncol).Commit()
        displacements = self.original[self.order]
        filetype = row.Create_indexed_block(1, displacements.astype(np.int64).tolist()).Commit()
        fh = MPI.File.Open(self.comm, str(tmp / "cells.bin"), MPI.MODE_WRONLY | MPI.MODE_CREATE)
        fh.Set_size(self.n_global * ncol * 8)
        fh.Set_view(0, row, filetype)
        fh.Write_all(data)
        fh.Sync()
        fh.Close()
        filetype.Free()
        row.Free()

        self._on_root(lambda: self._finish(tmp, final, step, time, names, columns, state))
        return final

    def _on_root(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on rank 0; its OSError is raised on every rank (no rank left waiting)."""
        error: OSError | None = None
        if self.comm.rank == 0:
            try:
                fn()
            except OSError as exc:
                error = exc
        error = self.comm.bcast(error, root=0)
        if error is not None:
            raise error

    def _finish(
        self,
        tmp: Path,
        final: Path,
        step: int,
        time: float,
        names: list[str],
        columns: list[int],
        state: Mapping[str, Any] | None,
    ) -> None:
        """Rank 0: meta.json with the checksum, rename into place, LATEST, prune."""
        meta = {
            "format": FORMAT,
            "step": int(step),
            "time_days": float(time),
            "num_cells": self.n_global,
            "fields": [{"name": n, "columns": c} for n, c in zip(names, columns, strict=True)],
            "ranks": self.comm.size,
            "state": dict(state or {}),
            "files": {
                "cells.bin": {
                    "bytes": (tmp / "cells.bin").stat().st_size,
                    "sha256": sha256_of(tmp / "cells.bin"),
                }
            },
        }
        _write_json(tmp / "meta.json", meta)
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        write_text_atomic(self.folder / LATEST, final.name)
        self._prune()

    def _prune(self) -> None:
        done = sorted(p for p in self.folder.glob("step_*") if p.is_dir())
        for old in done[: -self.keep]:
            shutil.rmtree(old, ignore_errors=True)

    # ------------------------------------------------------------------- load
    def latest(self) -> Path | None:
        """The newest complete checkpoint folder, or None."""
        path = None
        if self.comm.rank == 0:
            pointer = self.folder / LATEST
            if pointer.exists():
                candidate = self.folder / pointer.read_text(encoding="utf-8").strip()
                if (candidate / "meta.json").exists():
                    path = str(candidate)
        found = self.comm.bcast(path, root=0)
        return None if found is None else Path(found)

    def load(self, path: str | Path) -> tuple[dict[str, Any], dict[str, npt.NDArray[np.float64]]]:
        """Read a checkpoint: (meta, name -> per owned cell values in local order)."""
        path = Path(path)
        meta, problem = self._read_meta(path)
        if problem is None:
            problem = self._size_problem(path, meta)
        if problem is not None:
            raise InputError(problem, file=path)
        ncol = sum(f["columns"] for f in meta["fields"])
        table = np.memmap(
            path / "cells.bin", dtype=np.float64, mode="r", shape=(self.n_global, ncol)
        )
        rows = np.asarray(table[self.original])
        out: dict[str, npt.NDArray[np.float64]] = {}
        col = 0
        for f in meta["fields"]:
            block = rows[:, col : col + f["columns"]]
            out[f["name"]] = block[:, 0].copy() if f["columns"] == 1 else block.copy()
            col += f["columns"]
        return meta, out

    # ------------------------------------------------------------- integrity
    def _read_meta(self, path: Path) -> tuple[dict[str, Any], str | None]:
        """meta.json of a checkpoint and what is wrong with it (None: usable)."""
        try:
            meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
            if not isinstance(meta, dict) or meta.get("format") != FORMAT:
                return {}, "not a bonefem checkpoint (meta.json has no bonefem format)"
            ncol = sum(int(f["columns"]) for f in meta["fields"])
            n = int(meta["num_cells"])
            float(meta["time_days"])
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
            return {}, f"meta.json is unreadable or incomplete ({type(exc).__name__}: {exc})"
        if n != self.n_global:
            return meta, (
                f"checkpoint has {n} cells but the mesh has {self.n_global}; "
                "restart with the run's own mesh"
            )
        if ncol < 0:
            return meta, "meta.json lists a negative column count"
        return meta, None

    def _size_problem(self, path: Path, meta: dict[str, Any]) -> str | None:
        ncol = sum(int(f["columns"]) for f in meta["fields"])
        want = self.n_global * ncol * 8
        try:
            have = (path / "cells.bin").stat().st_size
        except OSError:
            return "cells.bin is missing"
        if have != want:
            return f"cells.bin has {have} bytes, expected {want} (truncated or damaged)"
        return None

    def problem(self, path: str | Path) -> str | None:
        """What is wrong with a checkpoint (meta, size, SHA-256), or None if it is usable.

        Checkpoints written before checksums were recorded are checked by size only.
        Reads the whole of cells.bin: call on one rank.
        """
        path = Path(path)
        meta, problem = self._read_meta(path)
        if problem is None:
            problem = self._size_problem(path, meta)
        if problem is not None:
            return problem
        expected = (meta.get("files") or {}).get("cells.bin", {}).get("sha256")
        if expected is not None and sha256_of(path / "cells.bin") != expected:
            return "cells.bin does not match its SHA-256 in meta.json (corrupt)"
        return None

    def newest_valid(self) -> Path | None:
        """The newest checkpoint that passes :meth:`problem` (collective), or None.

        ``LATEST`` first, then the other ``step_*`` folders from the newest; every damaged
        one is logged with the reason and the checkpoint tried next.

        Raises:
            InputError: there are checkpoints but none is usable (all reasons listed).
        """
        chosen: str | None = None
        reasons: list[str] = []
        if self.comm.rank == 0:
            for candidate in self._candidates():
                problem = self.problem(candidate)
                if problem is None:
                    chosen = str(candidate)
                    break
                reasons.append(f"{candidate.name}: {problem}")
                logger.warning(
                    "checkpoint %s is not usable (%s); trying the previous one",
                    candidate.name,
                    problem,
                )
        chosen, reasons = self.comm.bcast((chosen, reasons), root=0)
        if chosen is None and reasons:
            raise InputError(
                "no usable checkpoint to restart from: " + "; ".join(reasons),
                file=self.folder,
            )
        return None if chosen is None else Path(chosen)

    def _candidates(self) -> list[Path]:
        found = sorted((p for p in self.folder.glob("step_*") if p.is_dir()), reverse=True)
        pointer = self.folder / LATEST
        if pointer.exists():
            latest = self.folder / pointer.read_text(encoding="utf-8").strip()
            if latest in found:
                found.remove(latest)
                found.insert(0, latest)
        return found


def _fresh_folder(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)


def _write_json(path: Path, obj: Any) -> None:
    write_text_atomic(path, json.dumps(obj, indent=1))
