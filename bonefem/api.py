"""The Python API: run a case and read its results as pandas and numpy objects.

::

    import bonefem

    result = bonefem.run("menopause_vertebra", output="runs/mv",
                         overrides={"run.duration_days": 730.5})
    df = result.metrics                      # pandas DataFrame, one row per metrics time
    df.attrs["units"]["abmd"]                # 'g/cm^2'
    result.manifest["status"]                # 'finished'
    cells = result.fields.cell_data(-1)      # per-cell fields at the last output time

    again = bonefem.load_run("runs/mv")      # the same for a finished run folder

A case is a TOML file, the name of a bundled case (``bonefem cases``), a dictionary with
the content of a case file, or a validated :class:`bonefem.config.Case`. Overrides are
``{"dotted.key": value}`` (the ``--set`` of the command line, :mod:`bonefem.config.overrides`),
validated with the case. Units: mm, N, MPa, days, g/cm³, pM (``attrs["units"]`` of every
DataFrame names the unit of each column).

Under MPI (``mpiexec -n N python script.py``) every rank calls :func:`run`; rank 0 writes
the files, and every rank gets the same :class:`RunResult`.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bonefem.errors import InputError

if TYPE_CHECKING:
    import pandas as pd
    import pyvista as pv

    from bonefem.config.case import Case

__all__ = ["FieldSeries", "RunResult", "load_run", "metrics_frame", "run"]


def metrics_frame(path: str | Path) -> pd.DataFrame:
    """``metrics.csv`` as a DataFrame with numeric columns and their units.

    Empty cells (the virtual-test columns in rows without the tests) are NaN. The unit of
    every column (:func:`bonefem.metrics.columns.unit`) is in ``df.attrs["units"]``.

    Raises:
        InputError: the file is missing or has a column that is not numeric.
    """
    import pandas as pd

    from bonefem.metrics.columns import unit

    path = Path(path)
    if not path.is_file():
        raise InputError("not a bonefem run folder (no metrics.csv)", file=path.parent)
    df = pd.read_csv(path)
    for column in df.columns:
        if not pd.api.types.is_numeric_dtype(df[column]):
            try:
                df[column] = pd.to_numeric(df[column])
            except (ValueError, TypeError):
                raise InputError(
                    "metrics.csv has a column that is not numeric", file=path, field=column
                ) from None
    df.attrs["units"] = {str(c): unit(str(c)) for c in df.columns}
    return df


def _split_label(label: str) -> tuple[str, str]:
    """``"density [g/cm^3]"`` → ``("density", "g/cm^3")``; a label without unit → (label, "")."""
    name, sep, rest = label.partition(" [")
    return (name, rest.rstrip("]")) if sep else (label, "")


@dataclass(frozen=True)
class FieldSeries:
    """The ParaView time series of a run (``fields.pvd``): one file per output time.

    Attributes:
        pvd: the ``fields.pvd`` file.
        times_days: the output times (days), in file order.
        files: the ``.pvtu``/``.vtu`` file of each output time.
    """

    pvd: Path
    times_days: tuple[float, ...]
    files: tuple[Path, ...]

    @classmethod
    def from_folder(cls, folder: Path) -> FieldSeries:
        """The series of a run folder (empty when the run wrote no fields)."""
        pvd = folder / "fields.pvd"
        if not pvd.is_file():
            return cls(pvd, (), ())
        entries = [
            (float(ds.attrib["timestep"]), folder / ds.attrib["file"])
            for ds in ET.parse(pvd).getroot().iter("DataSet")
        ]
        return cls(pvd, tuple(t for t, _ in entries), tuple(f for _, f in entries))

    def __len__(self) -> int:
        return len(self.files)

    @property
    def times_years(self) -> tuple[float, ...]:
        """The output times in years (365.25 days)."""
        return tuple(t / 365.25 for t in self.times_days)

    def index(self, time_days: float) -> int:
        """The index of the output time nearest to ``time_days`` (days)."""
        if not self.files:
            raise InputError("the run has no field output (fields.pvd)", file=self.pvd)
        return min(range(len(self)), key=lambda i: abs(self.times_days[i] - time_days))

    def read(self, index: int = -1) -> pv.UnstructuredGrid:
        """The mesh with every field of output ``index`` (pyvista; array names ``name [unit]``)."""
        import pyvista as pv

        if not self.files:
            raise InputError("the run has no field output (fields.pvd)", file=self.pvd)
        try:
            path = self.files[index]
        except IndexError:
            raise InputError(
                f"output index {index} out of range; the run has {len(self)} output times",
                file=self.pvd,
            ) from None
        data = pv.read(str(path))
        return data.combine() if isinstance(data, pv.MultiBlock) else data

    def cell_data(self, index: int = -1) -> pd.DataFrame:
        """The cell fields of output ``index`` as a DataFrame: one row per cell.

        Columns are the field names without units (``density``, ``bvtv``, ...; vector fields
        get ``_0``, ``_1``, ... suffixes); units are in ``df.attrs["units"]`` and the time
        (days) in ``df.attrs["time_days"]``. Rows are in file order (the pieces of the ranks
        that wrote the run, in turn); a run restarted on another number of ranks writes its
        later outputs in another order.
        """
        import numpy as np
        import pandas as pd

        grid = self.read(index)
        columns: dict[str, Any] = {}
        units: dict[str, str] = {}
        for label in grid.cell_data.keys():  # noqa: SIM118 - pyvista's mapping
            name, unit = _split_label(str(label))
            values = np.asarray(grid.cell_data[label])
            if values.ndim == 1:
                columns[name], units[name] = values, unit
            else:
                for k in range(values.shape[1]):
                    columns[f"{name}_{k}"], units[f"{name}_{k}"] = values[:, k], unit
        df = pd.DataFrame(columns)
        df.attrs["units"] = units
        df.attrs["time_days"] = self.times_days[index]
        return df

    @property
    def names(self) -> list[str]:
        """The field labels (``"name [unit]"``) of the last output, cell and point data."""
        if not self.files:
            return []
        grid = self.read(-1)
        return [*map(str, grid.cell_data.keys()), *map(str, grid.point_data.keys())]


class RunResult:
    """A run folder, read lazily: metrics, manifest, case and fields.

    Args:
        folder: the run folder.
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def __repr__(self) -> str:
        return f"RunResult({str(self.folder)!r}, status={self.status!r})"

    @property
    def manifest(self) -> dict[str, Any]:
        """``manifest.json``: versions, ranks, overrides, wall times, ``status`` (re-read)."""
        path = self.folder / "manifest.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}

    @property
    def status(self) -> str:
        """The manifest's status (``finished``, ``running``, ``failed``, ``stopped``)."""
        return str(self.manifest.get("status", "unknown"))

    @property
    def metrics(self) -> pd.DataFrame:
        """``metrics.csv`` as a DataFrame (numeric; units in ``attrs["units"]``), re-read."""
        return metrics_frame(self.folder / "metrics.csv")

    @property
    def units(self) -> dict[str, str]:
        """The unit of each metrics column."""
        units: dict[str, str] = self.metrics.attrs["units"]
        return units

    @property
    def final(self) -> pd.Series:
        """The last metrics row, with the virtual-test columns at their last evaluated value."""
        return self.metrics.ffill().iloc[-1]

    @cached_property
    def case(self) -> dict[str, Any]:
        """The case as run, every default filled in (``case_resolved.json``)."""
        path = self.folder / "case_resolved.json"
        if not path.is_file():
            raise InputError("not a bonefem run folder (no case_resolved.json)", file=self.folder)
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return data

    @property
    def fields(self) -> FieldSeries:
        """The ParaView time series (paths, times, a reader of the cell fields)."""
        return FieldSeries.from_folder(self.folder)

    @property
    def files(self) -> dict[str, Path]:
        """The main files of the folder by role (those that exist)."""
        names = {
            "metrics": "metrics.csv",
            "manifest": "manifest.json",
            "case": "case.toml",
            "case_resolved": "case_resolved.json",
            "fields": "fields.pvd",
            "mesh": "mesh/mesh.xdmf",
            "paraview_script": "open_fields.py",
        }
        return {k: self.folder / v for k, v in names.items() if (self.folder / v).exists()}


def load_run(folder: str | Path) -> RunResult:
    """The :class:`RunResult` of an existing run folder (finished, stopped or running).

    Raises:
        InputError: the folder is not a bonefem run folder.
    """
    path = Path(folder)
    if not (path / "metrics.csv").is_file() and not (path / "manifest.json").is_file():
        raise InputError(
            "not a bonefem run folder (neither metrics.csv nor manifest.json)", file=path
        )
    return RunResult(path)


def override_strings(overrides: Mapping[str, Any] | Sequence[str] | None) -> list[str]:
    """``{"a.b": 1.5}`` or ``["a.b=1.5"]`` → ``["a.b=1.5"]`` (values written as TOML).

    Raises:
        InputError: a value TOML cannot hold.
    """
    from bonefem import _toml

    if overrides is None:
        return []
    if isinstance(overrides, str):
        return [overrides]
    if not isinstance(overrides, Mapping):
        return [str(item) for item in overrides]
    out = []
    for key, val in overrides.items():
        try:
            out.append(f"{key}={_toml.value(val)}")
        except TypeError as exc:
            raise InputError(str(exc), field=f"overrides[{key!r}]") from None
    return out


def _absolute_paths(data: dict[str, Any], base: Path) -> dict[str, Any]:
    """Mesh file, settings and image paths relative to ``base`` made absolute (copy)."""
    data = copy.deepcopy(data)
    mesh = data.get("mesh")
    if isinstance(mesh, dict):
        targets = [(mesh, "file"), (mesh, "settings")]
        if isinstance(mesh.get("image"), dict):
            targets.append((mesh["image"], "file"))
        for table, key in targets:
            p = table.get(key)
            relative = isinstance(p, str) and not Path(p).expanduser().is_absolute()
            if relative and (base / str(p)).exists():
                table[key] = str((base / str(p)).resolve())
    return data


def _case_data(case: Any) -> dict[str, Any] | None:
    """The case as a dictionary, or None when it is given as a file or a bundled name."""
    if isinstance(case, str | Path):
        return None
    if isinstance(case, Mapping):
        return dict(case)
    if hasattr(case, "model_dump"):  # a validated bonefem.config.Case
        data: dict[str, Any] = case.model_dump(mode="python", exclude_unset=True)
        return data
    raise InputError(
        f"a case is a TOML file, a bundled case name, a dict or a bonefem.config.Case, "
        f"not a {type(case).__name__}",
        field="case",
    )


def _write_case(data: dict[str, Any], where: Path, base: Path) -> Path:
    """Write a case dictionary as TOML into a new temporary folder under ``where`` (rank 0)."""
    from bonefem import _toml

    name = re.sub(r"[^A-Za-z0-9._-]+", "_", str((data.get("run") or {}).get("name") or "case"))
    try:
        text = _toml.dumps(_absolute_paths(data, base))
    except TypeError as exc:
        raise InputError(f"the case dictionary holds a value TOML cannot: {exc}") from None
    where.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".bonefem-case-", dir=where))
    path = tmp / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _case_path(case: Any, output: str | Path | None, base: Path, comm: Any) -> tuple[Path, bool]:
    """The case file to run and whether it is a temporary file of this call."""
    data = _case_data(case)
    if data is None:
        from bonefem.cli import resolve_case

        return resolve_case(str(case)), False
    where = Path(output).parent if output is not None else Path("runs")
    result: Path | InputError | OSError | None = None
    if comm.rank == 0:
        try:
            result = _write_case(data, where, base)
        except (InputError, OSError) as exc:
            result = exc
    result = comm.bcast(result, root=0)
    if isinstance(result, OSError):
        raise InputError(f"cannot write the case file: {result}", file=where)
    if isinstance(result, InputError):
        raise result
    assert isinstance(result, Path)
    return result, True


def run(
    case: str | Path | Mapping[str, Any] | Case,
    *,
    output: str | Path | None = None,
    overrides: Mapping[str, Any] | Sequence[str] | None = None,
    restart: bool = False,
    overwrite: bool = False,
    progress: bool = False,
    max_cells: float | None = None,
    base_dir: str | Path | None = None,
    comm: Any = None,
) -> RunResult:
    """Run a case and return its :class:`RunResult`.

    Args:
        case: a TOML case file, the name of a bundled case (``"menopause_vertebra"``), a
            dictionary with the content of a case file, or a :class:`bonefem.config.Case`.
        output: the run folder; default ``runs/<run.name>`` (or the next free ``-N``).
        overrides: case fields to change, ``{"run.duration_days": 730.5,
            "biology.denosumab.0.start_days": 365.25}`` (or ``["key=value", ...]`` with
            TOML values), validated with the case and recorded in ``case_resolved.json``
            and the manifest.
        restart: resume the run in ``output`` from its newest checkpoint.
        overwrite: replace an existing run folder made by bonefem.
        progress: show the progress bar (rank 0).
        max_cells: refuse a generated mesh estimated above this many cells; None: no limit.
        base_dir: folder that relative mesh paths of a dictionary case are relative to
            (default: the working directory).
        comm: MPI communicator (default ``MPI.COMM_WORLD``).

    Returns:
        The result; the same on every rank.

    Raises:
        InputError: bad case, override, mesh or folder (the message names field and value).
        SolverError: a solver failed (a checkpoint was saved).
    """
    from bonefem.driver import run_case

    if comm is None:
        from mpi4py import MPI

        comm = MPI.COMM_WORLD
    path, temporary = _case_path(case, output, Path(base_dir or Path.cwd()), comm)
    try:
        folder = run_case(
            path,
            output=output,
            restart=restart,
            overwrite=overwrite,
            comm=comm,
            progress=progress,
            max_cells=max_cells,
            overrides=override_strings(overrides),
        )
    except InputError as exc:
        if not temporary or exc.file != str(path):
            raise
        # the temporary file means nothing to the caller: name the dictionary instead
        raise InputError(exc.reason, file="case dict", field=exc.field, value=exc.value) from None
    finally:
        if temporary:
            comm.barrier()
            if comm.rank == 0:
                shutil.rmtree(path.parent, ignore_errors=True)
    return RunResult(folder)
