"""The numerical kernels a run uses: NumPy's SIMD targets and OpenBLAS's core.

NumPy picks, at import, the widest SIMD implementation of its ufuncs (``exp``, ``log``,
``power``, ...) that the CPU supports (x86-64-v3 = AVX2/FMA, x86-64-v4 and AVX512_ICL =
AVX-512), and OpenBLAS picks its kernels by CPU (``Haswell``, ``Zen``, ``SkylakeX``,
...). The kernels agree to a few units in the last place, not bit for bit. A coupled run
uses error-controlled substeps in the cell model: a difference in the last bit can move an
accepted step, and the difference then grows to the integrator's tolerance. Measured on the
bundled cases (their short versions, ``tests/regression``): the same run on an AVX2
machine and on an AVX-512 one (AMD EPYC, NumPy 2.5.5, OpenBLAS 0.3.34) agrees to 3e-11 in
most cases and to 7e-5 relative in the worst column (osteoblasts under denosumab, pushed
26-fold below normal); every clinical column to 7e-5 percentage points.

Runs are therefore bit-for-bit reproducible on the same kernels, not across them. Both
libraries can be pinned by environment variables read when they load:
``NPY_DISABLE_CPU_FEATURES="X86_V4 AVX512_ICL AVX512_SPR"`` (NumPy's AVX-512 paths off)
and ``OPENBLAS_CORETYPE=Haswell`` (AVX2 kernels; only on a CPU that has AVX2 and FMA).
``scripts/test.sh`` sets both on such CPUs so the regression references reproduce on any
of them. :func:`kernel_info` reports what is in use; the manifest records it
(``versions.kernels``).
"""

from __future__ import annotations

import ctypes
import importlib
import platform
from functools import cache
from typing import Any

__all__ = ["kernel_info", "kernels_of_ranks", "numpy_simd", "openblas_core"]


def numpy_simd() -> list[str]:
    """NumPy's dispatched SIMD targets in use (e.g. ``["X86_V3"]``), baseline excluded."""
    try:
        umath = importlib.import_module("numpy._core._multiarray_umath")
    except ImportError:  # NumPy < 2
        return []
    features = getattr(umath, "__cpu_features__", {})
    return [name for name in getattr(umath, "__cpu_dispatch__", []) if features.get(name, False)]


@cache
def openblas_core() -> str:
    """The core name of the OpenBLAS NumPy loaded (e.g. ``Haswell``), or ``unknown``."""
    import numpy  # noqa: F401  (loads its BLAS)

    try:
        with open("/proc/self/maps", encoding="utf-8") as fh:
            paths = {line.split()[-1] for line in fh if "openblas" in line.lower()}
    except OSError:
        return "unknown"
    for path in sorted(paths, key=lambda p: "numpy" not in p):  # NumPy's own first
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for symbol in (
            "scipy_openblas_get_corename64_",
            "scipy_openblas_get_corename",
            "openblas_get_corename",
        ):
            fn = getattr(lib, symbol, None)
            if fn is not None:
                fn.restype = ctypes.c_char_p
                name = fn()
                return name.decode() if name else "unknown"
    return "unknown"


def kernel_info() -> dict[str, Any]:
    """Machine, NumPy SIMD targets and OpenBLAS core (module docstring)."""
    return {
        "machine": platform.machine(),
        "numpy_simd": numpy_simd(),
        "openblas_core": openblas_core(),
    }


def kernels_of_ranks(comm: Any) -> dict[str, Any]:
    """:func:`kernel_info` of every rank of ``comm``: one dict where they agree.

    Where the ranks differ (a job spread over nodes of different CPUs), the result is
    ``{"mixed": True, "ranks": [info of rank 0, rank 1, ...]}``: the run is then reproducible
    only on the same mix of nodes (module docstring: pin the kernels to make them agree).
    Collective.
    """
    infos = comm.allgather(kernel_info())
    if all(info == infos[0] for info in infos):
        return infos[0]
    return {"mixed": True, "ranks": infos}
