"""Exceptions raised by bonefem.

Two families reach the user:

* :class:`InputError` -- bad input (case file, mesh, parameter). The message names the
  file, the field, the value and what is allowed. The CLI prints it as one paragraph,
  without traceback, and exits with code 2.
* :class:`SolverError` -- a numerical failure during a run (non-converged Krylov solve,
  non-finite state). The message names the load case, step and simulated time; the run
  saves a checkpoint before raising. The CLI exits with code 1.

:class:`CalibrationError` is raised by the calibration commands
(``python -m bonefem.biology.calibration``, ``..._mechanistic``) when a fitted constant
cannot reach its target; they print it as one line and exit with code 2.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import BaseModel, ValidationError


class BonefemError(Exception):
    """Base class of every error bonefem raises on purpose."""


_CONTROL = {c: f"\\x{c:02x}" for c in [*range(32), 127]}
_CONTROL.update({ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"})


def _one_line(text: str) -> str:
    """``text`` with control characters escaped (user keys and values may hold any)."""
    return text.translate(_CONTROL)


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
            text = repr(value)
            parts.append(f"value {text if len(text) <= 120 else text[:100] + '...'}")
        prefix = ": ".join([", ".join(parts)]) + ": " if parts else ""
        super().__init__(_one_line(prefix + message))


class OutputWriteError(InputError):
    """A file of the run could not be written (full disk, quota, I/O error); exit 2.

    Raised on every rank at once (the failure of one rank is shared), so that no rank
    waits for the others in a collective call; the run records "failed" in its manifest
    when it still can.
    """


class FieldValueError(ValueError):
    """A cross-field check failed in a pydantic validator; names the offending field.

    Raise it from a ``model_validator`` instead of a plain ``ValueError`` when the error
    belongs to one field: :func:`validation_to_input_error` then reports that field
    (relative to the validated model) and its value, not just the model.

    Args:
        message: what is wrong and what is allowed.
        field: dotted name of the field, relative to the model the validator belongs to.
        value: the offending value.
    """

    def __init__(self, message: str, *, field: str, value: Any = None) -> None:
        super().__init__(message)
        self.field = field
        self.value = value


class SolverError(BonefemError, RuntimeError):
    """A numerical solve failed (message names load case, step and time)."""


class CalibrationError(BonefemError, ValueError):
    """A calibration target that no value of the fitted constant in its bracket reaches.

    The message names the constant, the target, the bracket and the model's misfit at
    both ends (:func:`bonefem.biology.calibration.bracketed_root`).
    """


def on_rank_0[T](comm: Any, fn: Callable[[], T]) -> T:
    """Collective: ``fn()`` on rank 0, its result broadcast, or its error raised everywhere.

    For work that one rank does for all (read an input file, claim the run folder, decide
    a size check): a :class:`BonefemError` raised on rank 0 alone would leave the others
    waiting in the next collective (docs/reliability.md, "One rank failing alone"). Input
    files read so are also one read of a parallel file system per job instead of one per
    rank. ``comm`` is duck-typed (``size``, ``rank``, ``bcast``) so that the schemas import
    without MPI; None or one rank: ``fn()`` here.
    """
    if comm is None or comm.size == 1:
        return fn()
    result: Any = None
    error: BonefemError | None = None
    if comm.rank == 0:
        try:
            result = fn()
        except BonefemError as exc:
            error = exc
    result, error = comm.bcast((result, error), root=0)
    if error is not None:
        raise error
    return result


def raise_on_every_rank(comm: Any, error: BonefemError | None) -> None:
    """Collective: raise, on every rank, the error of the lowest rank that has one.

    For checks of distributed data (each rank checks its own cells): an error raised on
    the ranks that hold a bad cell only would leave the others waiting in the next
    collective (docs/reliability.md, "One rank failing alone"). ``comm`` is duck-typed
    (``size``, ``allgather``); None or one rank: raise ``error`` if it is not None.
    """
    if comm is None or comm.size == 1:
        if error is not None:
            raise error
        return
    first = next((e for e in comm.allgather(error) if e is not None), None)
    if first is not None:
        raise first


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


def _model_at(
    model: type[BaseModel], loc: tuple[Any, ...], tags: Iterable[str] = ()
) -> type[BaseModel] | None:
    """The pydantic model class reached by following ``loc`` from ``model`` (best effort).

    ``loc`` may hold the tags of discriminated unions (``tags``): a tag selects the union
    member whose ``type`` field defaults to it, instead of the first member.
    """
    skip = set(tags)
    current: Any = model
    for i, part in enumerate(loc):
        is_tag = part in skip and i > 0 and isinstance(loc[i - 1], int)
        if isinstance(part, int) or current is None or is_tag:
            continue
        fields = getattr(current, "model_fields", None)
        if fields is None or part not in fields:
            return None
        j = next((k for k in range(i + 1, len(loc)) if not isinstance(loc[k], int)), None)
        tagged = j is not None and loc[j] in skip and isinstance(loc[j - 1], int)
        member = _tagged_member(fields[part].annotation, loc[j]) if tagged and j else None
        current = member or _first_model(fields[part].annotation)
    return current


def _tagged_member(annotation: Any, tag: Any) -> Any:
    """The model in a (nested) union annotation whose ``type`` field defaults to ``tag``."""
    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        info = annotation.model_fields.get("type")
        return annotation if info is not None and info.default == tag else None
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _tagged_member(arg, tag)
        if found is not None:
            return found
    return None


def _first_model(annotation: Any) -> Any:
    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _first_model(arg)
        if found is not None:
            return found
    return None


def validation_to_input_error(
    exc: ValidationError,
    file: str | Path | None = None,
    model: type[BaseModel] | None = None,
    *,
    prefix: str | None = None,
    drop: Iterable[str] = (),
) -> InputError:
    """Turn the first error of a pydantic ``ValidationError`` into an :class:`InputError`.

    The message names the field (dotted path, with ``prefix``), the offending value and
    what is allowed; an unknown key gets a did-you-mean suggestion and the list of allowed
    keys at that place (when ``model`` is given); a value error gets the field's
    description. ``drop`` lists location parts to omit (tags of discriminated unions).
    """
    errors = exc.errors()
    err = errors[0]
    skip = set(drop)
    raw = tuple(err["loc"])
    # a union tag follows the list index of its item; a field of the same name is kept
    loc = tuple(
        p
        for i, p in enumerate(raw)
        if not (isinstance(p, str) and p in skip and i > 0 and isinstance(raw[i - 1], int))
    )
    field = ".".join(str(p) for p in ((prefix,) if prefix else ()) + loc) or None
    more = f" ({len(errors) - 1} more error(s))" if len(errors) > 1 else ""
    cause = (err.get("ctx") or {}).get("error")
    if isinstance(cause, FieldValueError):
        full = ".".join(p for p in (field, cause.field) if p)
        return InputError(f"{cause}{more}", file=file, field=full, value=cause.value)
    if err["type"] == "extra_forbidden":
        parent = _model_at(model, raw[:-1], skip) if model is not None and loc else None
        allowed = sorted(parent.model_fields) if parent is not None else []
        hint = did_you_mean(str(loc[-1]), allowed) if loc else ""
        listing = f" Allowed keys here: {', '.join(allowed)}." if allowed else ""
        return InputError(f"unknown key.{hint}{listing}{more}", file=file, field=field)
    if err["type"] == "missing":
        return InputError(f"required field is missing{more}", file=file, field=field)
    msg = err["msg"]
    msg = msg[:1].lower() + msg[1:]
    if model is not None and loc:
        owner = _model_at(model, raw[:-1], skip)
        info = owner.model_fields.get(str(loc[-1])) if owner is not None else None
        if info is not None and info.description:
            msg = f"{msg} ({info.description})"
    value = err.get("input")
    if isinstance(value, dict):
        value = None
    return InputError(msg + more, file=file, field=field, value=value)
