"""docs/api.md: every ``python`` block runs, in order, in an empty folder; the API reference
builds from the docstrings (pdoc) without warnings about missing modules."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
API_MD = ROOT / "docs" / "api.md"

pytestmark = pytest.mark.serial


def _blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", API_MD.read_text(encoding="utf-8"), re.S | re.M)


def test_the_api_page_has_examples() -> None:
    blocks = _blocks()
    assert len(blocks) >= 6
    text = "\n".join(blocks)
    for name in ("bonefem.run(", "bonefem.load_run(", ".metrics", ".fields", "run_sweep("):
        assert name in text


@pytest.mark.slow
def test_the_examples_of_docs_api_md_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__api_md__"}
    for i, block in enumerate(_blocks()):
        exec(compile(block, f"{API_MD}, python block {i + 1}", "exec"), namespace)
    assert (tmp_path / "runs" / "cube" / "metrics.csv").is_file()
    assert (tmp_path / "sweeps" / "cube" / "sweep.csv").is_file()
    # no temporary case files are left beside the run folders
    assert not list((tmp_path / "runs").glob(".bonefem-case-*"))


def test_the_api_reference_builds(tmp_path: Path) -> None:
    pytest.importorskip("pdoc")
    modules = ["bonefem", "bonefem.api", "bonefem.sweep", "bonefem.report"]
    modules += ["bonefem.config", "bonefem.metrics.columns"]
    # pdoc warns from pdoc.doc (a name of __all__ that does not resolve, ...); the module
    # field of a warnings filter is the exact module name, so name both
    env = {**os.environ, "PYTHONWARNINGS": "error::UserWarning:pdoc,error::UserWarning:pdoc.doc"}
    proc = subprocess.run(
        [sys.executable, "-m", "pdoc", "-o", str(tmp_path), *modules],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Warning" not in proc.stderr, proc.stderr
    # the package page documents the lazily imported API (bonefem.__getattr__)
    top = (tmp_path / "bonefem.html").read_text(encoding="utf-8")
    for name in ("run", "load_run", "RunResult", "FieldSeries", "run_sweep"):
        assert f'id="{name}"' in top, name
    page = (tmp_path / "bonefem" / "api.html").read_text(encoding="utf-8")
    for name in ("RunResult", "load_run", "cell_data", "metrics_frame"):
        assert name in page
    assert (tmp_path / "bonefem" / "sweep.html").is_file()
