"""The C allocator's settings for large NumPy temporaries (glibc ``mallopt``).

A coupled run allocates and frees arrays of one value per cell many times per step: the
cell model's stages and error estimate (8 rows per cell), the modulus, the stimulus, the
metrics. glibc's ``malloc`` serves every block above its mmap threshold (128 kB, raised
dynamically up to 32 MB) with a fresh ``mmap`` and returns it with ``munmap`` when freed,
and trims freed memory at the top of its heap back to the system. Each such array is then
faulted in again, page by page, at every allocation: at 0.83M cells per rank an (8, N)
state is 53 MB, 13,000 page faults. On the 2-core development VM that page-fault work was
a fifth of the cell model's time (``benchmarks/bench_biology.py`` at 830k points: 6-8 s of
system time in 28-37 s; docs/performance.md, "Issue 15, fifth round").

:func:`tune_allocator` (called by :func:`bonefem.driver.run_case`) keeps such blocks in the
heap instead, as HPC codes commonly do through ``MALLOC_MMAP_MAX_`` and
``MALLOC_TRIM_THRESHOLD_``: no mmap for ``malloc`` (``M_MMAP_MAX`` = 0), freed memory kept
up to 1 GiB above the top of the heap (``M_TRIM_THRESHOLD``) and the heap grown 64 MiB at
a time (``M_TOP_PAD``). Freed blocks are then reused without new page faults. The numbers
a run computes do not change (the allocator only decides where arrays live). The peak
resident memory can differ slightly (blocks kept for reuse, heap fragmentation); the
manifest records it against the estimate as always.

``BONEFEM_MALLOC=system`` leaves the allocator as the process started it (e.g. when the
site preloads jemalloc or tcmalloc, or sets ``MALLOC_*`` itself). Other C libraries (musl)
have no ``mallopt``: nothing is changed there.
"""

from __future__ import annotations

import ctypes
import os
import sys

__all__ = ["tune_allocator"]

#: glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_MAX = -4

#: bytes of freed memory kept above the top of the heap before it is trimmed
TRIM_THRESHOLD = 1 << 30
#: bytes by which the heap grows beyond a request (fewer, larger brk calls)
TOP_PAD = 64 << 20

_state: str | None = None


def tune_allocator() -> str:
    """Keep large blocks in glibc's heap (module doc); returns what was done (idempotent).

    Returns:
        A short description for the run manifest: ``"glibc heap (mmap off, trim 1 GiB)"``,
        or why the allocator was left alone (``"system (...)"``).
    """
    global _state
    if _state is not None:
        return _state
    if os.environ.get("BONEFEM_MALLOC", "").strip().lower() == "system":
        _state = "system (BONEFEM_MALLOC=system)"
        return _state
    if not sys.platform.startswith("linux"):
        _state = f"system ({sys.platform})"
        return _state
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version.restype = ctypes.c_char_p
        glibc = libc.gnu_get_libc_version().decode()
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        _state = "system (not glibc)"
        return _state
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    done = [
        mallopt(_M_MMAP_MAX, 0),
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD),
        mallopt(_M_TOP_PAD, TOP_PAD),
    ]
    _state = (
        f"glibc {glibc} heap (mmap off, trim {TRIM_THRESHOLD >> 30} GiB)"
        if all(done)
        else f"system (glibc {glibc} refused mallopt)"
    )
    return _state
