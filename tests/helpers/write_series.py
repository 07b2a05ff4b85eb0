"""Write a two-step ParaView series of a solved bar (run serially or under mpiexec)."""

from __future__ import annotations

import sys

from bonefem._dolfinx import MPI
from bonefem.mechanics import ElasticityProblem
from bonefem.mesh import box
from bonefem.output.vtk import ParaViewSeries
from tests.helpers.loadcase import load_case


def write(
    folder: str,
    cell_type: str,
    comm: MPI.Intracomm = MPI.COMM_WORLD,
    precision: str = "float64",
    files: str = "per_rank",
) -> int:
    bone = box(comm, (10.0, 2.0, 2.0), (10, 2, 2), cell_type=cell_type)
    lc = load_case(
        name="pull",
        supports=[
            {"type": "fixed", "surface": "xmin"},
            {"type": "displacement", "surface": "xmax", "value": 0.1, "component": "x"},
        ],
    )
    prob = ElasticityProblem(bone, [lc])
    series = ParaViewSeries(bone, folder, precision=precision, files=files)
    for step, t in enumerate([0.0, 365.0]):
        prob.set_modulus(1000.0 * (1 + step))
        u = prob.solve("pull")
        series.write(
            t,
            point_data={"displacement [mm]": u},
            cell_data={
                "youngs_modulus [MPa]": prob.modulus(),
                "region": bone.cell_tags.values[: bone.num_cells_local],
            },
        )
    return bone.num_cells_global


if __name__ == "__main__":
    # python -m tests.helpers.write_series FOLDER CELL_TYPE PRECISION FILES [FOLDER ...]:
    # one series per group of four arguments (one interpreter for several series)
    args = sys.argv[1:]
    for k in range(0, len(args), 4):
        write(args[k], args[k + 1], precision=args[k + 2], files=args[k + 3])
