"""Command-line overrides of case-file fields: ``--set a.b.c=value``.

The value is read as a TOML value (``14.0``, ``true``, ``"text"``, ``[0.0, 0.0, -800.0]``,
``{ preset = "carter_hayes1977" }``); a value that is not valid TOML is taken as a plain
string (``--set remodeling.law=huiskes``). The key is a dotted path into the case's tables;
a number selects an entry of an array of tables (``biology.denosumab.0.start_days``).
Missing tables are created. The result is validated like the file itself, so a wrong key
or value gives the usual message (file, field, value, what is allowed), and the run
records the resolved case in ``case_resolved.json``.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from typing import Any

from bonefem.errors import InputError


def parse_value(text: str) -> Any:
    """A TOML value from ``text``; a bare word that is not TOML is a string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _step(node: Any, key: str, where: str, create: bool) -> Any:
    """The child ``key`` of a table or an array of tables (created if missing and allowed)."""
    if isinstance(node, list):
        if not key.isdigit() or int(key) >= len(node):
            raise InputError(
                f"{where} has {len(node)} entries; use an index 0..{len(node) - 1}",
                field=f"--set {where}",
            )
        return node[int(key)]
    if not isinstance(node, dict):
        raise InputError(f"{where} is a value, not a table", field=f"--set {where}")
    if key not in node and create:
        node[key] = {}
    return node.get(key)


def apply_overrides(data: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Apply ``key=value`` overrides to case data (as read from TOML) in place; returns it.

    Raises:
        InputError: an override without ``=``, an empty key, an array index out of range, or
            a path through a value.
    """
    for item in overrides:
        _, sep, raw = item.partition("=")
        key = override_key(item)
        parts = [p.strip() for p in key.split(".")]
        if not sep or not all(parts):
            raise InputError(
                "give --set as KEY=VALUE with a dotted key, e.g. run.duration_days=730.5 or "
                "biology.denosumab.0.start_days=365.25",
                field="--set",
                value=item,
            )
        node: Any = data
        for i, part in enumerate(parts[:-1]):
            node = _step(node, part, ".".join(parts[: i + 1]), create=True)
        parent = ".".join(parts[:-1])
        if not isinstance(node, dict | list):
            raise InputError(f"{parent} is a value, not a table", field=f"--set {key}")
        if not isinstance(node, dict):
            raise InputError(
                "the key must end at a field of a table (for an array of tables give the "
                "entry's index and one of its fields)",
                field=f"--set {key}",
            )
        node[parts[-1]] = parse_value(raw.strip())
    return data


def override_key(item: str) -> str:
    """The dotted key of a ``key=value`` override (``run.duration_days``)."""
    return item.partition("=")[0].strip()


def override_of(field: str | None, overrides: Sequence[str]) -> str | None:
    """The ``--set`` key that wrote ``field`` (dotted) or a table or item above it.

    None if the field came from the file.
    """
    if not field:
        return None
    for item in overrides:
        key = override_key(item)
        if field == key or field.startswith(key + ".") or key.startswith(field + "."):
            return key
    return None
