"""The case format's additions of criteria-v2: new keys (4.1), measurement objects (4.2), the
Cockcroft-Gault estimate (4.3), the evaluation date and treatment dates (3.1) and input errors (9).

Plain pytest, no database. Every expectation is written from criteria-v2, not from the code: each
range's boundary value is accepted and its neighbour rejected, in every unit; each conversion example
of 4.2 and 4.3 gives exactly the figure printed there; each error of section 9 is named by its path
with its message, every bad field in one pass.
"""

from __future__ import annotations

import copy
import datetime
import gzip
import json
import pickle
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from eligibility.rules import (
    CaseValidationError,
    Engine,
    case_as_dict,
    case_date_errors,
    cockcroft_gault,
    default_ruleset,
    parse_case,
    parse_case_json,
)

RULESET = default_ruleset()
PRODUCTS = tuple(RULESET.products)
ENGINE = Engine(RULESET)
AS_OF = datetime.date(2026, 3, 10)

#: The example of section 4.1, valid with its own as_of.
EXAMPLE: dict[str, Any] = {
    "case_id": "v2-example", "stage": "pre_lymphodepletion", "as_of": "2026-03-10",
    "product": "lisocabtagene_maraleucel", "diagnosis": "cll", "disease_status": "relapsed",
    "prior_lines": 2, "prior_drug_classes": ["btk_inhibitor", "bcl2_inhibitor"],
    "leukapheresis_date": "2026-02-10", "lymphodepletion_start_date": "2026-03-12",
    "infusion_date": "2026-03-17",
    "alc": {"value": 450, "unit": "cells/uL", "measured_on": "2026-02-09"},
    "labs": {"bilirubin": {"value": 0.8, "unit": "mg/dL", "measured_on": "2026-03-09"},
             "ast": {"value": 35, "unit": "U/L", "uln": 40, "measured_on": "2026-03-09"},
             "platelets": {"value": 120, "unit": "10^9/L", "measured_on": "2026-03-09"}},
    "washout": {"systemic_corticosteroids": {"status": "stopped", "last_dose_at": "2026-01-30T08:00"},
                "cytotoxic_chemotherapy": {"status": "never"}},
    "product_received_on": "2026-03-05",
}


def rejected(data: Any, as_of: datetime.date | None = AS_OF) -> list[dict[str, str]]:
    """The errors a case is rejected with, as Python values and as JSON text alike."""
    with pytest.raises(CaseValidationError) as info:
        parse_case(data, PRODUCTS, as_of)
    with pytest.raises(CaseValidationError) as again:
        parse_case_json(json.dumps(data), PRODUCTS, as_of)
    assert again.value.errors == info.value.errors
    for error in info.value.errors:
        assert set(error) == {"field", "message"} and error["field"] and error["message"], error
    return info.value.errors


def fields(errors: list[dict[str, str]]) -> set[str]:
    return {error["field"] for error in errors}


def put(path: str, value: Any, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """A copy of ``base`` (default: an empty case with as_of) with ``path`` (dotted) set to ``value``."""
    case = copy.deepcopy({"as_of": AS_OF.isoformat()} if base is None else base)
    *parents, last = path.split(".")
    target = case
    for part in parents:
        target = target.setdefault(part, {})
    target[last] = value
    return case


def read(case: Any, path: str) -> Any:
    for part in path.split("."):
        case = getattr(case, part)
    return case


# --- The example and the groups -----------------------------------------------------------------------


def test_the_example_of_section_4_1_is_valid_and_reads_as_written():
    case = parse_case(EXAMPLE, PRODUCTS)
    assert case.as_of == case.evaluation_date == AS_OF
    assert case.prior_drug_classes == ("btk_inhibitor", "bcl2_inhibitor")
    assert case.labs.bilirubin.value == 0.8 and case.labs.bilirubin.unit == "mg/dL"
    assert case.labs.bilirubin.measured_on == datetime.date(2026, 3, 9)
    assert case.labs.ast.uln == 40 and case.labs.ast.unit == "U/L"
    assert case.alc.measured_on == datetime.date(2026, 2, 9)
    assert case.washout.systemic_corticosteroids.last_dose_at == datetime.datetime(2026, 1, 30, 8, 0)
    assert case.washout.cytotoxic_chemotherapy.status == "never"
    assert case.washout.cytotoxic_chemotherapy.last_dose_on is None
    assert case.labs.creatinine is None and case.gvhd.acute_grade is None


@pytest.mark.parametrize("group", ["labs", "gvhd", "washout", "infections"])
@pytest.mark.parametrize("given", ["absent", "null", "empty"])
def test_a_group_absent_or_null_reads_as_an_empty_group(group, given):
    data = {} if given == "absent" else {group: None if given == "null" else {}}
    case = parse_case(data, PRODUCTS)
    value = getattr(case, group)
    assert value is not None
    assert all(getattr(value, name) is None for name in value.__struct_fields__)


def test_mzl_is_a_diagnosis():
    assert parse_case({"diagnosis": "mzl"}, PRODUCTS).diagnosis == "mzl"


@pytest.mark.parametrize(("path", "values"), [
    ("sex", ["female", "male"]),
    ("first_line_response", ["refractory", "relapse_within_12_months", "relapse_after_12_months"]),
    ("gvhd.chronic", ["none", "limited", "extensive"]),
    ("infections.sars_cov_2", ["negative", "positive", "not_tested"]),
    ("washout.systemic_corticosteroids.status", ["never", "ongoing", "stopped"]),
    ("washout.cytotoxic_chemotherapy.status", ["never", "ongoing", "stopped"]),
])
def test_every_new_enum_value_is_accepted_and_others_are_not(path, values):
    for value in values:
        assert read(parse_case(put(path, value), PRODUCTS), path) == value
    for bad in ("bogus", "", values[0].upper(), 1, True):
        errors = rejected(put(path, bad))
        assert fields(errors) == {path}
        assert errors[0]["message"].startswith("must be one of") or errors[0]["message"] == "must be text"


@pytest.mark.parametrize("value", [[], ["imid"], ["btk_inhibitor", "bcl2_inhibitor", "imid", "proteasome_inhibitor",
                                                 "anti_cd38"], ["imid", "imid"]])
def test_prior_drug_classes_is_a_list_of_classes(value):
    case = parse_case({"prior_drug_classes": value}, PRODUCTS)
    # read as a tuple, in the order recorded: the engine remembers rule results by hashable values
    assert case.prior_drug_classes == tuple(value) and hash(case.prior_drug_classes) is not None
    assert case_as_dict(case)["prior_drug_classes"] == value


def test_a_bad_drug_class_is_named_by_its_place_in_the_list():
    errors = rejected({"prior_drug_classes": ["imid", "bogus", "anti_cd38", 5]})
    assert [error["field"] for error in errors] == ["prior_drug_classes[1]", "prior_drug_classes[3]"]
    # The classes allowed are listed (in an order pydantic may take from an equal Literal it saw first).
    assert errors[0]["message"].startswith("must be one of ")
    assert all(f"'{code}'" in errors[0]["message"]
               for code in ("btk_inhibitor", "bcl2_inhibitor", "imid", "proteasome_inhibitor", "anti_cd38"))


@pytest.mark.parametrize("value", ["imid", {"imid": True}, 5, True])
def test_prior_drug_classes_must_be_a_list(value):
    assert rejected({"prior_drug_classes": value}) == [{"field": "prior_drug_classes", "message": "must be a list"}]


@pytest.mark.parametrize("path", ["transplant_eligible", "lenalidomide_refractory", "cns_involvement",
                                  "anticonvulsant_prophylaxis", "gilbert_syndrome", "product_manufacture_confirmed"])
def test_the_new_yes_no_keys_take_booleans_only(path):
    for value in (True, False):
        assert read(parse_case(put(path, value), PRODUCTS), path) is value
    for bad in (1, 0, "true", "yes"):
        assert rejected(put(path, bad)) == [{"field": path, "message": "must be true or false"}]


@pytest.mark.parametrize(("path", "low", "high"), [("relapse_number", 0, 20), ("gvhd.acute_grade", 0, 4)])
def test_whole_number_ranges(path, low, high):
    for value in (low, low + 1, high - 1, high):
        assert read(parse_case(put(path, value), PRODUCTS), path) == value
    assert rejected(put(path, low - 1)) == [{"field": path, "message": f"must be at least {low}"}]
    assert rejected(put(path, high + 1)) == [{"field": path, "message": f"must be at most {high}"}]
    assert rejected(put(path, 1.5)) == [{"field": path, "message": "must be a whole number"}]
    assert fields(rejected(put(path, "2"))) == {path}


# --- Measurement objects: per-unit ranges (4.2) -------------------------------------------------------

#: (key, unit, values accepted, values rejected), written from the table of 4.2.
RANGES = [
    ("labs.bilirubin", "umol/L", [0, 0.1, 1025.9, 1026], [-0.1, 1026.1]),
    ("labs.bilirubin", "mg/dL", [0, 0.1, 59.9, 60], [-0.1, 60.1]),
    ("labs.creatinine", "umol/L", [0.01, 1, 3093.9, 3094], [0, -1, 3094.1]),
    ("labs.creatinine", "mg/dL", [0.01, 1, 34.99, 35], [0, -0.01, 35.01]),
    ("labs.creatinine_clearance", "mL/min", [0, 0.5, 499.5, 500], [-0.1, 500.1]),
    ("labs.anc", "10^9/L", [0, 0.001, 499.999, 500], [-0.001, 500.001]),
    ("labs.anc", "cells/uL", [0, 1, 499999, 500000], [-1, 500001]),
    ("labs.haemoglobin", "g/dL", [0, 0.1, 24.9, 25], [-0.1, 25.1]),
    ("labs.haemoglobin", "g/L", [0, 1, 249, 250], [-1, 250.1]),
    ("labs.platelets", "10^9/L", [0, 1, 4999, 5000], [-1, 5000.1]),
    ("labs.platelets", "10^3/uL", [0, 1, 4999, 5000], [-1, 5000.1]),
    ("labs.crp", "mg/dL", [0, 0.01, 99.99, 100], [-0.01, 100.01]),
    ("labs.crp", "mg/L", [0, 0.1, 999.9, 1000], [-0.1, 1000.1]),
    ("labs.ferritin", "ng/mL", [0, 1, 199999, 200000], [-1, 200000.1]),
    ("labs.ferritin", "ug/L", [0, 1, 199999, 200000], [-1, 200000.1]),
    ("labs.ldh", "U/L", [0, 1, 99999, 100000], [-1, 100000.1]),
    ("labs.ast", "U/L", [0, 1, 99999, 100000], [-1, 100000.1]),
    ("labs.alt", "U/L", [0, 1, 99999, 100000], [-1, 100000.1]),
    ("lvef", "%", [0, 1, 99, 100], [-1, 100.1]),
    ("spo2_room_air", "%", [0, 1, 99.5, 100], [-0.1, 100.1]),
]
UNITS_OF = {}
for _key, _unit, _, _ in RANGES:
    UNITS_OF.setdefault(_key, []).append(_unit)


def measurement(key: str, unit: str, value: Any, **more: Any) -> dict[str, Any]:
    extra = {"uln": 40} if key in ("labs.ast", "labs.alt") else {}
    return put(key, {"value": value, "unit": unit, **extra, **more})


@pytest.mark.parametrize(("key", "unit", "value"),
                         [(key, unit, value) for key, unit, accepted, _ in RANGES for value in accepted])
def test_a_value_in_the_range_of_its_unit_is_accepted(key, unit, value):
    recorded = read(parse_case(measurement(key, unit, value), PRODUCTS), key)
    assert (recorded.value, recorded.unit, recorded.measured_on) == (value, unit, None)


@pytest.mark.parametrize(("key", "unit", "value"),
                         [(key, unit, value) for key, unit, _, refused in RANGES for value in refused])
def test_a_value_outside_the_range_of_its_unit_is_rejected_by_its_path(key, unit, value):
    (error,) = rejected(measurement(key, unit, value))
    assert error["field"] == f"{key}.value"


@pytest.mark.parametrize(("key", "unit", "message"), [
    ("labs.bilirubin", "mg/dL", "must be between 0 and 60 mg/dL"),
    ("labs.bilirubin", "umol/L", "must be between 0 and 1026 umol/L"),
    ("labs.creatinine", "mg/dL", "must be greater than 0 and at most 35 mg/dL"),
    ("labs.creatinine", "umol/L", "must be greater than 0 and at most 3094 umol/L"),
    ("labs.anc", "cells/uL", "must be between 0 and 500000 cells/uL"),
    ("labs.haemoglobin", "g/L", "must be between 0 and 250 g/L"),
    ("labs.crp", "mg/L", "must be between 0 and 1000 mg/L"),
])
def test_the_range_message_names_the_range_of_the_unit_given(key, unit, message):
    assert rejected(measurement(key, unit, 10**7)) == [{"field": f"{key}.value", "message": message}]
    assert rejected(measurement(key, unit, -1)) == [{"field": f"{key}.value", "message": message}]


def test_a_value_in_range_for_one_unit_and_not_the_other():
    assert parse_case(measurement("labs.bilirubin", "umol/L", 61), PRODUCTS).labs.bilirubin.value == 61
    assert fields(rejected(measurement("labs.bilirubin", "mg/dL", 61))) == {"labs.bilirubin.value"}
    assert parse_case(measurement("labs.haemoglobin", "g/L", 90), PRODUCTS)
    assert fields(rejected(measurement("labs.haemoglobin", "g/dL", 90))) == {"labs.haemoglobin.value"}


@pytest.mark.parametrize("key", sorted(UNITS_OF))
@pytest.mark.parametrize("unit", ["mg/dl", "µmol/L", "umol/l", "x10^9/L", "", "%%", 5, True])
def test_a_unit_outside_the_units_of_its_key_is_rejected(key, unit):
    errors = rejected(measurement(key, unit, 1))
    assert fields(errors) == {f"{key}.unit"}
    assert errors[0]["message"].startswith("must be one of") or errors[0]["message"] == "must be text"


@pytest.mark.parametrize("key", sorted(UNITS_OF))
def test_a_unit_of_another_key_is_rejected(key):
    foreign = "mL/min" if key != "labs.creatinine_clearance" else "U/L"
    assert fields(rejected(measurement(key, foreign, 1))) == {f"{key}.unit"}


@pytest.mark.parametrize("key", sorted(UNITS_OF))
@pytest.mark.parametrize("member", ["value", "unit"])
@pytest.mark.parametrize("how", ["missing", "null"])
def test_a_measurement_without_value_or_unit_names_the_member(key, member, how):
    data = measurement(key, UNITS_OF[key][0], 1)
    target = read_dict(data, key)
    if how == "missing":
        del target[member]
    else:
        target[member] = None
    assert rejected(data) == [{"field": f"{key}.{member}", "message": "is required"}]


def read_dict(data: dict[str, Any], path: str) -> dict[str, Any]:
    for part in path.split("."):
        data = data[part]
    return data


@pytest.mark.parametrize("key", ["labs.ast", "labs.alt"])
def test_ast_and_alt_need_their_upper_limit_of_normal(key):
    base = {"value": 50, "unit": "U/L"}
    assert rejected(put(key, base)) == [{"field": f"{key}.uln", "message": "is required"}]
    assert rejected(put(key, {**base, "uln": None})) == [{"field": f"{key}.uln", "message": "is required"}]
    for uln in (0.01, 1, 999.9, 1000):
        assert read(parse_case(put(key, {**base, "uln": uln}), PRODUCTS), key).uln == uln
    assert rejected(put(key, {**base, "uln": 0})) == [{"field": f"{key}.uln", "message": "must be greater than 0"}]
    assert rejected(put(key, {**base, "uln": 1000.1})) == [{"field": f"{key}.uln", "message": "must be at most 1000"}]
    assert fields(rejected(put(key, {**base, "uln": "40"}))) == {f"{key}.uln"}


@pytest.mark.parametrize("key", sorted(UNITS_OF))
@pytest.mark.parametrize("value", [True, "1", [1]])
def test_a_boolean_or_a_string_is_not_a_measured_value(key, value):
    (error,) = rejected(measurement(key, UNITS_OF[key][0], value))
    assert error == {"field": f"{key}.value", "message": "must be a number"}


@pytest.mark.parametrize("path", ["labs.foo", "gvhd.foo", "washout.foo", "infections.foo", "labs.ast.foo",
                                  "labs.bilirubin.foo", "lvef.foo", "washout.cytotoxic_chemotherapy.foo",
                                  "washout.systemic_corticosteroids.foo", "alc.foo", "temperature.foo"])
def test_an_unknown_key_inside_a_new_object_is_named(path):
    base = {"as_of": AS_OF.isoformat(), "labs": {"ast": {"value": 1, "unit": "U/L", "uln": 40},
                                                 "bilirubin": {"value": 1, "unit": "mg/dL"}},
            "lvef": {"value": 50, "unit": "%"}, "alc": {"value": 1, "unit": "10^9/L"},
            "temperature": {"value": 37, "unit": "C"},
            "washout": {"cytotoxic_chemotherapy": {"status": "never"}, "systemic_corticosteroids": {"status": "never"}}}
    assert rejected(put(path, 1, base)) == [{"field": path, "message": "is not a recognised field"}]


# --- Conversions and rounding (4.2), the Cockcroft-Gault estimate (4.3) --------------------------------


def compared(key: str, unit: str, value: float, **more: Any) -> Decimal:
    result = read(parse_case(measurement(key, unit, value, **more), PRODUCTS), key).compared()
    assert isinstance(result, Decimal)
    return result


@pytest.mark.parametrize(("key", "unit", "value", "more", "expected"), [
    # the examples of 4.2
    ("labs.bilirubin", "mg/dL", 2.0, {}, "34.2"),
    ("labs.bilirubin", "mg/dL", 1.98, {}, "33.9"),
    ("labs.ast", "U/L", 159.9, {"uln": 40}, "4.00"),
    ("labs.anc", "10^9/L", 1.2, {}, "1200"),
    ("labs.crp", "mg/L", 29.96, {}, "3.00"),
    ("labs.haemoglobin", "g/L", 89.5, {}, "9.0"),
    # half-up on the number as written, in each unit (binary rounding would go down on several)
    ("labs.bilirubin", "umol/L", 20.05, {}, "20.1"),
    ("labs.bilirubin", "umol/L", 20.04, {}, "20.0"),
    ("labs.alt", "U/L", 100.2, {"uln": 40}, "2.51"),  # 2.505
    ("labs.alt", "U/L", 100.18, {"uln": 40}, "2.50"),  # 2.5045
    ("labs.creatinine_clearance", "mL/min", 59.5, {}, "60"),
    ("labs.creatinine_clearance", "mL/min", 59.49, {}, "59"),
    ("labs.anc", "cells/uL", 1200.5, {}, "1201"),
    ("labs.anc", "10^9/L", 0.0005, {}, "1"),
    ("labs.anc", "10^9/L", 0.0004, {}, "0"),
    ("labs.haemoglobin", "g/dL", 8.95, {}, "9.0"),
    ("labs.haemoglobin", "g/dL", 8.94, {}, "8.9"),
    ("labs.platelets", "10^9/L", 49.5, {}, "50"),
    ("labs.platelets", "10^3/uL", 49.5, {}, "50"),
    ("labs.platelets", "10^3/uL", 49.4, {}, "49"),
    ("labs.crp", "mg/dL", 2.995, {}, "3.00"),
    ("labs.crp", "mg/L", 29.94, {}, "2.99"),
    ("labs.ferritin", "ng/mL", 1000.5, {}, "1001"),
    ("labs.ferritin", "ug/L", 1000.5, {}, "1001"),
    ("labs.ldh", "U/L", 250.5, {}, "251"),
    ("labs.ldh", "U/L", 250.49, {}, "250"),
    ("lvef", "%", 49.5, {}, "50"),
    ("lvef", "%", 49.4, {}, "49"),
    ("spo2_room_air", "%", 91.5, {}, "92"),
])
def test_the_compared_value_is_converted_and_rounded_half_up(key, unit, value, more, expected):
    assert str(compared(key, unit, value, **more)) == expected


def test_creatinine_is_compared_in_mg_dl_unrounded():
    case = parse_case({"labs": {"creatinine": {"value": 88.4, "unit": "umol/L"}}}, PRODUCTS)
    assert case.labs.creatinine.mg_dl() == Decimal(1) and case.labs.creatinine.compared() == Decimal(1)
    case = parse_case({"labs": {"creatinine": {"value": 100, "unit": "umol/L"}}}, PRODUCTS)
    assert case.labs.creatinine.mg_dl() == Decimal(100) / Decimal("88.4")  # not rounded to any place
    assert case.labs.creatinine.mg_dl() != round(case.labs.creatinine.mg_dl(), 2)
    case = parse_case({"labs": {"creatinine": {"value": 1.234, "unit": "mg/dL"}}}, PRODUCTS)
    assert case.labs.creatinine.mg_dl() == Decimal("1.234")


@pytest.mark.parametrize(("age", "weight", "sex", "creatinine", "expected"), [
    (60, 70, "male", Decimal("1.0"), 78),  # 80 x 70 / 72 = 77.78
    (60, 70, "female", Decimal("1.0"), 66),  # 66.11
    (65, 55, "female", Decimal("1.3"), 37),  # 75 x 55 / 93.6 x 0.85 = 37.46
    (60, 70, "male", 1.0, 78),
    (18, 72, "male", Decimal("1.0"), 122),  # the youngest age with an estimate: 122 x 72 / 72
    (60.5, 70, "male", Decimal("1.0"), 77),  # fractional age as recorded: 79.5 x 70 / 72 = 77.29
    (68, 72, "male", Decimal(1), 72),  # exactly 72
    (62.8, 84, "male", Decimal("1.2"), 75),  # 77.2 x 84 / 86.4 = 75.06
    (67.4, 90, "male", Decimal(2), 45),  # 72.6 x 90 / 144 = 45.375
    (136.4, 100, "male", Decimal(1), 5),  # 3.6 x 100 / 72 = 5.0
    (140, 100, "male", Decimal(1), 0),
])
def test_cockcroft_gault(age, weight, sex, creatinine, expected):
    assert cockcroft_gault(age, weight, sex, creatinine) == expected


def test_cockcroft_gault_rounds_half_up_only_the_result():
    # (140 - 50) x 45 / (72 x 1.125) = 50.0; 90 x 40.5 / 72 = 50.625 -> 51; 90 x 40.4 / 72 = 50.5 -> 51
    assert cockcroft_gault(50, 45, "male", Decimal("1.125")) == 50
    assert cockcroft_gault(50, 40.5, "male", Decimal(1)) == 51
    assert cockcroft_gault(50, 40.4, "male", Decimal(1)) == 51
    assert cockcroft_gault(50, 40.3, "male", Decimal(1)) == 50  # 50.375


def test_cockcroft_gault_from_the_recorded_creatinine_in_umol_per_litre():
    case = parse_case({"age_years": 60, "weight_kg": 70, "sex": "male",
                       "labs": {"creatinine": {"value": 88.4, "unit": "umol/L"}}}, PRODUCTS)
    assert cockcroft_gault(case.age_years, case.weight_kg, case.sex, case.labs.creatinine.mg_dl()) == 78


@pytest.mark.parametrize(("age", "weight", "sex", "creatinine"), [
    (17.9, 70, "male", Decimal(1)), (17, 70, "female", Decimal(1)), (0, 8, "male", Decimal("0.3")),
    (None, 70, "male", Decimal(1)), (60, None, "male", Decimal(1)), (60, 70, None, Decimal(1)),
    (60, 70, "male", None),
])
def test_no_estimate_under_18_or_without_an_input(age, weight, sex, creatinine):
    assert cockcroft_gault(age, weight, sex, creatinine) is None


# --- Dates and date-times (3.1) -------------------------------------------------------------------------

DATE_PATHS = ["as_of", "lymphodepletion_start_date", "infusion_date", "product_received_on",
              "infections.sars_cov_2_tested_on", "alc.measured_on", "labs.ldh.measured_on", "lvef.measured_on",
              "spo2_room_air.measured_on", "washout.cytotoxic_chemotherapy.last_dose_on"]
DATETIME_PATHS = ["temperature.measured_at", "washout.systemic_corticosteroids.last_dose_at"]
#: A case where every date path above has its object: each test sets one member.
DATED_BASE: dict[str, Any] = {
    "as_of": AS_OF.isoformat(),
    "alc": {"value": 0.5, "unit": "10^9/L"}, "temperature": {"value": 37, "unit": "C"},
    "labs": {"ldh": {"value": 200, "unit": "U/L"}}, "lvef": {"value": 55, "unit": "%"},
    "spo2_room_air": {"value": 97, "unit": "%"},
    "washout": {"cytotoxic_chemotherapy": {"status": "stopped"}, "systemic_corticosteroids": {"status": "stopped"}},
}


@pytest.mark.parametrize("path", DATE_PATHS)
@pytest.mark.parametrize("value", ["2026-03-01", "2024-02-29", "2026-03-10"])
def test_real_dates_are_accepted(path, value):
    assert read(parse_case(put(path, value, DATED_BASE), PRODUCTS), path) == datetime.date.fromisoformat(value)


@pytest.mark.parametrize("path", DATE_PATHS)
@pytest.mark.parametrize("value", ["2026-02-30", "2025-02-29", "2026-13-01", "2026-3-1", "20260301", "01/03/2026",
                                   "2026-03-01T08:00", "", 20260301, True])
def test_bad_dates_are_rejected(path, value):
    errors = rejected(put(path, value, DATED_BASE))
    assert errors == [{"field": path, "message": "must be a real date written YYYY-MM-DD"}]


@pytest.mark.parametrize("path", DATETIME_PATHS)
@pytest.mark.parametrize(("value", "expected"), [
    ("2026-03-01T08:00", datetime.datetime(2026, 3, 1, 8, 0)),
    ("2026-03-01T08:00:59", datetime.datetime(2026, 3, 1, 8, 0, 59)),
    ("2026-03-10T23:59:59", datetime.datetime(2026, 3, 10, 23, 59, 59)),
    ("2026-03-01T00:00", datetime.datetime(2026, 3, 1, 0, 0)),
])
def test_date_times_of_section_3_1_are_accepted_and_kept_as_written(path, value, expected):
    case = parse_case(put(path, value, DATED_BASE), PRODUCTS)
    assert read(case, path) == expected
    assert isinstance(read(case, path), datetime.datetime)
    snapshot = case_as_dict(case)
    *parents, last = path.split(".")
    assert read_dict(snapshot, ".".join(parents))[last] == value  # the snapshot is the case as recorded


@pytest.mark.parametrize("path", DATETIME_PATHS)
@pytest.mark.parametrize("value", [
    "2026-03-01T08:00:00.5", "2026-03-01T08:00:00.000", "2026-03-01T08:00Z", "2026-03-01T08:00:00+01:00",
    "2026-03-01 08:00", "2026-03-01", "2026-03-01T8:00", "2026-03-01T24:00", "2026-03-01T08:60",
    "2026-02-30T08:00", "2026-03-01T08", "2026-03-01t08:00", "２０２６-03-01T08:00", "", 5, True, ["2026-03-01T08:00"],
])
def test_other_date_times_are_rejected(path, value):
    errors = rejected(put(path, value, DATED_BASE))
    assert errors == [{"field": path, "message": "must be a real date and time written YYYY-MM-DDTHH:MM or "
                                                 "YYYY-MM-DDTHH:MM:SS"}]


# --- as_of: recorded, or the default given at parse time ------------------------------------------------


def test_as_of_absent_takes_the_default_given_and_stays_unrecorded():
    case = ENGINE.parse({"stage": "screening"}, as_of=datetime.date(2026, 5, 4))
    assert case.as_of is None and case.evaluation_date == datetime.date(2026, 5, 4)
    assert case_as_dict(case)["as_of"] is None
    case = ENGINE.parse_json(b'{"as_of": null}', as_of=datetime.date(2026, 5, 4))
    assert case.as_of is None and case.evaluation_date == datetime.date(2026, 5, 4)


def test_as_of_absent_without_a_default_is_today():
    before = datetime.date.today()
    case = parse_case({}, PRODUCTS)
    assert case.evaluation_date in (before, datetime.date.today())
    assert ENGINE.parse_json(b"{}").evaluation_date in (before, datetime.date.today())


def test_as_of_recorded_wins_over_the_default():
    case = ENGINE.parse({"as_of": "2020-01-31"}, as_of=datetime.date(2026, 5, 4))
    assert case.as_of == case.evaluation_date == datetime.date(2020, 1, 31)
    assert case_as_dict(case)["as_of"] == "2020-01-31"


def test_any_real_date_is_an_as_of():
    for value in ("1900-01-01", "2099-12-31", "2024-02-29"):
        assert parse_case({"as_of": value}, PRODUCTS).evaluation_date == datetime.date.fromisoformat(value)


# --- Section 9: observed dates after as_of ---------------------------------------------------------------

OBSERVED_PATHS = [
    "alc.measured_on", *(f"labs.{name}.measured_on" for name in (
        "bilirubin", "ast", "alt", "creatinine", "creatinine_clearance", "anc", "haemoglobin", "platelets", "crp",
        "ferritin", "ldh")),
    "lvef.measured_on", "spo2_room_air.measured_on", "temperature.measured_at", "infections.sars_cov_2_tested_on",
    "washout.systemic_corticosteroids.last_dose_at", "washout.cytotoxic_chemotherapy.last_dose_on",
    "product_received_on", "weight_measured_on",
]
#: Each lab and measurement object, valid, with the unit written first in 4.2.
ALL_OBJECTS: dict[str, Any] = {
    "alc": {"value": 0.5, "unit": "10^9/L"}, "temperature": {"value": 37, "unit": "C"},
    "labs": {"bilirubin": {"value": 10, "unit": "umol/L"}, "ast": {"value": 30, "unit": "U/L", "uln": 40},
             "alt": {"value": 30, "unit": "U/L", "uln": 40}, "creatinine": {"value": 80, "unit": "umol/L"},
             "creatinine_clearance": {"value": 90, "unit": "mL/min"}, "anc": {"value": 2, "unit": "10^9/L"},
             "haemoglobin": {"value": 12, "unit": "g/dL"}, "platelets": {"value": 150, "unit": "10^9/L"},
             "crp": {"value": 1, "unit": "mg/dL"}, "ferritin": {"value": 300, "unit": "ng/mL"},
             "ldh": {"value": 200, "unit": "U/L"}},
    "lvef": {"value": 55, "unit": "%"}, "spo2_room_air": {"value": 97, "unit": "%"},
    "washout": {"cytotoxic_chemotherapy": {"status": "stopped"}, "systemic_corticosteroids": {"status": "stopped"}},
}


def dated(path: str, day: datetime.date) -> str:
    return f"{day.isoformat()}T23:59" if path.endswith("_at") else day.isoformat()


@pytest.mark.parametrize("path", OBSERVED_PATHS)
def test_an_observed_date_on_as_of_is_accepted_and_the_day_after_is_not(path):
    on_the_day = put(path, dated(path, AS_OF), {**ALL_OBJECTS, "as_of": AS_OF.isoformat()})
    parse_case(on_the_day, PRODUCTS)
    after = put(path, dated(path, AS_OF + datetime.timedelta(days=1)), {**ALL_OBJECTS, "as_of": AS_OF.isoformat()})
    assert rejected(after) == [{"field": path, "message": "must not be after as_of (2026-03-10)"}]


@pytest.mark.parametrize("path", OBSERVED_PATHS)
def test_without_as_of_an_observed_date_is_judged_against_the_default(path):
    day_after = put(path, dated(path, AS_OF + datetime.timedelta(days=1)), ALL_OBJECTS)
    assert rejected(day_after, as_of=AS_OF) == [{"field": path, "message": "must not be after as_of (2026-03-10)"}]
    parse_case(day_after, PRODUCTS, AS_OF + datetime.timedelta(days=1))
    future = put(path, dated(path, datetime.date.today() + datetime.timedelta(days=1)), ALL_OBJECTS)
    errors = rejected(future, as_of=None)  # no default given: today
    assert errors == [{"field": path, "message": f"must not be after as_of ({datetime.date.today().isoformat()})"}]


def test_the_markers_date_of_version_1_is_exempt():
    case = parse_case({"as_of": "2026-03-10", "infections": {"markers_tested_on": "2027-01-01"}}, PRODUCTS)
    assert case.infections.markers_tested_on == datetime.date(2027, 1, 1)


def test_treatment_dates_may_be_planned_after_as_of():
    case = parse_case({"as_of": "2026-03-10", "leukapheresis_date": "2026-04-01",
                       "lymphodepletion_start_date": "2026-05-01", "infusion_date": "2026-05-06"}, PRODUCTS)
    assert case.infusion_date == datetime.date(2026, 5, 6)


# --- Section 9: treatment dates in order -----------------------------------------------------------------

L, D, I = "leukapheresis_date", "lymphodepletion_start_date", "infusion_date"  # noqa: E741


@pytest.mark.parametrize(("dates", "expected"), [
    ({L: "2026-03-01", D: "2026-03-01", I: "2026-03-01"}, []),  # the same day is in order
    ({L: "2026-03-01", D: "2026-03-20", I: "2026-03-25"}, []),
    ({L: "2026-03-02", D: "2026-03-01"}, [(D, L)]),
    ({D: "2026-03-02", I: "2026-03-01"}, [(I, D)]),
    ({L: "2026-03-02", I: "2026-03-01"}, [(I, L)]),
    ({L: "2026-03-01", D: "2026-03-10", I: "2026-03-05"}, [(I, D)]),  # infusion after leukapheresis: D named
    ({L: "2026-03-10", D: "2026-03-01", I: "2026-03-20"}, [(D, L)]),
    ({L: "2026-03-10", D: "2026-03-05", I: "2026-03-07"}, [(D, L), (I, L)]),  # the nearest key it is before
    ({L: "2026-03-10", D: "2026-03-09", I: "2026-03-08"}, [(D, L), (I, D)]),
    ({L: "2026-03-10", D: "2026-03-20", I: "2026-03-09"}, [(I, D)]),
])
def test_treatment_dates_must_be_in_order(dates, expected):
    data = {"as_of": "2026-03-10", **dates}
    if not expected:
        parse_case(data, PRODUCTS)
        return
    assert rejected(data) == [{"field": key, "message": f"must not be before {earlier}"} for key, earlier in expected]


# --- Section 9: washout ----------------------------------------------------------------------------------

WASHOUTS = [("systemic_corticosteroids", "last_dose_at", "2026-03-01T08:00"),
            ("cytotoxic_chemotherapy", "last_dose_on", "2026-03-01")]


@pytest.mark.parametrize(("name", "member", "value"), WASHOUTS)
def test_a_last_dose_only_with_status_stopped(name, member, value):
    stopped = parse_case({"as_of": "2026-03-10", "washout": {name: {"status": "stopped", member: value}}}, PRODUCTS)
    assert getattr(getattr(stopped.washout, name), member) is not None
    for status in ("never", "ongoing"):
        for member_value in (None, "absent"):
            data = {"as_of": "2026-03-10", "washout": {name: {"status": status}}}
            if member_value is None:
                data["washout"][name][member] = None
            parse_case(data, PRODUCTS)  # no last dose: accepted
        errors = rejected({"as_of": "2026-03-10", "washout": {name: {"status": status, member: value}}})
        assert errors == [{"field": f"washout.{name}.{member}", "message": "only with status stopped"}]


@pytest.mark.parametrize(("name", "member", "value"), WASHOUTS)
def test_a_washout_needs_its_status(name, member, value):
    path = f"washout.{name}.status"
    for data in ({}, {"status": None}, {member: value}):
        assert rejected({"as_of": "2026-03-10", "washout": {name: data}}) == [{"field": path, "message": "is required"}]
    assert parse_case({"washout": {name: {"status": "stopped"}}}, PRODUCTS)  # a last dose is optional


# --- Section 9: every error in one pass ------------------------------------------------------------------


def test_type_errors_and_date_errors_are_reported_together():
    data = {
        "as_of": "2026-03-10",
        "diagnosis": "bogus",
        "prior_drug_classes": ["imid", "x"],
        "leukapheresis_date": "2026-03-05", "lymphodepletion_start_date": "2026-03-01",
        "labs": {"ast": {"value": 50, "unit": "U/L", "measured_on": "2026-03-11"},
                 "bilirubin": {"value": 61, "unit": "mg/dL", "measured_on": "2026-03-09"}},
        "gvhd": {"chronic": "mild"},
        "washout": {"cytotoxic_chemotherapy": {"status": "ongoing", "last_dose_on": "2026-03-01"},
                    "systemic_corticosteroids": {"last_dose_at": "2026-03-01 08:00"}},
        "temperature": {"value": 37, "unit": "C", "measured_at": "2026-03-11T08:00"},
    }
    errors = rejected(data)
    assert sorted(errors, key=lambda error: error["field"]) == sorted([
        {"field": "diagnosis", "message": errors[0]["message"]},
        {"field": "prior_drug_classes[1]", "message": next(
            error["message"] for error in errors if error["field"] == "prior_drug_classes[1]")},
        {"field": "labs.ast.uln", "message": "is required"},
        {"field": "labs.bilirubin.value", "message": "must be between 0 and 60 mg/dL"},
        {"field": "gvhd.chronic", "message": next(
            error["message"] for error in errors if error["field"] == "gvhd.chronic")},
        {"field": "washout.systemic_corticosteroids.status", "message": "is required"},
        {"field": "washout.systemic_corticosteroids.last_dose_at",
         "message": "must be a real date and time written YYYY-MM-DDTHH:MM or YYYY-MM-DDTHH:MM:SS"},
        {"field": "labs.ast.measured_on", "message": "must not be after as_of (2026-03-10)"},
        {"field": "temperature.measured_at", "message": "must not be after as_of (2026-03-10)"},
        {"field": "lymphodepletion_start_date", "message": "must not be before leukapheresis_date"},
        {"field": "washout.cytotoxic_chemotherapy.last_dose_on", "message": "only with status stopped"},
    ], key=lambda error: error["field"])
    assert errors[0]["field"] == "diagnosis" and errors[0]["message"].startswith("must be one of")
    # The values allowed are listed (in an order pydantic may take from an equal Literal it saw first).
    chronic = next(error["message"] for error in errors if error["field"] == "gvhd.chronic")
    assert chronic.startswith("must be one of ") and all(f"'{value}'" in chronic
                                                          for value in ("none", "limited", "extensive"))


def test_a_bad_as_of_is_named_and_no_date_is_judged_against_it():
    errors = rejected({"as_of": "2026-02-30", "labs": {"ldh": {"value": 1, "unit": "U/L",
                                                               "measured_on": "2099-01-01"}}})
    assert errors == [{"field": "as_of", "message": "must be a real date written YYYY-MM-DD"}]


def test_case_date_errors_reads_case_data():
    assert case_date_errors({"as_of": "2026-03-10", "product_received_on": "2026-03-11"}) == [
        {"field": "product_received_on", "message": "must not be after as_of (2026-03-10)"}]
    assert case_date_errors({"product_received_on": "2026-03-11"}, datetime.date(2026, 3, 11)) == []
    assert case_date_errors({"product_received_on": "not a date"}) == []  # a type error, named elsewhere
    assert case_date_errors([1, 2]) == []


# --- Version 1 does not read the new keys (criteria-v2 section 1) ----------------------------------------

GOLDEN = Path(__file__).parent / "golden" / "version1.jsonl.gz"
#: Treatment dates planned far ahead (after any recorded leukapheresis) and observed dates long ago,
#: so that the keys added are valid whatever the stored case holds.
PLANNED = datetime.date(2100, 1, 1)
OBSERVED = datetime.date(2025, 6, 1)


def new_keys(rng: random.Random, case: dict[str, Any]) -> dict[str, Any]:
    """``case`` with a random selection of the keys of criteria-v2 4.1 added, every one valid."""
    day = OBSERVED.isoformat()
    candidates: dict[str, Any] = {
        "as_of": (OBSERVED + datetime.timedelta(days=rng.randrange(0, 400))).isoformat(),
        "lymphodepletion_start_date": (PLANNED + datetime.timedelta(days=rng.randrange(0, 5))).isoformat(),
        "sex": rng.choice(["female", "male"]),
        "prior_drug_classes": rng.sample(["btk_inhibitor", "bcl2_inhibitor", "imid", "proteasome_inhibitor",
                                          "anti_cd38"], rng.randrange(0, 6)),
        "first_line_response": rng.choice(["refractory", "relapse_within_12_months", "relapse_after_12_months"]),
        "transplant_eligible": rng.random() < 0.5, "relapse_number": rng.randrange(0, 21),
        "lenalidomide_refractory": rng.random() < 0.5, "cns_involvement": rng.random() < 0.5,
        "anticonvulsant_prophylaxis": rng.random() < 0.5, "gilbert_syndrome": rng.random() < 0.5,
        "product_received_on": day, "product_manufacture_confirmed": rng.random() < 0.5,
        "gvhd": {"acute_grade": rng.randrange(0, 5), "chronic": rng.choice(["none", "limited", "extensive"])},
        "washout": {"systemic_corticosteroids": {"status": "stopped", "last_dose_at": f"{day}T08:30"},
                    "cytotoxic_chemotherapy": {"status": rng.choice(["never", "ongoing"])}},
        "labs": {name: {**value, "measured_on": day} for name, value in ALL_OBJECTS["labs"].items()
                 if rng.random() < 0.6},
        "lvef": {"value": rng.randrange(0, 101), "unit": "%", "measured_on": day},
        "spo2_room_air": {"value": rng.randrange(80, 101), "unit": "%"},
        "weight_measured_on": day,
    }
    extended = copy.deepcopy(case)
    for key, value in candidates.items():
        if rng.random() < 0.6 and key not in extended:
            extended[key] = value
    if rng.random() < 0.5 and "infusion_date" not in extended:
        extended["infusion_date"] = (PLANNED + datetime.timedelta(days=10)).isoformat()
    if isinstance(extended.get("infections"), dict) and rng.random() < 0.6:
        extended["infections"].update({"sars_cov_2": rng.choice(["negative", "positive", "not_tested"]),
                                       "sars_cov_2_tested_on": day})
    if isinstance(extended.get("alc"), dict) and rng.random() < 0.6:
        extended["alc"]["measured_on"] = day
    if isinstance(extended.get("temperature"), dict) and rng.random() < 0.6:
        extended["temperature"]["measured_at"] = f"{day}T07:15"
    return extended


def test_under_version_1_the_new_keys_change_no_checklist():
    """Every stored case of version 1, with random new keys added: the stored output, byte for byte."""
    with gzip.open(GOLDEN, "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    rng = random.Random(13)  # noqa: S311 (reproducible test data)
    changed, extended_keys = [], 0
    for row in rows:
        case = json.loads(row["case"])
        extended = new_keys(rng, case)
        extended_keys += len(extended) - len(case)
        checklist = ENGINE.evaluate(ENGINE.parse(extended))
        if checklist.as_json().decode() != row["output"]:
            changed.append(case.get("case_id"))
        if rng.random() < 0.1:  # the uncached path too, on a sample
            assert ENGINE.evaluate_uncached(ENGINE.parse(extended)).as_dict() == json.loads(row["output"])
    assert changed == []
    assert extended_keys > len(rows) * 5  # the cases did carry new keys


def test_a_date_time_keeps_its_text_through_copies_and_pickles():
    case = parse_case({"temperature": {"value": 37, "unit": "C", "measured_at": "2026-01-01T08:00"}}, PRODUCTS)
    assert case_as_dict(copy.deepcopy(case))["temperature"]["measured_at"] == "2026-01-01T08:00"
    assert pickle.loads(pickle.dumps(case.temperature.measured_at)).text == "2026-01-01T08:00"  # noqa: S301
    later = case.temperature.measured_at + datetime.timedelta(hours=1)
    assert later.text == "2026-01-01T09:00:00" and later.date() == datetime.date(2026, 1, 1)


def test_a_null_drug_class_is_not_a_drug_class():
    (error,) = rejected({"prior_drug_classes": ["imid", None]})
    assert error["field"] == "prior_drug_classes[1]" and error["message"].startswith("must be one of")
