"""Open .pvd files with ParaView's pvbatch and return what ParaView sees (see pv_inspect.py)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def inspect_pvds(pvbatch: str, pvds: Sequence[Path]) -> list[dict[str, Any]]:
    """What ParaView sees in each of ``pvds``, in order, from one pvbatch process."""
    proc = subprocess.run(
        [pvbatch, str(HERE / "pv_inspect.py"), *map(str, pvds)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("PVJSON")]
    assert proc.returncode == 0 and len(lines) == len(pvds), (
        f"pvbatch failed:\n{proc.stdout}\n{proc.stderr}"
    )
    errors = [ln for ln in proc.stderr.splitlines() if "ERR|" in ln]
    assert not errors, "ParaView reported errors:\n" + "\n".join(errors)
    return [json.loads(ln[len("PVJSON") :]) for ln in lines]


def inspect_pvd(pvbatch: str, pvd: Path) -> dict[str, Any]:
    """What ParaView sees in one .pvd file."""
    return inspect_pvds(pvbatch, [pvd])[0]
