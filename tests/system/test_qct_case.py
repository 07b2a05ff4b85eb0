"""The bundled image-based case (cases/qct_menopause.toml), shortened: its image is the
phantom the code makes, it runs with the same metrics on 1 and 2 ranks, starts at the
scanned density, a healthy run on it stays at steady state, and its fields open in ParaView
with the scanned density at t = 0."""

from __future__ import annotations

import csv
import tomllib
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ROOT, pvbatch
from tests.helpers.cli import run_bonefem, run_killed
from tests.helpers.compare import assert_columns_close

CASE = ROOT / "cases" / "qct_menopause.toml"
IMAGES = ROOT / "cases" / "images"
#: the short version: 1.5 years, final menstrual period at 3 months
SHORT = {
    "run.duration_days": "547.875",
    "biology.estrogen.menopause_time_days": "91.3125",
    "output.fields_every_days": "273.9375",
    "output.checkpoint_every_days": "273.9375",
}


def _sets() -> list[str]:
    return [a for k, v in SHORT.items() for a in ("--set", f"{k}={v}")]


def _rows(run: Path) -> list[dict[str, str]]:
    with open(run / "metrics.csv", newline="") as fh:
        return list(csv.DictReader(line for line in fh if not line.startswith("#")))


NOT_COMPARED = ("wall", "time_s", "ksp", "solves", "memory", "elapsed")


def _numbers(rows: list[dict[str, str]]) -> dict[str, np.ndarray]:
    keys = [k for k in rows[0] if not any(w in k for w in NOT_COMPARED)]
    out = {}
    for k in keys:
        try:
            out[k] = np.array([float(r[k]) for r in rows])
        except ValueError:
            continue
    return out


def test_the_shipped_image_is_the_phantom_the_code_makes() -> None:
    from bonefem.imaging.image import read_image
    from bonefem.imaging.phantoms import qct_phantom

    ph = qct_phantom()
    img = read_image(IMAGES / "qct_phantom.nii.gz")
    lab = read_image(IMAGES / "qct_phantom-labels.nii.gz")
    assert np.array_equal(img.array, ph.image.array)
    assert np.array_equal(lab.array, ph.segmentation.labels)
    assert img.spacing == pytest.approx(ph.image.spacing, abs=1e-12)
    size = sum(p.stat().st_size for p in IMAGES.glob("qct_phantom*"))
    assert size < 1_000_000


@pytest.mark.serial
def test_the_readme_command_remakes_the_shipped_files_byte_for_byte(tmp_path, capsys) -> None:
    from bonefem.cli import main

    assert main(["-q", "image", "phantom", "qct", "-o", str(tmp_path / "qct_phantom.nii.gz")]) == 0
    for name in ("qct_phantom.nii.gz", "qct_phantom-labels.nii.gz"):
        assert (tmp_path / name).read_bytes() == (IMAGES / name).read_bytes(), name


def _short_case(folder: Path) -> Path:
    """The bundled case with the SHORT values and absolute image paths, as a file."""
    text = CASE.read_text().replace('"images/', f'"{IMAGES}/')
    lines = []
    section = ""
    for line in text.splitlines():
        if line.startswith("["):
            section = line.strip("[]")
        key = line.split("=", 1)[0].strip()
        full = f"{section}.{key}"
        if "=" in line and full in SHORT:
            line = f"{key} = {SHORT[full]}"
        elif section == "biology" and key == "estrogen":
            t = SHORT["biology.estrogen.menopause_time_days"]
            line = f'estrogen = {{ menopause = "natural", menopause_time_days = {t} }}'
        lines.append(line)
    path = folder / "qct_short.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def serial_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The short case file and its serial run folder (``bonefem run``, fields at t = 0 and
    at 3 quarters): the 1-rank reference of the restart test, opened in ParaView below."""
    folder = tmp_path_factory.mktemp("qct")
    case = _short_case(folder)
    run_bonefem(["run", str(case), "-o", str(folder / "one"), "--no-progress"])
    return case, folder / "one"


@pytest.mark.slow
@pytest.mark.serial
def test_short_case_same_metrics_on_1_and_2_ranks_and_after_a_restart(tmp_path, serial_run) -> None:
    """Serial, 2 ranks, and killed after the first checkpoint then restarted on 2 ranks."""
    case, one = serial_run
    two, killed = tmp_path / "two", tmp_path / "killed"
    run_bonefem(["run", str(case), "-o", str(two), "--no-progress"], nprocs=2)
    # 1 step a quarter (91.3125-day steps); checkpoint at 3 quarters (step 3): killed before
    # step 5 (the run has 6)
    run_killed(str(case), str(killed), 5)
    run_bonefem(["run", str(case), "-o", str(killed), "--restart", "--no-progress"], nprocs=2)
    a = _numbers(_rows(one))
    assert len(a["time_days"]) == 7
    for other in (two, killed):
        b = _numbers(_rows(other))
        assert a.keys() == b.keys()
        assert_columns_close(b, a, a, where=str(other))
    # t = 0: the regional vBMD is the element-averaged scan density (coarsen 2: mixed
    # cortical/trabecular blocks at the endosteal surface average 1.0 and 0.2 g/cm³)
    from bonefem.imaging.density import block_average
    from bonefem.imaging.phantoms import qct_phantom

    ph = qct_phantom()
    truth = np.zeros(ph.segmentation.labels.shape)
    for name, rho in ph.densities.items():
        truth[ph.segmentation.labels == ph.segmentation.regions[name]] = rho
    mean, frac = block_average(truth, 2, mask=ph.segmentation.labels > 0)
    kept = frac >= 0.5
    expected = float(np.mean(mean[kept]))  # equal element volumes (2448 blocks of 8 voxels)
    assert a["bmd_vol_mean"][0] == pytest.approx(expected, rel=0.01)  # observed 2e-5
    # menopause: trabecular vBMD falls faster than cortical
    assert (
        a["bmd_vol_mean_trabecular_pct_change"][-1] < a["bmd_vol_mean_cortical_pct_change"][-1] < 0
    )


@pytest.mark.serial
def test_healthy_run_on_the_scan_stays_at_steady_state(tmp_path) -> None:
    """No hormone signal, age 40 (no ageing): vBMD, BV/TV and stiffness constant over a year."""
    import bonefem

    with open(CASE, "rb") as fh:
        d = tomllib.load(fh)
    d["run"].update(name="qct_healthy", duration_days=365.25)
    d["biology"] = {"name": "healthy", "sex": "female", "age_at_start_years": 40.0}
    d["output"].update(fields_every_days=365.25, checkpoint_every_days=365.25)
    image = d["mesh"]["image"]
    image.update(file=str(CASE.parent / image["file"]), labels=str(CASE.parent / image["labels"]))
    result = bonefem.run(d, output=tmp_path / "healthy")
    m = result.metrics
    for col in ("bmd_vol_mean_cortical", "bmd_vol_mean_trabecular", "bvtv_mean",
                "apparent_stiffness"):  # fmt: skip
        values = m[col].to_numpy(dtype=float)
        assert np.max(np.abs(values / values[0] - 1.0)) < 1e-8, col


@pytest.mark.slow
@pytest.mark.paraview
@pytest.mark.serial
def test_fields_open_in_paraview_with_the_scanned_density(serial_run) -> None:
    exe = pvbatch()
    if exe is None:
        pytest.skip("ParaView's pvbatch is not installed")
    import subprocess

    from bonefem.imaging.phantoms import qct_phantom

    run = serial_run[1]  # the short case's serial run: fields at t = 0 on the scan
    script = str(ROOT / "tests" / "helpers" / "pv_inspect.py")
    out = subprocess.run(
        [exe, script, str(run / "fields.pvd")], capture_output=True, text=True, check=True
    )
    import json

    seen = json.loads(out.stdout.split("PVJSON", 1)[1])
    first = seen["steps"][0]["arrays"]
    lo, hi = first["mineral_density [g/cm^3]"]["range"]
    truth = qct_phantom().densities
    # the scanned trabecular (0.2) and cortical (1.0) densities, element-averaged and noisy
    assert truth["trabecular"] * 0.9 < lo < truth["trabecular"] * 1.1 + 0.05
    assert truth["cortical"] * 0.97 < hi < truth["cortical"] * 1.1
    assert seen["steps"][0]["cells"] == 2448


@pytest.mark.serial
@pytest.mark.parametrize("command", ["check", "run"])
def test_hu_without_calibration_exits_2(tmp_path, capsys, command) -> None:
    from bonefem.cli import main

    text = CASE.read_text()
    start = text.index("[mesh.image.density]")
    stop = text.index("[material.regions.cortical]")
    text = text[:start] + '[mesh.image.density]\nunits = "HU"\n\n' + text[stop:]
    text = text.replace('"images/', f'"{IMAGES}/')
    case = tmp_path / "nocal.toml"
    case.write_text(text)
    args = [command, str(case)] + (["-o", str(tmp_path / "run")] if command == "run" else [])
    code = main(["-q", *args])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    assert str(case) in err and "mesh.image.density.units" in err
    assert "no calibration was given" in err
