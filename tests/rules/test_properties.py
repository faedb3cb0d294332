"""Properties of the rules engine over random cases (hypothesis, no database).

1. Any valid case of criteria.md section 3 gives the 26 rules once each, in catalogue order, with
   consistent counts, the overall result of section 1 and ``pending`` exactly after the stage.
2. Random bad input only ever raises ``CaseValidationError``, with a field and a message per error.
3. msgspec (the decoder) and the derived pydantic model (the error report) accept the same cases,
   the keys of criteria-v2 section 4.1 included; the checks across fields (criteria-v2 section 9)
   give the same errors on the decoded case and on the case data.
4. The engine's cached results equal results computed afresh, and ``as_json`` is ``orjson.dumps(as_dict)``.
5. Each rule reads only the case values it declares in ``reads`` (the engine's cache key).

The expectations (rule codes, phases, statuses, the overall rule) are written from criteria.md,
independently of the code.
"""

from __future__ import annotations

import collections
import copy
import datetime
import inspect
import json
import math
import random
import types
from decimal import Decimal
from typing import Any

import msgspec
import msgspec.inspect
import orjson
import pydantic
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from eligibility.rules import (
    VERSION_1_RULES,
    CaseValidationError,
    Engine,
    case_date_errors,
    default_ruleset,
    error_model,
    in_catalogue_order,
    parse_case,
    parse_case_json,
    synthetic_case,
)

#: The rules version 1 enables, in catalogue order: the items of a version-1 checklist.
VERSION_1_CODES = tuple(in_catalogue_order(VERSION_1_RULES))

RULESET = default_ruleset()
PRODUCTS = tuple(RULESET.products)
#: One engine for the whole module: its per-rule results are reused across every example.
ENGINE = Engine(RULESET)
ERROR_MODEL = error_model(ENGINE.case_type)

PROPERTY = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)

# --- criteria.md, written out -----------------------------------------------------------------------

PHASES = ("screening", "pre_apheresis", "pre_lymphodepletion", "pre_infusion")
STATUSES = ("pass", "flag", "missing", "defer", "exclude", "pending")
#: Section 6: every rule code in catalogue order, with its phase.
CATALOGUE = (
    [(code, "screening") for code in (
        "indication", "target_antigen", "prior_targeted_therapy", "prior_inotuzumab", "age", "performance_status",
        "life_expectancy", "prior_allo_hsct", "bacterial_infection", "fungal_infection", "viral_infection",
        "hbv", "hcv", "hiv", "disease_burden")]
    + [(code, "pre_apheresis") for code in ("alc", "infectious_markers", "starting_material")]
    + [(code, "pre_lymphodepletion") for code in ("lymphodepletion", "organ_function")]
    + [(code, "pre_infusion") for code in (
        "tocilizumab", "caregiver", "proximity", "driving_counselled", "fever", "site_accreditation")]
)
PHASE_OF = dict(CATALOGUE)


def overall_of(statuses: list[str]) -> str:
    """Section 1: from the items that are not pending, worst first."""
    counted = [status for status in statuses if status != "pending"]
    for status, overall in (("exclude", "not_eligible"), ("defer", "deferred"), ("missing", "incomplete"),
                            ("flag", "cleared_with_flags")):
        if status in counted:
            return overall
    return "cleared"


# --- Strategies: section 3 ----------------------------------------------------------------------------


def nullable(strategy: st.SearchStrategy) -> st.SearchStrategy:
    """A recorded value or null ("not recorded"); absence is left to ``fixed_dictionaries(optional=...)``."""
    return st.none() | strategy


def number(low: float, high: float, *, exclude_low: bool = False) -> st.SearchStrategy:
    """Any number in [low, high] (or (low, high]), as a float or as a whole number."""
    integers = st.integers(math.ceil(low) + (1 if exclude_low and float(low).is_integer() else 0), math.floor(high))
    return st.floats(low, high, exclude_min=exclude_low, allow_nan=False, allow_infinity=False) | integers


#: Section 3 puts no upper limit on some numbers (life expectancy, travel time, ...). The general
#: strategies stay below 2**53 (far beyond any clinical value); numbers beyond that have a test of
#: their own (test_huge_recorded_numbers_are_evaluated), so one finding does not hide the others.
LARGE = 2**53
#: A number >= 0: a float, a whole number, or -0.0 (which is >= 0).
NON_NEGATIVE = (st.floats(min_value=0, max_value=LARGE, allow_nan=False) | st.integers(0, LARGE)
                | st.just(-0.0))
#: Numbers >= 0 beyond 2**53, up to the largest float and whole numbers beyond 64 bits.
HUGE = (st.floats(min_value=LARGE, allow_nan=False, allow_infinity=False) | st.integers(LARGE, 2**200)
        | st.sampled_from([2.0**64, 1e20, 1e308, 2**64, 2**64 - 1]))
DATES = st.dates().map(datetime.date.isoformat)
#: Observed dates (criteria-v2 3.1) must not be after as_of: they are drawn before any as_of drawn below
#: (and before today, the default).
LAST_OBSERVED = datetime.date(2025, 12, 31)
OBSERVED_DATES = st.dates(max_value=LAST_OBSERVED).map(datetime.date.isoformat)
OBSERVED_DATETIMES = st.datetimes(max_value=datetime.datetime(2025, 12, 31, 23, 59, 59)).flatmap(
    lambda moment: st.sampled_from([moment.isoformat(timespec="minutes"), moment.isoformat(timespec="seconds")]))
AS_OF_DATES = st.dates(min_value=LAST_OBSERVED + datetime.timedelta(days=1)).map(datetime.date.isoformat)
INFECTION_STATE = st.sampled_from(["none", "active", "controlled", "resolved"])
SEROLOGY = st.sampled_from(["negative", "positive", "not_tested"])
ORGAN = st.sampled_from(["normal", "abnormal", "not_done"])

INFECTIONS = st.fixed_dictionaries({}, optional={
    "bacterial": nullable(INFECTION_STATE),
    "fungal": nullable(INFECTION_STATE),
    "viral": nullable(INFECTION_STATE),
    "hbv": nullable(SEROLOGY),
    "hcv": nullable(SEROLOGY),
    "hiv": nullable(SEROLOGY),
    "hbv_prophylaxis": nullable(st.booleans()),
    "hcv_prophylaxis": nullable(st.booleans()),
    "hiv_prophylaxis": nullable(st.booleans()),
    "markers_tested_on": nullable(DATES),
    "sars_cov_2": nullable(SEROLOGY),
    "sars_cov_2_tested_on": nullable(OBSERVED_DATES),
})
ORGAN_FUNCTION = st.fixed_dictionaries({}, optional={
    organ: nullable(ORGAN) for organ in ("cardiac", "pulmonary", "hepatic", "renal")
})
ALC = st.fixed_dictionaries({"value": NON_NEGATIVE, "unit": st.sampled_from(["10^9/L", "cells/uL"])},
                            optional={"measured_on": nullable(OBSERVED_DATES)})
TEMPERATURE = (st.fixed_dictionaries({"value": number(25, 45), "unit": st.just("C")},
                                     optional={"measured_at": nullable(OBSERVED_DATETIMES)})
               | st.fixed_dictionaries({"value": number(77, 113), "unit": st.just("F")},
                                       optional={"measured_at": nullable(OBSERVED_DATETIMES)}))

# --- Strategies: criteria-v2 section 4 ---------------------------------------------------------------------

#: 4.2, written out: per measurement, each unit with its range (low, high, low excluded).
MEASUREMENT_UNITS = {
    "bilirubin": [("umol/L", 0, 1026, False), ("mg/dL", 0, 60, False)],
    "creatinine": [("umol/L", 0, 3094, True), ("mg/dL", 0, 35, True)],
    "creatinine_clearance": [("mL/min", 0, 500, False)],
    "anc": [("10^9/L", 0, 500, False), ("cells/uL", 0, 500000, False)],
    "haemoglobin": [("g/dL", 0, 25, False), ("g/L", 0, 250, False)],
    "platelets": [("10^9/L", 0, 5000, False), ("10^3/uL", 0, 5000, False)],
    "crp": [("mg/dL", 0, 100, False), ("mg/L", 0, 1000, False)],
    "ferritin": [("ng/mL", 0, 200000, False), ("ug/L", 0, 200000, False)],
    "ldh": [("U/L", 0, 100000, False)],
    "ast": [("U/L", 0, 100000, False)],
    "alt": [("U/L", 0, 100000, False)],
}
LAB_NAMES = ["bilirubin", "ast", "alt", "creatinine", "creatinine_clearance", "anc", "haemoglobin", "platelets", "crp",
             "ferritin", "ldh"]
DRUG_CLASSES = ["btk_inhibitor", "bcl2_inhibitor", "imid", "proteasome_inhibitor", "anti_cd38"]


def measurement(units: list[tuple[str, float, float, bool]], uln: bool = False) -> st.SearchStrategy:
    """A measurement object of 4.2: a value in the range of its unit, the unit, maybe its date (and ULN)."""
    required = {"uln": number(0, 1000, exclude_low=True)} if uln else {}
    return st.one_of(*(
        st.fixed_dictionaries({"value": number(low, high, exclude_low=excluded), "unit": st.just(unit), **required},
                              optional={"measured_on": nullable(OBSERVED_DATES)})
        for unit, low, high, excluded in units))


LABS = st.fixed_dictionaries({}, optional={
    name: nullable(measurement(MEASUREMENT_UNITS[name], uln=name in ("ast", "alt"))) for name in LAB_NAMES})
PERCENTAGE = measurement([("%", 0, 100, False)])
GVHD = st.fixed_dictionaries({}, optional={"acute_grade": nullable(st.integers(0, 4)),
                                           "chronic": nullable(st.sampled_from(["none", "limited", "extensive"]))})


def washout(member: str, dates: st.SearchStrategy) -> st.SearchStrategy:
    """A washout object: a status, and a last dose only with status stopped."""
    return (st.fixed_dictionaries({"status": st.sampled_from(["never", "ongoing"])},
                                  optional={member: st.none()})
            | st.fixed_dictionaries({"status": st.just("stopped")}, optional={member: nullable(dates)}))


WASHOUT = st.fixed_dictionaries({}, optional={
    "systemic_corticosteroids": nullable(washout("last_dose_at", OBSERVED_DATETIMES)),
    "cytotoxic_chemotherapy": nullable(washout("last_dose_on", OBSERVED_DATES)),
})
TREATMENT_DATES = ("leukapheresis_date", "lymphodepletion_start_date", "infusion_date")


def in_order(case: dict[str, Any]) -> dict[str, Any]:
    """The case with its treatment dates put in order (3.1): the dates recorded, sorted, in the keys' order."""
    keys = [key for key in TREATMENT_DATES if case.get(key) is not None]
    for key, day in zip(keys, sorted(case[key] for key in keys), strict=True):
        case[key] = day
    return case

#: Section 3, key by key: each key absent, null or a valid value.
FIELDS: dict[str, st.SearchStrategy] = {
    "case_id": nullable(st.text(max_size=20)),
    # A null stage is left out here: test_case_validation shows whether null is accepted for it.
    "stage": st.sampled_from(PHASES),
    "age_years": nullable(number(0, 120)),
    "weight_kg": nullable(number(0, 350, exclude_low=True)),
    "diagnosis": nullable(st.sampled_from(["b_all", "lbcl", "fl", "mcl", "cll", "mm", "ebv_lymphoma", "ptld", "npc",
                                           "other"])),
    "disease_status": nullable(st.sampled_from(["relapsed", "refractory", "mrd_positive", "first_line", "remission"])),
    "prior_lines": nullable(st.integers(0, 20)),
    "product": nullable(st.sampled_from(PRODUCTS)),
    "ecog": nullable(st.integers(0, 5)),
    "karnofsky": nullable(st.integers(0, 10).map(lambda tens: tens * 10)),
    "lansky": nullable(st.integers(0, 10).map(lambda tens: tens * 10)),
    "life_expectancy_weeks": nullable(NON_NEGATIVE),
    "alc": nullable(ALC),
    "infections": nullable(INFECTIONS),
    "prior_allo_hsct": nullable(st.booleans()),
    "on_immunosuppression": nullable(st.booleans()),
    "prior_bispecific": nullable(st.booleans()),
    "prior_car_t": nullable(st.booleans()),
    "prior_inotuzumab": nullable(st.booleans()),
    "target_antigen_status": nullable(st.sampled_from(["positive", "negative", "not_tested"])),
    "antigen_retested_after_targeted_therapy": nullable(st.booleans()),
    "marrow_blasts_pct": nullable(number(0, 100)),
    "mrd": nullable(st.sampled_from(["negative", "positive", "unknown"])),
    "organ_function": nullable(ORGAN_FUNCTION),
    "leukapheresis_date": nullable(DATES),
    "starting_material": nullable(st.sampled_from(["fresh", "cryopreserved"])),
    "cryopreserved_months": nullable(NON_NEGATIVE),
    "lymphodepletion": nullable(st.sampled_from(["flu_cy", "cy_only", "bendamustine", "other", "none"])),
    "tocilizumab_doses_available": nullable(st.integers(0, LARGE)),
    "caregiver_confirmed": nullable(st.booleans()),
    "travel_time_minutes": nullable(NON_NEGATIVE),
    "driving_counselled": nullable(st.booleans()),
    "temperature": nullable(TEMPERATURE),
    "site_fact_accredited": nullable(st.booleans()),
    # criteria-v2 section 4.1
    "as_of": nullable(AS_OF_DATES),
    "lymphodepletion_start_date": nullable(DATES),
    "infusion_date": nullable(DATES),
    "sex": nullable(st.sampled_from(["female", "male"])),
    "prior_drug_classes": nullable(st.lists(st.sampled_from(DRUG_CLASSES), max_size=7)),
    "first_line_response": nullable(st.sampled_from(["refractory", "relapse_within_12_months",
                                                     "relapse_after_12_months"])),
    "transplant_eligible": nullable(st.booleans()),
    "relapse_number": nullable(st.integers(0, 20)),
    "lenalidomide_refractory": nullable(st.booleans()),
    "cns_involvement": nullable(st.booleans()),
    "anticonvulsant_prophylaxis": nullable(st.booleans()),
    "gvhd": nullable(GVHD),
    "washout": nullable(WASHOUT),
    "labs": nullable(LABS),
    "lvef": nullable(PERCENTAGE),
    "spo2_room_air": nullable(PERCENTAGE),
    "gilbert_syndrome": nullable(st.booleans()),
    "product_received_on": nullable(OBSERVED_DATES),
    "product_manufacture_confirmed": nullable(st.booleans()),
}
FIELDS["diagnosis"] = nullable(st.sampled_from(["b_all", "lbcl", "fl", "mcl", "cll", "mm", "ebv_lymphoma", "ptld",
                                                "npc", "mzl", "other"]))
GROUP_KEYS = {
    "infections": ["bacterial", "fungal", "viral", "hbv", "hcv", "hiv", "hbv_prophylaxis", "hcv_prophylaxis",
                   "hiv_prophylaxis", "markers_tested_on"],
    "organ_function": ["cardiac", "pulmonary", "hepatic", "renal"],
    "alc": ["value", "unit", "measured_on"],
    "temperature": ["value", "unit", "measured_at"],
    "labs": LAB_NAMES,
    "gvhd": ["acute_grade", "chronic"],
    "washout": ["systemic_corticosteroids", "cytotoxic_chemotherapy"],
    "lvef": ["value", "unit", "measured_on"],
    "spo2_room_air": ["value", "unit", "measured_on"],
}
GROUP_KEYS["infections"] += ["sars_cov_2", "sars_cov_2_tested_on"]
#: Members of the objects inside groups (a measurement of ``labs``, a washout).
NESTED_KEYS = {
    **{("labs", name): ["value", "unit", "measured_on", *(["uln"] if name in ("ast", "alt") else [])]
       for name in LAB_NAMES},
    ("washout", "systemic_corticosteroids"): ["status", "last_dose_at"],
    ("washout", "cytotoxic_chemotherapy"): ["status", "last_dose_on"],
}

SCHEMA_CASES = st.fixed_dictionaries({}, optional=FIELDS).map(in_order)
#: Plausible complete cases (values around the thresholds, so every status occurs).
SYNTHETIC_CASES = st.tuples(st.integers(0, 2**32), st.booleans()).map(
    lambda seeded: synthetic_case(random.Random(seeded[0]), seeded[0], criteria_v2=seeded[1]))  # noqa: S311
VALID_CASES = SCHEMA_CASES | SYNTHETIC_CASES

#: Any JSON value: null, booleans, integers (huge ones too), floats (huge, NaN, infinities), text, lists, objects.
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.integers(min_value=-(2**200), max_value=2**200)
    | st.floats() | st.sampled_from([1e308, -1e308, 5e-324, 2**63, 2**64, -(2**63) - 1]) | st.text(max_size=12)
    # dates and date-times (criteria-v2 3.1), so that mutations reach the checks across dates
    | st.dates().map(datetime.date.isoformat) | st.datetimes().map(lambda moment: moment.isoformat(timespec="minutes")),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=8,
)
#: Where a mutation goes: a key of section 3, a key inside a group, or a key nobody knows.
KNOWN_PATHS = ([(key,) for key in FIELDS] + [(group, key) for group, keys in GROUP_KEYS.items() for key in keys]
               + [(*parent, key) for parent, keys in NESTED_KEYS.items() for key in keys])
MUTATION_PATHS = (
    st.sampled_from(KNOWN_PATHS)
    | st.text(max_size=10).map(lambda key: (key,))
    | st.tuples(st.sampled_from(list(GROUP_KEYS)), st.text(max_size=10))
    | st.tuples(st.sampled_from(list(NESTED_KEYS)), st.text(max_size=10)).map(lambda pair: (*pair[0], pair[1]))
)


def set_path(case: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    """Put ``value`` at ``path`` of ``case`` (an object on the way that is not one becomes one)."""
    *parents, last = path
    target = case
    for part in parents:
        if not isinstance(target.get(part), dict):
            target[part] = {}
        target = target[part]
    target[last] = value


@st.composite
def mutated_cases(draw) -> dict[str, Any]:
    """A valid case with random JSON values put into random keys (known and unknown)."""
    case = json.loads(json.dumps(draw(VALID_CASES)))  # a deep copy
    for path, value in draw(st.lists(st.tuples(MUTATION_PATHS, JSON_VALUES), min_size=1, max_size=4)):
        set_path(case, path, value)
    return case


#: Where a date goes in ``date_mutated_cases``: every date of criteria-v2 3.1 (observed, treatment, as_of).
DATE_PATHS = [("as_of",), *((key,) for key in TREATMENT_DATES), ("product_received_on",),
              ("infections", "sars_cov_2_tested_on"), ("infections", "markers_tested_on"), ("alc", "measured_on"),
              ("lvef", "measured_on"), ("spo2_room_air", "measured_on"), *(("labs", name, "measured_on")
                                                                           for name in LAB_NAMES),
              ("washout", "cytotoxic_chemotherapy", "last_dose_on")]
DATETIME_PATHS = [("temperature", "measured_at"), ("washout", "systemic_corticosteroids", "last_dose_at")]
STATUS_PATHS = [("washout", name, "status") for name in ("systemic_corticosteroids", "cytotoxic_chemotherapy")]
#: Dates a few days either side of each other, so that order and as_of checks both pass and fail.
NEAR_DATES = st.dates(datetime.date(2025, 12, 26), datetime.date(2026, 1, 6))


@st.composite
def date_mutated_cases(draw) -> dict[str, Any]:
    """A valid case with dates close together put into date paths, and washout statuses changed."""
    case = json.loads(json.dumps(draw(VALID_CASES)))
    changes = st.one_of(
        st.tuples(st.sampled_from(DATE_PATHS), NEAR_DATES.map(datetime.date.isoformat)),
        st.tuples(st.sampled_from(DATETIME_PATHS), NEAR_DATES.map(lambda day: f"{day.isoformat()}T12:00")),
        st.tuples(st.sampled_from(STATUS_PATHS), st.sampled_from(["never", "ongoing", "stopped"])),
    )
    for path, value in draw(st.lists(changes, min_size=1, max_size=5)):
        set_path(case, path, value)
    return case


def json_text(data: Any) -> bytes:
    """JSON text as Python writes it (NaN and Infinity become the non-JSON literals: bad input too)."""
    return json.dumps(data).encode()


@st.composite
def spliced_json(draw) -> bytes:
    """The JSON text of a case with random bytes spliced in (broken syntax, broken UTF-8, ...)."""
    raw = json_text(draw(VALID_CASES | mutated_cases()))
    start = draw(st.integers(0, len(raw)))
    cut = draw(st.integers(0, 4))
    return raw[:start] + draw(st.binary(min_size=1, max_size=4)) + raw[start + cut:]


JARGON = ("pydantic", "Traceback", "Input should be")


def assert_error_report(error: CaseValidationError) -> None:
    """Section 7: a list of {"field", "message"}, each non-empty text."""
    assert isinstance(error.errors, list) and error.errors
    for item in error.errors:
        assert set(item) == {"field", "message"}, item
        assert isinstance(item["field"], str) and item["field"], item
        assert isinstance(item["message"], str) and item["message"].strip(), item
        assert not any(word in item["message"] for word in JARGON), item


# --- 1. The checklist of any valid case ----------------------------------------------------------------


def test_catalogue_order_is_that_of_section_6():
    assert list(VERSION_1_CODES) == [code for code, _ in CATALOGUE]
    assert [rule.phase for rule in ENGINE.rules] == [phase for _, phase in CATALOGUE]


@PROPERTY
@given(data=VALID_CASES)
def test_any_valid_case_gives_every_rule_once_with_consistent_counts_and_overall(data):
    case = ENGINE.parse(data)
    checklist = ENGINE.evaluate(case)
    stage = data.get("stage") or "pre_infusion"
    result = checklist.as_dict()

    assert list(result) == ["case_id", "stage", "ruleset", "overall", "counts", "items"]
    assert result["case_id"] == data.get("case_id")
    assert result["stage"] == stage
    assert result["ruleset"] == {"name": RULESET.name, "version": RULESET.version}

    items = result["items"]
    assert [item["code"] for item in items] == [code for code, _ in CATALOGUE]
    statuses = [item["status"] for item in items]
    assert set(statuses) <= set(STATUSES)
    for item in items:
        assert item["phase"] == PHASE_OF[item["code"]]
        assert isinstance(item["reason"], str) and item["reason"]
        later_phase = PHASES.index(item["phase"]) > PHASES.index(stage)
        assert (item["status"] == "pending") == later_phase, (stage, item)

    assert checklist.counts == {status: statuses.count(status) for status in STATUSES}
    assert list(checklist.counts) == list(STATUSES)
    assert sum(checklist.counts.values()) == len(CATALOGUE)
    assert checklist.overall == overall_of(statuses)


# --- 2. Bad input: only CaseValidationError ------------------------------------------------------------


@PROPERTY
@given(data=mutated_cases() | date_mutated_cases())
def test_mutated_case_is_accepted_or_rejected_with_case_validation_error(data):
    for parse in (lambda: parse_case(data, PRODUCTS), lambda: ENGINE.parse(data),
                  lambda: parse_case_json(json_text(data), PRODUCTS)):
        try:
            parse()
        except CaseValidationError as error:
            assert_error_report(error)


@PROPERTY
@given(raw=st.binary(max_size=200) | st.text(max_size=200) | spliced_json())
@example(raw=b'{"case_id": "\xff"}')
@example(raw=b'{"ecog": 1, "\xc3": 2}')
def test_random_text_is_accepted_or_rejected_with_case_validation_error(raw):
    try:
        parse_case_json(raw, PRODUCTS)
    except CaseValidationError as error:
        assert_error_report(error)


# --- 3. msgspec and pydantic agree ---------------------------------------------------------------------


def accepted_by_msgspec(raw: bytes) -> bool:
    try:
        ENGINE.parse_json(raw)
    except CaseValidationError:
        return False
    return True


def accepted_by_pydantic(raw: bytes) -> bool:
    """The error report's route: the model accepts the case, and the checks across fields find nothing in
    its data (the pydantic model types each field; the dates are checked on the case data after it)."""
    try:
        ERROR_MODEL.model_validate_json(raw)
    except pydantic.ValidationError:
        return False
    return not case_date_errors(json.loads(raw))


@PROPERTY
@given(data=VALID_CASES | mutated_cases() | date_mutated_cases())
def test_msgspec_and_pydantic_accept_the_same_cases(data):
    raw = json_text(data)
    assert accepted_by_msgspec(raw) == accepted_by_pydantic(raw), raw


@PROPERTY
@given(valid=VALID_CASES)
def test_valid_cases_are_accepted_by_both(valid):
    raw = json_text(valid)
    assert accepted_by_msgspec(raw)
    assert accepted_by_pydantic(raw)


@PROPERTY
@given(data=date_mutated_cases() | mutated_cases())
def test_the_checks_across_dates_agree_on_the_decoded_case_and_on_the_case_data(data):
    """Section 9's errors across fields are found by the decoder on the case and, when a field is bad, on
    the case data: for a case whose every field is well typed, both give the same errors in the same order."""
    raw = json_text(data)
    try:
        ERROR_MODEL.model_validate_json(raw)
    except pydantic.ValidationError:
        return
    expected = case_date_errors(json.loads(raw))
    try:
        ENGINE.parse_json(raw)
    except CaseValidationError as error:
        assert error.errors == expected, raw
    else:
        assert expected == [], raw


def object_text(*groups: dict[str, Any]) -> bytes:
    """One JSON object with the members of every group in turn: a key in two groups appears twice."""
    members = [f"{json.dumps(key)}: {json.dumps(value)}" for group in groups for key, value in group.items()]
    return ("{" + ", ".join(members) + "}").encode()


@PROPERTY
@given(first=VALID_CASES | mutated_cases(), second=VALID_CASES | mutated_cases())
@example(first={"ecog": 9}, second={"ecog": 1})
def test_msgspec_and_pydantic_agree_when_a_key_is_repeated(first, second):
    """JSON text may repeat a key; the decoder and the error report must still judge it alike (else the
    error report falls back to the decoder's first message, or names a value that is not the one used)."""
    raw = object_text(first, second)
    assert accepted_by_msgspec(raw) == accepted_by_pydantic(raw), raw


# --- 4. Cached results equal fresh ones ----------------------------------------------------------------


@PROPERTY
@given(data=VALID_CASES)
def test_cached_evaluation_equals_uncached(data):
    case = ENGINE.parse(data)
    cached = ENGINE.evaluate(case)
    fresh = ENGINE.evaluate_uncached(case)
    assert cached.as_dict() == fresh.as_dict()
    assert cached.overall == fresh.overall and cached.counts == fresh.counts
    assert cached.as_json() == orjson.dumps(cached.as_dict())
    assert cached.as_json() == fresh.as_json()
    assert b"".join(cached.json_parts()) == cached.as_json()
    again = ENGINE.evaluate(case)  # every rule's result now comes from the cache
    assert again.as_json() == cached.as_json()


def neighbours(case: dict[str, Any], other: dict[str, Any]):
    """``case`` with one key (or one key of a group) taken from ``other``: cases that share most values."""
    for key in FIELDS:
        neighbour = copy.deepcopy(case)
        if key in other:
            neighbour[key] = copy.deepcopy(other[key])
        else:
            neighbour.pop(key, None)
        yield neighbour
    for group in ("infections", "organ_function", "labs", "gvhd", "washout"):
        mine, theirs = case.get(group), other.get(group)
        if isinstance(mine, dict):
            for key in GROUP_KEYS[group]:
                neighbour = copy.deepcopy(case)
                if isinstance(theirs, dict) and key in theirs:
                    neighbour[group][key] = theirs[key]
                else:
                    neighbour[group].pop(key, None)
                yield neighbour


@PROPERTY
@given(case=VALID_CASES, other=VALID_CASES)
def test_cached_evaluation_equals_uncached_for_neighbouring_cases(case, other):
    """Cases that differ in one value reuse each other's results for every rule that does not read it:
    the reused results must be those computed afresh."""
    for data in (case, *neighbours(case, other)):
        try:
            parsed = ENGINE.parse(data)
        except CaseValidationError:  # a treatment date of the other case out of order with this one's
            assert case_date_errors(data) and data is not case
            continue
        cached = ENGINE.evaluate(parsed)
        assert cached.as_dict() == ENGINE.evaluate_uncached(parsed).as_dict(), data
        assert cached.as_json() == orjson.dumps(cached.as_dict())


@PROPERTY
@given(
    data=VALID_CASES,
    huge=st.fixed_dictionaries({}, optional={
        "life_expectancy_weeks": HUGE,
        "cryopreserved_months": HUGE,
        "travel_time_minutes": HUGE,
        "tocilizumab_doses_available": st.integers(LARGE, 2**200) | st.just(2**64),
        "alc": st.fixed_dictionaries({"value": HUGE, "unit": st.sampled_from(["10^9/L", "cells/uL"])}),
    }).filter(bool),
)
@example(data={}, huge={"life_expectancy_weeks": 2.0**64})
@example(data={}, huge={"tocilizumab_doses_available": 2**64})
def test_huge_recorded_numbers_are_evaluated(data, huge):
    """Section 3 gives these numbers no upper limit: a case the validator accepts is evaluated, and its
    checklist is JSON, whatever their size."""
    case = ENGINE.parse({**data, "stage": "pre_infusion", "starting_material": "cryopreserved", **huge})
    checklist = ENGINE.evaluate_uncached(case)
    assert [item.code for item in checklist.items] == [code for code, _ in CATALOGUE]
    # orjson refuses integers beyond 64 bits: the standard library is the reference here
    assert json.loads(checklist.as_json()) == json.loads(json.dumps(checklist.as_dict()))
    cached = ENGINE.evaluate(case)
    assert cached.as_dict() == checklist.as_dict()
    assert json.loads(cached.as_json()) == json.loads(json.dumps(checklist.as_dict()))


def test_cache_is_exercised_across_cases():
    """The property above must compare results the cache reused: on a fresh engine, a reused result
    is the very item of an earlier checklist (items are shared, as ``Checklist`` says)."""
    engine = Engine(RULESET)
    cases = [engine.parse(synthetic_case(random.Random(seed), seed)) for seed in range(50)]  # noqa: S311
    checklists = [engine.evaluate(case) for case in cases]
    for case, checklist in zip(cases, checklists, strict=True):
        assert checklist.as_dict() == engine.evaluate_uncached(case).as_dict()
    evaluated = [item for checklist in checklists for item in checklist.items if item.status != "pending"]
    assert len({id(item) for item in evaluated}) < len(evaluated)  # some results were reused
    # ... and an uncached evaluation shares nothing with them
    fresh = engine.evaluate_uncached(cases[0]).items
    assert not {id(item) for item in fresh if item.status != "pending"} & {id(item) for item in evaluated}


# --- 5. Each rule reads only what it declares ------------------------------------------------------------

PLAIN_VALUES = (str, int, float, bool, type(None), datetime.date, Decimal, tuple)


class Recorder:
    """Stands for a case (or a group of it) and records the dotted path of every attribute read."""

    __slots__ = ("_target", "_prefix", "_log")

    def __init__(self, target: Any, prefix: str, log: list[str]):
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_prefix", prefix)
        object.__setattr__(self, "_log", log)

    def __getattribute__(self, name: str) -> Any:
        target = object.__getattribute__(self, "_target")
        value = getattr(target, name)
        if name.startswith("__"):
            return value
        prefix = object.__getattribute__(self, "_prefix")
        log = object.__getattribute__(self, "_log")
        path = f"{prefix}.{name}" if prefix else name
        log.append(path)
        if isinstance(value, PLAIN_VALUES):
            return value
        if inspect.ismethod(value) and value.__self__ is target:  # a method: what it reads is recorded too
            return types.MethodType(value.__func__, self)
        return Recorder(value, path, log)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AssertionError(f"a rule must not change the case ({name})")


def leaves(paths: list[str]) -> set[str]:
    """The paths read, less those only passed through on the way to a longer one."""
    unique = set(paths)
    return {path for path in unique if not any(other.startswith(path + ".") for other in unique)}


def covered(path: str, declared: set[str]) -> bool:
    """``path`` is a declared path, a prefix of one, or an extension of one (component by component)."""
    parts = path.split(".")
    for item in declared:
        other = item.split(".")
        if parts[:len(other)] == other or other[:len(parts)] == parts:
            return True
    return False


def paths_read(function, case) -> tuple[Any, list[str]]:
    log: list[str] = []
    result = function(Recorder(case, "", log))
    return result, log


@PROPERTY
@given(data=VALID_CASES)
def test_each_rule_reads_only_what_it_declares(data):
    case = ENGINE.parse(data)
    for rule in ENGINE.rules:
        outcome, log = paths_read(rule.evaluate, case)
        assert outcome == rule.evaluate(case), rule.code  # recording changes nothing
        undeclared = sorted({path for path in log if not covered(path, set(rule.reads))})
        assert not undeclared, f"{rule.code} reads {undeclared}, declares {rule.reads}"


@PROPERTY
@given(data=VALID_CASES)
def test_each_rule_cache_key_covers_what_the_rule_reads(data):
    """The engine reuses a result for equal keys: the key must contain every value ``evaluate`` read."""
    case = ENGINE.parse(data)
    for rule in ENGINE.rules:
        _, evaluated = paths_read(rule.evaluate, case)
        _, keyed = paths_read(rule.key_function(), case)
        key_leaves = leaves(keyed)
        missing = sorted({path for path in leaves(evaluated) if not covered(path, key_leaves)})
        assert not missing, f"{rule.code}: key reads {sorted(key_leaves)}, evaluate also reads {missing}"


def struct_field_paths(struct: type, prefix: str = "") -> set[str]:
    """Every dotted attribute path of a struct, through nested (optional, tagged-union) structs."""
    info = msgspec.inspect.type_info(struct)
    paths = {f"{prefix}{info.tag_field}"} if info.tag_field else set()
    for field in info.fields:
        path = f"{prefix}{field.name}"
        paths.add(path)
        members = field.type.types if isinstance(field.type, msgspec.inspect.UnionType) else (field.type,)
        for member in members:
            if isinstance(member, msgspec.inspect.StructType):
                paths |= struct_field_paths(member.cls, f"{path}.")
    return paths


@pytest.mark.parametrize("rule", ENGINE.rules, ids=lambda rule: rule.code)
def test_every_declared_read_exists_on_the_case(rule):
    # evaluation_date: the effective as_of (criteria-v2 3.1), an attribute of every decoded case, not a field
    known = struct_field_paths(ENGINE.case_type) | {"evaluation_date"}
    assert rule.reads, rule.code
    assert len(set(rule.reads)) == len(rule.reads), rule.reads
    assert set(rule.reads) <= known, sorted(set(rule.reads) - known)


def test_the_recorder_sees_nested_reads():
    """The recorder itself: nested groups, methods of a group, plain values passed through."""
    case = ENGINE.parse({"infections": {"hbv": "positive"}, "alc": {"value": 250, "unit": "cells/uL"},
                         "temperature": {"value": 100.4, "unit": "F"}})
    log: list[str] = []
    recorded = Recorder(case, "", log)
    assert recorded.infections.hbv == "positive"
    assert recorded.alc.in_1e9_per_l() == 0.25
    assert recorded.temperature.in_celsius() == 38.0
    assert recorded.age_years is None
    assert {"infections", "infections.hbv", "alc", "alc.in_1e9_per_l", "alc.unit", "alc.value", "temperature",
            "temperature.value", "age_years"} <= set(log)
    assert not covered("infections.hcv", {"infections.hbv"})
    assert covered("infections", {"infections.hbv"}) and covered("alc.value", {"alc"})
    assert not covered("age", {"age_years"})
    assert leaves(["infections", "infections.hbv", "alc"]) == {"infections.hbv", "alc"}


def test_every_status_and_overall_result_occurs_in_generated_cases():
    """The strategies reach every status (else the properties above would prove little)."""
    seen_statuses: collections.Counter = collections.Counter()
    seen_overall: set[str] = set()
    for seed in range(300):
        checklist = ENGINE.evaluate(ENGINE.parse(synthetic_case(random.Random(seed), seed)))  # noqa: S311
        seen_statuses.update(item.status for item in checklist.items)
        seen_overall.add(checklist.overall)
    assert set(seen_statuses) == set(STATUSES)
    assert {"not_eligible", "deferred", "incomplete"} <= seen_overall
