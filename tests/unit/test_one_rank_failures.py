"""A bad cell on one rank fails every rank, never that rank alone (non-finite state, bad input).

A rank that raises alone leaves the others waiting in the loop's next collective (the job
hangs). The loop decides on global maxima (bonefem.coupling.loop.max_on_every_rank), and the
cell model checks the finiteness of its result through the same reduction. Under
``mpiexec -n 2`` the NaN is on rank 1, where MPI's MAX on Python floats drops it.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from bonefem._dolfinx import MPI
from bonefem.biology.cells import BoneCellModel
from bonefem.biology.parameters import SCHEINER_2013
from bonefem.coupling.initial import INITIAL_BVTV, initial_bvtv
from bonefem.coupling.loop import max_on_every_rank
from bonefem.errors import InputError, SolverError, raise_on_every_rank
from bonefem.remodeling.bone import DEFAULT_REMODELING

pytestmark = pytest.mark.mpi

COMM = MPI.COMM_WORLD
LAST = COMM.size - 1


def test_a_nan_on_the_last_rank_is_the_maximum_everywhere() -> None:
    value = math.nan if COMM.rank == LAST else float(COMM.rank)
    assert max_on_every_rank(COMM, value) == math.inf
    assert max_on_every_rank(COMM, float(COMM.rank)) == float(LAST)
    assert max_on_every_rank(COMM, -math.inf) == -math.inf  # a rank without cells


def test_a_nan_cell_on_one_rank_fails_every_rank() -> None:
    model = BoneCellModel(SCHEINER_2013)
    state = model.healthy_state(np.array([0.15, 0.25]))
    if COMM.rank == LAST:
        state[:, 0] = np.nan  # one cell of the last rank
    failed = ""
    try:
        model.advance(
            state, 0.0, 14.0, None, np.ones(2), reduce_max=lambda v: max_on_every_rank(COMM, v)
        )
    except SolverError as exc:
        failed = str(exc)
    assert COMM.allgather(bool(failed)) == [True] * COMM.size, failed


def test_raise_on_every_rank_raises_the_lowest_ranks_error() -> None:
    mine = InputError(f"bad cell on rank {COMM.rank}") if COMM.rank >= LAST else None
    with pytest.raises(InputError, match=f"bad cell on rank {LAST}"):
        raise_on_every_rank(COMM, mine)
    raise_on_every_rank(COMM, None)  # no error anywhere: nothing raised


def test_a_bad_initial_cell_value_on_one_rank_fails_every_rank() -> None:
    """A per-cell initial BV/TV outside (0, 1] in a cell of the last rank only."""
    f = np.full(3, 0.2)
    if COMM.rank == LAST:
        f[1] = 1.2
    m0 = lambda f: np.full_like(f, 0.4)  # noqa: E731
    with pytest.raises(InputError, match="initial_bvtv"):
        initial_bvtv(3, {INITIAL_BVTV: f}, np.full(3, 0.2), m0, DEFAULT_REMODELING, comm=COMM)


def test_a_cell_outside_the_image_on_one_rank_fails_every_rank(
    monkeypatch: pytest.MonkeyPatch, bone_mesh
) -> None:
    """Each rank maps the scan onto its own cells; a cell outside the image box (found by
    the rank that owns it: here the last rank, through a stand-in for the integration)
    fails the mapping on every rank."""
    from bonefem.imaging import initial
    from bonefem.imaging.image import Image

    bone = bone_mesh("specimen", shape="cube", width=8.0, height=8.0, mesh_size=2.0)

    def integrate(bone, grid, rho, mask=None, n=1):
        if COMM.rank == LAST:
            raise InputError("cell 3 lies outside the image box", field="mesh")
        ones = np.ones(bone.num_cells_local)
        return ones, ones

    monkeypatch.setattr(initial, "element_values", integrate)
    image = Image(np.ones((4, 4, 4))) if COMM.rank == 0 else None
    mask = np.ones((4, 4, 4), dtype=bool) if COMM.rank == 0 else None
    settings = initial.DensityMapping(units="g/cm3")
    with pytest.raises(InputError, match="outside the image box"):
        initial.map_cells(COMM, bone, image, mask, settings)


def test_an_untagged_cell_on_one_rank_fails_every_rank(
    monkeypatch: pytest.MonkeyPatch, bone_mesh
) -> None:
    """The region-tag check of build and bonefem test (BoneMesh.owned_region_index)."""
    bone = bone_mesh("specimen", shape="cube", width=8.0, height=8.0, mesh_size=2.0)
    tagged = bone.cell_region_index()
    assert np.all(bone.owned_region_index() >= 0)  # the generated mesh is tagged
    untagged = tagged.copy()
    if COMM.rank == LAST:
        untagged[0] = -1  # an owned cell of the last rank
    monkeypatch.setattr(bone, "cell_region_index", lambda: untagged)
    with pytest.raises(InputError, match="every cell needs a region tag"):
        bone.owned_region_index()
