"""The geometry registry: a geometry is one module with a GENERATOR entry, found by discovery.

The worked example of the "add a geometry" recipe (docs/architecture.md): a cube written as
one module in a package, discovered, registered, generated through ``generate`` on every
rank, with its regions, surfaces and volume checked.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from bonefem._dolfinx import MPI
from bonefem.mesh.generators import GENERATORS, generate
from bonefem.mesh.generators._registry import Generator, discover

pytestmark = pytest.mark.mpi

#: The whole new geometry: parameters, the gmsh build on rank 0, the registry entry.
CUBE_MODULE = '''
"""A cube of trabecular bone with named top and bottom faces (mm)."""

from pathlib import Path

from bonefem.mesh.generators import _gmsh as g
from bonefem.mesh.generators._params import GeneratorParameters, quantity
from bonefem.mesh.generators._registry import Generator


class CubeParameters(GeneratorParameters):
    edge: float = quantity(10.0, "mm", "Edge length.", gt=0.0)
    mesh_size: float = quantity(5.0, "mm", "Target cell size.", gt=0.0)


def cube(comm, params=None, *, msh_file: str | Path | None = None):
    p = params or CubeParameters()

    def build() -> g.GmshGroups:
        import gmsh

        vol = gmsh.model.occ.addBox(0, 0, 0, p.edge, p.edge, p.edge)
        gmsh.model.occ.synchronize()
        tol = 1e-6 * p.edge
        faces = g.classify_surfaces(
            g.boundary_surfaces([vol]),
            {
                "bottom": lambda x: bool(abs(x[:, 2]).max() < tol),
                "top": lambda x: bool(abs(x[:, 2] - p.edge).max() < tol),
            },
        )
        groups = g.add_groups({"trabecular": [vol]}, faces)
        g.set_volume_sizes([([vol], p.size(p.mesh_size))])
        return groups

    return g.build_bone_mesh(
        comm, build, name="cube", source=g.describe("cube", p), msh_file=msh_file
    )


GENERATOR = Generator(cube, CubeParameters, "a cube of trabecular bone (worked example)")
'''


@pytest.fixture
def example_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Path]]:
    # the same file name on every rank (tmp_path differs per rank; the module is tiny)
    root = tmp_path / "pkgroot"
    pkg = root / "example_geometries"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "cube.py").write_text(textwrap.dedent(CUBE_MODULE))
    monkeypatch.syspath_prepend(str(root))
    yield "example_geometries", pkg
    for name in [m for m in sys.modules if m.startswith("example_geometries")]:
        del sys.modules[name]


def test_bundled_generators_are_discovered_by_module_name() -> None:
    assert set(GENERATORS) == {"diaphysis", "femur", "specimen", "vertebra"}
    for name, gen in GENERATORS.items():
        assert isinstance(gen, Generator)
        assert gen.function.__name__ == name
        assert gen.function.__module__ == f"bonefem.mesh.generators.{name}"


def test_a_new_geometry_is_one_module(
    example_package: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    package, path = example_package
    found = discover(package, [str(path)])
    assert list(found) == ["cube"]
    monkeypatch.setitem(GENERATORS, "cube", found["cube"])
    bone = generate("cube", MPI.COMM_WORLD, {"edge": 4.0, "mesh_size": 2.0})
    assert bone.regions == {"trabecular": 2}
    assert set(bone.surfaces) == {"bottom", "top"}
    assert bone.volume() == pytest.approx(64.0, rel=1e-12)
    assert bone.area("top") == pytest.approx(16.0, rel=1e-12)


def test_a_public_module_without_entry_is_an_error(example_package: tuple[str, Path]) -> None:
    package, path = example_package
    (path / "helpers.py").write_text("X = 1\n")
    with pytest.raises(RuntimeError, match="defines no GENERATOR"):
        discover(package, [str(path)])
