"""Exceptions raised by bonefem.

Two families reach the user:

* :class:`InputError` -- bad input (case file, mesh, parameter). The message names the
  file, the field, the value and what is allowed. The CLI prints it as one paragraph,
  without traceback, and exits with code 2.
* :class:`SolverError` -- a numerical failure during a run (non-converged Krylov solve,
  non-finite state). The message names the load case, step and simulated time; the run
  saves a checkpoint before raising. The CLI exits with code 1.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path
from typing import Any


class BonefemError(Exception):
    """Base class of every error bonefem raises on purpose."""


class InputError(BonefemError, ValueError):
    """Invalid user input.

    Args:
        message: what is wrong and what is allowed.
        file: the file the value came from (case file, mesh), if any.
        field: dotted name of the offending field (``"therapy.denosumab.dose_mg"``), if any.
        value: the offending value, if any.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        field: str | None = None,
        value: Any = None,
    ) -> None:
        self.file = None if file is None else str(file)
        self.field = field
        self.value = value
        self.reason = message
        parts = []
        if self.file is not None:
            parts.append(f"{self.file}")
        if field is not None:
            parts.append(f"field '{field}'")
        if value is not None:
            parts.append(f"value {value!r}")
        prefix = ": ".join([", ".join(parts)]) + ": " if parts else ""
        super().__init__(prefix + message)


class SolverError(BonefemError, RuntimeError):
    """A numerical solve failed (message names load case, step and time)."""


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Return a ``" Did you mean 'x'?"`` hint (or an empty string) for a mistyped name."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""


def require_names(
    wanted: Iterable[str],
    available: Iterable[str],
    *,
    kind: str,
    file: str | Path | None = None,
    field: str | None = None,
) -> None:
    """Raise :class:`InputError` if any of ``wanted`` is not in ``available``.

    Args:
        wanted: names asked for (e.g. surface names a case refers to).
        available: names that exist (e.g. the mesh's physical groups).
        kind: what the names are, for the message ("surface", "region").
        file: file the names come from.
        field: case-file field that asked for them.
    """
    have = sorted(available)
    for name in wanted:
        if name not in have:
            raise InputError(
                f"unknown {kind} '{name}'.{did_you_mean(name, have)} "
                f"The mesh has the {kind}s: {', '.join(have) if have else '(none)'}.",
                file=file,
                field=field,
                value=name,
            )
