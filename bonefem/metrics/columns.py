"""Names of the metrics.csv columns, in one place (metrics, report and progress use them).

Units: ``time_days`` (days), ``time_years`` (years), ``bmd_vol_mean`` (mineral density,
g/cm³), ``bvtv_mean`` (-), ``density_app_mean`` (apparent density, g/cm³),
``youngs_modulus_mean`` (MPa), ``OBa_mean``, ``OCa_mean`` (pM), ``bone_formation_rate``,
``bone_resorption_rate`` (mm³/day), ``bfr_bv`` (%/year) -- each also per region
with the region name as suffix; ``abmd`` (g/cm²), ``bmc`` (g), ``projected_area`` (cm²);
``apparent_stiffness`` (N/mm); ``failure_load`` (N), ``fracture_risk_index`` (-);
``tests_evaluated`` (1 or 0); ``<metric>_pct_change`` (%) from the first row; ``t_score``
(SD) with a baseline T-score;
``signal_*`` systemic signal levels; ``mechanics_solves``, ``ksp_iterations``.
"""

from __future__ import annotations

TIME_DAYS = "time_days"
TIME_YEARS = "time_years"
STEP = "step"
BMD_VOL = "bmd_vol_mean"
BVTV = "bvtv_mean"
DENSITY_APP = "density_app_mean"
MODULUS = "youngs_modulus_mean"
OBA = "OBa_mean"
OCA = "OCa_mean"
FORMATION_RATE = "bone_formation_rate"
RESORPTION_RATE = "bone_resorption_rate"
BFR_BV = "bfr_bv"
BMC = "bmc"
PROJECTED_AREA = "projected_area"
ABMD = "abmd"
T_SCORE = "t_score"
STIFFNESS = "apparent_stiffness"
FAILURE_LOAD = "failure_load"
RISK_INDEX = "fracture_risk_index"
QCT_STIFFNESS = "qct_fe_stiffness"
QCT_FAILURE_LOAD = "qct_fe_failure_load"
TESTS_EVALUATED = "tests_evaluated"
MECHANICS_SOLVES = "mechanics_solves"
KSP_ITERATIONS = "ksp_iterations"
SIGNAL_PREFIX = "signal_"
PCT_SUFFIX = "_pct_change"

#: Columns of the virtual mechanical tests (NaN in rows where the tests are not evaluated).
TEST_KEYS = (STIFFNESS, FAILURE_LOAD, RISK_INDEX)

#: Metrics whose percent change from baseline is reported as ``<name>_pct_change``.
PCT_CHANGE_KEYS = (
    BMD_VOL,
    FORMATION_RATE,
    RESORPTION_RATE,
    BVTV,
    DENSITY_APP,
    ABMD,
    BMC,
    STIFFNESS,
    FAILURE_LOAD,
    QCT_STIFFNESS,
    QCT_FAILURE_LOAD,
)


def pct(name: str) -> str:
    """The percent-change column of metric ``name``."""
    return name + PCT_SUFFIX


def regional(name: str, region: str) -> str:
    """The column of metric ``name`` in region ``region``."""
    return f"{name}_{region}"


#: Unit of each base column (``"-"``: dimensionless; ``"1"``: a count). Regional columns
#: (``<name>_<region>``) have the unit of their metric, ``<metric>_pct_change`` columns
#: ``"%"``; see :func:`unit`.
UNITS: dict[str, str] = {
    TIME_DAYS: "days",
    TIME_YEARS: "years",
    STEP: "1",
    BMD_VOL: "g/cm^3",
    BVTV: "-",
    DENSITY_APP: "g/cm^3",
    MODULUS: "MPa",
    OBA: "pM",
    OCA: "pM",
    FORMATION_RATE: "mm^3/day",
    RESORPTION_RATE: "mm^3/day",
    BFR_BV: "%/year",
    BMC: "g",
    PROJECTED_AREA: "cm^2",
    ABMD: "g/cm^2",
    T_SCORE: "SD",
    STIFFNESS: "N/mm",
    FAILURE_LOAD: "N",
    RISK_INDEX: "-",
    QCT_STIFFNESS: "N/mm",
    QCT_FAILURE_LOAD: "N",
    TESTS_EVALUATED: "1",
    MECHANICS_SOLVES: "1",
    KSP_ITERATIONS: "1",
}

#: Units of ``signal_*`` columns named by their suffix (the agents put units in the names);
#: other signal levels are relative (dimensionless, 1 = healthy premenopausal reference).
SIGNAL_UNIT_SUFFIXES: dict[str, str] = {
    "_pM": "pM",
    "_ng_per_mL": "ng/mL",
    "_mg": "mg",
    "_years": "years",
}

#: Metrics with per-region columns ``<name>_<region>``.
REGIONAL_KEYS = (
    BMD_VOL,
    BVTV,
    DENSITY_APP,
    MODULUS,
    OBA,
    OCA,
    FORMATION_RATE,
    RESORPTION_RATE,
    BFR_BV,
)


def unit(column: str) -> str:
    """The unit of a metrics.csv column (``""`` for a column this module does not know).

    ``time_days`` → ``"days"``, ``bmd_vol_mean_trabecular`` → ``"g/cm^3"``,
    ``abmd_pct_change`` → ``"%"``, ``signal_pth_pM`` → ``"pM"``, ``signal_estrogen`` → ``"-"``.
    """
    if column.endswith(PCT_SUFFIX):
        return "%"
    if column in UNITS:
        return UNITS[column]
    if column.startswith(SIGNAL_PREFIX):
        for suffix, text in SIGNAL_UNIT_SUFFIXES.items():
            if column.endswith(suffix):
                return text
        return "-"
    for name in REGIONAL_KEYS:
        if column.startswith(name + "_"):
            return UNITS[name]
    return ""
