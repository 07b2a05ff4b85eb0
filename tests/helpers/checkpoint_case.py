"""Save (or load and verify) a checkpoint of midpoint-dependent cell fields on a box mesh."""

from __future__ import annotations

import numpy as np

from bonefem._dolfinx import MPI, dolfinx
from bonefem.mesh import box
from bonefem.output.checkpoint import CheckpointStore


def fields_of(bone) -> dict[str, np.ndarray]:
    n = bone.num_cells_local
    mid = dolfinx.mesh.compute_midpoints(bone.mesh, 3, np.arange(n, dtype=np.int32))
    return {
        "density": 1.0 + mid[:, 0] + 10 * mid[:, 1] + 100 * mid[:, 2],
        "cells": np.column_stack([mid[:, 0] * 2, mid[:, 1] * 3, -mid[:, 2]]),
    }


def store_for(folder: str, comm: MPI.Intracomm):
    bone = box(comm, (3.0, 2.0, 1.0), (6, 4, 3))
    n = bone.num_cells_local
    original = bone.mesh.topology.original_cell_index[:n]
    return bone, CheckpointStore(folder, comm, original, bone.num_cells_global)


def save(folder: str, comm: MPI.Intracomm) -> None:
    bone, store = store_for(folder, comm)
    for step in (1, 2, 3):
        f = fields_of(bone)
        store.save(step, 10.0 * step, {k: v * step for k, v in f.items()}, {"pk": [step, 2.5]})


def verify(folder: str, comm: MPI.Intracomm) -> None:
    bone, store = store_for(folder, comm)
    latest = store.latest()
    assert latest is not None and latest.name == "step_000003", latest
    meta, loaded = store.load(latest)
    assert meta["time_days"] == 30.0 and meta["state"] == {"pk": [3, 2.5]}
    for key, value in fields_of(bone).items():
        assert np.allclose(loaded[key], 3 * value, rtol=0, atol=1e-12), key
