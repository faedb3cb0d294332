"""Properties of rule sets that enable any subset of the catalogue, hold optional groups and carry
indication pathways (criteria-v2 2.1, 2.3, 6.1): items once each in catalogue order, disabled rules
never present, and the cached engine path equal to the uncached one."""

from dataclasses import replace
from decimal import Decimal
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from eligibility.rules import (
    CATALOGUE,
    OPTIONAL_GROUPS,
    RULE_CODES,
    STATUSES,
    Engine,
    default_ruleset,
    draft_from_preset,
    group_add,
    rules_enable,
)
from tests.rules.test_properties import PROPERTY, VALID_CASES

ALL_CODES = [entry.code for entry in CATALOGUE]
V1 = default_ruleset()
US = draft_from_preset(V1, "us_labels_2025_06").ruleset
US = replace(US, thresholds={**US.thresholds, "alc_max_age_days": Decimal(14)})
US_ENGINE = Engine(US)

#: The keys rule 1's pathways read, over the values the case format allows.
PATHWAY_VALUES = st.fixed_dictionaries({}, optional={
    "product": st.sampled_from(sorted(US.products)),
    "diagnosis": st.sampled_from(["b_all", "lbcl", "fl", "mcl", "cll", "mm", "mzl", "ptld", "other"]),
    "disease_status": st.sampled_from(["relapsed", "refractory", "remission"]),
    "prior_lines": st.integers(0, 4),
    "age_years": st.sampled_from([10, 17.9, 18, 25, 25.5, 60]),
    "prior_drug_classes": st.lists(st.sampled_from(["btk_inhibitor", "bcl2_inhibitor", "imid",
                                                    "proteasome_inhibitor", "anti_cd38"]), max_size=5),
    "first_line_response": st.sampled_from(["refractory", "relapse_within_12_months", "relapse_after_12_months"]),
    "transplant_eligible": st.booleans(),
    "relapse_number": st.integers(0, 3),
    "lenalidomide_refractory": st.booleans(),
})


#: Test values for the thresholds the catalogue leaves "to be entered" (not clinical values): a rule
#: set is evaluated only once they have one.
ENTERED = {"alc_max_age_days": Decimal(14), "pre_lymphodepletion_tests_max_days": Decimal(7),
           "fludarabine_reduce_below_crcl_ml_min": Decimal(30)}


def ruleset_with(enabled: set[str], groups: set[str]):
    data = rules_enable(replace(US, enabled_rules=frozenset()), enabled)
    for group in groups:
        data = group_add(data, group)
    return replace(data, thresholds={key: ENTERED[key] if value is None else value
                                     for key, value in data.thresholds.items()})


def test_a_rule_set_with_a_required_threshold_to_be_entered_is_not_evaluated():
    data = rules_enable(replace(US, enabled_rules=frozenset()), {"renal_function"})
    assert data.thresholds["fludarabine_reduce_below_crcl_ml_min"] is None
    with pytest.raises(ValueError, match="thresholds without a value: fludarabine_reduce_below_crcl_ml_min, "
                                         "pre_lymphodepletion_tests_max_days"):
        Engine(data)


def assert_cached_equals_uncached(engine: Engine, data: dict[str, Any]) -> None:
    case = engine.parse(data)
    cached, fresh = engine.evaluate(case), engine.evaluate_uncached(case)
    assert cached.as_dict() == fresh.as_dict()
    assert cached.as_json() == orjson.dumps(fresh.as_dict())
    assert engine.evaluate(case).as_json() == cached.as_json()


@PROPERTY
@given(enabled=st.sets(st.sampled_from(ALL_CODES)), groups=st.sets(st.sampled_from(sorted(OPTIONAL_GROUPS))),
       data=VALID_CASES)
def test_any_enabled_subset_gives_its_rules_once_each_in_catalogue_order(enabled, groups, data):
    engine = Engine(ruleset_with(enabled, groups))
    checklist = engine.evaluate(engine.parse(data))
    codes = [item.code for item in checklist.items]
    assert codes == [code for code in RULE_CODES if code in enabled]
    assert not set(codes) - enabled
    assert sum(checklist.counts.values()) == len(codes)
    assert set(checklist.counts) == set(STATUSES)
    assert_cached_equals_uncached(engine, data)


@PROPERTY
@given(data=VALID_CASES, pathway_values=PATHWAY_VALUES)
def test_cached_equals_uncached_with_indication_pathways(data, pathway_values):
    assert_cached_equals_uncached(US_ENGINE, {**data, **pathway_values})


@PROPERTY
@given(data=VALID_CASES, pathway_values=PATHWAY_VALUES)
def test_version_1_ignores_the_keys_only_pathways_read(data, pathway_values):
    """criteria-v2 1: a case may carry the new keys under version 1; its checklist is that of the same
    case without them."""
    engine = Engine(V1)
    new_keys = {"prior_drug_classes", "first_line_response", "transplant_eligible", "relapse_number",
                "lenalidomide_refractory"}
    with_new = {**data, **{key: value for key, value in pathway_values.items() if key in new_keys}}
    without = {key: value for key, value in data.items() if key not in new_keys}
    assert engine.evaluate(engine.parse(with_new)).as_json() == engine.evaluate(engine.parse(without)).as_json()


@PROPERTY
@given(pathway_values=PATHWAY_VALUES)
def test_rule_1_is_a_function_of_its_cache_key(pathway_values):
    """Two cases with equal keys get equal items: the key holds everything rule 1 read."""
    rule = US_ENGINE.by_code["indication"]
    key = rule.key_function()
    case = US_ENGINE.parse(pathway_values)
    for name, value in (("prior_drug_classes", ["btk_inhibitor"]), ("first_line_response", "refractory"),
                        ("transplant_eligible", True), ("relapse_number", 2), ("lenalidomide_refractory", False),
                        ("age_years", 30)):
        other = US_ENGINE.parse({**pathway_values, name: value})
        if key(other) == key(case):
            assert rule.evaluate(other) == rule.evaluate(case)
