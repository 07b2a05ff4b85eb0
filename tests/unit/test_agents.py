"""Hormone/drug agents: registry, composition, and the "add a drug" recipe as a worked example.

The recipe (docs/architecture.md) touches two source files: the schema entry in
``bonefem/config/scenario.py`` and the agent module in ``bonefem/biology/agents/``. Here the
schema entry is a subclass of ScenarioConfig with one more course field, and the module is
the class below, registered like the bundled agents; nothing else is edited.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import pytest
from pydantic import Field

from bonefem.biology.agents import (
    Agent,
    EffectTerms,
    LevelFunction,
    Levels,
    register,
    registered_agents,
    unregister,
)
from bonefem.biology.signals import build_signals
from bonefem.biology.zerod import RunConfig, run_zero_d
from bonefem.config.scenario import EstrogenConfig, ScenarioConfig, Window

YEAR = 365.25


# ---- 1. the schema entry (in bonefem/config/scenario.py for a real drug)
class RomosozumabConfig(Window):
    """Toy sclerostin antibody: monthly s.c. injections (illustration only)."""

    dose_mg: float = Field(default=210.0, gt=0.0, description="dose per injection (mg)")


class ToyScenario(ScenarioConfig):
    romosozumab: list[RomosozumabConfig] = Field(default_factory=list, description="courses")


# ---- 2. the agent module (bonefem/biology/agents/romosozumab.py for a real drug)
TOY_OBU_GAIN = 0.5  # relative D_OBu increase on therapy (dimensionless, toy value)
TOY_OCA_APOPTOSIS = 0.3  # relative A_OCa increase on therapy (dimensionless, toy value)


class RomosozumabAgent(Agent):
    key = "romosozumab"
    order = 110.0

    def levels(self) -> Mapping[str, LevelFunction]:
        return {
            "romosozumab_on": lambda lv: float(
                any(w.active(lv.t) for w in getattr(self.scenario, "romosozumab", []))
            )
        }

    def contribute(self, lv: Levels, terms: EffectTerms) -> None:
        on = lv["romosozumab_on"]
        terms.scale("obu_factor", 1.0 + TOY_OBU_GAIN * on)
        terms.scale("oca_apoptosis_factor", 1.0 + TOY_OCA_APOPTOSIS * on)

    def outputs(self) -> Mapping[str, LevelFunction]:
        return {"romosozumab_on": lambda lv: lv["romosozumab_on"]}


@pytest.fixture
def toy_agent() -> Iterator[type[Agent]]:
    register(RomosozumabAgent)
    yield RomosozumabAgent
    unregister(RomosozumabAgent.key)


def test_every_hormone_and_drug_is_one_registered_module() -> None:
    keys = [a.key for a in registered_agents()]
    assert keys == [
        "estrogen",
        "testosterone",
        "pth",
        "glucocorticoid",
        "inflammation",
        "metabolic",
        "sympathetic",
        "denosumab",
        "bisphosphonate",
        "teriparatide",
        "aging",
    ]


def test_output_columns_keep_their_names_and_order() -> None:
    assert list(build_signals(ScenarioConfig()).values(0.0)) == [
        "estrogen",
        "testosterone",
        "pth_pM",
        "glucocorticoid_strength",
        "cytokine_index",
        "insulin_resistance",
        "tissue_yield_factor",
        "sympathetic_tone",
        "denosumab_ng_per_mL",
        "alendronate_bound_mg",
        "zoledronate_bound_mg",
        "age_years",
    ]


def test_course_keys_come_from_the_schema_types() -> None:
    assert ScenarioConfig.course_keys() == (
        "glucocorticoid",
        "inflammation",
        "metabolic",
        "sympathetic",
        "hrt",
        "trt",
        "denosumab",
        "bisphosphonate",
        "teriparatide",
    )
    assert ToyScenario.course_keys()[-1] == "romosozumab"


def test_effect_terms_compose_additively_or_multiplicatively() -> None:
    t = EffectTerms()
    t.add("rankl_production", 2.0)
    t.add("rankl_production", 3.0)
    t.scale("opg_factor", 0.5)
    t.scale("opg_factor", 0.5)
    t.divide("oba_apoptosis_factor", 2.0)
    e = t.effects()
    assert (e.rankl_production, e.opg_factor, e.oba_apoptosis_factor) == (5.0, 0.25, 0.5)
    with pytest.raises(ValueError, match="not a factor"):
        t.scale("rankl_production", 2.0)
    with pytest.raises(ValueError, match="not an additive term"):
        t.add("opg_factor", 1.0)


def test_worked_example_new_drug_in_a_zero_d_run(toy_agent: type[Agent]) -> None:
    """The toy drug, added by schema entry + module only, acts in a 0-D run."""
    assert toy_agent in registered_agents()
    meno = EstrogenConfig(menopause="natural", menopause_time_days=0.0)
    course = RomosozumabConfig(start_days=YEAR, stop_days=2 * YEAR)
    treated = ToyScenario(estrogen=meno, romosozumab=[course])
    untreated = ToyScenario(estrogen=meno)
    sig = build_signals(treated)
    # its window edges are milestones, its effect terms compose with the others'
    assert sig.milestones(3 * YEAR) == [YEAR, 2 * YEAR]
    assert sig.effects(1.5 * YEAR).obu_factor == pytest.approx(1.0 + TOY_OBU_GAIN)
    e_on, e_off = sig.effects(1.5 * YEAR), build_signals(untreated).effects(1.5 * YEAR)
    assert e_on.oca_apoptosis_factor == pytest.approx(
        e_off.oca_apoptosis_factor * (1.0 + TOY_OCA_APOPTOSIS)
    )
    assert sig.values(1.5 * YEAR)["romosozumab_on"] == 1.0
    # in a 0-D run: bone gained on therapy relative to the untreated course
    run = RunConfig(step_days=28.0)
    r_t = run_zero_d(treated, 2 * YEAR, run=run)
    r_u = run_zero_d(untreated, 2 * YEAR, run=run)
    gain = r_t.at("bvtv_change_pct_trab", 2 * YEAR) - r_u.at("bvtv_change_pct_trab", 2 * YEAR)
    assert gain > 1.0, gain
    assert r_t.at("romosozumab_on", 1.5 * YEAR) == 1.0
    # before the course the two runs are identical
    assert r_t.at("bvtv_trab", YEAR - 28.0) == r_u.at("bvtv_trab", YEAR - 28.0)


def test_duplicate_levels_are_rejected(toy_agent: type[Agent]) -> None:
    class Clash(Agent):
        key = "clash"

        def levels(self) -> Mapping[str, LevelFunction]:
            return {"estrogen": lambda lv: 1.0}

    with pytest.raises(ValueError, match="'estrogen' is already provided"):
        build_signals(ScenarioConfig(), agents=[*registered_agents(), Clash])
