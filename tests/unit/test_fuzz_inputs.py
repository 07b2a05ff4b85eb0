"""Property-based fuzzing (hypothesis) of case files and mesh arrays (issue 16, "Deliver"):
every input gives a valid Case / passes, or an InputError of one line -- never another
exception."""

from __future__ import annotations

import copy
import math
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bonefem.config.case import load_case, parse_case
from bonefem.errors import InputError
from bonefem.mesh.validate import check_cell_array
from tests.helpers.cases import HRT, write_case
from tests.unit.test_mesh_validate import cube

ROOT = Path(__file__).resolve().parents[2]
FUZZ = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _base() -> dict[str, Any]:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = write_case(Path(tmp), "fuzz", biology=HRT)
        return tomllib.loads(path.read_text())


BASE = _base()


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


PATHS = _paths(BASE)

scalars = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.booleans(),
    st.text(max_size=30),
    st.sampled_from(["14", "1e3", "nan", "inf", "-0", "", "..", "x" * 300, "ü", "\x00"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def _set(data: dict[str, Any], path: tuple[Any, ...], value: Any, delete: bool) -> None:
    node: Any = data
    for part in path[:-1]:
        node = node[part]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = value


def _assert_one_line(exc: InputError) -> None:
    text = str(exc)
    assert "\n" not in text and text.strip() == text and len(text) < 2000, text


@FUZZ
@given(
    changes=st.lists(
        st.tuples(st.sampled_from(PATHS), values, st.booleans()), min_size=1, max_size=3
    )
)
def test_mutated_cases_parse_or_fail_with_one_line(changes) -> None:
    data = copy.deepcopy(BASE)
    for path, value, delete in changes:
        try:
            _set(data, path, value, delete)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change removed or replaced the parent
    try:
        case = parse_case(data, file="fuzz.toml")
    except InputError as exc:
        _assert_one_line(exc)
        return
    # accepted: every number that reached the schema is a number, NaN nowhere
    dumped = case.model_dump()
    assert not _has_nan(dumped)
    assert case.run.duration_days > 0 and math.isfinite(case.run.duration_days)


def _has_nan(node: Any) -> bool:
    if isinstance(node, float):
        return math.isnan(node)
    if isinstance(node, dict):
        return any(_has_nan(v) for v in node.values())
    if isinstance(node, list | tuple):
        return any(_has_nan(v) for v in node)
    return False


@FUZZ
@given(extra=st.dictionaries(st.text(min_size=1, max_size=12), values, min_size=1, max_size=3))
def test_unknown_keys_fail_with_one_line(extra) -> None:
    data = copy.deepcopy(BASE)
    data["run"].update({k: v for k, v in extra.items() if k not in data["run"]})
    if data == BASE:
        return
    try:
        parse_case(data, file="fuzz.toml")
    except InputError as exc:
        _assert_one_line(exc)


@settings(max_examples=150, deadline=None)
@given(blob=st.binary(max_size=400), encoding=st.sampled_from(["utf-8", "latin-1", "utf-16"]))
def test_case_files_of_any_bytes_fail_with_one_line(tmp_path_factory, blob, encoding) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "case.toml"
    text = (ROOT / "cases" / "menopause_vertebra.toml").read_text()
    cut = len(blob) % max(1, len(text))
    try:
        payload = text[:cut].encode(encoding) + blob
    except UnicodeEncodeError:
        payload = blob
    path.write_bytes(payload)
    try:
        load_case(path)
    except InputError as exc:
        _assert_one_line(exc)


# ----------------------------------------------------------------------------- meshes
PTS, CELLS = cube(2)


def _oracle_ok(pts: np.ndarray, cells: np.ndarray) -> bool:
    """A slow, independent statement of what a usable tetrahedral mesh is."""
    if not np.isfinite(pts).all():
        return False
    signs = set()
    for row in cells.tolist():
        if min(row) < 0 or max(row) >= len(pts) or len(set(row)) < 4:
            return False
        a, b, c, d = (np.array(pts[i], dtype=float) for i in row)
        v = float(np.dot(np.cross(b - a, c - a), d - a))
        if abs(v) <= 1e-14 * 2048.0 * 3**1.5:  # same scale as the check (cube of 8 mm)
            return False
        signs.add(v > 0)
    return len(signs) == 1


damage = st.one_of(
    st.tuples(st.just("repeat"), st.integers(0, 47), st.integers(0, 3), st.integers(0, 3)),
    st.tuples(st.just("coord"), st.integers(0, 26), st.integers(0, 2),
              st.sampled_from([math.nan, math.inf, -math.inf, 0.0, 4.0, 1e-12])),
    st.tuples(st.just("index"), st.integers(0, 47), st.integers(0, 3),
              st.integers(-5, 40)),
    st.tuples(st.just("flip"), st.integers(0, 47)),
    st.tuples(st.just("merge"), st.integers(0, 26), st.integers(0, 26)),
)  # fmt: skip


def _apply(pts: np.ndarray, cells: np.ndarray, d: tuple[Any, ...]) -> None:
    kind = d[0]
    if kind == "repeat":
        cells[d[1], d[2]] = cells[d[1], d[3]]
    elif kind == "coord":
        pts[d[1], d[2]] = d[3]
    elif kind == "index":
        cells[d[1], d[2]] = d[3]
    elif kind == "flip":
        cells[d[1]] = cells[d[1]][[0, 2, 1, 3]]
    else:  # two nodes at one place (duplicate vertices in space)
        pts[d[1]] = pts[d[2]]


@settings(max_examples=400, deadline=None)
@given(damages=st.lists(damage, min_size=1, max_size=3))
def test_damaged_meshes_are_rejected_exactly_when_unusable(damages) -> None:
    pts, cells = PTS.copy(), CELLS.copy()
    for d in damages:
        _apply(pts, cells, d)
    try:
        check_cell_array(pts, cells, source="fuzz.vtu")
    except InputError as exc:
        _assert_one_line(exc)
        assert "fuzz.vtu" in str(exc)
        assert not _oracle_ok(pts, cells), "a usable mesh was rejected"
        return
    assert _oracle_ok(pts, cells), "an unusable mesh passed"
