"""open_fields.py in a run folder: written by every run, and it opens the fields in a real
ParaView (pvbatch) with the colour maps it promises (no X server needed)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

import bonefem
from tests.conftest import pvbatch
from tests.helpers.cases import MENOPAUSE, write_case

pytestmark = pytest.mark.serial


@pytest.mark.paraview
@pytest.mark.parametrize("files", ["per_rank", "single"])
def test_the_run_folder_opens_in_paraview_with_colour_maps(tmp_path: Path, files: str) -> None:
    case = write_case(tmp_path, duration=91.3125, step=30.0, biology=MENOPAUSE,
                      fields_every=91.3125)  # fmt: skip
    text = case.read_text().replace("[output]", f'[output]\nfield_files = "{files}"', 1)
    case.write_text(text)
    result = bonefem.run(case, output=tmp_path / "run")
    script = result.files["paraview_script"]
    assert script == tmp_path / "run" / "open_fields.py"
    compile(script.read_text(), str(script), "exec")  # valid Python for ParaView's interpreter
    exe = pvbatch()
    if exe is None:
        pytest.skip("ParaView's pvbatch is not installed")
    proc = subprocess.run(
        [exe, str(script), "--check"], capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("PVSTATE")), None)
    assert line, proc.stdout[-2000:] + proc.stderr[-2000:]
    state = json.loads(line[len("PVSTATE") :])
    assert state["times"] == [0.0, 91.3125]
    maps = state["maps"]
    lo, hi = maps["density_change [%]"]["range"]
    assert lo == pytest.approx(-hi) and hi > 0.1  # symmetric around 0, at the last output
    s_lo, s_hi = maps["stimulus [-]"]["range"]
    assert s_lo + s_hi == pytest.approx(2.0)  # around 1
    assert maps["density [g/cm^3]"]["preset"].startswith("Viridis")
    # the region tags as categories, named from the field data written with the fields
    regions = maps["region [-]"]["categories"]
    names = json.loads((tmp_path / "run" / "mesh" / "mesh.bonefem.json").read_text())["regions"]
    assert {int(k): v for k, v in regions.items()} == {tag: n for n, tag in names.items()}
    assert len(regions) >= 1
    # the mesh alone, for every ParaView reader (the XDMF 3 file crashes the legacy one)
    mesh_pvd = (tmp_path / "run" / "mesh" / "mesh.pvd").read_text()
    assert 'file="mesh_000000.pvtu"' in mesh_pvd
    piece = (tmp_path / "run" / "mesh" / "mesh_000000_p0.vtu").read_text()
    assert 'Name="region_names"' in piece and 'Name="region"' in piece
