"""The case of a restart: defaults changed since the run started keep their recorded value.

:mod:`bonefem.config.restart`: a field the restarted case leaves at its default takes the
value recorded in the run folder (the run goes on as it was started); a field the case sets
itself to another value is a difference the restart refuses; the fields a restart may
change are neither.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bonefem.config.case import Case, case_to_toml_dict, load_case
from bonefem.config.restart import adopt_recorded_defaults, comparable, differences
from bonefem.errors import InputError
from tests.helpers.cases import write_case


def _case(tmp_path: Path, name: str, extra: str = "", **kw: Any) -> Case:
    folder = tmp_path / name
    folder.mkdir()
    path = write_case(folder, name="c", **kw)
    if extra:
        path.write_text(path.read_text() + extra)
    return load_case(path)


def _recorded(case: Case, **changes: float) -> dict:
    """The resolved case as an older version would have recorded it (``solver`` changes)."""
    data = json.loads(json.dumps(case_to_toml_dict(case)))
    data["solver"].update(changes)
    return data


def test_a_default_changed_since_the_run_started_keeps_the_recorded_value(
    tmp_path: Path,
) -> None:
    case = _case(tmp_path, "a")
    assert case.solver.rtol == pytest.approx(1e-6)  # this version's default
    recorded = _recorded(case, rtol=1e-8)
    resolved = case_to_toml_dict(case)
    assert differences(comparable(recorded), comparable(resolved)) == [
        "solver.rtol: 1e-08 -> 1e-06"
    ]
    kept, adopted = adopt_recorded_defaults(case, recorded, resolved)
    assert kept.solver.rtol == 1e-8
    assert adopted == ["solver.rtol: 1e-08 kept (this version's default: 1e-06)"]
    assert differences(comparable(recorded), comparable(case_to_toml_dict(kept))) == []
    assert case.solver.rtol == pytest.approx(1e-6)  # the given case is not modified


def test_a_value_the_case_sets_itself_is_still_a_difference(tmp_path: Path) -> None:
    # the case sets the field, to another value or to the new default: refused either way
    for value in (1e-7, 1e-6):
        case = _case(tmp_path, f"s{value:g}", f"\n[solver]\nrtol = {value}\n")
        recorded = _recorded(case, rtol=1e-8)
        resolved = case_to_toml_dict(case)
        kept, adopted = adopt_recorded_defaults(case, recorded, resolved)
        assert adopted == [] and kept.solver.rtol == pytest.approx(value)
        assert differences(comparable(recorded), comparable(case_to_toml_dict(kept))) == [
            f"solver.rtol: 1e-08 -> {value!r}"
        ]


def test_other_fields_of_a_given_section_still_adopt(tmp_path: Path) -> None:
    # [solver] is given with test_rtol only: rtol is still at its default
    case = _case(tmp_path, "t", "\n[solver]\ntest_rtol = 1e-6\n")
    recorded = _recorded(case, rtol=1e-8, refresh_factor=2.0)
    kept, adopted = adopt_recorded_defaults(case, recorded, case_to_toml_dict(case))
    assert (kept.solver.rtol, kept.solver.refresh_factor, kept.solver.test_rtol) == (
        1e-8,
        2.0,
        1e-6,
    )
    assert len(adopted) == 2


def test_fields_a_restart_may_change_are_not_adopted(tmp_path: Path) -> None:
    case = _case(tmp_path, "d", duration=730.5)
    recorded = json.loads(json.dumps(case_to_toml_dict(case)))
    recorded["run"]["duration_days"] = 365.25
    recorded["output"]["metrics_every_days"] = 30.0
    kept, adopted = adopt_recorded_defaults(case, recorded, case_to_toml_dict(case))
    assert adopted == [] and kept.run.duration_days == 730.5


def test_a_recorded_value_the_schema_refuses_is_an_error_not_a_silent_change(
    tmp_path: Path,
) -> None:
    case = _case(tmp_path, "bad")
    recorded = _recorded(case, rtol=-1.0)  # a damaged case_resolved.json
    with pytest.raises(InputError, match=r"run/case_resolved\.json, field 'solver\.rtol'") as err:
        adopt_recorded_defaults(case, recorded, case_to_toml_dict(case), "run/case_resolved.json")
    assert err.value.value == -1.0 and "greater than 0" in err.value.reason
