"""Size limits of the mesh and mechanics code (issue 12): functions ≤ 80 lines, files ≤ 800.

Counted from the first decorator to the last line of the body, docstring included.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "bonefem"
PACKAGES = ("mesh", "mechanics")
MAX_FUNCTION_LINES = 80
MAX_FILE_LINES = 800


def _files() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def long_functions(path: Path, limit: int = MAX_FUNCTION_LINES) -> list[tuple[str, int]]:
    """(qualified-ish name, lines) of every function of ``path`` longer than ``limit``."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            n = (node.end_lineno or node.lineno) - start + 1
            if n > limit:
                out.append((f"{path.name}:{node.lineno} {node.name}", n))
    return out


def test_the_packages_exist() -> None:
    assert all((ROOT / pkg / "__init__.py").is_file() for pkg in PACKAGES)
    assert len(_files()) > 10


@pytest.mark.parametrize("path", _files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_function_over_80_lines(path: Path) -> None:
    assert long_functions(path) == []


@pytest.mark.parametrize("path", _files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_file_over_800_lines(path: Path) -> None:
    assert len(path.read_text(encoding="utf-8").splitlines()) <= MAX_FILE_LINES


def test_the_check_sees_a_long_function(tmp_path: Path) -> None:
    src = tmp_path / "long.py"
    src.write_text("def f():\n" + "    x = 1\n" * 85)
    assert [n for _, n in long_functions(src)] == [86]
