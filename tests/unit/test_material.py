"""Density–modulus laws: published values, bounds, inverse, per-region assembly, errors."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from bonefem.material import DEFAULT_LAWS, ModulusLaw, modulus_by_region


def test_morgan_vertebra_at_typical_density() -> None:
    # Morgan et al. 2003: E = 4730 ρ^1.56; at ρ_app = 0.2 g/cm³, E = 4730 * 0.2**1.56 = 384.1 MPa
    law = ModulusLaw(preset="morgan2003_vertebra")
    assert law.modulus(0.2) == pytest.approx(384.12, rel=1e-4)


def test_carter_hayes_cortical_is_about_18_gpa() -> None:
    # Carter & Hayes 1977: E = 3790 ε̇^0.06 ρ³ = 2875 ρ³ at 0.01/s; ρ = 1.85 -> 18.2 GPa
    assert DEFAULT_LAWS["cortical"].modulus(1.85) == pytest.approx(2875 * 1.85**3, rel=1e-12)
    assert 17000 < float(DEFAULT_LAWS["cortical"].modulus(1.85)) < 19000


def test_power_law_exponent_and_inverse() -> None:
    law = ModulusLaw(a=5000.0, b=2.0)
    rho = np.array([0.1, 0.2, 0.4])
    E = law.modulus(rho)
    assert np.allclose(E[1:] / E[:-1], 4.0)  # doubling density -> 2**b
    assert np.allclose(law.density(E), rho)


def test_bounds_keep_modulus_positive() -> None:
    law = ModulusLaw(preset="morgan2003_pooled", E_min=5.0, E_max=1000.0)
    E = law.modulus([0.0, -0.1, 10.0])
    assert E.tolist() == [5.0, 5.0, 1000.0]


def test_modulus_by_region() -> None:
    laws = [ModulusLaw(a=100.0, b=1.0), ModulusLaw(a=1000.0, b=2.0)]
    E = modulus_by_region([0.5, 0.5, 1.0], [0, 1, 1], laws)
    assert E.tolist() == pytest.approx([50.0, 250.0, 1000.0])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({}, "preset"),
        ({"a": 100.0}, "preset"),
        ({"preset": "morgan2003_vertebra", "a": 1.0, "b": 1.0}, "not both"),
        ({"preset": "wolff1892"}, "morgan2003_vertebra"),
        ({"a": -1.0, "b": 1.0}, "greater than 0"),
        ({"a": 1.0, "b": 1.0, "E_min": 10.0, "E_max": 5.0}, "E_min"),
        ({"a": 1.0, "b": 1.0, "poisson_ratio": 0.5}, "less than 0.5"),
    ],
)
def test_invalid_laws_are_rejected(kwargs: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ModulusLaw(**kwargs)


def test_coupled_material_modulus_equals_the_law_of_each_region() -> None:
    """The per-cell coefficient arrays of the coupled material give each region's own law
    (its ``ModulusLaw.modulus`` on the region's cells), clipping included, bit for bit
    (issue 15: one pass instead of a mask per region)."""
    from bonefem.coupling.material import BoneMaterial
    from bonefem.remodeling.bone import RemodelingParameters

    laws = [
        ModulusLaw(preset="morgan2003_vertebra"),
        ModulusLaw(preset="carter_hayes1977", E_max=15000.0),
        ModulusLaw(a=2000.0, b=1.8, E_min=200.0),
    ]
    rng = np.random.default_rng(1)
    idx = rng.integers(0, 3, 500).astype(np.int32)
    material = BoneMaterial(RemodelingParameters(), idx, laws)
    f, m = rng.uniform(0.0, 1.0, 500), rng.uniform(0.3, 0.7, 500)
    E = material.modulus(f, m)
    rho = material.density(f, m)
    for i, law in enumerate(laws):
        np.testing.assert_array_equal(E[idx == i], law.modulus(rho[idx == i]))
    assert E[idx == 1].max() == 15000.0 and E[idx == 2].min() == 200.0
