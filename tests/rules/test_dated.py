"""Current values (criteria-v2 3.2) and the dated modes of rules 16, 17 and 25 (6.1).

Expected texts and statuses are written from criteria-v2, not from the code. Version 1 holds none of
the optional groups: its outputs are covered byte for byte by ``test_version1_golden``; here, a rule
set that holds a group switches the dated mode on, and one that does not leaves the rule as it was.
"""

import dataclasses
import datetime
from decimal import Decimal

import pytest

from eligibility.rules import VERSION_1_RULES, Engine, default_ruleset, not_current

D = datetime.date
VERSION_1 = default_ruleset()


def ruleset_with(**values):
    """Version 1's rules, with the thresholds given added (an optional group held when all its keys are)."""
    return dataclasses.replace(VERSION_1, name="Dated", version=None, enabled_rules=VERSION_1_RULES,
                               thresholds={**VERSION_1.thresholds, **{k: Decimal(v) for k, v in values.items()}})


DATED = ruleset_with(alc_max_age_days=14, markers_max_days_after_collection=0, fever_max_days_before_infusion=0)
ENGINES = {id(VERSION_1): Engine(VERSION_1), id(DATED): Engine(DATED)}


def engine_for(ruleset):
    if id(ruleset) not in ENGINES:
        ENGINES[id(ruleset)] = Engine(ruleset)
    return ENGINES[id(ruleset)]


def item(case, code, ruleset=DATED, as_of=None):
    """The item of ``code``, on the cached path, checked against the uncached one."""
    engine = engine_for(ruleset)
    parsed = engine.parse(case, as_of)
    cached = next(entry for entry in engine.evaluate(parsed).items if entry.code == code)
    fresh = next(entry for entry in engine.evaluate_uncached(parsed).items if entry.code == code)
    assert cached == fresh
    return cached


# --- 3.2: the one test, with its texts ---------------------------------------------------------------


class TestNotCurrent:
    anchor = "lymphodepletion_start_date"

    def test_date_not_recorded(self):
        assert not_current(None, D(2026, 3, 10), self.anchor, 7, D(2026, 3, 10)) == "date not recorded"

    def test_anchor_not_recorded(self):
        assert not_current(D(2026, 3, 9), None, self.anchor, 7, D(2026, 3, 10)) == (
            "lymphodepletion_start_date not recorded")

    def test_measured_on_the_anchor_day_counts_the_day_after_does_not(self):
        assert not_current(D(2026, 3, 10), D(2026, 3, 10), self.anchor, 7, D(2026, 3, 12)) is None
        assert not_current(D(2026, 3, 11), D(2026, 3, 10), self.anchor, 7, D(2026, 3, 12)) == (
            "measured on 2026-03-11, after the lymphodepletion_start_date on 2026-03-10")

    def test_window_edge_and_one_day_past(self):
        assert not_current(D(2026, 3, 3), D(2026, 3, 10), self.anchor, 7, D(2026, 3, 10)) is None
        assert not_current(D(2026, 3, 2), D(2026, 3, 10), self.anchor, 7, D(2026, 3, 10)) == (
            "out of date: measured on 2026-03-02, 8 days before the lymphodepletion_start_date on 2026-03-10, more "
            "than the 7 days allowed: repeat it")

    def test_an_anchor_in_the_future_asks_for_a_repeat(self):
        assert not_current(D(2026, 3, 2), D(2026, 3, 12), self.anchor, 7, D(2026, 3, 10)) == (
            "repeat within 7 days before the lymphodepletion_start_date on 2026-03-12: measured on 2026-03-02, "
            "10 days before")

    def test_without_a_window_any_date_up_to_the_anchor_counts(self):
        assert not_current(D(2020, 1, 1), D(2026, 3, 10), self.anchor, None, D(2026, 3, 10)) is None

    def test_days_after_the_anchor_allowed(self):
        assert not_current(D(2026, 3, 12), D(2026, 3, 10), self.anchor, 30, D(2026, 3, 12), after_allowed=2) is None
        assert not_current(D(2026, 3, 13), D(2026, 3, 10), self.anchor, 30, D(2026, 3, 13), after_allowed=2) == (
            "measured on 2026-03-13, 3 days after the lymphodepletion_start_date on 2026-03-10, more than the 2 days "
            "allowed")


# --- Rule 16: dated ALC ---------------------------------------------------------------------------------

ALC_CASE = {"stage": "pre_apheresis", "as_of": "2026-03-10", "leukapheresis_date": "2026-03-10"}


def alc(value, measured_on=None, unit="cells/uL"):
    found = {"value": value, "unit": unit}
    if measured_on is not None:
        found["measured_on"] = measured_on
    return found


class TestDatedAlc:
    code = "alc"

    def test_without_the_group_the_date_is_not_read(self):
        found = item({**ALC_CASE, "alc": alc(450, "2025-01-01")}, self.code, VERSION_1)
        assert found.status == "pass"
        assert found.inputs == {"alc": {"value": 450, "unit": "cells/uL"}}
        assert found.reason == "ALC 450 cells/µL = 0.45 ×10⁹/L is at or above 0.2 ×10⁹/L."

    def test_only_a_whole_group_switches_the_dated_mode_on(self):
        partial = ruleset_with(alc_max_age_days=14)  # the ALC group is whole: one key
        assert item({**ALC_CASE, "alc": alc(450)}, self.code, partial).status == "missing"
        markers_only = ruleset_with(markers_max_days_after_collection=0)
        assert item({**ALC_CASE, "alc": alc(450)}, self.code, markers_only).status == "pass"

    @pytest.mark.parametrize(("measured_on", "expected"), [
        ("2026-02-24", "pass"),  # 14 days: the window's edge
        ("2026-02-23", "missing"),  # 15 days
        ("2026-03-10", "pass"),  # the anchor day itself
    ])
    def test_window_of_alc_max_age_days(self, measured_on, expected):
        assert item({**ALC_CASE, "alc": alc(450, measured_on)}, self.code).status == expected

    def test_out_of_date_text_and_inputs(self):
        found = item({**ALC_CASE, "alc": alc(450, "2026-02-23")}, self.code)
        assert found.reason == ("ALC 450 cells/µL: out of date: measured on 2026-02-23, 15 days before the "
                                "leukapheresis_date on 2026-03-10, more than the 14 days allowed: repeat it.")
        assert found.inputs == {"alc": {"value": 450, "unit": "cells/uL", "measured_on": "2026-02-23"},
                                "leukapheresis_date": "2026-03-10"}

    def test_measured_after_leukapheresis_is_missing(self):
        case = {"stage": "pre_apheresis", "as_of": "2026-03-12", "leukapheresis_date": "2026-03-10",
                "alc": alc(450, "2026-03-11")}
        found = item(case, self.code)
        assert found.status == "missing"
        assert found.reason == ("ALC 450 cells/µL: measured on 2026-03-11, after the leukapheresis_date on "
                                "2026-03-10.")

    def test_date_or_anchor_absent_is_missing(self):
        assert item({**ALC_CASE, "alc": alc(450)}, self.code).reason == "ALC 450 cells/µL: date not recorded."
        found = item({"as_of": "2026-03-10", "stage": "pre_apheresis", "alc": alc(450, "2026-03-01")}, self.code)
        assert found.status == "missing"
        assert found.reason == "ALC 450 cells/µL: leukapheresis_date not recorded."
        assert found.inputs["leukapheresis_date"] is None

    def test_absent_alc_is_missing_with_both_keys(self):
        found = item(ALC_CASE, self.code)
        assert (found.status, found.inputs) == ("missing", {"alc": None, "leukapheresis_date": "2026-03-10"})

    @pytest.mark.parametrize(("value", "expected"), [(199, "flag"), (200, "pass")])
    def test_a_current_alc_is_judged_as_in_version_1(self, value, expected):
        found = item({**ALC_CASE, "alc": alc(value, "2026-03-01")}, self.code)
        assert found.status == expected
        assert "Measured on 2026-03-01, within the 14 days before the leukapheresis_date on 2026-03-10." in found.reason

    def test_a_planned_leukapheresis_asks_for_a_repeat(self):
        case = {"stage": "pre_apheresis", "as_of": "2026-03-10", "leukapheresis_date": "2026-03-20",
                "alc": alc(450, "2026-03-01")}
        assert item(case, self.code).reason == (
            "ALC 450 cells/µL: repeat within 14 days before the leukapheresis_date on 2026-03-20: measured on "
            "2026-03-01, 19 days before.")

    def test_a_stale_low_count_is_missing_not_flag(self):
        assert item({**ALC_CASE, "alc": alc(50, "2026-01-01")}, self.code).status == "missing"


# --- Rule 17: dated markers -----------------------------------------------------------------------------


def markers(tested_on, collection="2026-03-31", as_of="2026-04-05"):
    return {"stage": "pre_apheresis", "as_of": as_of, "leukapheresis_date": collection,
            "infections": {"markers_tested_on": tested_on}}


class TestDatedMarkers:
    code = "infectious_markers"

    @pytest.mark.parametrize(("tested_on", "expected"), [
        ("2026-03-01", "pass"),  # n = 30
        ("2026-02-28", "missing"),  # n = 31
        ("2026-03-31", "pass"),  # n = 0
        ("2026-04-01", "missing"),  # n = -1
    ])
    def test_the_examples_of_6_1(self, tested_on, expected):
        assert item(markers(tested_on), self.code).status == expected

    def test_version_1_defers_the_same_dates(self):
        assert item(markers("2026-02-28"), self.code, VERSION_1).status == "defer"
        assert item(markers("2026-04-01"), self.code, VERSION_1).status == "pass"  # 1 day, either order
        assert item(markers("2026-03-01"), self.code, VERSION_1).inputs == {
            "infections.markers_tested_on": "2026-03-01", "leukapheresis_date": "2026-03-31"}

    def test_inputs_add_the_evaluation_date(self):
        assert item(markers("2026-03-01"), self.code).inputs == {
            "infections.markers_tested_on": "2026-03-01", "leukapheresis_date": "2026-03-31", "as_of": "2026-04-05"}

    def test_as_of_is_the_effective_evaluation_date_never_null(self):
        case = markers("2026-03-01")
        del case["as_of"]
        assert item(case, self.code, as_of=D(2026, 4, 2)).inputs["as_of"] == "2026-04-02"

    def test_out_of_date_text(self):
        assert item(markers("2026-02-28"), self.code).reason == (
            "Infectious-disease markers: out of date: measured on 2026-02-28, 31 days before the leukapheresis_date "
            "on 2026-03-31, more than the 30 days allowed: repeat it.")

    def test_drawn_after_leukapheresis_text(self):
        assert item(markers("2026-04-01"), self.code).reason == (
            "Infectious-disease markers: measured on 2026-04-01, after the leukapheresis_date on 2026-03-31 (drawn "
            "after leukapheresis: markers must be drawn before collection, with results available on the day of "
            "shipment).")

    def test_a_date_after_the_evaluation_date_is_missing(self):
        found = item(markers("2026-03-20", collection="2026-03-31", as_of="2026-03-15"), self.code)
        assert found.status == "missing"
        assert "after the evaluation date (as_of 2026-03-15)" in found.reason

    @pytest.mark.parametrize(("tested_on", "expected"), [("2026-04-02", "pass"), ("2026-04-03", "missing")])
    def test_days_allowed_after_collection(self, tested_on, expected):
        ruleset = ruleset_with(markers_max_days_after_collection=2)
        assert item(markers(tested_on), self.code, ruleset).status == expected

    @pytest.mark.parametrize("case", [
        {"stage": "pre_apheresis", "as_of": "2026-04-05", "infections": {"markers_tested_on": "2026-03-01"}},
        {"stage": "pre_apheresis", "as_of": "2026-04-05", "leukapheresis_date": "2026-03-31"},
    ])
    def test_either_date_absent_keeps_version_1s_text(self, case):
        found = item(case, self.code)
        assert found.status == "missing"
        assert found.reason.startswith("Not recorded: ")

    def test_a_planned_leukapheresis_asks_for_a_repeat(self):
        assert item(markers("2026-02-01", collection="2026-03-31", as_of="2026-03-10"), self.code).reason == (
            "Infectious-disease markers: repeat within 30 days before the leukapheresis_date on 2026-03-31: "
            "measured on 2026-02-01, 58 days before.")


# --- Rule 25: dated fever -------------------------------------------------------------------------------


def fever(value, measured_at=None, infusion="2026-03-15", as_of="2026-03-15", unit="C"):
    temperature = {"value": value, "unit": unit}
    if measured_at is not None:
        temperature["measured_at"] = measured_at
    case = {"stage": "pre_infusion", "as_of": as_of, "temperature": temperature}
    if infusion is not None:
        case["infusion_date"] = infusion
    return case


class TestDatedFever:
    code = "fever"

    def test_without_the_group_the_time_is_not_read(self):
        found = item(fever(37.0, "2026-03-01T08:00"), self.code, VERSION_1)
        assert (found.status, found.inputs) == ("pass", {"temperature": {"value": 37, "unit": "C"}})

    @pytest.mark.parametrize(("value", "expected"), [(37.9, "pass"), (38.0, "defer")])
    def test_taken_on_the_infusion_day_is_judged_as_in_version_1(self, value, expected):
        found = item(fever(value, "2026-03-15T07:30"), self.code)
        assert found.status == expected
        assert found.inputs == {"temperature": {"value": value, "unit": "C", "measured_at": "2026-03-15T07:30"},
                                "infusion_date": "2026-03-15"}

    def test_the_day_before_is_out_of_date(self):
        found = item(fever(38.5, "2026-03-14T23:59"), self.code)
        assert found.status == "missing"
        assert found.reason == ("Temperature 38.5 °C: out of date: measured on 2026-03-14, 1 day before the "
                                "infusion_date on 2026-03-15, more than the 0 days allowed: repeat it.")

    @pytest.mark.parametrize(("measured_at", "expected"), [("2026-03-14T08:00", "pass"),
                                                          ("2026-03-13T08:00", "missing")])
    def test_window_of_fever_max_days_before_infusion(self, measured_at, expected):
        ruleset = ruleset_with(fever_max_days_before_infusion=1)
        assert item(fever(37.0, measured_at), self.code, ruleset).status == expected

    def test_time_or_infusion_date_absent_is_missing(self):
        found = item(fever(37.0), self.code)
        assert (found.status, found.reason) == ("missing", "Temperature 37 °C: date not recorded.")
        assert found.inputs["temperature"]["measured_at"] is None
        found = item(fever(37.0, "2026-03-15T07:00", infusion=None), self.code)
        assert (found.status, found.reason) == ("missing", "Temperature 37 °C: infusion_date not recorded.")

    def test_a_planned_infusion_asks_for_a_repeat(self):
        assert item(fever(37.0, "2026-03-10T08:00", as_of="2026-03-10"), self.code).reason == (
            "Temperature 37 °C: repeat within 0 days before the infusion_date on 2026-03-15: measured on 2026-03-10, "
            "5 days before.")

    def test_fahrenheit_keeps_its_conversion(self):
        found = item(fever(100.4, "2026-03-15T07:00", unit="F"), self.code)
        assert found.status == "defer"
        assert found.reason.startswith("Temperature 100.4 °F = 38 °C is at or above 38 °C")

    def test_the_time_is_quoted_as_written_on_the_cached_path(self):
        engine = engine_for(DATED)
        for written in ("2026-03-15T07:00", "2026-03-15T07:00:00"):
            found = next(entry for entry in engine.evaluate(engine.parse(fever(37.0, written))).items
                         if entry.code == self.code)
            assert found.inputs["temperature"]["measured_at"] == written
