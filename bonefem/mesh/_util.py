"""Small helpers shared by the mesh readers and writers (rank-0 work, readable files)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from bonefem._dolfinx import MPI
from bonefem.errors import InputError


def _on_root[T](comm: MPI.Intracomm, fn: Callable[[], T], *, source: str) -> T | None:
    """Run ``fn`` on rank 0; broadcast a failure so that every rank raises the same error."""
    result: T | None = None
    error: str | None = None
    if comm.rank == 0:
        try:
            result = fn()
        except InputError as exc:
            error = exc.reason
        except Exception as exc:
            error = f"cannot read the mesh: {type(exc).__name__}: {exc}"
    error = comm.bcast(error, root=0)
    if error is not None:
        raise InputError(error, file=source)
    return result


def _check_readable(path: Path) -> None:
    if not path.exists():
        raise InputError("no such mesh file", file=path)
    if not path.is_file() or not os.access(path, os.R_OK):
        raise InputError("the mesh file is not a readable file", file=path)
