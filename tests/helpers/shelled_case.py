"""A shelled specimen where the clinical metrics can differ (issue 18).

A 10 x 10 x 10 mm cube with a 1-mm cortical shell on its four sides and a trabecular core;
DXA along y over an ROI narrower than the bone (|x| <= 2.5 mm: the core seen through the
front and back shell, away from the lateral walls), so aBMD weighs the core more than the
whole-bone volumetric BMD does; the stiffness test compresses the cube axially (shell and
core in parallel), the fall load pushes the top sideways (bending: the strain peaks in the
shell at the clamped base, a strain gradient across the section).
"""

from __future__ import annotations

from pathlib import Path

SHELLED_CASE = """
[run]
name = "{name}"
duration_days = {duration}
biology_step_days = 14.0

[mesh]
generator = "specimen"

[mesh.parameters]
shape = "cube"
width = 10.0
height = 10.0
cortical_thickness = 1.0
mesh_size = 2.0
cortical_mesh_size = 1.0

[material.regions.trabecular]
bvtv = 0.15
modulus = {{ preset = "morgan2003_vertebra", yield_strain = 0.0077 }}

[material.regions.cortical]
bvtv = 0.95
modulus = {{ preset = "carter_hayes1977", yield_strain = 0.0081 }}

[[load_cases]]
name = "compression"
cycles_per_day = 1000.0
supports = [{{ type = "fixed", surface = "bottom" }}]
loads = [{{ type = "force", surface = "top", force = [0.0, 0.0, -300.0] }}]

[metrics.dxa]
axis = "y"
pixel_mm = 0.5
roi_lower = [-2.5, -5.0, 0.0]
roi_upper = [2.5, 5.0, 10.0]

[metrics.stiffness_test]
name = "axial"
supports = [
  {{ type = "fixed", surface = "bottom" }},
  {{ type = "displacement", surface = "top", value = [0.0, 0.0, -0.05] }},
]

[metrics.fracture.load_case]
name = "fall"
supports = [{{ type = "fixed", surface = "bottom" }}]
loads = [{{ type = "force", surface = "top", force = [200.0, 0.0, 0.0] }}]

[output]
fields_every_days = {duration}
metrics_every_days = 182.625
checkpoint_every_days = {duration}

[biology]
{biology}
"""


def write_shelled_case(folder: Path, name: str, duration: float, biology: str) -> Path:
    """Write the shelled-cube case file ``folder/name.toml``."""
    path = folder / f"{name}.toml"
    path.write_text(SHELLED_CASE.format(name=name, duration=duration, biology=biology))
    return path
