"""Case files: the bundled cases validate, the reference in the docs is generated and fresh."""

from __future__ import annotations

from pathlib import Path

import pytest

from bonefem.config.case import case_reference_markdown, load_case, parse_case
from bonefem.errors import InputError

ROOT = Path(__file__).resolve().parents[2]


def test_case_reference_in_docs_is_up_to_date() -> None:
    doc = (ROOT / "docs" / "case-reference.md").read_text()
    assert doc == case_reference_markdown(), (
        "docs/case-reference.md is stale: run "
        "`python -m bonefem.config.case > docs/case-reference.md`"
    )


@pytest.mark.parametrize("path", sorted((ROOT / "cases").glob("*.toml")), ids=lambda p: p.stem)
def test_bundled_cases_validate(path: Path) -> None:
    case = load_case(path)
    assert case.run.duration_days > 0
    assert case.metrics.stiffness_test is not None and case.metrics.fracture is not None


def minimal() -> dict:
    return {
        "run": {"duration_days": 10.0},
        "mesh": {"generator": "specimen"},
        "load_cases": [
            {"name": "c", "supports": [{"type": "fixed", "surface": "bottom"}]},
        ],
    }


def test_defaults_are_filled_in() -> None:
    case = parse_case(minimal())
    assert case.run.biology_step_days == 7.0
    assert case.material.regions["trabecular"].bvtv == 0.15
    assert case.coupling.modulus_tolerance == 0.02
    assert case.load_scale(5.0) == 1.0


def test_activity_periods() -> None:
    data = minimal()
    data["activity"] = [{"start_days": 2.0, "stop_days": 4.0, "load_scale": 0.5}]
    case = parse_case(data)
    assert [case.load_scale(t) for t in (1.0, 2.0, 3.9, 4.0)] == [1.0, 0.5, 0.5, 1.0]
    assert case.activity_changes() == [2.0, 4.0]
    data["activity"].append({"start_days": 3.0, "load_scale": 0.1})
    with pytest.raises(InputError, match="activity periods overlap"):
        parse_case(data)


@pytest.mark.parametrize(
    ("patch", "field", "message"),
    [
        ({"run": {"duration_days": 10.0, "nmae": "x"}}, "run.nmae", "Did you mean 'name'"),
        ({"run": {"duration_days": 0.0}}, "run.duration_days", "greater than 0"),
        ({"run": {}}, "run.duration_days", "required field is missing"),
        (
            {"coupling": {"modulus_tolerance": 2.0}},
            "coupling.modulus_tolerance",
            "less than or equal",
        ),
        ({"remodeling": {"law": "wolff"}}, "remodeling.law", "'cells' or 'huiskes'"),
        (
            {"load_cases": [{"name": "c", "supports": [{"type": "clamp", "surface": "b"}]}]},
            "load_cases.0.supports.0",
            "fixed",
        ),
    ],
)
def test_errors_name_field_and_allowed_values(patch: dict, field: str, message: str) -> None:
    data = {**minimal(), **patch}
    with pytest.raises(InputError) as info:
        parse_case(data, file="case.toml")
    text = str(info.value)
    assert "case.toml" in text and f"field '{field}" in text and message in text, text


def test_test_load_case_must_not_shadow_a_habitual_one() -> None:
    data = minimal()
    data["metrics"] = {
        "stiffness_test": {
            "name": "c",
            "supports": [{"type": "displacement", "surface": "t", "value": [0, 0, -0.1]}],
        }
    }
    with pytest.raises(InputError, match="name of a habitual load case"):
        parse_case(data)


def test_tests_every_days_is_a_multiple_of_the_metrics_interval() -> None:
    data = minimal()
    data["output"] = {"metrics_every_days": 91.3125}
    assert parse_case(data).metrics.tests_every_days is None  # default: every metrics row
    for ok in (91.3125, 365.25, 365.25 * (1 + 1e-12)):
        data["metrics"] = {"tests_every_days": ok}
        assert parse_case(data).metrics.tests_every_days == ok
    for bad in (100.0, 45.65625, 365.25 * (1 + 1e-8)):
        data["metrics"] = {"tests_every_days": bad}
        with pytest.raises(InputError) as info:
            parse_case(data, file="case.toml")
        err = info.value
        assert err.file == "case.toml" and err.field == "metrics.tests_every_days"
        assert err.value == bad
        text = str(err)
        assert "multiple of output.metrics_every_days (91.3125 days)" in text, text
        assert "365.25" in text and "leave it out" in text, text
    data["metrics"] = {"tests_every_days": 0.0}
    with pytest.raises(InputError, match=r"metrics\.tests_every_days.*greater than 0"):
        parse_case(data, file="case.toml")
