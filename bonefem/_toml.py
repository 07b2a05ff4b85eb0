"""A small TOML writer: tables, arrays of tables, inline tables, scalars and arrays.

Used to write a case given as a dictionary (:func:`bonefem.run` with a ``dict``) and the
``--set`` values of a sweep. Comments cannot be kept (a case read into a dictionary has
none); :func:`dumps` checks that its output reads back to the same data.
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from typing import Any

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(k: str) -> str:
    return k if _BARE_KEY.match(k) else json.dumps(k, ensure_ascii=False)


def value(v: Any) -> str:
    """The TOML text of one value (``14.0``, ``"text"``, ``inf``, ``[1, 2]``, ``{ a = 1 }``).

    Raises:
        TypeError: a value TOML cannot hold (None, objects).
    """
    if hasattr(v, "item") and hasattr(v, "dtype"):  # numpy scalars
        v = v.item()
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(int(v))
    if isinstance(v, float):
        v = float(v)
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        text = repr(v)
        return text if any(c in text for c in ".en") else text + ".0"
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_key(str(k))} = {value(x)}" for k, x in v.items()) + " }"
    if isinstance(v, list | tuple):
        return "[" + ", ".join(value(x) for x in v) + "]"
    raise TypeError(f"cannot write a {type(v).__name__} as TOML: {v!r}")


def _is_table_array(v: Any) -> bool:
    return isinstance(v, list | tuple) and bool(v) and all(isinstance(x, dict) for x in v)


def _write_table(out: list[str], path: list[str], table: dict[str, Any]) -> None:
    plain = {k: v for k, v in table.items() if not (isinstance(v, dict) or _is_table_array(v))}
    for k, v in plain.items():
        if v is not None:
            out.append(f"{_key(k)} = {value(v)}")
    for k, v in table.items():
        if k in plain:
            continue
        sub = [*path, k]
        name = ".".join(_key(p) for p in sub)
        if isinstance(v, dict):
            out += ["", f"[{name}]"]
            _write_table(out, sub, v)
        else:
            for item in v:
                out += ["", f"[[{name}]]"]
                _write_table(out, sub, item)


def dumps(doc: dict[str, Any]) -> str:
    """TOML text of ``doc`` (keys with the value None are left out).

    Raises:
        TypeError: a value TOML cannot hold.
    """
    out: list[str] = []
    _write_table(out, [], doc)
    text = "\n".join(out).lstrip("\n") + "\n"
    try:
        tomllib.loads(text)  # a writer bug would show here, not in the case validation
    except tomllib.TOMLDecodeError as exc:  # pragma: no cover - a writer bug
        raise TypeError(f"the TOML written does not read back: {exc}") from None
    return text
