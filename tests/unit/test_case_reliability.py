"""Case validation of issue 16 (items 4, 6, 11): PETSc option allowlist, NaN anywhere,
non-finite loads, zero stiffness test, run names, quoted numbers -- each exit 2 with one
line naming file, field and value from `bonefem check`."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from bonefem.cli import main
from bonefem.config.case import parse_case
from bonefem.config.petsc_options import ALLOWED, check_option
from bonefem.errors import InputError
from tests.helpers.cases import write_case


def _check(capsys, case: Path) -> tuple[int, str]:
    code = main(["-q", "check", "--no-mesh", str(case)])
    _, err = capsys.readouterr()
    return code, err


def _case_with(tmp_path: Path, old: str, new: str, extra: str = "") -> Path:
    base = write_case(tmp_path, "base")
    text = base.read_text()
    assert old in text, old
    path = tmp_path / "bad.toml"
    path.write_text(text.replace(old, new, 1) + extra)
    return path


BAD = [
    # (replace, by, appended text, field named, words in the message)
    (
        "",
        "",
        '\n[solver]\npetsc_options = { ksp_view = "ascii:/tmp/x" }\n',
        "solver.petsc_options.ksp_view",
        "viewers, monitors",
    ),
    (
        "",
        "",
        "\n[solver]\npetsc_options = { log_view = true }\n",
        "solver.petsc_options.log_view",
        "viewers, monitors",
    ),
    (
        "",
        "",
        "\n[solver]\npetsc_options = { ksp_monitor = true }\n",
        "solver.petsc_options.ksp_monitor",
        "viewers, monitors",
    ),
    (
        "",
        "",
        "\n[solver]\npetsc_options = { pc_gammg_threshold = 0.02 }\n",
        "solver.petsc_options.pc_gammg_threshold",
        "Did you mean 'pc_gamg_threshold'",
    ),
    (
        "",
        "",
        '\n[solver]\npetsc_options = { ksp_type = "cgg" }\n',
        "solver.petsc_options.ksp_type",
        "must be one of 'cg'",
    ),
    (
        "",
        "",
        '\n[solver]\npetsc_options = { ksp_max_it = "100" }\n',
        "solver.petsc_options.ksp_max_it",
        "must be an integer",
    ),
    (
        "",
        "",
        "\n[solver]\npetsc_options = { ksp_max_it = true }\n",
        "solver.petsc_options.ksp_max_it",
        "must be an integer",
    ),
    (
        "",
        "",
        "\n[solver]\npetsc_options = { pc_gamg_threshold = inf }\n",
        "solver.petsc_options.pc_gamg_threshold",
        "finite number",
    ),
    (
        "",
        "",
        "\n[solver]\npetsc_options = { -ksp_rtol = 1e-9 }\n",
        "solver.petsc_options.-ksp_rtol",
        "without the leading '-'",
    ),  # a bare key cannot start with '-'
    (
        "force = [0.0, 0.0, -100.0]",
        "force = [0.0, 0.0, nan]",
        "",
        "load_cases.0.loads.0.force.2",
        "nan (not a number) is not allowed",
    ),
    (
        "force = [0.0, 0.0, -100.0]",
        "force = [0.0, 0.0, inf]",
        "",
        "load_cases.0.loads.0.force.2",
        "finite number",
    ),
    (
        "force = [0.0, 0.0, -300.0]",
        "force = [0.0, -inf, -300.0]",
        "",
        "metrics.fracture.load_case.loads.0.force.1",
        "finite number",
    ),
    (
        "value = [0.0, 0.0, -0.05]",
        "value = [0.0, 0.0, 0.0]",
        "",
        "metrics.stiffness_test.supports",
        "zero displacement everywhere",
    ),
    ("duration_days = 730.5", "duration_days = nan", "", "run.duration_days", "nan (not a number)"),
    ("duration_days = 730.5", 'duration_days = "14"', "", "run.duration_days", "valid number"),
    (
        "biology_step_days = 14.0",
        'biology_step_days = "14"',
        "",
        "run.biology_step_days",
        "valid number",
    ),
    ("bvtv = 0.15", 'bvtv = "0.15"', "", "material.regions.trabecular.bvtv", "valid number"),
    (
        "cycles_per_day = 1000.0",
        "cycles_per_day = inf",
        "",
        "load_cases.0.cycles_per_day",
        "finite number",
    ),
    ('name = "base"', 'name = "' + "x" * 5000 + '"', "", "run.name", "at most 100"),
    ('name = "base"', 'name = ".."', "", "run.name", "must not start with '.'"),
    ('name = "base"', 'name = "-rf"', "", "run.name", "must not start with"),
    ('name = "base"', 'name = "a/b"', "", "run.name", "pattern"),
    ("duration_days = 730.5", "duration_days = true", "", "run.duration_days", "valid number"),
]


@pytest.mark.parametrize(("old", "new", "extra", "field", "words"), BAD)
def test_check_rejects_with_one_line(capsys, tmp_path, old, new, extra, field, words) -> None:
    case = _case_with(tmp_path, old, new, extra) if old else _case_with(tmp_path, "", "", extra)
    code, err = _check(capsys, case)
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert str(case) in lines[0] and words in lines[0], lines[0]
    if field:
        assert f"field '{field}'" in lines[0], lines[0]


def test_nan_message_names_nan_not_the_range() -> None:
    data = {
        "run": {"duration_days": math.nan},
        "mesh": {"generator": "specimen"},
        "load_cases": [{"name": "c", "supports": [{"type": "fixed", "surface": "bottom"}]}],
    }
    with pytest.raises(InputError) as info:
        parse_case(data)
    assert "nan" in str(info.value) and "36525" not in str(info.value)


def test_good_petsc_options_and_inf_stop_pass(capsys, tmp_path) -> None:
    extra = (
        "\n[solver]\npetsc_options = { pc_gamg_threshold = 0.02, ksp_max_it = 500, "
        'ksp_type = "cg", pc_gamg_reuse_interpolation = true, ksp_atol = 0 }\n'
        "\n[[activity]]\nstart_days = 10.0\nstop_days = inf\nload_scale = 0.5\n"
    )
    code, err = _check(capsys, _case_with(tmp_path, "", "", extra))
    assert code == 0, err


def test_every_default_solver_option_is_allowed() -> None:
    from bonefem.mechanics import DEFAULT_PETSC_OPTIONS

    for name, value in DEFAULT_PETSC_OPTIONS.items():
        assert check_option(name, value) is None, name
    assert all("view" not in name and "monitor" not in name for name in ALLOWED)


def test_readme_larger_mesh_recipe_is_valid() -> None:
    """Issue 16, item 11: the README's recipe is one the schema accepts."""
    from bonefem.mesh.generators import FemurParameters

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    recipe = 'with `generator = "femur"` and `parameters = { refine = 3 }`'
    assert recipe in " ".join(readme.split())
    data: dict[str, Any] = {
        "run": {"duration_days": 10.0},
        "mesh": {"generator": "femur", "parameters": {"refine": 3}},
        "load_cases": [{"name": "c", "supports": [{"type": "fixed", "surface": "bottom"}]}],
    }
    assert parse_case(data).mesh.parameters == {"refine": 3}
    assert FemurParameters(refine=3).refine == 3
    data["mesh"]["settings"] = "femur.toml"  # the old recipe: rejected with a clear line
    with pytest.raises(
        InputError, match="give exactly one of 'generator', 'file', 'settings' or 'image'"
    ):
        parse_case(data)
