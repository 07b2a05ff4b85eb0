"""``--set key=value`` overrides of case fields (bonefem/config/overrides.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bonefem.config.case import load_case
from bonefem.config.overrides import apply_overrides, parse_value
from bonefem.errors import InputError
from tests.conftest import ROOT
from tests.helpers.cases import MENOPAUSE, write_case


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("14", 14),
        ("730.5", 730.5),
        ("-1e-3", -1e-3),
        ("inf", float("inf")),
        ("true", True),
        ('"natural"', "natural"),
        ("huiskes", "huiskes"),  # a bare word is a string
        ("[0.0, 0.0, -800.0]", [0.0, 0.0, -800.0]),
        ('{ preset = "carter_hayes1977", yield_strain = 0.0081 }',
         {"preset": "carter_hayes1977", "yield_strain": 0.0081}),
    ],
)  # fmt: skip
def test_values_are_read_as_toml(text: str, value: object) -> None:
    assert parse_value(text) == value
    assert type(parse_value(text)) is type(value)


def test_paths_tables_and_array_entries() -> None:
    data: dict[str, Any] = {"run": {"name": "a"}, "biology": {"denosumab": [{"start_days": 0.0}]}}
    apply_overrides(
        data,
        [
            "run.duration_days=365.25",
            "biology.denosumab.0.start_days = 182.625",
            "remodeling.law=huiskes",  # a new table
            "remodeling.huiskes.rate=0.3",
        ],
    )
    assert data["run"] == {"name": "a", "duration_days": 365.25}
    assert data["biology"]["denosumab"][0]["start_days"] == 182.625
    assert data["remodeling"] == {"law": "huiskes", "huiskes": {"rate": 0.3}}


@pytest.mark.parametrize(
    ("item", "match"),
    [
        ("run.duration_days", "KEY=VALUE"),
        ("=3", "KEY=VALUE"),
        ("run..x=3", "KEY=VALUE"),
        ("biology.denosumab.3.start_days=1", "has 1 entries"),
        ("biology.denosumab.x.start_days=1", "use an index"),
        ("run.name.first=1", "is a value, not a table"),
        ("biology.denosumab.0=1", "must end at a field of a table"),
    ],
)
def test_bad_overrides_name_the_problem(item: str, match: str) -> None:
    data = {"run": {"name": "a"}, "biology": {"denosumab": [{"start_days": 0.0}]}}
    with pytest.raises(InputError, match=match):
        apply_overrides(data, [item])


def test_overrides_are_validated_like_the_file(tmp_path: Path) -> None:
    path = write_case(tmp_path, "c", biology=MENOPAUSE)
    case = load_case(path, ["run.duration_days=365.25", "coupling.modulus_tolerance=0.01"])
    assert case.run.duration_days == 365.25 and case.coupling.modulus_tolerance == 0.01
    with pytest.raises(InputError, match=r"c\.toml.*duration_days"):
        load_case(path, ["run.duration_days=-3"])
    with pytest.raises(InputError, match=r"c\.toml.*(?i:did you mean)"):
        load_case(path, ["run.duration_dayz=3"])
    with pytest.raises(InputError, match=r"c\.toml.*duration_days"):
        load_case(path, ['run.duration_days="14"'])  # strict: a quoted number is a mistake


def test_an_error_in_an_overridden_value_names_the_override(tmp_path: Path) -> None:
    """The bad value came from ``--set``: the message says so (the file holds no such value),
    for the overridden field itself and for a field inside an overridden table or list."""
    path = write_case(tmp_path, "c", biology=MENOPAUSE)
    with pytest.raises(InputError, match=r"c\.toml with --set run\.duration_days, field "):
        load_case(path, ["coupling.modulus_tolerance=0.01", "run.duration_days=-3"])
    with pytest.raises(
        InputError, match=r"with --set biology\.denosumab, field 'biology\.denosumab\.0\.stop_days'"
    ):
        load_case(path, ["biology.denosumab=[{start_days=365.25}]"])
    # an error in a field no override touched names the file alone
    bad = write_case(tmp_path, "d", biology=MENOPAUSE.replace("natural", "naturall"))
    with pytest.raises(InputError) as info:
        load_case(bad, ["run.duration_days=365.25"])
    assert "--set" not in str(info.value)


def _cli(args: list[str]) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "bonefem.cli", "-q", *args]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)


@pytest.mark.serial
def test_run_with_set_records_the_overrides(tmp_path: Path) -> None:
    path = write_case(tmp_path, "c", duration=730.5, biology=MENOPAUSE)
    bad = _cli(["check", str(path), "--no-mesh", "--set", "run.duration_days=abc"])
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
    out = tmp_path / "run"
    args = ["run", str(path), "-o", str(out), "--no-progress"]
    ok = _cli([*args, "--set", "run.duration_days=91.3125", "--set", "metrics.dxa.axis=x"])
    assert ok.returncode == 0, ok.stderr
    resolved = json.loads((out / "case_resolved.json").read_text())
    assert resolved["run"]["duration_days"] == 91.3125
    assert resolved["metrics"]["dxa"]["axis"] == "x"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["overrides"] == ["run.duration_days=91.3125", "metrics.dxa.axis=x"]
    rows = (out / "metrics.csv").read_text().strip().splitlines()
    assert rows[-1].startswith("91.3125,")
