"""Freshness (criteria.md 17): what expires before the next planned date.

Expected dates and texts are written from criteria.md 17, not from the code; the window's edge
(A - d = W: current, nothing listed) and one day past (W + 1: listed) are checked for each kind of
item, and the engine agrees (a listed value is the one the engine reports as missing on the anchor).
"""

import dataclasses
import datetime
from decimal import Decimal

import pytest

from eligibility.rules import VERSION_1_RULES, Engine, default_ruleset, expiries

D = datetime.date
VERSION_1 = default_ruleset()


def ruleset_with(enabled=VERSION_1_RULES, **values):
    return dataclasses.replace(VERSION_1, name="Dated", version=None, enabled_rules=frozenset(enabled),
                               thresholds={**VERSION_1.thresholds, **{k: Decimal(v) for k, v in values.items()}})


DATED = ruleset_with(alc_max_age_days=14, markers_max_days_after_collection=0, fever_max_days_before_infusion=0)
LABS = ruleset_with(VERSION_1_RULES | {"hepatic_function", "sars_cov_2"}, pre_lymphodepletion_tests_max_days=7)
AS_OF = D(2026, 11, 20)
COLLECTION = "2026-12-01"


def markers_case(drawn, collection=COLLECTION):
    return {"leukapheresis_date": collection, "infections": {"markers_tested_on": drawn}}


class TestWindowEdge:
    def test_markers_drawn_w_days_before_the_collection_are_current_nothing_listed(self):
        assert expiries(markers_case("2026-11-01"), DATED, as_of=AS_OF) == []  # A - d = 30

    def test_one_day_more_is_listed_with_its_dates(self):
        [expiry] = expiries(markers_case("2026-10-31"), DATED, as_of=AS_OF)  # A - d = 31
        assert expiry.words == "infectious-disease markers"
        assert expiry.paths == ("infections.markers_tested_on",)
        assert expiry.measured_on == D(2026, 10, 31)
        assert (expiry.anchor_key, expiry.anchor_words, expiry.anchor_on) == ("leukapheresis_date", "collection",
                                                                              D(2026, 12, 1))
        assert expiry.window_days == 30
        assert expiry.valid_until == D(2026, 11, 30)
        assert (expiry.repeat_from, expiry.repeat_by) == (D(2026, 11, 1), D(2026, 12, 1))
        assert expiry.expires_before_anchor and expiry.planned

    def test_the_text_of_17(self):
        [expiry] = expiries(markers_case("2026-10-29"), DATED, as_of=AS_OF)
        assert expiry.text == (
            "Infectious-disease markers expire before the planned collection on 2026-12-01 (drawn 2026-10-29, "
            "current until 2026-11-28): redraw between 2026-11-01 and 2026-12-01")
        assert expiry.short == "infectious-disease markers before collection on 2026-12-01"

    def test_the_engine_agrees_at_the_edge_and_one_day_past(self):
        engine = Engine(DATED)
        for drawn, listed in (("2026-11-01", False), ("2026-10-31", True)):
            case = {"stage": "pre_apheresis", "as_of": AS_OF.isoformat(), **markers_case(drawn)}
            status = next(item for item in engine.evaluate(engine.parse(case)).items
                          if item.code == "infectious_markers").status
            assert (status == "missing") is listed
            assert bool(expiries(case, DATED, as_of=AS_OF)) is listed

    def test_alc_edge_with_its_own_window(self):
        case = {"leukapheresis_date": COLLECTION,
                "alc": {"value": 500, "unit": "cells/uL", "measured_on": "2026-11-17"}}
        assert expiries(case, DATED, as_of=AS_OF) == []  # 14 days
        case["alc"]["measured_on"] = "2026-11-16"  # 15 days
        [expiry] = expiries(case, DATED, as_of=AS_OF)
        assert expiry.text == ("ALC expires before the planned collection on 2026-12-01 (measured 2026-11-16, "
                               "current until 2026-11-30): repeat between 2026-11-17 and 2026-12-01")

    def test_a_temperature_of_another_day_than_the_infusion_with_a_window_of_0_days(self):
        case = {"infusion_date": "2026-11-25", "temperature": {"value": 37, "unit": "C",
                                                               "measured_at": "2026-11-20T08:00"}}
        [expiry] = expiries(case, DATED, as_of=AS_OF)
        assert expiry.valid_until == D(2026, 11, 20)
        assert expiry.text == ("Temperature expires before the planned infusion on 2026-11-25 (taken 2026-11-20, "
                               "current until 2026-11-20): repeat on 2026-11-25")


class TestAnchor:
    def test_the_anchor_day_itself_is_today_not_planned(self):
        [expiry] = expiries(markers_case("2026-10-20", collection="2026-11-20"), DATED, as_of=AS_OF)
        assert not expiry.planned
        assert expiry.text.startswith("Infectious-disease markers expire before the collection on 2026-11-20 (")

    def test_an_anchor_before_as_of_is_past_nothing_to_look_ahead_to(self):
        assert expiries(markers_case("2026-10-20", collection="2026-11-19"), DATED, as_of=AS_OF) == []

    def test_a_missing_anchor_lists_nothing(self):
        assert expiries({"infections": {"markers_tested_on": "2026-01-01"}}, DATED, as_of=AS_OF) == []

    def test_a_missing_value_date_lists_nothing(self):
        assert expiries({"leukapheresis_date": COLLECTION, "infections": {"hbv": "negative"}}, DATED, as_of=AS_OF) == []

    def test_a_value_after_the_anchor_is_not_an_expiry(self):
        case = markers_case("2026-11-20", collection="2026-11-20")
        assert expiries(case, DATED, as_of=D(2026, 11, 21)) == []  # anchor passed
        assert expiries(markers_case("2026-11-21", collection="2026-11-20"), DATED, as_of=AS_OF) == []

    def test_markers_drawn_within_the_days_allowed_after_the_collection_are_current(self):
        ruleset = ruleset_with(markers_max_days_after_collection=3)
        assert expiries(markers_case("2026-11-20", collection="2026-11-18"), ruleset, as_of=AS_OF) == []


class TestRuleSet:
    def test_a_disabled_rule_lists_nothing(self):
        ruleset = ruleset_with(VERSION_1_RULES - {"infectious_markers"}, markers_max_days_after_collection=0)
        assert expiries(markers_case("2026-01-01"), ruleset, as_of=AS_OF) == []

    def test_version_1_judges_the_markers_by_date_too_within_w_days_of_the_collection(self):
        # Rule 17 without its group: drawn within 30 days of the collection pass, further apart defer
        # (criteria.md 17.1). The edge (30 days) is current; one day more is listed and deferred.
        assert expiries(markers_case("2026-11-01"), VERSION_1, as_of=AS_OF) == []
        [expiry] = expiries(markers_case("2026-10-31"), VERSION_1, as_of=AS_OF)
        assert (expiry.valid_until, expiry.repeat_from, expiry.repeat_by) == (
            D(2026, 11, 30), D(2026, 11, 1), D(2026, 12, 1))
        engine = Engine(VERSION_1)
        for drawn, status in (("2026-11-01", "pass"), ("2026-10-31", "defer")):
            case = engine.parse({"case_id": "v1", "stage": "pre_apheresis", **markers_case(drawn)}, AS_OF)
            assert next(item for item in engine.evaluate(case).items
                        if item.code == "infectious_markers").status == status

    def test_version_1_lists_no_alc_or_temperature_by_date(self):
        case = {"leukapheresis_date": COLLECTION, "infusion_date": "2026-12-20",
                "alc": {"value": 500, "unit": "cells/uL", "measured_on": "2026-01-01"},
                "temperature": {"value": 37, "unit": "C", "measured_at": "2026-01-01T08:00"}}
        assert expiries(case, VERSION_1, as_of=AS_OF) == []
        assert {expiry.words for expiry in expiries(case, DATED, as_of=AS_OF)} == {"ALC", "temperature"}

    def test_a_window_not_held_lists_nothing(self):
        ruleset = ruleset_with(VERSION_1_RULES | {"hepatic_function"})  # pre_lymphodepletion_tests_max_days absent
        case = {"lymphodepletion_start_date": "2026-12-01", "labs": {"bilirubin": {
            "value": 1, "unit": "mg/dL", "measured_on": "2026-11-01"}}}
        assert expiries(case, ruleset, as_of=AS_OF) == []
        held = ruleset_with(VERSION_1_RULES | {"hepatic_function"}, pre_lymphodepletion_tests_max_days=7)
        assert [expiry.words for expiry in expiries(case, held, as_of=AS_OF)] == ["bilirubin"]


class TestGroupingAndSoon:
    def lab(self, on):
        return {"value": 1, "unit": "mg/dL", "measured_on": on}

    def test_values_of_one_anchor_and_date_are_grouped(self):
        case = {"lymphodepletion_start_date": "2026-11-30",
                "labs": {"bilirubin": self.lab("2026-11-20"), "ast": {"value": 1, "uln": 40, "unit": "uln",
                                                                       "measured_on": "2026-11-20"},
                         "alt": {"value": 1, "uln": 40, "unit": "uln", "measured_on": "2026-11-20"}},
                "infections": {"sars_cov_2": "negative", "sars_cov_2_tested_on": "2026-11-19"}}
        listed = expiries(case, LABS, as_of=AS_OF)
        assert [(e.words, e.measured_on) for e in listed] == [
            ("SARS-CoV-2 PCR", D(2026, 11, 19)), ("bilirubin, AST, ALT", D(2026, 11, 20))]
        assert listed[1].paths == ("labs.bilirubin.measured_on", "labs.ast.measured_on", "labs.alt.measured_on")
        assert listed[1].text == ("Bilirubin, AST, ALT expire before the planned lymphodepletion on 2026-11-30 "
                                  "(measured 2026-11-20, current until 2026-11-27): repeat between 2026-11-23 and "
                                  "2026-11-30")

    def test_expiring_in_the_coming_days_only_when_asked_and_before_the_horizon(self):
        case = {"lymphodepletion_start_date": "2026-11-22", "labs": {"bilirubin": self.lab("2026-11-15")}}
        assert expiries(case, LABS, as_of=AS_OF) == []  # current for A (A - d = 7)
        [soon] = expiries(case, LABS, as_of=AS_OF, within_days=3)  # valid until 2026-11-22 < 2026-11-23
        assert not soon.expires_before_anchor
        assert soon.text == ("Bilirubin measured 2026-11-15 current until 2026-11-22, for the planned "
                             "lymphodepletion on 2026-11-22")
        assert expiries(case, LABS, as_of=AS_OF, within_days=2) == []  # valid_until = as_of + 2: not before it

    @pytest.mark.parametrize("bad", [None, "", "2026-13-01", "yesterday", 5])
    def test_a_bad_date_is_not_recorded(self, bad):
        assert expiries(markers_case(bad), DATED, as_of=AS_OF) == []
