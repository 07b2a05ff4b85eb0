"""The shape the architecture promises (docs/architecture.md), checked on the source.

* no function or method over 80 lines, no module over 800 lines in bonefem/;
* the loop modules (coupling/, remodeling/, state.py) compare no strings (case options are read in
  build.py) and read no environment variables;
* no module of bonefem/ reads a ``BONEFEM_TEST_*`` variable or declares a module-level
  clock (``PHASE_CLOCK``) for others to monkeypatch.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "bonefem"
MODULES = sorted(PACKAGE.rglob("*.py"))
LOOP = [p for p in MODULES if p.parent.name in ("coupling", "remodeling") or p.name == "state.py"]


def _rel(p: Path) -> str:
    return str(p.relative_to(PACKAGE.parent))


def test_no_long_functions_or_modules() -> None:
    long = []
    for path in MODULES:
        text = path.read_text(encoding="utf-8")
        if len(text.splitlines()) > 800:
            long.append(f"{_rel(path)}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = (node.end_lineno or node.lineno) - node.lineno + 1
                if n > 80:
                    long.append(f"{_rel(path)}:{node.lineno} {node.name}: {n} lines")
    assert not long, "\n".join(long)


@pytest.mark.parametrize("path", LOOP, ids=_rel)
def test_loop_modules_compare_no_strings_and_read_no_environment(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            strings = [
                o for o in operands if isinstance(o, ast.Constant) and isinstance(o.value, str)
            ]
            assert not strings, f"{_rel(path)}:{node.lineno} compares a string"
        if isinstance(node, ast.Attribute) and node.attr in {"environ", "getenv"}:
            raise AssertionError(f"{_rel(path)}:{node.lineno} reads the environment")


def test_no_test_hooks_or_patchable_clocks_in_the_package() -> None:
    found = []
    for path in MODULES:
        text = path.read_text(encoding="utf-8")
        for marker in ("BONEFEM_TEST_", "PHASE_CLOCK"):
            if marker in text:
                found.append(f"{_rel(path)}: {marker}")
    assert not found, "\n".join(found)


def test_the_schema_imports_no_runtime_code() -> None:
    """``bonefem.config`` is schema only: no DOLFINx, PETSc, MPI, biology or loop."""
    import subprocess
    import sys

    code = (
        "import sys, bonefem.config\n"
        "bad = ('dolfinx', 'petsc4py', 'mpi4py', 'bonefem.biology', 'bonefem.coupling', "
        "'bonefem.mechanics', 'bonefem.build')\n"
        "print(sorted(m for m in sys.modules if m.startswith(bad)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]", out
