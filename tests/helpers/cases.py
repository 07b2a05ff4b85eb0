"""Small case files for tests of the coupled loop (a coarse trabecular cube, ~300 cells)."""

from __future__ import annotations

import os
from pathlib import Path

SPECIMEN_CASE = """
[run]
name = "{name}"
duration_days = {duration}
biology_step_days = {step}

[mesh]
generator = "specimen"
parameters = {{ shape = "cube", width = 8.0, height = 8.0, mesh_size = {mesh_size} }}

[material.regions.trabecular]
bvtv = 0.15
modulus = {{ preset = "morgan2003_vertebra" }}

[[load_cases]]
name = "compression"
cycles_per_day = 1000.0
supports = [{{ type = "fixed", surface = "bottom" }}]
loads = [{{ type = "force", surface = "top", force = [0.0, 0.0, -100.0] }}]
{metrics}
[metrics.stiffness_test]
name = "test"
supports = [
  {{ type = "fixed", surface = "bottom" }},
  {{ type = "displacement", surface = "top", value = [0.0, 0.0, -0.05] }},
]

[metrics.fracture.load_case]
name = "overload"
supports = [{{ type = "fixed", surface = "bottom" }}]
loads = [{{ type = "force", surface = "top", force = [0.0, 0.0, -300.0] }}]

[output]
fields_every_days = {fields_every}
metrics_every_days = {metrics_every}
checkpoint_every_days = {checkpoint_every}

[biology]
{biology}
"""

MENOPAUSE = 'estrogen = { menopause = "natural", menopause_time_days = 0.0 }'
HRT = MENOPAUSE + "\n[[biology.hrt]]\nstart_days = 0.0\nstop_days = inf"


def write_case(
    folder: Path,
    name: str = "tiny",
    *,
    duration: float = 730.5,
    step: float = 14.0,
    mesh_size: float = 2.0,
    biology: str = "",
    fields_every: float = 365.25,
    metrics_every: float = 91.3125,
    checkpoint_every: float = 365.25,
    tests_every: float | None = None,
) -> Path:
    path = folder / f"{name}.toml"
    metrics = "" if tests_every is None else f"\n[metrics]\ntests_every_days = {tests_every}\n"
    # through a temporary name and os.replace: a rank that reads the file while another
    # rank writes the same file (a folder shared by the ranks) sees a whole file, never a
    # truncated one (it would refuse the case on that rank alone and leave the others
    # waiting in a collective)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(
        SPECIMEN_CASE.format(
            name=name,
            duration=duration,
            step=step,
            mesh_size=mesh_size,
            biology=biology,
            fields_every=fields_every,
            metrics_every=metrics_every,
            checkpoint_every=checkpoint_every,
            metrics=metrics,
        )
    )
    os.replace(tmp, path)
    return path
