"""Run by ParaView's pvbatch: open a .pvd and print, as JSON, what ParaView sees.

Usage: pvbatch pv_inspect.py FILE.pvd
Prints {"times": [...], "steps": [{"time", "cells", "points", "arrays": {name: [min, max]}}]}.
"""

import json
import sys

from paraview.simple import OpenDataFile, UpdatePipeline

reader = OpenDataFile(sys.argv[1])
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
print("PVJSON" + json.dumps({"times": times, "steps": steps}))
