"""Input files read once per job: rank 0 reads, every rank gets the same text.

A case, test or mesh-settings file read by every rank of an MPI job is a failure that
happens on one rank alone: a node that does not see the file (a node-local folder on a
cluster), or a read that meets the file half-saved, raises on that rank while the others go
on into the job's first collective and wait there forever. Read through
:func:`read_text_once`, the text, or the reading error, is the same on every rank, so every
rank validates the same bytes and fails alike (docs/reliability.md, "One rank failing
alone"). It is also one read of a parallel file system per job instead of one per rank.

The communicator is duck-typed (``size``, ``rank``, ``bcast``) so that this module, and the
schemas that use it, import without MPI.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from bonefem.errors import InputError


def read_text_once(path: Path, read: Callable[[Path], str], comm: Any = None) -> str:
    """``read(path)`` on rank 0 of ``comm``, broadcast; on every rank without a communicator.

    Args:
        path: the file.
        read: reads the file and raises :class:`~bonefem.errors.InputError` naming it and
            what is wrong (not found, a folder, not UTF-8, ...).
        comm: an MPI communicator (collective: every rank calls), or None.

    Returns:
        The text of the file as rank 0 read it.

    Raises:
        InputError: rank 0's reading error, on every rank.
    """
    if comm is None or comm.size == 1:
        return read(path)
    result: tuple[str | None, InputError | None] = (None, None)
    if comm.rank == 0:
        try:
            result = (read(path), None)
        except InputError as exc:
            result = (None, exc)
    text, error = comm.bcast(result, root=0)
    if error is not None:
        raise error
    assert text is not None
    return text
