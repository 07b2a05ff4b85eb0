"""One rule for writes on several ranks: a failure on any rank is raised on every rank.

A rank whose write failed must not leave the others waiting in a collective call it never
reaches (a hang instead of an error, issue 16). :func:`collective_write` runs the write on
this rank, then shares the outcome with one ``allgather``; the field series
(:mod:`bonefem.output.vtk`) and the run's writers (:mod:`bonefem.output.run`) both use it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from bonefem._dolfinx import MPI

__all__ = ["CollectiveWriteError", "collective_write"]


class CollectiveWriteError(OSError):
    """A write failed on at least one rank; raised on every rank of the communicator.

    Attributes:
        path: the file that could not be written (the first failing rank's).
        reason: the operating system's reason (e.g. "No space left on device").
        rank: the first rank whose write failed.
    """

    def __init__(self, path: str, reason: str, rank: int) -> None:
        super().__init__(f"writing {path} failed on rank {rank}: {reason}")
        self.path = path
        self.reason = reason
        self.rank = rank


def _describe(exc: BaseException, what: Path) -> tuple[str, str]:
    """(path, reason) of a failed write."""
    path = getattr(exc, "filename", None) or str(what)
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return str(path), str(reason)


def collective_write[T](comm: Any, what: Path, fn: Callable[[], T]) -> T:
    """Run the write ``fn`` on this rank; if it fails on any rank, raise on every rank.

    Collective over ``comm``. An OSError (or an MPI-IO error) of ``fn`` on any rank
    becomes a :class:`CollectiveWriteError` on every rank, naming the first failing rank's
    path and reason; otherwise ``fn``'s result is returned.

    Args:
        comm: the communicator of the writers.
        what: the file or folder being written (named when the error carries no path).
        fn: the write of this rank (may do nothing on some ranks).
    """
    error: tuple[str, str] | None = None
    result: Any = None
    try:
        result = fn()
    except (OSError, MPI.Exception) as exc:
        error = _describe(exc, what)
    failures = [(rank, e) for rank, e in enumerate(comm.allgather(error)) if e is not None]
    if failures:
        rank, (path, reason) = failures[0]
        raise CollectiveWriteError(path, reason, rank)
    return result
