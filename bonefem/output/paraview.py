"""``open_fields.py`` in every run folder: a ParaView Python script that opens the fields.

Open the run in the ParaView GUI with ``paraview --script=RUN/open_fields.py`` (or View →
Python Shell → Run Script), or without a GUI ``pvpython RUN/open_fields.py`` /
``pvbatch RUN/open_fields.py --screenshot out.png``. It opens ``fields.pvd``, colours by the
density change with a diverging map centred on 0 (loss red, gain blue, symmetric range of
the last output), colours ``region`` by category with the region names (from the field
data of the pieces, :func:`bonefem.output.vtk.names_field_data`), gives every other field
a sensible colour map (sequential for densities,
BV/TV, modulus and cell concentrations; diverging around 1 for the stimulus Ψ/Ψ_ss),
shows the time in years, and goes to the last output time.

ParaView quirks this script avoids (docs/api.md, "ParaView"): array names carry their
unit in brackets (``density_change [%]``): in the Calculator quote them as
``"density_change [%]"``; the run's ``mesh/mesh.xdmf`` opens with the *Xdmf3* readers only
(ParaView's legacy XDMF reader crashes on it; ``mesh/mesh.pvd`` opens everywhere), and
``fields.pvd`` needs neither; ``pvbatch``
renders (``--screenshot``) only with an X server or an offscreen ParaView build (on a plain
Debian: ``xvfb-run pvbatch ...``); building the pipeline needs none.
"""

from __future__ import annotations

from pathlib import Path

from bonefem.output.atomic import write_text_atomic

SCRIPT = "open_fields.py"

_TEMPLATE = '''"""Open this bonefem run's fields in ParaView (written by bonefem with the run).

    paraview --script=open_fields.py          # GUI
    pvpython open_fields.py                   # build the pipeline, no window
    pvbatch open_fields.py --screenshot a.png # render (needs X: xvfb-run pvbatch ... on servers)
    pvbatch open_fields.py --check            # print what was set up, as JSON

Array names carry their units, e.g. "density_change [%]" (quote them in the Calculator).
"""

import json
import os
import sys

from paraview.simple import (
    ColorBy, CreateView, GetActiveView, GetAnimationScene, GetColorTransferFunction, PVDReader,
    PythonAnnotation, SetActiveView, Show, UpdatePipeline,
)

try:
    HERE = os.path.dirname(os.path.abspath(__file__))
except NameError:  # paraview --script runs the file without __file__
    HERE = {folder!r}

#: colour map per field name: (preset, kind): "diverging0" symmetric around 0,
#: "diverging1" symmetric around 1, "sequential" data range
MAPS = {{
    "density_change": ("Cool to Warm", "diverging0"),
    "stimulus": ("Cool to Warm", "diverging1"),
    "density": ("Viridis (matplotlib)", "sequential"),
    "mineral_density": ("Viridis (matplotlib)", "sequential"),
    "bvtv": ("Viridis (matplotlib)", "sequential"),
    "youngs_modulus": ("Viridis (matplotlib)", "sequential"),
    "strain_energy_density": ("Inferno (matplotlib)", "sequential"),
    "displacement": ("Viridis (matplotlib)", "sequential"),
}}
CELLS = ("OBa", "OCa", "OBp", "RANKL", "OPG")
COLOR_BY = "density_change"

reader = PVDReader(registrationName="fields", FileName=os.path.join(HERE, "fields.pvd"))
times = list(reader.TimestepValues or [0.0]) if hasattr(reader, "TimestepValues") else [0.0]
times = times if isinstance(times, list) else [times]
view = GetActiveView()  # the GUI's; pvbatch/pvpython: a new one (GetActiveViewOrCreate
if view is None:         # renders at once there, which needs an X server)
    view = CreateView("RenderView")
    SetActiveView(view)
view.ViewTime = times[-1]
display = Show(reader, view)
UpdatePipeline(time=times[-1], proxy=reader)  # ranges of the last output
setup = {{}}
for assoc, arrays in (("POINTS", reader.PointData), ("CELLS", reader.CellData)):
    for label in arrays.keys():
        name = label.split(" [")[0]
        preset, kind = MAPS.get(name, ("Plasma (matplotlib)", "sequential"))
        if name not in MAPS and name not in CELLS:
            continue
        lut = GetColorTransferFunction(label)
        lut.ApplyPreset(preset, True)
        lo, hi = arrays[label].GetRange(-1 if arrays[label].GetNumberOfComponents() > 1 else 0)
        if kind == "diverging0":
            lim = max(abs(lo), abs(hi)) or 1.0
            lo, hi = -lim, lim
            lut.InvertTransferFunction()  # loss (negative) red, gain blue
        elif kind == "diverging1":
            lim = max(abs(lo - 1.0), abs(hi - 1.0)) or 1.0
            lo, hi = 1.0 - lim, 1.0 + lim
        lut.RescaleTransferFunction(lo, hi)
        lut.AutomaticRescaleRangeMode = "Never"
        setup[label] = {{"association": assoc, "preset": preset, "range": [lo, hi]}}
        if name == COLOR_BY:
            ColorBy(display, (assoc, label))
            display.SetScalarBarVisibility(view, True)


def named_tags(kind):
    """{{tag: name}} of the mesh's regions or surfaces, from the field data that bonefem
    writes at the top of every piece (region_names/region_tags, surface_names/_tags)."""
    import re

    def first(path, pattern):
        # a single .vtu (output.field_files = "single") has raw binary after its XML
        with open(path, encoding="utf-8", errors="replace") as fh:
            return re.search(pattern, fh.read(1 << 20)).group(1)

    pvtu = first(os.path.join(HERE, "fields.pvd"), 'file="([^"]+)"')
    single = pvtu.endswith(".vtu")
    piece = pvtu if single else first(os.path.join(HERE, pvtu), 'Source="([^"]+)"')
    path = os.path.join(HERE, piece)
    codes = first(path, 'Name="%s_names"[^>]*>([^<]*)<' % kind).split()
    tags = first(path, 'Name="%s_tags"[^>]*>([^<]*)<' % kind).split()
    names, word = [], []
    for c in codes:
        if c == "0":
            names.append(bytes(word).decode("utf-8"))
            word = []
        else:
            word.append(int(c))
    return dict(zip((int(t) for t in tags), names))


# regions by category, labelled with their names (the cell array holds the mesh's tags)
for label in reader.CellData.keys():
    if label.split(" [")[0] == "region":
        regions = named_tags("region")
        lut = GetColorTransferFunction(label)
        lut.InterpretValuesAsCategories = 1
        lut.Annotations = [x for tag, name in sorted(regions.items()) for x in (str(tag), name)]
        lut.ApplyPreset("Brewer Qualitative Set1", True)
        setup[label] = {{"association": "CELLS", "categories": regions}}
years = PythonAnnotation(registrationName="time in years", Input=reader)
years.Expression = "'t = %.2f years' % (t_value / 365.25)"
Show(years, view)
# the animation scene renders at once: only where a window can open (pvbatch without an X
# server aborts on it; the pipeline above needs none)
display_env = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
if display_env or sys.platform != "linux" or "--screenshot" in sys.argv:
    scene = GetAnimationScene()
    scene.UpdateAnimationUsingDataTimeSteps()
    scene.AnimationTime = times[-1]
if "--check" in sys.argv:
    print("PVSTATE" + json.dumps({{"times": times, "maps": setup}}))
if "--screenshot" in sys.argv:
    from paraview.simple import ResetCamera, SaveScreenshot

    ResetCamera(view)
    SaveScreenshot(sys.argv[sys.argv.index("--screenshot") + 1], view, ImageResolution=[1200, 900])
'''


def write_open_script(folder: Path) -> Path:
    """Write ``open_fields.py`` into a run folder (rank 0); returns its path."""
    path = folder / SCRIPT
    write_text_atomic(path, _TEMPLATE.format(folder=str(folder.resolve())))
    return path
