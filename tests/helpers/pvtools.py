"""Open a .pvd with ParaView's pvbatch and return what ParaView sees (see pv_inspect.py)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def inspect_pvd(pvbatch: str, pvd: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [pvbatch, str(HERE / "pv_inspect.py"), str(pvd)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("PVJSON")]
    assert proc.returncode == 0 and lines, f"pvbatch failed:\n{proc.stdout}\n{proc.stderr}"
    errors = [ln for ln in proc.stderr.splitlines() if "ERR|" in ln]
    assert not errors, "ParaView reported errors:\n" + "\n".join(errors)
    result: dict[str, Any] = json.loads(lines[-1][len("PVJSON") :])
    return result
