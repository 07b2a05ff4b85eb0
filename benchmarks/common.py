"""Shared helpers of the benchmark scripts (plain Python, MPI-aware, no test framework).

Timings are wall-clock seconds from :func:`time.perf_counter`, reduced over ranks with MAX
(the slowest rank sets the pace of a collective step); memory is the peak resident set
size of each rank from :func:`resource.getrusage` (``ru_maxrss``), summed over ranks.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import numpy as np

from bonefem._dolfinx import MPI, PETSc, dolfinx

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def comm_world() -> Any:
    return MPI.COMM_WORLD


def rank0_print(*args: Any, **kw: Any) -> None:
    if MPI.COMM_WORLD.rank == 0:
        print(*args, **kw, flush=True)


def reduce_max(value: float) -> float:
    return float(MPI.COMM_WORLD.allreduce(float(value), op=MPI.MAX))


def maxrss_bytes() -> int:
    """Peak resident set size of this process (bytes; Linux reports KiB)."""
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def memory_summary() -> dict[str, float]:
    """Peak RSS summed over ranks and the largest rank's (MB)."""
    rss = maxrss_bytes()
    comm = MPI.COMM_WORLD
    return {
        "peak_rss_total_mb": comm.allreduce(rss, op=MPI.SUM) / 2**20,
        "peak_rss_max_rank_mb": comm.allreduce(rss, op=MPI.MAX) / 2**20,
    }


@contextmanager
def timed(out: dict[str, float], key: str, *, barrier: bool = True) -> Iterator[None]:
    """Add the wall time of the block (max over ranks) to ``out[key]``."""
    comm = MPI.COMM_WORLD
    if barrier:
        comm.Barrier()
    t0 = time.perf_counter()
    yield
    dt = time.perf_counter() - t0
    out[key] = out.get(key, 0.0) + reduce_max(dt)


def machine() -> dict[str, Any]:
    """The machine and software stack, for the results file."""
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "processor": platform.processor(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "dolfinx": dolfinx.__version__,
        "petsc": ".".join(str(v) for v in PETSc.Sys.getVersion()),
        "mpi": MPI.Get_library_version().splitlines()[0].strip(),
        "ranks": MPI.COMM_WORLD.size,
    }
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    info["cpu_model"] = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo", encoding="utf-8") as fh:
            info["mem_total_gb"] = round(int(fh.readline().split()[1]) / 2**20, 1)
    except OSError:
        pass
    with suppress(OSError):
        info["git_revision"] = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    return info


def result_tag(refine: float, mesh_params: list[str], ranks: int) -> str:
    """Result-file tag of a mesh and rank count: ``r2_uniform_refinements1_np2``."""
    extra = "_".join(p.replace("=", "") for p in mesh_params)
    return f"r{refine:g}{'_' + extra if extra else ''}_np{ranks}"


def write_json(path: str | Path, data: Mapping[str, Any]) -> None:
    """Write results (rank 0)."""
    if MPI.COMM_WORLD.rank != 0:
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, default=_jsonable) + "\n", encoding="utf-8")
    print(f"wrote {path}", flush=True)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)


def load_mesh(generator: str, refine: float, parameters: Mapping[str, Any] | None = None) -> Any:
    """A generated mesh from the bonefem mesh cache (generated on first use)."""
    from bonefem.mesh import generate_cached

    params = dict(parameters or {})
    params["refine"] = float(refine)
    return generate_cached(generator, params, MPI.COMM_WORLD)


def parse_options(items: list[str] | None) -> dict[str, Any]:
    """``key=value`` strings -> PETSc options (numbers converted)."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, _, value = item.partition("=")
        v: Any = value
        for conv in (int, float):
            try:
                v = conv(value)
                break
            except ValueError:
                continue
        out[key.lstrip("-")] = v
    return out
