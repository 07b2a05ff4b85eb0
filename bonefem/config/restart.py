"""The case of a restarted run: what may change, and defaults that changed in between.

A restart (``bonefem run --restart``) continues a run folder with the case it was started
with: its resolved case (``case_resolved.json``, every field with its value, defaults
included) is compared with the case given now.

* Only the fields of :data:`RESTART_MAY_CHANGE` may differ (extend the run, change the
  output and the test intervals).
* A field the new case does not set itself (its value is the schema's default) and whose
  default changed in a later bonefem version takes the **recorded** value: the run goes on
  as it was started (:func:`adopt_recorded_defaults`). E.g. ``solver.rtol``, whose default
  went from 1e-8 to 1e-6 in December 2026: a run started before continues at 1e-8.
* A field the new case sets to another value than the recorded one is an error naming it.
* A field the recorded case does not have (added by a later version) takes its default.

Pure functions of the pydantic case and JSON-like dictionaries (no MPI).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from bonefem.errors import InputError

__all__ = ["RESTART_MAY_CHANGE", "adopt_recorded_defaults", "comparable", "differences"]

#: Case fields a restart may change (extend the run, change output and test intervals).
RESTART_MAY_CHANGE = {("run", "duration_days"), ("output",), ("metrics", "tests_every_days")}


def comparable(data: dict[str, Any]) -> dict[str, Any]:
    """A copy of a resolved case without the fields a restart may change."""
    out = json.loads(json.dumps(data))
    for path in RESTART_MAY_CHANGE:
        *parents, key = path
        section = out
        for name in parents:
            section = section.get(name) or {}
        section.pop(key, None)
    return out


def _changed_paths(
    old: Any, new: Any, path: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], bool]]:
    """(path, removed) of the leaves of ``old`` whose value differs in ``new``.

    ``removed``: the field is missing from ``new``. See :func:`differences`.
    """
    if not (isinstance(old, dict) and isinstance(new, dict)):
        return [] if old == new else [(path, False)]
    out: list[tuple[tuple[str, ...], bool]] = []
    for key, value in old.items():
        if path == ("remodeling",) and isinstance(value, dict) and key != old.get("law"):
            continue
        sub = (*path, key)
        out += _changed_paths(value, new[key], sub) if key in new else [(sub, True)]
    return out


def _get(data: Any, path: Sequence[str]) -> Any:
    for key in path:
        data = data.get(key) if isinstance(data, dict) else None
    return data


def differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Fields of the resolved case ``old`` whose value differs in ``new`` ("field: a -> b").

    Fields only ``new`` has (options added by a later bonefem version, at their defaults)
    are not differences, so a run folder of an older version restarts; neither are the
    settings of a remodelling law the case does not use (their defaults may change).
    """
    return [
        f"{'.'.join(path)}: removed"
        if removed
        else f"{'.'.join(path)}: {_get(old, path)!r} -> {_get(new, path)!r}"
        for path, removed in _changed_paths(old, new)
    ]


def _is_default(case: BaseModel, path: Sequence[str]) -> bool:
    """Whether the field at ``path`` of ``case`` has its schema default (not set by the case).

    True when the field, or a section on its way, was not given by the case file or an
    override (pydantic's ``model_fields_set``). A path through anything but nested models
    (a dictionary, a list) counts as set: such values are compared, never adopted.
    """
    node: Any = case
    for key in path:
        if not isinstance(node, BaseModel) or key not in type(node).model_fields:
            return False
        if key not in node.model_fields_set:
            return True
        node = getattr(node, key)
    return False


def _replace(node: BaseModel, path: Sequence[str], value: Any) -> BaseModel:
    """``node`` with the field at ``path`` set to ``value`` (validated against its type)."""
    key, rest = path[0], path[1:]
    if rest:
        new = _replace(getattr(node, key), rest, value)
    else:
        info = type(node).model_fields[key]  # the field's type and its constraints
        annotated: Any = (
            Annotated[info.annotation, *info.metadata] if info.metadata else info.annotation
        )
        new = TypeAdapter(annotated).validate_python(value)
    return node.model_copy(update={key: new})


def adopt_recorded_defaults[C: BaseModel](
    case: C,
    recorded: dict[str, Any],
    resolved: dict[str, Any],
    recorded_file: str | None = None,
) -> tuple[C, list[str]]:
    """The case with the recorded value of every field it leaves at a (changed) default.

    Args:
        case: the case given for the restart (validated).
        recorded: the run's resolved case (``case_resolved.json``).
        resolved: ``case`` resolved the same way (:func:`bonefem.config.case.case_to_toml_dict`).
        recorded_file: where ``recorded`` was read (for error messages).

    Returns:
        The case to continue with, and one line per adopted field ("field: recorded value
        kept (this version's default: value)"). Fields the case sets itself are left for
        :func:`differences` to report.

    Raises:
        InputError: a recorded value the schema refuses (names the file, field and value).
    """
    adopted: list[str] = []
    for path, removed in _changed_paths(comparable(recorded), comparable(resolved)):
        old, new = _get(recorded, path), _get(resolved, path)
        if removed or not _is_default(case, path):
            continue
        try:
            case = _replace(case, path, old)  # type: ignore[assignment]
        except ValidationError as exc:
            reason = exc.errors()[0].get("msg", str(exc))
            raise InputError(
                f"the run's recorded value is not allowed ({reason}); restart with the field "
                "set in the case file, or repair case_resolved.json in the run folder",
                file=recorded_file,
                field=".".join(path),
                value=old,
            ) from None
        adopted.append(f"{'.'.join(path)}: {old!r} kept (this version's default: {new!r})")
    return case, adopted
