"""Write the case files of a parameter sweep: one case per value of one field of a template.

Used by docker/slurm/sweep.sh (inside the image or with a venv's Python); needs only the
standard library, so it also runs with any Python >= 3.11::

    python sweep_cases.py TEMPLATE DIR --field biology.denosumab.0.start_days \\
        --values 365.25 1095.75 1826.25 \\
        --set 'biology.denosumab.0.stop_days=$v + 1095.75'

writes ``DIR/cases/<NNN>_<name>.toml`` (NNN = 000, 001, ... = the SLURM array index) and
``DIR/sweep.tsv`` (index, value, case file, run folder). Fields are dotted paths; a number
picks an element of an array (``biology.denosumab.0`` is the first ``[[biology.denosumab]]``
course). A value is TOML
(``365.25``, ``"surgical"``, ``inf``, ``[1, 2]``) or, in ``--set``, arithmetic on ``$v``, the
swept value (``$v + 1095.75``). A bare word that is not TOML is taken as a string.

Comments of the template are not kept (the files are generated; the template is the source).
Relative ``mesh.file``/``mesh.settings`` paths that exist beside the template are made
absolute, so the generated cases find the same mesh.
"""

from __future__ import annotations

import argparse
import ast
import json
import math
import operator
import re
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


# ---------------------------------------------------------------------------------------------
# a small TOML writer (tables, arrays of tables, inline tables, scalars, arrays)


def _key(k: str) -> str:
    return k if _BARE_KEY.match(k) else json.dumps(k, ensure_ascii=False)


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        text = repr(v)
        return text if any(c in text for c in ".en") else text + ".0"
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(x)}" for k, x in v.items()) + " }"
    if isinstance(v, list):
        if v and all(isinstance(x, dict) for x in v):
            return "[\n" + "".join(f"  {_value(x)},\n" for x in v) + "]"
        return "[" + ", ".join(_value(x) for x in v) + "]"
    raise TypeError(f"cannot write a {type(v).__name__} as TOML: {v!r}")


def _is_table_array(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v)


def _flat(d: dict[str, Any]) -> bool:
    """A table with no sub-tables and no arrays of tables (fits on one line as inline table)."""
    return not any(isinstance(x, dict) or _is_table_array(x) for x in d.values())


def _inline(v: Any) -> bool:
    """Written as ``key = value`` in its table (not as a [table] or [[array]] of its own)."""
    if isinstance(v, dict):
        return bool(v) and _flat(v) and len(_value(v)) <= 80
    if _is_table_array(v):
        return all(_flat(x) for x in v)
    return True


def _write_table(out: list[str], path: list[str], table: dict[str, Any], header: str) -> None:
    # top-level tables are always [tables]; a table with only sub-tables needs no header
    plain = {k: v for k, v in table.items() if _inline(v) and (path or not isinstance(v, dict))}
    if header and (plain or len(plain) == len(table)):
        out.append("")
        out.append(header)
    for k, v in plain.items():
        out.append(f"{_key(k)} = {_value(v)}")
    for k, v in table.items():
        if k in plain:
            continue
        sub = [*path, k]
        name = ".".join(_key(p) for p in sub)
        if isinstance(v, dict):
            _write_table(out, sub, v, f"[{name}]")
        else:
            for item in v:
                out.append("")
                out.append(f"[[{name}]]")
                _write_table(out, sub, item, "")


def dumps(doc: dict[str, Any]) -> str:
    """TOML text of ``doc`` (round-trips through :func:`tomllib.loads`)."""
    out: list[str] = []
    _write_table(out, [], doc, "")
    text = "\n".join(out).lstrip("\n") + "\n"
    if _comparable(tomllib.loads(text)) != _comparable(doc):  # pragma: no cover - a writer bug
        raise AssertionError("the TOML writer did not round-trip")
    return text


def _comparable(v: Any) -> Any:
    if isinstance(v, float) and math.isnan(v):
        return "nan"
    if isinstance(v, dict):
        return {k: _comparable(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_comparable(x) for x in v]
    return v


# ---------------------------------------------------------------------------------------------
# values and fields

_OPS: dict[type, Callable[..., float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}


def _arith(node: ast.AST) -> float:
    if isinstance(node, ast.Expression):
        return _arith(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        return _OPS[type(node.op)](_arith(node.left), _arith(node.right))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _OPS:
        return _OPS[type(node.op)](_arith(node.operand))
    raise ValueError("only numbers, + - * / and parentheses are allowed")


def parse_value(text: str, swept: Any = None) -> Any:
    """A TOML value, or arithmetic on ``$v`` (the swept value), or else a bare string."""
    uses_swept = "$v" in text
    if uses_swept:
        if swept is None:
            raise ValueError(f"$v only has a meaning in --set: {text!r}")
        text = text.replace("$v", _value(swept))
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        pass
    try:
        return _arith(ast.parse(text, mode="eval"))
    except (SyntaxError, ValueError, TypeError, ZeroDivisionError):
        if uses_swept:
            raise ValueError(f"not a TOML value nor arithmetic: {text!r}") from None
        return text


def set_field(doc: dict[str, Any], field: str, value: Any) -> None:
    """Set a dotted field (numbers index arrays); the parent must exist, the leaf may be new."""
    parts = field.split(".")
    node: Any = doc
    for i, part in enumerate(parts[:-1]):
        where = ".".join(parts[: i + 1])
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise KeyError(f"{where}: no element {part} (the array has {len(node)})")
            node = node[int(part)]
        elif isinstance(node, dict):
            if part not in node:
                raise KeyError(f"{where}: no such table in the template")
            node = node[part]
        else:
            raise KeyError(f"{where}: not a table or an array")
    leaf = parts[-1]
    if isinstance(node, list):
        if not leaf.isdigit() or int(leaf) >= len(node):
            raise KeyError(f"{field}: no element {leaf} (the array has {len(node)})")
        node[int(leaf)] = value
    elif isinstance(node, dict):
        node[leaf] = value
    else:
        raise KeyError(f"{field}: the parent is not a table or an array")


def _absolute_mesh_paths(doc: dict[str, Any], base: Path) -> None:
    mesh = doc.get("mesh")
    if not isinstance(mesh, dict):
        return
    for key in ("file", "settings"):
        p = mesh.get(key)
        if isinstance(p, str) and not Path(p).expanduser().is_absolute() and (base / p).exists():
            mesh[key] = str((base / p).resolve())


def _tag(value: Any) -> str:
    return re.sub(r"[^A-Za-z0-9.+-]+", "_", _value(value)).strip("_") or "value"


def make_case(
    template: dict[str, Any],
    base: Path,
    changes: list[tuple[str, Any]],
    name: str,
    note: str,
) -> dict[str, Any]:
    """A copy of the template with the changes applied, run.name set and a note added."""
    doc: dict[str, Any] = json.loads(json.dumps(template, allow_nan=True))
    _absolute_mesh_paths(doc, base)
    for field, value in changes:
        set_field(doc, field, value)
    run = doc.setdefault("run", {})
    run["name"] = name
    run["description"] = (str(run.get("description", "")) + f" [{note}]").strip()
    return doc


def write_sweep(
    template_path: Path,
    folder: Path,
    field: str,
    values: list[str],
    sets: list[str],
    name: str | None = None,
    runs: Path | None = None,
) -> list[Path]:
    """Write the cases and ``sweep.tsv`` of a sweep; return the case paths."""
    template = tomllib.loads(template_path.read_text(encoding="utf-8"))
    base_name = name or str(template.get("run", {}).get("name") or template_path.stem)
    leaf = field.rsplit(".", 1)[-1]
    runs = runs or folder / "runs"
    (folder / "cases").mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    rows = ["index\tvalue\tcase\trun"]
    seen: set[str] = set()
    for index, text in enumerate(values):
        value = parse_value(text)
        changes = [(field, value)]
        for s in sets:
            key, sep, expr = s.partition("=")
            if not sep:
                raise ValueError(f"--set wants FIELD=VALUE, got {s!r}")
            changes.append((key.strip(), parse_value(expr.strip(), swept=value)))
        run_name = f"{base_name}_{leaf}_{_tag(value)}"
        if run_name in seen:
            raise ValueError(f"value {text!r} appears twice")
        seen.add(run_name)
        note = f"sweep {index}: {field} = {_value(value)}"
        doc = make_case(template, template_path.parent.resolve(), changes, run_name, note)
        path = folder / "cases" / f"{index:03d}_{run_name}.toml"
        header = (
            f"# Generated by docker/slurm/sweep_cases.py from {template_path}\n"
            f"# {note}" + "".join(f"; {k} = {_value(v)}" for k, v in changes[1:]) + "\n"
        )
        path.write_text(header + dumps(doc), encoding="utf-8")
        paths.append(path)
        rows.append(f"{index}\t{_value(value)}\t{path}\t{runs / run_name}")
    (folder / "sweep.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("template", type=Path, help="template case (TOML)")
    parser.add_argument("folder", type=Path, help="sweep folder (cases/, sweep.tsv)")
    parser.add_argument("--field", required=True, help="dotted field to sweep")
    parser.add_argument("--values", nargs="+", required=True, help="its values, one case each")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="another change for every case; $v is the swept value (repeatable)",
    )
    parser.add_argument("--name", help="run name prefix (default: the template's run.name)")
    parser.add_argument("--runs", type=Path, help="where the runs go (default FOLDER/runs)")
    args = parser.parse_args(argv)
    try:
        paths = write_sweep(
            args.template, args.folder, args.field, args.values, args.set, args.name, args.runs
        )
    except (OSError, ValueError, KeyError, TypeError, tomllib.TOMLDecodeError) as exc:
        print(f"sweep_cases: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {len(paths)} cases to {args.folder / 'cases'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
