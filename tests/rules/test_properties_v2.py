"""Properties of rules 27-37 and of the dated modes of rules 16, 17 and 25 over random cases.

With every rule enabled and every optional dated group held:
1. every enabled rule gives one item, in catalogue order, with ``derived`` exactly on rules 31, 32,
   36 and 37 (6.3);
2. the cached engine path equals the uncached one, for a case and for its neighbours (cases that
   share most values reuse each other's results);
3. each rule reads only what it declares in ``reads``, and its cache key covers what it reads.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
import inspect
import math
import types
from decimal import Decimal
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eligibility.rules import CATALOGUE, RULE_CODES, THRESHOLDS, Engine, default_ruleset

RULESET = dataclasses.replace(
    default_ruleset(), name="Every rule", version=None, enabled_rules=frozenset(RULE_CODES),
    thresholds={**{spec.key: spec.default for spec in THRESHOLDS if spec.default is not None},
                "alc_max_age_days": Decimal(14), "pre_lymphodepletion_tests_max_days": Decimal(7),
                "fludarabine_reduce_below_crcl_ml_min": Decimal(60), "markers_max_days_after_collection": Decimal(1),
                "fever_max_days_before_infusion": Decimal(1)})
ENGINE = Engine(RULESET)
DERIVED = {"hepatic_function", "renal_function", "car_hematotox", "easix"}
PROPERTY = settings(max_examples=100, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

AS_OF = datetime.date(2026, 3, 10)


def nullable(strategy):
    """Mostly a recorded value, sometimes null ("not recorded", as an absent key)."""
    return st.one_of(strategy, strategy, strategy, st.none())


def before(days_back: int) -> st.SearchStrategy:
    """A date on or before the evaluation date (observed dates may not be after it)."""
    return st.integers(0, days_back).map(lambda days: (AS_OF - datetime.timedelta(days=days)).isoformat())


def number(low, high, *near):
    """A number in range, often one of the values ``near`` a threshold."""
    values = st.floats(low, high, allow_nan=False) | st.integers(math.ceil(low), math.floor(high))
    return st.sampled_from(near) | values if near else values


def measurement(units: dict[str, tuple], uln=False, current=False):
    """A measurement object: for each unit, its range and values near the thresholds in that unit.
    ``current``: always recorded, measured within the 7 days before the evaluation date."""
    def of_unit(unit):
        low, high, *near = units[unit]
        required = {"value": number(low, high, *near), "unit": st.just(unit)}
        if uln:
            required["uln"] = st.sampled_from([40, 35.5, 1000])
        return st.fixed_dictionaries({**required, "measured_on": before(7) if current else nullable(before(12))})
    found = st.sampled_from(sorted(units)).flatmap(of_unit)
    return found if current else nullable(found)


LAB_UNITS = {
    "bilirubin": ({"umol/L": (0, 1026, 34, 33.95, 43, 42.9), "mg/dL": (0, 60, 2.0, 1.98)}, False),
    "ast": ({"U/L": (0, 1000, 160, 159.9, 159.7)}, True),
    "alt": ({"U/L": (0, 1000, 160, 159.9)}, True),
    "creatinine": ({"umol/L": (0.1, 3094, 88.4), "mg/dL": (0.1, 35, 1.0, 1.3)}, False),
    "creatinine_clearance": ({"mL/min": (0, 200, 60, 59, 59.5)}, False),
    "anc": ({"10^9/L": (0, 500, 1.2, 1.199), "cells/uL": (0, 500000, 1200, 1199)}, False),
    "haemoglobin": ({"g/dL": (0, 25, 9.0, 8.94, 8.95), "g/L": (0, 250, 89.5, 89.4)}, False),
    "platelets": ({"10^9/L": (0, 400, 0, 0.4, 75, 74.4, 175, 175.5), "10^3/uL": (0, 400, 75)}, False),
    "crp": ({"mg/dL": (0, 100, 3.0, 2.99), "mg/L": (0, 1000, 29.96, 29.94)}, False),
    "ferritin": ({"ng/mL": (0, 5000, 650, 649, 2000, 2001), "ug/L": (0, 5000, 650)}, False),
    "ldh": ({"U/L": (0, 1000, 0, 250)}, False),
}


def labs(current=False):
    return st.fixed_dictionaries({key: measurement(units, uln, current) for key, (units, uln) in LAB_UNITS.items()})


WASHOUT_STATUS = st.sampled_from(["never", "ongoing", "stopped"])
CLOCK = st.sampled_from(["T00:00", "T00:00:00", "T00:01", "T23:59:59", "T08:00"])


@st.composite
def washout(draw):
    found = {}
    if draw(st.booleans()):
        status = draw(WASHOUT_STATUS)
        found["systemic_corticosteroids"] = {"status": status}
        if status == "stopped" and draw(st.booleans()):
            found["systemic_corticosteroids"]["last_dose_at"] = draw(before(20)) + draw(CLOCK)
    if draw(st.booleans()):
        status = draw(WASHOUT_STATUS)
        found["cytotoxic_chemotherapy"] = {"status": status}
        if status == "stopped" and draw(st.booleans()):
            found["cytotoxic_chemotherapy"]["last_dose_on"] = draw(before(30))
    return found


@st.composite
def treatment_dates(draw):
    """Leukapheresis, lymphodepletion start and infusion, in order (each may be absent or planned)."""
    start = AS_OF + datetime.timedelta(days=draw(st.integers(-3, 3)))
    leukapheresis = start - datetime.timedelta(days=draw(st.integers(0, 30)))
    infusion = start + datetime.timedelta(days=draw(st.integers(0, 7)))
    dates = {"leukapheresis_date": leukapheresis, "lymphodepletion_start_date": start, "infusion_date": infusion}
    return {key: day.isoformat() for key, day in dates.items() if draw(st.integers(0, 9))}


@st.composite
def cases(draw):
    case = draw(st.fixed_dictionaries({"as_of": st.just(AS_OF.isoformat()),
        "stage": st.sampled_from(["screening", "pre_apheresis", "pre_lymphodepletion", "pre_infusion"]),
        "age_years": nullable(number(0, 90, 17.9, 18, 60)),
        "weight_kg": nullable(number(1, 150, 70)),
        "sex": nullable(st.sampled_from(["female", "male"])),
        "lymphodepletion": nullable(st.sampled_from(["flu_cy", "cy_only", "bendamustine", "other", "none"])),
        "prior_allo_hsct": nullable(st.booleans()),
        "cns_involvement": nullable(st.booleans()),
        "anticonvulsant_prophylaxis": nullable(st.booleans()),
        "gvhd": nullable(st.fixed_dictionaries({
            "acute_grade": nullable(st.integers(0, 4)),
            "chronic": nullable(st.sampled_from(["none", "limited", "extensive"]))})),
        "washout": washout(),
        "infections": st.fixed_dictionaries({
            "sars_cov_2": nullable(st.sampled_from(["negative", "positive", "not_tested"])),
            "sars_cov_2_tested_on": nullable(before(12)),
            "markers_tested_on": nullable(st.integers(-45, 5).map(
                lambda days: (AS_OF + datetime.timedelta(days=days)).isoformat()))}),
        "labs": nullable(labs()),
        "lvef": measurement({"%": (0, 100, 40, 41, 40.5)}),
        "spo2_room_air": measurement({"%": (0, 100, 92, 91, 91.5)}),
        "gilbert_syndrome": nullable(st.booleans()),
        "product_received_on": nullable(before(10)),
        "product_manufacture_confirmed": nullable(st.booleans()),
        "alc": nullable(st.fixed_dictionaries({"value": number(0, 2000, 200, 199), "unit": st.just("cells/uL"),
                                               "measured_on": nullable(before(30))})),
        "temperature": nullable(st.fixed_dictionaries({
            "value": number(35, 41, 38.0, 37.9), "unit": st.just("C"),
            "measured_at": nullable(st.builds(str.__add__, before(3), CLOCK))})),
    }))
    case.update(draw(treatment_dates()))
    return case


def checked(data: dict[str, Any]):
    case = ENGINE.parse(data)
    cached = ENGINE.evaluate(case)
    fresh = ENGINE.evaluate_uncached(case)
    assert cached.as_dict() == fresh.as_dict(), data
    assert cached.as_json() == orjson.dumps(cached.as_dict())
    return case, cached


@st.composite
def complete_cases(draw):
    """Cases whose dated values are all recorded and current, lymphodepletion starting on the
    evaluation date: every rule of that phase judges its values."""
    case = draw(cases())
    case.update({"stage": "pre_lymphodepletion", "lymphodepletion_start_date": AS_OF.isoformat(),
                 "labs": draw(labs(current=True)), "lvef": draw(measurement({"%": (0, 100, 40, 41)}, current=True)),
                 "spo2_room_air": draw(measurement({"%": (0, 100, 92, 91)}, current=True)),
                 "infections": {"sars_cov_2": draw(st.sampled_from(["negative", "positive"])),
                                "sars_cov_2_tested_on": draw(before(7))}})
    case.pop("infusion_date", None)
    if case.get("leukapheresis_date", "") > AS_OF.isoformat():
        case.pop("leukapheresis_date")
    return case


CASES = cases() | complete_cases()


@PROPERTY
@given(data=CASES)
def test_every_rule_once_in_catalogue_order_with_derived_where_6_3_says(data):
    _, checklist = checked(data)
    assert [item.code for item in checklist.items] == [entry.code for entry in CATALOGUE]
    for item in checklist.items:
        assert (item.derived is not None) == (item.code in DERIVED), item
        if item.code == "car_hematotox":
            assert set(item.derived["points"]) == {"platelets", "anc", "haemoglobin", "crp", "ferritin"}
            assert item.derived["partial_score"] == sum(p for p in item.derived["points"].values() if p is not None)


@PROPERTY
@given(case=CASES, other=CASES)
def test_cached_equals_uncached_for_neighbouring_cases(case, other):
    """Each neighbour takes one key (or one lab) from ``other``; the treatment dates move together so
    that they stay in order."""
    checked(case)
    dates = ("leukapheresis_date", "lymphodepletion_start_date", "infusion_date")
    for key in set(case) | set(other):
        if key in dates:
            continue
        neighbour = copy.deepcopy(case)
        if key in other:
            neighbour[key] = copy.deepcopy(other[key])
        else:
            neighbour.pop(key)
        checked(neighbour)
    neighbour = {key: value for key, value in case.items() if key not in dates}
    neighbour.update({key: other[key] for key in dates if key in other})
    checked(neighbour)


# --- Reads ----------------------------------------------------------------------------------------------

PLAIN = (str, int, float, bool, type(None), datetime.date, Decimal)


class Recorder:
    """Stands for a case (or part of it) and records the dotted path of every attribute read."""

    __slots__ = ("_target", "_prefix", "_log")

    def __init__(self, target, prefix, log):
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_prefix", prefix)
        object.__setattr__(self, "_log", log)

    def __getattribute__(self, name):
        target = object.__getattribute__(self, "_target")
        value = getattr(target, name)
        if name.startswith("__"):
            return value
        prefix = object.__getattribute__(self, "_prefix")
        if inspect.ismethod(value) and value.__self__ is target:
            # A method is not a value: what it reads is recorded when it runs (``temperature.value``).
            return types.MethodType(value.__func__, self)
        path = f"{prefix}.{name}" if prefix else name
        object.__getattribute__(self, "_log").append(path)
        if isinstance(value, PLAIN):
            return value
        return Recorder(value, path, object.__getattribute__(self, "_log"))

    def __setattr__(self, name, value):
        raise AssertionError(f"a rule must not change the case ({name})")


def covered(path: str, declared) -> bool:
    parts = path.split(".")
    return any(parts[:len(other)] == other or other[:len(parts)] == parts
               for other in (item.split(".") for item in declared))


def leaves(paths):
    unique = set(paths)
    return {path for path in unique if not any(other.startswith(path + ".") for other in unique)}


def read_by(function, case):
    log: list[str] = []
    result = function(Recorder(case, "", log))
    return result, log


DATED_AND_NEW = [rule for rule in ENGINE.rules
                 if rule.code in {"alc", "infectious_markers", "fever", "washout", "cns_involvement", "active_gvhd",
                                  "sars_cov_2", "hepatic_function", "renal_function", "cardiac_function",
                                  "pulmonary_function", "product_on_site", "car_hematotox", "easix"}]


def test_the_dated_modes_are_on_in_this_rule_set():
    assert {rule.code for rule in DATED_AND_NEW if getattr(rule, "dated", True)} == {rule.code for rule in
                                                                                    DATED_AND_NEW}
    assert len(DATED_AND_NEW) == 14


@PROPERTY
@given(data=CASES)
def test_each_rule_reads_only_what_it_declares_and_its_key_covers_it(data):
    case = ENGINE.parse(data)
    for rule in DATED_AND_NEW:
        outcome, log = read_by(rule.evaluate, case)
        assert outcome == rule.evaluate(case), rule.code
        undeclared = sorted({path for path in log if not covered(path, rule.reads)})
        assert not undeclared, f"{rule.code} reads {undeclared}, declares {rule.reads}"
        _, keyed = read_by(rule.key_function(), case)
        missing = sorted({path for path in leaves(log) if not covered(path, leaves(keyed))})
        assert not missing, f"{rule.code}: key misses {missing}"
