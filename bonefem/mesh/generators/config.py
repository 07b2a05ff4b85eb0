"""The ``[mesh]`` table of a case file, and cached generation.

A case names its mesh in one of three ways::

    [mesh]                       # a generator with parameters (mm, deg)
    generator = "vertebra"
    parameters = { height = 30.0, mesh_size = 2.5 }

    [mesh]                       # a file: bonefem .xdmf, gmsh .msh or any meshio format
    file = "my_femur.vtu"
    regions = { cortical = 1, trabecular = 2 }   # optional tag names
    surfaces = { distal = 3 }

    [mesh]                       # a settings file holding a [mesh] table (meshes/*.toml)
    settings = "meshes/vertebra.toml"

Generated meshes are cached as bonefem mesh files (:func:`generate_cached`), keyed by a
hash of the generator name, its validated parameters (``uniform_refinements`` included),
the gmsh version and :data:`GEOMETRY_VERSION` (for refined meshes also the DOLFINx version
and :data:`REFINEMENT_VERSION`), in ``$BONEFEM_MESH_CACHE`` (default ``~/.cache/bonefem/meshes``).
A cached mesh and a freshly generated one have the same original cell order, so per-cell
data keyed by ``original_cell_index`` carries over between them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tomllib
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bonefem._dolfinx import MPI
from bonefem.errors import InputError, on_rank_0, validation_to_input_error
from bonefem.mesh.bonemesh import BoneMesh
from bonefem.mesh.config_schema import MeshConfig
from bonefem.mesh.generators import generate, get_generator
from bonefem.mesh.generators._params import validate_parameters
from bonefem.mesh.io import read_mesh
from bonefem.mesh.meshfile import FORMAT_VERSION, is_bonefem_file, read_bonefem, write_mesh

logger = logging.getLogger(__name__)

#: Bump when a generator's geometry or meshing changes, to invalidate cached meshes.
GEOMETRY_VERSION = 2  # 2: slivers removed (generators/_gmsh.py::remove_slivers)

#: Bump when the parallel refinement (``uniform_refinements``: tag transfer, projection)
#: changes; part of the cache key of refined meshes only.
REFINEMENT_VERSION = 1

#: The repository's folder of default mesh settings (for ``settings = "vertebra.toml"``).
MESHES_DIR = Path(__file__).resolve().parents[3] / "meshes"


def parse_mesh_config(
    table: Mapping[str, Any] | MeshConfig, *, file: str | None = None, field: str = "mesh"
) -> MeshConfig:
    """Validate a ``[mesh]`` table into a :class:`MeshConfig` (errors as InputError)."""
    if isinstance(table, MeshConfig):
        return table
    try:
        return MeshConfig.model_validate(dict(table))
    except ValidationError as exc:
        raise validation_to_input_error(exc, file, MeshConfig, prefix=field) from None


def cache_dir() -> Path:
    """The mesh cache folder (``$BONEFEM_MESH_CACHE`` or ``~/.cache/bonefem/meshes``)."""
    env = os.environ.get("BONEFEM_MESH_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "bonefem" / "meshes"


def cache_key(name: str, parameters: Mapping[str, Any] | None = None, ranks: int = 1) -> str:
    """Hash of a generator request: name, validated parameters, gmsh and format versions.

    A mesh refined in parallel (``uniform_refinements`` > 0) also depends on the DOLFINx
    version and on the number of ranks ``ranks`` it was refined on: the Plaza algorithm
    breaks ties between equally long diagonals by global vertex numbers, so about 0.6 % of
    the children differ between 1 and 2 ranks (same nodes, volumes and areas).
    """
    import gmsh

    params = validate_parameters(get_generator(name).parameters, parameters)
    request = {
        "generator": name,
        "parameters": params.model_dump(mode="json"),
        "gmsh": gmsh.__version__,
        "geometry_version": GEOMETRY_VERSION,
        "format_version": FORMAT_VERSION,
    }
    if int(getattr(params, "uniform_refinements", 0)):  # DOLFINx refines (Plaza)
        from bonefem._dolfinx import dolfinx

        request["dolfinx"] = dolfinx.__version__
        request["refinement_version"] = REFINEMENT_VERSION
        request["ranks"] = int(ranks)
    blob = json.dumps(request, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _cached(
    name: str,
    parameters: Mapping[str, Any] | None,
    comm: MPI.Intracomm,
    directory: str | Path | None = None,
) -> tuple[Path, bool]:
    """The cache file of a generated mesh and whether the cache has it (collective)."""
    path = Path(directory or cache_dir()) / f"{name}-{cache_key(name, parameters, comm.size)}.xdmf"
    return path, bool(comm.bcast(is_bonefem_file(path) if comm.rank == 0 else None, root=0))


def generate_cached(
    name: str,
    parameters: Mapping[str, Any] | None = None,
    comm: MPI.Intracomm | None = None,
    *,
    directory: str | Path | None = None,
    file: str | None = None,
) -> BoneMesh:
    """Generate a geometry, or reload it from the mesh cache if it was generated before.

    Args:
        name: generator name.
        parameters: generator parameters (validated; defaults fill the rest).
        comm: communicator (default ``MPI.COMM_WORLD``).
        directory: cache folder (default :func:`cache_dir`).
        file: the file the request came from, for messages.

    Returns:
        The mesh (same cells in the same original order either way).
    """
    comm = comm or MPI.COMM_WORLD
    path, found = _cached(name, parameters, comm, directory)
    if found:
        try:
            bone = read_bonefem(path, comm)
            logger.info("mesh '%s' read from the cache %s", name, path)
            return bone
        except InputError as exc:
            logger.warning("ignoring a damaged cached mesh (%s); generating it again", exc)
    bone = generate(name, comm, parameters, file=file)
    try:
        write_mesh(bone, path)
    except InputError as exc:  # an unwritable cache must not stop a run
        logger.warning("could not cache the mesh: %s", exc)
    return bone


def _candidates(path: str, base_dir: Path | None, *, settings: bool = False) -> list[Path]:
    """Where a relative path of a ``[mesh]`` table is looked for, in order."""
    p = Path(path).expanduser()
    if p.is_absolute():
        return [p]
    candidates = [(base_dir or Path.cwd()) / p, Path.cwd() / p]
    if settings:
        candidates += [MESHES_DIR / p, MESHES_DIR / p.name]
    return list(dict.fromkeys(c.absolute() for c in candidates))


def _resolve(path: str, base_dir: Path | None, *, settings: bool = False) -> Path:
    candidates = _candidates(path, base_dir, settings=settings)
    for c in candidates:
        if c.exists():
            return c
    return candidates[0]


def _missing(kind: str, value: str, base: Path | None, referrer: str | None, key: str) -> None:
    """Raise the error of a ``[mesh]`` path found nowhere.

    It names the file whose table names the path, the field, the value and every place
    looked in.
    """
    places = ", ".join(str(c) for c in _candidates(value, base, settings=key == "settings"))
    raise InputError(
        f"no such {kind} (looked for {places})", file=referrer, field=f"mesh.{key}", value=value
    )


def _settings_text(
    settings: str, base: Path | None, depth: int, referrer: str | None = None
) -> tuple[Path, str]:
    """The settings file a ``[mesh]`` table names (the ``depth``-th followed) and its text.

    ``referrer``: the file whose ``[mesh]`` table names it (for messages).
    """
    path = _resolve(settings, base, settings=True)
    if not path.exists():
        _missing("mesh settings file", settings, base, referrer, "settings")
    if depth > 4:
        raise InputError("settings files refer to each other in a loop", file=path)
    try:
        return path, path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the mesh settings: {exc}", file=path) from None


def _final_config(
    config: Mapping[str, Any] | MeshConfig,
    base_dir: str | Path | None,
    file: str | None,
    comm: MPI.Intracomm | None = None,
) -> tuple[MeshConfig, Path | None, str | None]:
    """The ``[mesh]`` table after following its ``settings`` files: (config, folder, file).

    With ``comm`` (collective), rank 0 finds and reads each settings file and every rank
    parses its text (:func:`bonefem.errors.on_rank_0`).
    """
    cfg = parse_mesh_config(config, file=file)
    base = Path(base_dir) if base_dir is not None else None
    depth = 0
    while cfg.settings is not None:
        depth += 1
        path, text = on_rank_0(comm, partial(_settings_text, cfg.settings, base, depth, file))
        try:
            table = tomllib.loads(text).get("mesh")
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"cannot read the mesh settings: {exc}", file=path) from None
        if not isinstance(table, dict):
            raise InputError("the settings file has no [mesh] table", file=path)
        cfg = parse_mesh_config(table, file=str(path))
        base, file = path.parent, str(path)
    return cfg, base, file


def cached_mesh_file(
    config: Mapping[str, Any] | MeshConfig,
    comm: MPI.Intracomm | None = None,
    *,
    base_dir: str | Path | None = None,
    file: str | None = None,
) -> Path | None:
    """The mesh cache's file of a ``[mesh]`` table that the cache has (collective), or None.

    None: the table imports a file or an image, does not cache, adds selected surfaces, or
    the cache does not have the mesh yet. The file is the one :func:`generate_cached` would
    read, for callers that copy it instead (the run folder:
    :func:`~bonefem.mesh.meshfile.copy_mesh_file`).
    """
    comm = comm or MPI.COMM_WORLD
    top = parse_mesh_config(config, file=file)
    cfg, _, _ = _final_config(top, base_dir, file, comm)
    if cfg.generator is None or not cfg.cache or top.select or cfg.select:
        return None  # not a cached generated mesh, or one the selectors add surfaces to
    path, found = _cached(cfg.generator, cfg.parameters, comm)
    return path if found else None


def load_bone_mesh(
    config: Mapping[str, Any] | MeshConfig,
    comm: MPI.Intracomm | None = None,
    *,
    base_dir: str | Path | None = None,
    file: str | None = None,
) -> BoneMesh:
    """Get the mesh a ``[mesh]`` table asks for (generate, reload from cache, or import).

    Args:
        config: the ``[mesh]`` table or a :class:`MeshConfig`.
        comm: communicator (default ``MPI.COMM_WORLD``).
        base_dir: folder relative paths are resolved against (the case file's folder).
        file: the case file, for messages.

    Returns:
        The distributed mesh.
    """
    comm = comm or MPI.COMM_WORLD
    cfg, base, file = _final_config(config, base_dir, file, comm)
    if cfg.generator is not None:
        if cfg.cache:
            return generate_cached(cfg.generator, cfg.parameters, comm, file=file)
        return generate(cfg.generator, comm, cfg.parameters, file=file)
    assert cfg.file is not None
    mesh_file = _resolve(cfg.file, base)
    if not on_rank_0(comm, mesh_file.exists):
        _missing("mesh file", cfg.file, base, file, "file")
    return read_mesh(
        mesh_file,
        comm,
        regions=cfg.regions or None,
        surfaces=cfg.surfaces or None,
        cell_data_key=cfg.cell_data_key,
    )
