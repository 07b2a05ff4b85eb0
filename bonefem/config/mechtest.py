"""Test files of ``bonefem test``: virtual mechanical tests of a mesh (no biology).

A *test file* is TOML with the ``[mesh]`` table of a case file (any source, with
``[[mesh.select]]`` selectors), a tissue-modulus material and one or more virtual tests
(supports and loads on named or selected surfaces, exactly as the load cases of a case
file); no habitual load case, no remodelling, no scenario::

    [test]
    name = "core"

    [mesh.image]
    file = "core.nii.gz"
    threshold = [500.0]

    [material]
    modulus = { constant_MPa = 18000.0, poisson_ratio = 0.3 }

    [[tests]]
    name = "compression_z"
    supports = [
      { type = "fixed", surface = "zmin" },
      { type = "displacement", surface = "zmax", value = [0.0, 0.0, -0.001] },
    ]

Material (units MPa, g/cm³): a constant tissue modulus (micro-FE; default 18 000 MPa,
ν = 0.3: the mean tissue modulus of human femoral trabecular bone, 18.0 ± 2.8 GPa, from
micro-FE back-calculation, Bayraktar HH, Morgan EF, Niebur GL, Morris GE, Wong EK,
Keaveny TM (2004), *Comparison of the elastic and yield properties of human femoral
trabecular and cortical bone tissue*, J Biomech 37(1):27-35), or E = law(ρ_app) of a
region's apparent density with a density-modulus law of :mod:`bonefem.material`
(continuum models); per region in ``[material.regions.<name>]``. Schema only: importing
it loads no DOLFINx (the runner is :mod:`bonefem.mechtest`).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bonefem.config.loading import LoadCase
from bonefem.errors import InputError, on_rank_0, validation_to_input_error
from bonefem.material import ModulusLaw
from bonefem.mesh.config_schema import MeshConfig

__all__ = [
    "BAYRAKTAR_2004_MPA",
    "MechTestFile",
    "TestMaterial",
    "TissueModulus",
    "VirtualTest",
    "load_test_file",
]

#: Default tissue modulus (MPa): human femoral trabecular tissue, 18.0 ± 2.8 GPa
#: (Bayraktar et al. 2004, J Biomech 37:27-35; module docstring).
BAYRAKTAR_2004_MPA = 18000.0

_TAGS: tuple[str, ...] = ("fixed", "displacement", "elastic", "traction", "pressure", "force")
_TAGS += ("plane", "box", "sphere", "patch", "extreme")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class TissueModulus(_Section):
    """Young's modulus of a region: a constant, or a density-modulus law at a density."""

    constant_MPa: float | None = Field(
        default=None,
        gt=0.0,
        le=1.0e6,
        description="Constant Young's modulus in MPa (micro-FE tissue modulus; default "
        "18000 MPa, Bayraktar et al. 2004, when neither this nor a law is given).",
    )
    density_g_cm3: float | None = Field(
        default=None,
        gt=0.0,
        le=3.0,
        description="Apparent density ρ_app in g/cm³ of the region, with `law`: E = law(ρ_app).",
    )
    law: ModulusLaw | None = Field(
        default=None, description="Density-modulus law E = a ρ_app^b (MPa) with `density_g_cm3`."
    )
    poisson_ratio: float = Field(
        default=0.3, gt=-1.0, lt=0.5, description="Poisson's ratio ν (dimensionless)."
    )

    @model_validator(mode="after")
    def _one_kind(self) -> TissueModulus:
        if self.constant_MPa is not None and (self.law or self.density_g_cm3):
            raise ValueError("give either `constant_MPa` or `law` with `density_g_cm3`")
        if (self.law is None) != (self.density_g_cm3 is None):
            raise ValueError("`law` and `density_g_cm3` go together")
        return self

    def modulus(self) -> float:
        """Young's modulus in MPa."""
        if self.law is not None and self.density_g_cm3 is not None:
            return float(self.law.modulus(self.density_g_cm3))
        return BAYRAKTAR_2004_MPA if self.constant_MPa is None else self.constant_MPa


class TestMaterial(_Section):
    """The material of the tests: one modulus for every region, or one per region."""

    __test__ = False  # not a pytest class

    modulus: TissueModulus = Field(
        default_factory=TissueModulus,
        description="Modulus of every region without an entry in `regions` (default: "
        "constant 18000 MPa, ν = 0.3).",
    )
    regions: dict[str, TissueModulus] = Field(
        default_factory=dict, description="Region name -> its modulus (optional)."
    )

    def of(self, region: str) -> TissueModulus:
        """The modulus of a region."""
        return self.regions.get(region, self.modulus)


class VirtualTest(LoadCase):
    """One virtual mechanical test: a load case, and the specimen size for E_app."""

    length_mm: float | None = Field(
        default=None,
        gt=0.0,
        description="Specimen length L (mm) along the imposed displacement, for the apparent "
        "modulus E_app = (F/A)/(δ/L); default: the extent of the image box (image meshes) "
        "or of the mesh's bounding box along that axis.",
    )
    area_mm2: float | None = Field(
        default=None,
        gt=0.0,
        description="Specimen cross-section A (mm²) normal to the imposed displacement; "
        "default: the product of the two other extents of the box.",
    )


class TestInfo(_Section):
    """Name of the test run."""

    __test__ = False

    name: str = Field(
        default="bonefem-test",
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9_][A-Za-z0-9._-]*$",
        description="Name; the default output folder is runs/<name>.",
    )
    description: str = Field(default="", description="Free text.")
    connectivity: Literal["face", "none"] = Field(
        default="face",
        description="Voxel meshes of an image (coarsen = 1): 'face' keeps the largest "
        "face-connected (6-connected) part of the segmentation, as micro-FE pre-processing "
        "does -- voxels joined to it only by an edge or a corner would be hinges (a "
        "singular stiffness matrix); 'none' keeps the segmentation as it is (e.g. separate "
        "rods, each held by a support).",
    )


class MechTestFile(_Section):
    """A ``bonefem test`` file: a mesh, a tissue material, virtual tests, the solver."""

    test: TestInfo = Field(default_factory=TestInfo, description="Name of the test run.")
    mesh: MeshConfig = Field(description="The mesh, as in case files (with [[mesh.select]]).")
    material: TestMaterial = Field(default_factory=TestMaterial, description="Tissue modulus.")
    tests: list[VirtualTest] = Field(min_length=1, description="The virtual tests.")
    solver_rtol: float = Field(
        default=1.0e-8,
        gt=0.0,
        lt=1.0e-2,
        description="Relative residual tolerance of CG + GAMG (dimensionless).",
    )
    petsc_options: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="Extra PETSc options without the leading '-'."
    )

    @model_validator(mode="after")
    def _unique(self) -> MechTestFile:
        names = [t.name for t in self.tests]
        if len(set(names)) != len(names):
            raise ValueError(f"test names must be unique, got {names}")
        from bonefem.config.petsc_options import check_option

        for key, value in self.petsc_options.items():
            problem = check_option(key, value)
            if problem is not None:
                raise ValueError(f"petsc_options.{key}: {problem}")
        return self


def parse_test_file(data: dict[str, Any], *, file: str | Path | None = None) -> MechTestFile:
    """Validate a test file given as a dictionary (errors as InputError)."""
    if "run" in data or "load_cases" in data:
        raise InputError(
            "this is a case file of `bonefem run` ([run], [[load_cases]]); `bonefem test` "
            "takes a test file ([mesh], [material], [[tests]]; docs/imaging.md) or an image",
            file=file,
        )
    try:
        return MechTestFile.model_validate(data, strict=True)
    except ValidationError as exc:
        raise validation_to_input_error(exc, file, MechTestFile, drop=_TAGS) from None


def load_test_file(path: str | Path, comm: Any = None) -> MechTestFile:
    """Read and validate a test file (InputError naming file, field and value).

    ``comm`` (collective): rank 0 reads the file and every rank validates its text
    (:func:`bonefem.errors.on_rank_0`); None: this process reads it.
    """
    path = Path(path)
    text = on_rank_0(comm, lambda: _read_test_text(path))
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"TOML syntax error: {exc}", file=path) from None
    return parse_test_file(data, file=path)


def _read_test_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("test file not found", file=path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the test file: {exc}", file=path) from None
