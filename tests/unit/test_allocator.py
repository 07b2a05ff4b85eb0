"""The C allocator's settings (``bonefem.allocator``): applied once, switchable off."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

SNIPPET = (
    "from bonefem.allocator import tune_allocator as t\n"
    "import numpy as np\n"
    "a = t()\n"
    "x = np.ones(10_000_000)\n"  # 80 MB: served by the heap once tuned
    "del x\n"
    "print(a, '|', t() == a)"
)


def run(env: dict[str, str]) -> str:
    out = subprocess.run(
        [sys.executable, "-c", SNIPPET],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return out.stdout.strip()


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
    reason="glibc's mallopt",
)
def test_heap_settings_on_glibc_and_the_switch_off() -> None:
    tuned = run({"BONEFEM_MALLOC": ""})
    assert tuned.startswith("glibc ") and "heap (mmap off, trim 1 GiB)" in tuned
    assert tuned.endswith("| True")  # a second call reports the same and changes nothing
    assert run({"BONEFEM_MALLOC": "system"}) == "system (BONEFEM_MALLOC=system) | True"
