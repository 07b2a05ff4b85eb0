"""Run by ParaView's pvbatch: open .pvd files and print, as JSON, what ParaView sees.

Usage: pvbatch pv_inspect.py FILE.pvd [FILE.pvd ...]
Prints, per file, in order, a line PVJSON{"times": [...], "steps": [{"time", "cells",
"points", "arrays": {name: [min, max]}}]} (one pvbatch for several files: its start-up is
most of the cost of a small file).
"""

import json
import sys

from paraview.simple import OpenDataFile, UpdatePipeline


def inspect(path):
    reader = OpenDataFile(path)
    times = list(getattr(reader, "TimestepValues", []) or [])
    if not isinstance(times, list):
        times = [times]
    steps = []
    for t in times or [0.0]:
        UpdatePipeline(time=t, proxy=reader)
        info = reader.GetDataInformation()
        arrays = {}
        for assoc, props in (("point", reader.PointData), ("cell", reader.CellData)):
            for name in props.keys():  # noqa: SIM118 (ParaView proxies are not iterable)
                arr = props[name]
                comps = arr.GetNumberOfComponents()
                lo, hi = arr.GetRange(-1 if comps > 1 else 0)
                arrays[name] = {"association": assoc, "components": comps, "range": [lo, hi]}
        steps.append(
            {
                "time": t,
                "cells": info.GetNumberOfCells(),
                "points": info.GetNumberOfPoints(),
                "arrays": arrays,
            }
        )
    return {"times": times, "steps": steps}


for path in sys.argv[1:]:
    print("PVJSON" + json.dumps(inspect(path)), flush=True)
