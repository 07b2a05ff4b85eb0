"""The numerical kernels in use (``bonefem.kernels``) and their pinning for the references."""

from __future__ import annotations

import importlib
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bonefem.kernels import kernel_info

SNIPPET = "import json; from bonefem.kernels import kernel_info as k; print(json.dumps(k()))"
PINS = {"NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR", "OPENBLAS_CORETYPE": "Haswell"}


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


AVX2 = platform.machine() == "x86_64" and {"avx2", "fma"} <= _cpu_flags()


def info_in(env: dict[str, str]) -> dict[str, Any]:
    base = {k: v for k, v in os.environ.items() if k not in PINS}
    out = subprocess.run(
        [sys.executable, "-c", SNIPPET],
        env={**base, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return dict(json.loads(out.stdout))


def test_kernel_info_names_numpys_targets_and_the_blas_core() -> None:
    umath = importlib.import_module("numpy._core._multiarray_umath")
    k = kernel_info()
    assert k["machine"] == platform.machine()
    assert set(k["numpy_simd"]) <= set(umath.__cpu_dispatch__)
    assert isinstance(k["openblas_core"], str) and k["openblas_core"] != ""
    # the BLAS that reports its core is the one NumPy computes with
    a = np.arange(9.0).reshape(3, 3)
    assert float((a @ a)[2, 2]) == 6 * 2 + 7 * 5 + 8 * 8


@pytest.mark.skipif(not AVX2, reason="the pins are for x86-64 CPUs with AVX2 and FMA")
def test_the_pins_of_scripts_test_sh_select_the_reference_kernels() -> None:
    """The variables scripts/test.sh exports give the kernels the references were made with.

    Fails if a NumPy or OpenBLAS upgrade renames its targets or cores, i.e. when the pins
    would silently stop pinning (the regression tests would then fall to their cross-kernel
    tolerance).
    """
    from tests.regression.test_bundled_metrics import REFERENCE_BLAS, REFERENCE_SIMD

    pinned = info_in(PINS)
    assert pinned["numpy_simd"] == REFERENCE_SIMD
    assert pinned["openblas_core"] in REFERENCE_BLAS
    script = (Path(__file__).parents[2] / "scripts" / "test.sh").read_text()
    for name, value in PINS.items():
        assert f'{name}="${{{name}-{value}}}"' in script  # the same values as exported there


def test_scripts_test_sh_pins_the_suite_it_runs() -> None:
    """Under scripts/test.sh on an AVX2 CPU this very process runs the reference kernels."""
    if not AVX2 or os.environ.get("BONEFEM_TEST_NATIVE_KERNELS") == "1":
        pytest.skip("no pins on this CPU or by request")
    if "OPENBLAS_CORETYPE" not in os.environ:
        pytest.skip("not started by scripts/test.sh")
    from tests.regression.test_bundled_metrics import reference_kernels

    assert reference_kernels(), kernel_info()


class _Comm:
    """allgather over made-up ranks (what an MPI job over mixed nodes would return)."""

    def __init__(self, infos: list[dict[str, Any]]) -> None:
        self.infos = infos

    def allgather(self, _: object) -> list[dict[str, Any]]:
        return self.infos


@pytest.mark.mpi
def test_kernels_of_ranks_one_record_or_every_rank_when_mixed() -> None:
    from mpi4py import MPI

    from bonefem.kernels import kernels_of_ranks

    mine = kernel_info()
    assert kernels_of_ranks(MPI.COMM_WORLD) == mine  # every rank of this job: same CPU
    avx512 = {**mine, "numpy_simd": ["X86_V3", "X86_V4"], "openblas_core": "SkylakeX"}
    assert kernels_of_ranks(_Comm([mine, mine])) == mine
    mixed = kernels_of_ranks(_Comm([mine, avx512]))
    assert mixed == {"mixed": True, "ranks": [mine, avx512]}
