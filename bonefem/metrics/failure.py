"""Failure-load estimate and fracture risk index (Pistoia et al. 2002).

A linear FE solution under the applied load gives the energy-equivalent strain
EES = √(2ψ/E) per cell. Following Pistoia et al. (2002, Bone 30:842), the bone fails when
2 % of the bone tissue exceeds its yield strain; with linear elasticity the failure load
is the applied load divided by the ratio EES/ε_y that is exceeded in exactly 2 % of the
bone-tissue volume (tissue volume = BV/TV × cell volume). The fracture risk index is the
factor of risk Φ = applied load / failure load (Hayes, Piazza & Zysset 1991, Radiol Clin
North Am 29:1; Keaveny & Bouxsein 2008, J Bone Miner Res 23:1878); Φ > 1 predicts
fracture. Units: N, MPa, mm³.
"""

from __future__ import annotations

from mpi4py import MPI

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from bonefem.metrics.reduce import weighted_upper_quantile


@dataclass(frozen=True)
class FailureEstimate:
    """Pistoia-type failure estimate for one load case.

    Attributes:
        applied_load: magnitude of the applied load (N).
        failure_load: estimated failure load (N).
        risk_index: factor of risk Φ = applied / failure (dimensionless); equal to the
            EES/ε_y ratio exceeded in the critical fraction of bone tissue.
    """

    applied_load: float
    failure_load: float
    risk_index: float


def failure_estimate(
    comm: MPI.Comm,
    sed: npt.ArrayLike,
    modulus: npt.ArrayLike,
    yield_strain: npt.ArrayLike,
    tissue_volume: npt.ArrayLike,
    applied_load: float,
    critical_fraction: float = 0.02,
) -> FailureEstimate:
    """Failure load (N) and factor of risk by the Pistoia et al. (2002) criterion.

    Args:
        comm: communicator.
        sed: strain energy density per owned cell under the applied load (MPa).
        modulus: Young's modulus per owned cell (MPa).
        yield_strain: yield strain per owned cell (dimensionless).
        tissue_volume: bone tissue volume per owned cell (BV/TV × cell volume, mm³).
        applied_load: magnitude of the applied load of the FE solution (N).
        critical_fraction: fraction of bone tissue that must exceed yield (0.02).

    Returns:
        The :class:`FailureEstimate`.
    """
    ees = np.sqrt(2.0 * np.maximum(np.asarray(sed, float), 0.0) / np.asarray(modulus, float))
    ratio = ees / np.asarray(yield_strain, float)
    crit = weighted_upper_quantile(comm, ratio, tissue_volume, critical_fraction)
    failure = applied_load / crit if crit > 0 else np.inf
    return FailureEstimate(
        applied_load=float(applied_load),
        failure_load=float(failure),
        risk_index=float(crit),
    )
