"""Case input validation: criteria.md section 3 (every key, type, range and enum) and section 7 (errors).

Plain pytest, no database. Every expectation comes from criteria.md, not from the code: each field's
boundary values are accepted, values just beyond them and values of the wrong type are rejected,
and the rejection names the field by its JSON path (``alc.unit``, ``infections.hbv``; ``$`` for the
case itself) with a message a coordinator can read. A bad case is rejected as a whole, naming every
bad field at once.
"""

from __future__ import annotations

import copy
import json
import math
from typing import Any

import orjson
import pytest

from eligibility.rules import CaseValidationError, Engine, default_ruleset, parse_case, parse_case_json
from tests.conftest import EXAMPLES_DIR

RULESET = default_ruleset()
PRODUCTS = tuple(RULESET.products)
ENGINE = Engine(RULESET)

#: A complete, valid case (every key of section 3 recorded); each test changes one thing or several.
VALID_CASE: dict[str, Any] = {
    "case_id": "validation-base",
    "stage": "pre_infusion",
    "age_years": 54,
    "weight_kg": 72,
    "diagnosis": "lbcl",
    "disease_status": "refractory",
    "prior_lines": 2,
    "product": "axicabtagene_ciloleucel",
    "ecog": 1,
    "karnofsky": 80,
    "lansky": 90,
    "life_expectancy_weeks": 26,
    "alc": {"value": 0.4, "unit": "10^9/L"},
    "infections": {
        "bacterial": "none",
        "fungal": "none",
        "viral": "none",
        "hbv": "negative",
        "hcv": "negative",
        "hiv": "negative",
        "hbv_prophylaxis": False,
        "hcv_prophylaxis": False,
        "hiv_prophylaxis": False,
        "markers_tested_on": "2026-10-20",
    },
    "prior_allo_hsct": False,
    "on_immunosuppression": False,
    "prior_bispecific": False,
    "prior_car_t": False,
    "prior_inotuzumab": False,
    "target_antigen_status": "positive",
    "antigen_retested_after_targeted_therapy": False,
    "marrow_blasts_pct": 2,
    "mrd": "negative",
    "organ_function": {"cardiac": "normal", "pulmonary": "normal", "hepatic": "normal", "renal": "normal"},
    "leukapheresis_date": "2026-11-02",
    "starting_material": "fresh",
    "cryopreserved_months": 0,
    "lymphodepletion": "flu_cy",
    "tocilizumab_doses_available": 2,
    "caregiver_confirmed": True,
    "travel_time_minutes": 35,
    "driving_counselled": True,
    "temperature": {"value": 36.8, "unit": "C"},
    "site_fact_accredited": True,
}

# --- Section 3, field by field ----------------------------------------------------------------------

#: Numeric fields: (JSON path, values accepted, values rejected as out of range).
NUMBER_RANGES = [
    ("age_years", [0, 0.0, 0.1, 0.5, 54, 119.9, 120, 120.0], [-0.1, -1, 120.1, 121, 1e9]),
    ("weight_kg", [0.1, 1, 72.5, 349.9, 350, 350.0], [0, 0.0, -0.0, -0.1, -72, 350.1, 351]),
    ("prior_lines", [0, 1, 19, 20], [-1, 21, 100]),
    ("ecog", [0, 1, 2, 3, 4, 5], [-1, 6, 10]),
    ("karnofsky", list(range(0, 101, 10)), [-10, 110, 75, 5, 55, 99, 101, 1]),
    ("lansky", list(range(0, 101, 10)), [-10, 110, 75, 5, 55, 99, 101, 1]),
    ("life_expectancy_weeks", [0, 0.5, 6, 8.5, 520], [-0.1, -1]),
    ("marrow_blasts_pct", [0, 0.01, 5, 5.1, 99.9, 100, 100.0], [-0.1, -1, 100.1, 101]),
    ("cryopreserved_months", [0, 0.5, 30, 240], [-0.1, -1]),
    ("tocilizumab_doses_available", [0, 1, 2, 100], [-1]),
    ("travel_time_minutes", [0, 0.5, 60, 1440], [-0.1, -1]),
    ("alc.value", [0, 0.0, 0.001, 0.2, 1500], [-0.001, -0.1, -1]),
]
#: Fields that are whole numbers: a fractional value is not a count.
INTEGER_FIELDS = ["prior_lines", "ecog", "karnofsky", "lansky", "tocilizumab_doses_available"]
NUMBER_FIELDS = [path for path, _, _ in NUMBER_RANGES] + ["temperature.value"]

#: Enumerations of section 3: (JSON path, every value allowed).
ENUMS = [
    ("stage", ["screening", "pre_apheresis", "pre_lymphodepletion", "pre_infusion"]),
    ("diagnosis", ["b_all", "lbcl", "fl", "mcl", "cll", "mm", "ebv_lymphoma", "ptld", "npc", "mzl", "other"]),
    ("disease_status", ["relapsed", "refractory", "mrd_positive", "first_line", "remission"]),
    ("infections.bacterial", ["none", "active", "controlled", "resolved"]),
    ("infections.fungal", ["none", "active", "controlled", "resolved"]),
    ("infections.viral", ["none", "active", "controlled", "resolved"]),
    ("infections.hbv", ["negative", "positive", "not_tested"]),
    ("infections.hcv", ["negative", "positive", "not_tested"]),
    ("infections.hiv", ["negative", "positive", "not_tested"]),
    ("target_antigen_status", ["positive", "negative", "not_tested"]),
    ("mrd", ["negative", "positive", "unknown"]),
    ("organ_function.cardiac", ["normal", "abnormal", "not_done"]),
    ("organ_function.pulmonary", ["normal", "abnormal", "not_done"]),
    ("organ_function.hepatic", ["normal", "abnormal", "not_done"]),
    ("organ_function.renal", ["normal", "abnormal", "not_done"]),
    ("starting_material", ["fresh", "cryopreserved"]),
    ("lymphodepletion", ["flu_cy", "cy_only", "bendamustine", "other", "none"]),
    ("alc.unit", ["10^9/L", "cells/uL"]),
]
ENUM_FIELDS = [path for path, _ in ENUMS]

BOOLEAN_FIELDS = [
    "infections.hbv_prophylaxis", "infections.hcv_prophylaxis", "infections.hiv_prophylaxis",
    "prior_allo_hsct", "on_immunosuppression", "prior_bispecific", "prior_car_t", "prior_inotuzumab",
    "antigen_retested_after_targeted_therapy", "caregiver_confirmed", "driving_counselled", "site_fact_accredited",
]
DATE_FIELDS = ["infections.markers_tested_on", "leukapheresis_date"]
OBJECT_FIELDS = ["alc", "infections", "organ_function", "temperature"]

#: Every key a case may carry at the top level, and inside each group: the whole of section 3.
TOP_LEVEL_KEYS = list(VALID_CASE)
NESTED_OPTIONAL_KEYS = [f"infections.{key}" for key in VALID_CASE["infections"]] + [
    f"organ_function.{key}" for key in VALID_CASE["organ_function"]
]

#: Words that give away a library's error text instead of a coordinator's message.
JARGON = ("pydantic", "Traceback", "Input should be", "errors.pydantic.dev", "[type=", "msgspec", "Expected `")


# --- Helpers ----------------------------------------------------------------------------------------


def with_value(path: str, value: Any, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """A deep copy of ``base`` (the valid case) with the JSON path ``path`` set to ``value``."""
    case = copy.deepcopy(VALID_CASE if base is None else base)
    *parents, last = path.split(".")
    target = case
    for part in parents:
        target = target[part]
    target[last] = value
    return case


def without(path: str, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """A deep copy of ``base`` (the valid case) without the key at ``path``."""
    case = copy.deepcopy(VALID_CASE if base is None else base)
    *parents, last = path.split(".")
    target = case
    for part in parents:
        target = target[part]
    del target[last]
    return case


def assert_readable(errors: list[dict[str, str]]) -> None:
    """Section 7: every error is {"field", "message"}, both non-empty text, with no library jargon."""
    assert errors, "a rejected case must name at least one bad field"
    for error in errors:
        assert set(error) == {"field", "message"}, error
        assert isinstance(error["field"], str) and error["field"], error
        assert isinstance(error["message"], str) and error["message"].strip(), error
        for word in JARGON:
            assert word not in error["message"], error


def rejection(data: Any, products=PRODUCTS) -> CaseValidationError:
    """The error a case given as Python values is rejected with (fails when it is accepted)."""
    with pytest.raises(CaseValidationError) as info:
        parse_case(data, products)
    assert_readable(info.value.errors)
    return info.value


def rejection_json(raw: bytes | str, products=PRODUCTS) -> CaseValidationError:
    """The error a case given as JSON text is rejected with (fails when it is accepted)."""
    with pytest.raises(CaseValidationError) as info:
        parse_case_json(raw, products)
    assert_readable(info.value.errors)
    return info.value


def fields(error: CaseValidationError) -> set[str]:
    return {item["field"] for item in error.errors}


def messages_for(error: CaseValidationError, path: str) -> list[str]:
    return [item["message"] for item in error.errors if item["field"] == path]


def read_path(case: Any, path: str) -> Any:
    value = case
    for part in path.split("."):
        value = getattr(value, part)
    return value


def checklist_of(data: dict[str, Any]) -> dict[str, Any]:
    return ENGINE.evaluate(ENGINE.parse(data)).as_dict()


# --- The base case itself ---------------------------------------------------------------------------


def test_the_base_case_is_valid_as_values_and_as_json_text():
    case = parse_case(VALID_CASE, PRODUCTS)
    assert case.case_id == "validation-base"
    assert case.alc.unit == "10^9/L"
    assert case.infections.hbv == "negative"
    assert parse_case_json(json.dumps(VALID_CASE), PRODUCTS) == case
    assert parse_case_json(json.dumps(VALID_CASE).encode(), PRODUCTS) == case


def test_an_empty_case_is_valid_and_nothing_is_recorded():
    case = parse_case({}, PRODUCTS)
    assert case.stage == "pre_infusion"  # the default stage
    assert case.age_years is None and case.alc is None and case.temperature is None
    assert case.infections.hbv is None and case.organ_function.cardiac is None


# --- Numbers: ranges --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "value"), [(path, value) for path, accepted, _ in NUMBER_RANGES for value in accepted]
)
def test_number_in_range_is_accepted(path, value):
    case = parse_case(with_value(path, value), PRODUCTS)
    assert read_path(case, path) == value


@pytest.mark.parametrize(
    ("path", "value"), [(path, value) for path, _, rejected in NUMBER_RANGES for value in rejected]
)
def test_number_out_of_range_is_rejected_naming_the_field(path, value):
    error = rejection(with_value(path, value))
    assert fields(error) == {path}
    # The same case as JSON text is rejected the same way.
    assert fields(rejection_json(json.dumps(with_value(path, value)))) == {path}


@pytest.mark.parametrize(
    ("path", "value", "limit"),
    [
        ("age_years", -0.1, "0"), ("age_years", 120.1, "120"),
        ("weight_kg", 0, "0"), ("weight_kg", 350.1, "350"),
        ("prior_lines", 21, "20"), ("ecog", 6, "5"), ("karnofsky", 110, "100"),
        ("marrow_blasts_pct", 100.1, "100"), ("alc.value", -1, "0"),
    ],
)
def test_out_of_range_message_names_the_limit(path, value, limit):
    (message,) = messages_for(rejection(with_value(path, value)), path)
    assert limit in message


@pytest.mark.parametrize(("path", "value"), [(path, 2.5) for path in INTEGER_FIELDS] + [
    ("prior_lines", 0.5), ("ecog", 1.5), ("karnofsky", 75.5), ("lansky", 80.5), ("tocilizumab_doses_available", 2.1),
])
def test_fractional_value_for_a_whole_number_is_rejected(path, value):
    assert fields(rejection(with_value(path, value))) == {path}


@pytest.mark.parametrize("path", ["karnofsky", "lansky"])
@pytest.mark.parametrize("value", [75, 5, 15, 95, 1, 99])
def test_karnofsky_and_lansky_must_be_multiples_of_ten(path, value):
    error = rejection(with_value(path, value))
    assert fields(error) == {path}
    (message,) = messages_for(error, path)
    assert "10" in message


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_nan_and_infinity_are_not_numbers_in_range(value):
    """A Python float NaN or infinity lies in no range of section 3: every such field is rejected,
    not silently turned into "not recorded"."""
    case = copy.deepcopy(VALID_CASE)
    for path in NUMBER_FIELDS:
        case = with_value(path, value, case)
    assert fields(rejection(case)) == set(NUMBER_FIELDS)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400", "-1e400"])
def test_non_finite_numbers_in_json_text_are_rejected(literal):
    raw = json.dumps(VALID_CASE).replace('"age_years": 54', f'"age_years": {literal}')
    assert literal in raw
    assert fields(rejection_json(raw)) <= {"age_years", "$"}


# --- Temperature: the unit selects the range ---------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "unit"),
    [(25, "C"), (25.0, "C"), (36.8, "C"), (38, "C"), (45, "C"), (45.0, "C"),
     (77, "F"), (77.0, "F"), (98.6, "F"), (100, "F"), (113, "F"), (113.0, "F")],
)
def test_temperature_in_the_range_of_its_unit_is_accepted(value, unit):
    case = parse_case(with_value("temperature", {"value": value, "unit": unit}), PRODUCTS)
    assert case.temperature.value == value
    assert case.temperature.unit == unit


@pytest.mark.parametrize(
    ("value", "unit", "low", "high"),
    [
        (24.9, "C", "25", "45"), (45.1, "C", "25", "45"), (50, "C", "25", "45"), (0, "C", "25", "45"),
        (100, "C", "25", "45"), (-40, "C", "25", "45"),
        (76.9, "F", "77", "113"), (113.1, "F", "77", "113"), (50, "F", "77", "113"), (36.8, "F", "77", "113"),
        (0, "F", "77", "113"), (200, "F", "77", "113"),
    ],
)
def test_temperature_out_of_the_range_of_its_unit_is_rejected_naming_that_range(value, unit, low, high):
    error = rejection(with_value("temperature", {"value": value, "unit": unit}))
    assert fields(error) == {"temperature.value"}
    (message,) = messages_for(error, "temperature.value")
    assert low in message and high in message and unit in message


@pytest.mark.parametrize("unit", ["K", "c", "f", "celsius", "", 5, True, None])
def test_temperature_unit_must_be_c_or_f(unit):
    assert fields(rejection(with_value("temperature", {"value": 36.8, "unit": unit}))) == {"temperature.unit"}


def test_temperature_needs_a_unit_and_a_value():
    assert fields(rejection(with_value("temperature", {"value": 36.8}))) == {"temperature.unit"}
    assert fields(rejection(with_value("temperature", {"unit": "C"}))) == {"temperature.value"}


# --- ALC --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("unit", ["10^9/L", "cells/uL"])
def test_alc_units_of_section_3_are_accepted(unit):
    assert parse_case(with_value("alc", {"value": 0.4, "unit": unit}), PRODUCTS).alc.unit == unit


@pytest.mark.parametrize("unit", ["g/L", "10^9/l", "cells/ul", "cells/µL", "", 5, True, None, ["10^9/L"]])
def test_alc_unit_outside_the_enum_is_rejected(unit):
    assert fields(rejection(with_value("alc", {"value": 0.4, "unit": unit}))) == {"alc.unit"}


def test_alc_needs_a_value_and_a_unit():
    assert fields(rejection(with_value("alc", {"unit": "10^9/L"}))) == {"alc.value"}
    assert fields(rejection(with_value("alc", {"value": 0.4}))) == {"alc.unit"}
    assert fields(rejection(with_value("alc", {}))) == {"alc.value", "alc.unit"}


# --- Enumerations, product --------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "value"), [(path, value) for path, values in ENUMS for value in values])
def test_every_enum_value_of_section_3_is_accepted(path, value):
    assert read_path(parse_case(with_value(path, value), PRODUCTS), path) == value


@pytest.mark.parametrize("path", ENUM_FIELDS)
@pytest.mark.parametrize("value", ["bogus", "", "Positive", "NONE", "pre-infusion", "b-all", " fresh"])
def test_value_outside_the_enum_is_rejected(path, value):
    error = rejection(with_value(path, value))
    assert fields(error) == {path}


@pytest.mark.parametrize("path", ENUM_FIELDS)
def test_enum_message_lists_the_allowed_values(path):
    allowed = dict(ENUMS)[path]
    (message,) = messages_for(rejection(with_value(path, "bogus")), path)
    assert all(value in message for value in allowed), message


@pytest.mark.parametrize("product", PRODUCTS)
def test_every_catalogue_product_is_accepted(product):
    assert parse_case(with_value("product", product), PRODUCTS).product == product


@pytest.mark.parametrize("product", ["kymriah", "Tisagenlecleucel", "tisagenlecleucel ", "", "car-t", 5, True])
def test_product_not_in_the_catalogue_is_rejected(product):
    assert fields(rejection(with_value("product", product))) == {"product"}


def test_product_must_be_a_code_of_the_catalogue_passed_in():
    catalogue = ["tisagenlecleucel", "in_house_cart19"]
    assert parse_case(with_value("product", "in_house_cart19"), catalogue).product == "in_house_cart19"
    error = rejection(with_value("product", "axicabtagene_ciloleucel"), products=catalogue)
    assert fields(error) == {"product"}
    (message,) = messages_for(error, "product")
    assert "tisagenlecleucel" in message and "in_house_cart19" in message


def test_engine_validates_products_against_its_rule_set():
    with pytest.raises(CaseValidationError) as info:
        ENGINE.parse(with_value("product", "not_a_product"))
    assert fields(info.value) == {"product"}
    with pytest.raises(CaseValidationError) as info:
        ENGINE.parse_json(json.dumps(with_value("product", "not_a_product")))
    assert fields(info.value) == {"product"}


# --- Dates ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", DATE_FIELDS)
@pytest.mark.parametrize("value", ["2026-01-01", "2026-01-31", "2026-12-31", "2024-02-29", "2000-02-29"])
def test_real_dates_are_accepted(path, value):
    assert read_path(parse_case(with_value(path, value), PRODUCTS), path).isoformat() == value


@pytest.mark.parametrize("path", DATE_FIELDS)
@pytest.mark.parametrize(
    "value",
    ["2026-02-30", "2026/01/01", "2026-13-01", "2026-00-10", "2026-01-32", "2025-02-29", "1900-02-29", "26-01-01",
     "2026-1-1", "01/02/2026", "2026-01-01T00:00:00", "2026-01-01 ", "20260101", "", "yesterday", 20260101, True],
)
def test_bad_dates_are_rejected(path, value):
    error = rejection(with_value(path, value))
    assert fields(error) == {path}
    (message,) = messages_for(error, path)
    assert "YYYY-MM-DD" in message or "date" in message


# --- Wrong types ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", NUMBER_FIELDS)
@pytest.mark.parametrize("value", [True, False, "7", "0", "", [1], {"value": 1}])
def test_a_boolean_or_a_string_is_not_a_number(path, value):
    assert fields(rejection(with_value(path, value))) == {path}


@pytest.mark.parametrize("path", BOOLEAN_FIELDS)
@pytest.mark.parametrize("value", [1, 0, 1.0, "true", "false", "yes", "", [True]])
def test_a_number_or_a_string_is_not_a_boolean(path, value):
    assert fields(rejection(with_value(path, value))) == {path}


@pytest.mark.parametrize("path", ENUM_FIELDS)
@pytest.mark.parametrize("value", [5, 0, 1.5, True, ["fresh"], {"value": "fresh"}])
def test_a_number_boolean_list_or_object_is_not_an_enum_value(path, value):
    assert fields(rejection(with_value(path, value))) == {path}


@pytest.mark.parametrize("path", OBJECT_FIELDS)
@pytest.mark.parametrize("value", [[], [1, 2], ["value", 0.4], "text", 5, 0.4, True])
def test_an_object_cannot_be_given_as_another_type(path, value):
    error = rejection(with_value(path, value))
    assert fields(error) == {path}


@pytest.mark.parametrize("value", [5, 5.5, True, ["a"], {"id": "a"}])
def test_case_id_must_be_a_string(value):
    assert fields(rejection(with_value("case_id", value))) == {"case_id"}


@pytest.mark.parametrize("value", ["", "x", "case 42", "é ü 日本", "a" * 500])
def test_any_string_is_a_case_id(value):
    assert parse_case(with_value("case_id", value), PRODUCTS).case_id == value


# --- Unknown keys -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["foo", "Age_years", "age", "ecog_score", "notes", "infections.foo", "infections.cmv", "infections.HBV",
     "organ_function.liver", "organ_function.foo", "alc.foo", "alc.units", "temperature.foo", "temperature.site"],
)
def test_unknown_key_is_rejected_by_its_path(path):
    error = rejection(with_value(path, "x"))
    assert fields(error) == {path}


def test_several_unknown_keys_are_all_named():
    case = with_value("foo", 1)
    case["bar"] = None
    case["infections"]["foo"] = "none"
    case["alc"]["extra"] = 1
    assert fields(rejection(case)) == {"foo", "bar", "infections.foo", "alc.extra"}


# --- Null and absent both mean "not recorded" --------------------------------------------------------


@pytest.mark.parametrize("path", TOP_LEVEL_KEYS + NESTED_OPTIONAL_KEYS)
def test_null_is_accepted_for_every_optional_key_and_means_not_recorded(path):
    """Section 3: all keys optional; an absent key and null both mean "not recorded"."""
    with_null = with_value(path, None)
    parse_case(with_null, PRODUCTS)  # accepted
    assert checklist_of(with_null) == checklist_of(without(path))


@pytest.mark.parametrize("path", TOP_LEVEL_KEYS + NESTED_OPTIONAL_KEYS)
def test_every_key_may_be_absent(path):
    parse_case(without(path), PRODUCTS)


def test_null_group_reads_as_an_empty_group():
    case = parse_case({"infections": None, "organ_function": None}, PRODUCTS)
    assert case.infections.hbv is None and case.infections.markers_tested_on is None
    assert case.organ_function.renal is None


# --- The case itself --------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["[]", "[{}]", "5", '"case"', "null", "true", "1.5"])
def test_json_that_is_not_an_object_is_rejected_at_the_root(raw):
    error = rejection_json(raw)
    assert fields(error) == {"$"}
    assert fields(rejection_json(raw.encode())) == {"$"}


@pytest.mark.parametrize("data", [[], [VALID_CASE], 5, "case", None, True])
def test_python_value_that_is_not_a_mapping_is_rejected_at_the_root(data):
    assert fields(rejection(data)) == {"$"}


@pytest.mark.parametrize(
    "raw",
    [b"", b" ", b"{", b"}", b"{'ecog': 1}", b'{"ecog": 1,}', b'{"ecog" 1}', b'{"ecog": 01}', b'{"ecog": }',
     b'{"case_id": "abc}', b'{"ecog": 1}{"ecog": 2}', b'{"ecog": 1} x', b"ecog=1", b"\x00", b"\xff\xfe",
     b'\xef\xbb\xbf{"ecog": 1}', b'{"case_id": "\xff"}', b'{"\xff": 1}', b'{"case_id": "ab\xc3"}',
     b'{"case_id": "\xed\xa0\x80"}'],
)
def test_invalid_json_text_is_rejected_at_the_root(raw):
    """Not valid JSON (RFC 8259 JSON text is UTF-8): rejected as a whole, naming "$", no traceback."""
    error = rejection_json(raw)
    assert fields(error) == {"$"}
    assert error.case_id is None


# --- Every bad field at once ------------------------------------------------------------------------


def test_several_bad_fields_are_all_reported_at_once():
    case = copy.deepcopy(VALID_CASE)
    case.update({
        "age_years": -1,
        "weight_kg": 0,
        "prior_lines": 2.5,
        "karnofsky": 75,
        "ecog": True,
        "diagnosis": "lymphoma",
        "leukapheresis_date": "2026-02-30",
        "caregiver_confirmed": "yes",
        "product": "kymriah",
        "unknown_key": 1,
    })
    case["alc"]["unit"] = "g/L"
    case["infections"]["hbv"] = 5
    case["infections"]["foo"] = "none"
    case["organ_function"]["renal"] = "bad"
    case["temperature"] = {"value": 50, "unit": "C"}
    expected = {
        "age_years", "weight_kg", "prior_lines", "karnofsky", "ecog", "diagnosis", "leukapheresis_date",
        "caregiver_confirmed", "product", "unknown_key", "alc.unit", "infections.hbv", "infections.foo",
        "organ_function.renal", "temperature.value",
    }
    error = rejection(case)
    assert fields(error) == expected
    assert len(error.errors) == len(expected)  # each bad field once
    assert fields(rejection_json(orjson.dumps(case))) == expected


def test_two_bad_values_in_one_group_are_both_named():
    case = with_value("alc", {"value": -1, "unit": "g/L"})
    assert fields(rejection(case)) == {"alc.value", "alc.unit"}


def test_example_05_names_exactly_karnofsky_and_alc_unit():
    example = json.loads((EXAMPLES_DIR / "05-bad-input.json").read_text())
    expected = set(example["expected"]["error_fields"])
    assert expected == {"karnofsky", "alc.unit"}
    error = rejection(example["case"])
    assert fields(error) == expected
    assert error.case_id == "example-bad"
    error_json = rejection_json(json.dumps(example["case"]))
    assert fields(error_json) == expected
    assert error_json.case_id == "example-bad"
    assert "10" in messages_for(error, "karnofsky")[0]  # not a multiple of 10
    assert "10^9/L" in messages_for(error, "alc.unit")[0]  # names the allowed units


def test_str_of_the_error_names_each_field():
    error = rejection(with_value("karnofsky", 75) | {"ecog": 9})
    assert "karnofsky" in str(error) and "ecog" in str(error)


# --- case_id on the error ---------------------------------------------------------------------------


def test_case_id_is_echoed_on_the_error():
    error = rejection(with_value("ecog", 9))
    assert error.case_id == "validation-base"
    assert rejection_json(json.dumps(with_value("ecog", 9))).case_id == "validation-base"


def test_case_id_is_echoed_when_another_number_is_beyond_the_float_range():
    """The case is valid JSON and its case_id is readable, only another field is out of range."""
    raw = b'{"case_id": "huge-number", "life_expectancy_weeks": 1e400}'
    error = rejection_json(raw)
    assert fields(error) == {"life_expectancy_weeks"}
    assert error.case_id == "huge-number"


def test_case_id_is_echoed_when_an_integer_is_beyond_64_bits():
    error = rejection({"case_id": "big-int", "ecog": 2**70})
    assert fields(error) == {"ecog"}
    assert error.case_id == "big-int"


def test_no_case_id_when_it_cannot_be_read():
    assert rejection_json(b'{"case_id": "abc", "ecog": ').case_id is None
    assert rejection({"ecog": 9}).case_id is None
