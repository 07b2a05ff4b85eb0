"""The vertebra with posterior elements and its loading through the disc (issue 13, item 9).

* Geometry: the posterior elements are the region ``posterior`` behind the body (probe
  points in a pedicle, the laminae, the spinous and a transverse process), the named
  endplates are the body's alone (same areas as without them), and bad arch dimensions
  are refused with one clear error.
* Loading: with the caudal endplate on an elastic foundation (the disc) the 10-year
  menopause density change of the body is symmetric about mid-height within 2 percentage
  points; with the endplate clamped it is not (the boundary artefact of the old case).
* DXA: the projection includes the posterior elements, which hold about half of the
  bone mineral content in the ROI (Lee et al. 2009: 52.8 % in women): the aBMD change is
  the BMC-weighted mean of the body's and the arch's, and differs from the vBMD changes
  (far less than the trabecular vBMD's, as AP DXA against QCT).

Coarse meshes (about 11k cells); serial and under ``mpiexec -n 2`` (marker ``mpi``).
"""

from __future__ import annotations

from mpi4py import MPI

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from bonefem._dolfinx import dolfinx
from bonefem.build import build, check_case_against_mesh
from bonefem.config.case import load_case, parse_case
from bonefem.coupling.loop import CoupledRun
from bonefem.errors import InputError
from bonefem.mesh import generate, load_bone_mesh
from bonefem.mesh.quality import region_at_points
from bonefem.metrics.bone import DXAMetric
from bonefem.metrics.dxa import bone_mineral_content

pytestmark = pytest.mark.mpi

COARSE = {"mesh_size": 8.0, "cortical_mesh_size": 2.5, "posterior_mesh_size": 8.0}

SUPPORTS = {
    "elastic": '{ type = "elastic", surface = "caudal_endplate", stiffness_N_per_mm3 = 0.8, '
    "shear_stiffness_N_per_mm3 = 0.27 }",
    "fixed": '{ type = "fixed", surface = "caudal_endplate" }',
}

ARCH_MATERIAL = """
[material.regions.posterior]
bvtv = 0.50
modulus = { preset = "carter_hayes1977", yield_strain = 0.0081 }
"""

CASE = """
[run]
name = "vertebra_{support}"
duration_days = 3652.5
biology_step_days = 28.0
[mesh]
generator = "vertebra"
[mesh.parameters]
posterior_elements = {arch}
mesh_size = 8.0
cortical_mesh_size = 2.5
posterior_mesh_size = 8.0
[material.regions.trabecular]
bvtv = 0.15
modulus = {{ preset = "morgan2003_vertebra", yield_strain = 0.0077 }}
[material.regions.cortical]
bvtv = 0.95
modulus = {{ preset = "carter_hayes1977", yield_strain = 0.0081 }}
{arch_material}
[[load_cases]]
name = "daily_compression"
cycles_per_day = 5000.0
supports = [{sup}]
loads = [{{ type = "force", surface = "cranial_endplate", force = [0.0, 0.0, -800.0] }}]
[metrics.dxa]
axis = "y"
roi_lower = [-25.0, -100.0, -1.0]
roi_upper = [25.0, 100.0, 28.0]
[output]
fields_every_days = 3652.5
metrics_every_days = 3652.5
checkpoint_every_days = 3652.5
fields = ["density"]
[biology]
sex = "female"
estrogen = {{ menopause = "natural", menopause_time_days = 730.5 }}
"""


def test_posterior_elements_are_their_own_region_behind_the_body(comm) -> None:
    body = generate("vertebra", comm, {k: v for k, v in COARSE.items() if "posterior" not in k})
    full = generate("vertebra", comm, {**COARSE, "posterior_elements": True})
    assert body.region_names == ["cortical", "trabecular"]
    assert sorted(full.region_names) == ["cortical", "posterior", "trabecular"]
    assert set(full.surfaces) == {"cranial_endplate", "caudal_endplate", "periosteal"}
    for name in ("cranial_endplate", "caudal_endplate"):  # the endplates are the body's
        assert full.area(name) == pytest.approx(body.area(name), rel=1e-9)
    lo, hi = full.bounding_box()
    assert lo[1] == pytest.approx(-17.0 - 17.5 - 6.0 - 30.0)  # tip of the spinous process
    assert hi[0] == pytest.approx(38.0) and lo[0] == pytest.approx(-38.0)  # transverse span
    assert lo[2] == pytest.approx(0.0) and hi[2] == pytest.approx(27.0)
    probes = [
        (16.5, -30.0, 16.0),  # right pedicle, near the laminae
        (0.0, -37.5, 14.0),  # laminae, midline
        (0.0, -60.0, 14.0),  # spinous process
        (-33.0, -33.0, 18.0),  # left transverse process
        (0.0, 0.0, 13.5),  # centrum
        (0.0, -26.0, 14.0),  # spinal canal: no bone
    ]
    assert region_at_points(full, probes) == [
        "posterior",
        "posterior",
        "posterior",
        "posterior",
        "trabecular",
        None,
    ]


def test_a_case_without_material_for_the_posterior_elements_is_told_so(comm) -> None:
    bone = generate("vertebra", comm, {**COARSE, "posterior_elements": True})
    case = parse_case(
        {
            "run": {"duration_days": 10.0},
            "mesh": {"generator": "vertebra"},
            "load_cases": [
                {"name": "c", "supports": [{"type": "fixed", "surface": "caudal_endplate"}]}
            ],
        },
        file="case.toml",
    )
    with pytest.raises(InputError, match=r"regions posterior without material.*posterior"):
        check_case_against_mesh(case, bone, "case.toml")


def test_the_vertebra_with_posterior_elements_is_deterministic() -> None:
    params = {**COARSE, "posterior_elements": True}
    a = generate("vertebra", MPI.COMM_SELF, params)
    b = generate("vertebra", MPI.COMM_SELF, params)
    assert np.array_equal(a.mesh.geometry.x, b.mesh.geometry.x)
    assert np.array_equal(a.mesh.geometry.dofmaps[0], b.mesh.geometry.dofmaps[0])
    assert np.array_equal(a.cell_tags.values, b.cell_tags.values)


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({"canal_width": 30.0, "pedicle_width": 10.0}, "pedicles must meet the posterior wall"),
        ({"pedicle_height": 25.0}, "pedicle_height must be less than height - 4 mm"),
        ({"transverse_span": 40.0}, "transverse_span / 2 must exceed"),
        ({"pedicle_angle": 60.0}, "pedicle_angle"),
    ],
)
def test_bad_arch_dimensions_are_refused(comm, values, words: str) -> None:
    with pytest.raises(InputError, match=words):
        generate("vertebra", comm, {"posterior_elements": True, **values})


def _menopause_run(folder: Path, support: str, arch: bool) -> dict[str, float]:
    """10-year menopause run: % change of mineral per body half, aBMD, vBMD, BMC share."""
    path = folder / f"vertebra_{support}.toml"
    text = CASE.format(
        support=support,
        sup=SUPPORTS[support],
        arch=str(arch).lower(),
        arch_material=ARCH_MATERIAL if arch else "",
    )
    if MPI.COMM_WORLD.rank == 0:
        path.write_text(text)
    MPI.COMM_WORLD.barrier()
    case = load_case(path)
    bone = load_bone_mesh(case.mesh, MPI.COMM_WORLD, base_dir=folder)
    model = build(case, bone)
    run = CoupledRun(model)
    mineral0 = run.state.f * run.state.m
    last = run.run()
    mineral = run.state.f * run.state.m
    g = model.geometry
    n = bone.num_cells_local
    z = dolfinx.mesh.compute_midpoints(bone.mesh, 3, np.arange(n, dtype=np.int32))[:, 2]
    region = np.asarray(g.region_names)[g.region_index]
    body = region != "posterior"

    def change(mask: npt.NDArray[np.bool_]) -> float:
        before = bone.comm.allreduce(float(np.sum((g.volumes * mineral0)[mask])), MPI.SUM)
        after = bone.comm.allreduce(float(np.sum((g.volumes * mineral)[mask])), MPI.SUM)
        return 100.0 * (after / before - 1.0)

    dxa = next(m for m in model.metrics.metrics if isinstance(m, DXAMetric))

    def bmc(mask: npt.NDArray[np.bool_], values: npt.NDArray[np.float64]) -> float:
        mass = np.where(mask, g.volumes * values, 0.0)
        return bone_mineral_content(bone.comm, dxa.points, dxa.samples, mass, dxa.projection)

    arch0, arch1 = bmc(~body, mineral0), bmc(~body, mineral)
    body0, body1 = bmc(body, mineral0), bmc(body, mineral)
    return {
        "upper": change(body & (z > 13.5)),
        "lower": change(body & (z < 13.5)),
        "body": change(body),
        "trabecular": float(last["bmd_vol_mean_trabecular_pct_change"]),
        "abmd": float(last["abmd_pct_change"]),
        "posterior_share": 100.0 * arch0 / (arch0 + body0),
        "posterior_roi": 100.0 * (arch1 / arch0 - 1.0) if arch0 > 0.0 else 0.0,
        "body_roi": 100.0 * (body1 / body0 - 1.0),
    }


@pytest.fixture(scope="module")
def menopause() -> Iterator[dict[str, dict[str, float]]]:
    """The 10-year menopause runs: the new case on the disc (elastic), the old one clamped.

    The old case is the body alone on a clamp. (A clamp under the vertebra with posterior
    elements also leaves the spinous process nearly strain-free, at the level of the
    solver's round-off, where the stimulus ratio is noise and the coupling re-solves
    often; on the disc this does not happen.)
    """
    comm = MPI.COMM_WORLD
    path = tempfile.mkdtemp(prefix="bonefem-vertebra-") if comm.rank == 0 else None
    folder = Path(comm.bcast(path, root=0))
    yield {
        "elastic": _menopause_run(folder, "elastic", arch=True),
        "fixed": _menopause_run(folder, "fixed", arch=False),
    }
    comm.Barrier()
    if comm.rank == 0:
        shutil.rmtree(folder, ignore_errors=True)


def test_loading_through_the_disc_gives_a_symmetric_density_change(menopause) -> None:
    disc, clamp = menopause["elastic"], menopause["fixed"]
    assert disc["body"] < -5.0  # bone is lost ...
    assert abs(disc["upper"] - disc["lower"]) < 2.0  # ... alike above and below mid-height
    # the clamp's artefact: more loss next to the clamped (caudal) endplate
    # (−1.44 pp since issue 13's bone-volume terms, −2 pp or more before; the disc's
    # asymmetry is 0.05 pp)
    assert clamp["lower"] - clamp["upper"] < -1.0
    assert abs(clamp["lower"] - clamp["upper"]) > 10.0 * abs(disc["upper"] - disc["lower"])


def test_dxa_includes_the_posterior_elements(menopause) -> None:
    disc = menopause["elastic"]
    share = disc["posterior_share"]
    assert 48.0 < share < 58.0  # Lee et al. 2009: 52.8 +/- 3.9 % (women)
    # the aBMD change is the BMC-weighted mean of the body's and the arch's changes
    mix = (1.0 - share / 100.0) * disc["body_roi"] + share / 100.0 * disc["posterior_roi"]
    assert disc["abmd"] == pytest.approx(mix, rel=1e-9)
    assert abs(disc["posterior_roi"] - disc["body_roi"]) > 0.01
    # and it falls less than the trabecular vBMD (QCT), as AP DXA in early menopause: by
    # more than 5 points until issue 13's mechanistic refit (alendronate on histomorphometry,
    # slow mineralisation s 0.99 -> 0.50), 3.97 points since (-10.5 against -14.4 %, a
    # ratio of 1.38, where QCT studies of early menopause report about twice the DXA loss:
    # flagged in issue 13); 3 points required
    assert disc["abmd"] > disc["trabecular"] + 3.0
