"""Dated values on the checklist (issue 14, item 2): the value with its date and its distance to the
anchor of its rule (criteria.md 9.3), day numbers once an infusion date is recorded."""

from __future__ import annotations

import datetime

import pytest

from eligibility.common.display import DATED_ANCHORS, checklist_inputs_text, distance_text
from eligibility.patients.episodes import day_text

ANCHOR = datetime.date(2026, 11, 23)


@pytest.mark.parametrize(("on", "text"), [
    (datetime.date(2026, 11, 20), "3 days before collection"),
    (datetime.date(2026, 11, 22), "1 day before collection"),
    (datetime.date(2026, 11, 23), "on the day of collection"),
    (datetime.date(2026, 11, 24), "1 day after collection"),
    (datetime.date(2026, 11, 26), "3 days after collection"),
])
def test_the_distance_to_the_anchor_in_words(on, text):
    assert distance_text(on, "leukapheresis_date", ANCHOR) == text


def test_each_anchor_has_its_word_and_no_anchor_says_nothing():
    day = datetime.date(2026, 11, 22)
    assert distance_text(day, "lymphodepletion_start_date", ANCHOR) == "1 day before lymphodepletion"
    assert distance_text(day, "infusion_date", ANCHOR) == "1 day before infusion"
    assert distance_text(day, "infusion_date", None) == ""
    # criteria.md 9.3: the ALC and the markers against the collection, the labs against lymphodepletion
    assert DATED_ANCHORS["alc"] == DATED_ANCHORS["infections.markers_tested_on"] == "leukapheresis_date"
    assert DATED_ANCHORS["labs.platelets"] == DATED_ANCHORS["lvef"] == "lymphodepletion_start_date"
    assert DATED_ANCHORS["temperature"] == "infusion_date"


def test_the_brief_s_example():
    inputs = {"alc": {"value": 0.35, "unit": "10^9/L", "measured_on": "2026-11-20"},
              "leukapheresis_date": "2026-11-23"}
    assert dict(checklist_inputs_text(inputs)) == {
        "Absolute lymphocyte count": "0.35 ×10⁹/L, measured 2026-11-20, 3 days before collection",
        "Leukapheresis date (planned or done)": "2026-11-23"}


def test_a_rule_that_quotes_the_value_alone_shows_the_date_recorded_in_the_case():
    """Version 1's ALC rule quotes value and unit only: the date and the anchor come from the case evaluated."""
    case = {"alc": {"value": 0.35, "unit": "10^9/L", "measured_on": "2026-11-20"}, "leukapheresis_date": "2026-11-20"}
    shown = dict(checklist_inputs_text({"alc": {"value": 0.35, "unit": "10^9/L"}}, case))
    assert shown == {"Absolute lymphocyte count": "0.35 ×10⁹/L, measured 2026-11-20, on the day of collection"}
    # another value than the one recorded (an older evaluation's): no date borrowed
    other = dict(checklist_inputs_text({"alc": {"value": 0.5, "unit": "10^9/L"}}, case))
    assert other == {"Absolute lymphocyte count": "0.5 ×10⁹/L, date not recorded"}


def test_temperature_with_its_time_and_markers_date_with_its_distance():
    case = {"infusion_date": "2026-12-01", "leukapheresis_date": "2026-11-23"}
    shown = dict(checklist_inputs_text({"temperature": {"value": 37.2, "unit": "C", "measured_at": "2026-12-01T07:15"},
                                        "infections.markers_tested_on": "2026-10-25"}, case))
    assert shown["Temperature"] == "37.2 °C, taken 2026-12-01 07:15, on the day of infusion"
    assert shown["Infectious-disease markers drawn on"] == "2026-10-25, 29 days before collection"


def test_day_numbers_once_the_infusion_date_is_recorded():
    zero = datetime.date(2026, 12, 1)

    def label(on):
        return day_text(on, zero)

    inputs = {"labs.platelets": {"value": 60, "unit": "10^9/L", "measured_on": "2026-11-30"},
              "lymphodepletion_start_date": "2026-11-26", "infusion_date": "2026-12-01",
              "product_received_on": "2026-12-02"}
    shown = dict(checklist_inputs_text(inputs, {}, None, label))
    assert shown["Platelets"] == "60 ×10⁹/L, measured 2026-11-30 (day −1), 4 days after lymphodepletion"
    assert shown["Lymphodepletion start date (planned or done)"] == "2026-11-26 (day −5)"
    assert shown["CAR-T infusion date (planned or done)"] == "2026-12-01 (day 0)"
    assert shown["CAR-T product received on site"] == "2026-12-02 (day +1)"
