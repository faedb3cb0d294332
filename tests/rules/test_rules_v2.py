"""Rules 27-37 of criteria-v2 section 6.2, and the ``derived`` field of 6.3.

Pure rule tests (no database). Each rule: every status it gives, each threshold at its boundary and
the neighbour, each unit, each absent and stale input, and the examples of 6.2. Expected values
come from criteria-v2, not from the code. Every item is checked on the cached and the uncached path.
"""

import copy
import dataclasses
from decimal import Decimal

import pytest

from eligibility.rules import RULE_CODES, THRESHOLDS, VERSION_1_RULES, Engine, default_ruleset

VERSION_1 = default_ruleset()
NEW_CODES = ("cns_involvement", "active_gvhd", "washout", "sars_cov_2", "hepatic_function", "renal_function",
             "cardiac_function", "pulmonary_function", "product_on_site", "car_hematotox", "easix")
#: Every catalogue default, plus values for the thresholds whose default is "none" (to be entered).
EVERY_RULE = dataclasses.replace(
    VERSION_1, name="Every rule", version=None, enabled_rules=frozenset(RULE_CODES),
    thresholds={**{spec.key: spec.default for spec in THRESHOLDS if spec.default is not None},
                "alc_max_age_days": Decimal(14), "pre_lymphodepletion_tests_max_days": Decimal(7),
                "fludarabine_reduce_below_crcl_ml_min": Decimal(60)})
ENGINES: dict[int, Engine] = {id(EVERY_RULE): Engine(EVERY_RULE)}


def edited(**values) -> object:
    ruleset = dataclasses.replace(EVERY_RULE, thresholds={**EVERY_RULE.thresholds,
                                                          **{k: Decimal(v) for k, v in values.items()}})
    ENGINES[id(ruleset)] = Engine(ruleset)
    return ruleset


def item(case, code, ruleset=EVERY_RULE):
    """The item of ``code`` on the cached path, checked against the uncached one."""
    engine = ENGINES[id(ruleset)]
    parsed = engine.parse(case)
    cached = next(entry for entry in engine.evaluate(parsed).items if entry.code == code)
    fresh = next(entry for entry in engine.evaluate_uncached(parsed).items if entry.code == code)
    assert cached == fresh
    return cached


def status(case, code, ruleset=EVERY_RULE):
    return item(case, code, ruleset).status


def test_the_new_rules_exist_in_catalogue_order_and_version_1_enables_none():
    assert set(NEW_CODES) <= set(RULE_CODES)
    engine = ENGINES[id(EVERY_RULE)]
    codes = [entry.code for entry in engine.evaluate(engine.parse({})).items]
    order = ("indication target_antigen prior_targeted_therapy prior_inotuzumab age performance_status "
             "life_expectancy prior_allo_hsct bacterial_infection fungal_infection viral_infection hbv hcv hiv "
             "disease_burden cns_involvement active_gvhd alc infectious_markers starting_material washout "
             "lymphodepletion organ_function sars_cov_2 hepatic_function renal_function cardiac_function "
             "pulmonary_function product_on_site car_hematotox easix tocilizumab caregiver proximity "
             "driving_counselled fever site_accreditation")
    assert codes == order.split()  # 2.1: 1-15, 27, 28, 16-18, 29, 19, 20, 30-37, 21-26
    assert not set(NEW_CODES) & VERSION_1_RULES
    version_1 = Engine(VERSION_1)
    assert not {entry.code for entry in version_1.evaluate(version_1.parse({})).items} & set(NEW_CODES)


# --- 27 cns_involvement ---------------------------------------------------------------------------------

GRECO_1 = "Greco et al., eClinicalMedicine 2024 (EBMT) - Table 1, EBMT/EHA recommendations column"
GRECO_6 = "Greco et al., eClinicalMedicine 2024 (EBMT) - Table 6, EBMT/EHA recommendations column"


class TestCnsInvolvement:
    code = "cns_involvement"

    @pytest.mark.parametrize(("involved", "prophylaxis", "expected"), [
        (False, None, "pass"), (False, False, "pass"), (None, True, "missing"), (None, None, "missing"),
        (True, True, "flag"), (True, False, "defer"), (True, None, "missing"),
    ])
    def test_statuses(self, involved, prophylaxis, expected):
        case = {"stage": "screening"}
        if involved is not None:
            case["cns_involvement"] = involved
        if prophylaxis is not None:
            case["anticonvulsant_prophylaxis"] = prophylaxis
        found = item(case, self.code)
        assert found.status == expected
        assert found.inputs == {"cns_involvement": involved, "anticonvulsant_prophylaxis": prophylaxis}
        assert found.source == GRECO_1
        assert found.derived is None

    def test_defer_asks_for_prophylaxis(self):
        reason = item({"cns_involvement": True, "anticonvulsant_prophylaxis": False}, self.code).reason
        assert "plan anticonvulsant prophylaxis" in reason


# --- 28 active_gvhd -------------------------------------------------------------------------------------


def gvhd(prior=True, acute=None, chronic=None):
    case = {"stage": "screening", "prior_allo_hsct": prior, "gvhd": {}}
    if acute is not None:
        case["gvhd"]["acute_grade"] = acute
    if chronic is not None:
        case["gvhd"]["chronic"] = chronic
    return case


class TestActiveGvhd:
    code = "active_gvhd"

    def test_without_prior_transplant_it_does_not_apply_and_holds_only_the_condition(self):
        found = item(gvhd(prior=False, acute=3, chronic="extensive"), self.code)
        assert (found.status, found.inputs) == ("pass", {"prior_allo_hsct": False})
        assert found.source == "Yakoub-Agha et al., Haematologica 2020 (EBMT/JACIE) - Table 1"

    def test_prior_transplant_not_recorded_is_missing(self):
        found = item({"stage": "screening"}, self.code)
        assert found.status == "missing"
        assert found.inputs == {"prior_allo_hsct": None, "gvhd.acute_grade": None, "gvhd.chronic": None}

    @pytest.mark.parametrize(("acute", "chronic", "expected"), [
        (0, "none", "pass"),
        (1, "none", "flag"),
        (2, "none", "defer"),  # the threshold itself
        (4, "none", "defer"),
        (0, "limited", "flag"),
        (0, "extensive", "defer"),
        (1, "limited", "flag"),
        (None, "none", "missing"),
        (0, None, "missing"),
        (1, None, "missing"),
        (None, "extensive", "defer"),  # the other already defers
        (2, None, "defer"),
    ])
    def test_statuses(self, acute, chronic, expected):
        found = item(gvhd(acute=acute, chronic=chronic), self.code)
        assert found.status == expected
        assert found.inputs == {"prior_allo_hsct": True, "gvhd.acute_grade": acute, "gvhd.chronic": chronic}

    @pytest.mark.parametrize(("acute", "expected"), [(2, "flag"), (3, "defer")])
    def test_an_edited_grade_threshold(self, acute, expected):
        ruleset = edited(gvhd_acute_defer_from_grade=3)
        assert status(gvhd(acute=acute, chronic="none"), self.code, ruleset) == expected

    def test_reason_names_the_grade_and_the_threshold(self):
        reason = item(gvhd(acute=2, chronic="none"), self.code).reason
        assert "grade 2" in reason and "hold" in reason


# --- 29 washout -----------------------------------------------------------------------------------------

ASH = "ASH table on timing of apheresis (view-large/11896690) - minimum interval before collection"


def washout(steroids=None, chemotherapy=None, collection="2026-03-04", as_of="2026-03-04"):
    case = {"stage": "pre_apheresis", "as_of": as_of, "washout": {}}
    if collection is not None:
        case["leukapheresis_date"] = collection
    if steroids is not None:
        case["washout"]["systemic_corticosteroids"] = steroids
    if chemotherapy is not None:
        case["washout"]["cytotoxic_chemotherapy"] = chemotherapy
    return case


NEVER = {"status": "never"}


class TestWashout:
    code = "washout"

    @pytest.mark.parametrize(("last_dose_at", "expected"), [
        ("2026-03-01T00:00", "pass"),  # 72 h to 00:00 on the leukapheresis date
        ("2026-03-01T00:01", "defer"),  # 71 h 59 min
        ("2026-02-28T23:59:59", "pass"),
        ("2026-03-04T06:00", "defer"),  # a negative interval
    ])
    def test_corticosteroids_72_hours(self, last_dose_at, expected):
        case = washout({"status": "stopped", "last_dose_at": last_dose_at}, NEVER)
        assert status(case, self.code) == expected

    def test_corticosteroid_reasons_name_the_interval(self):
        found = item(washout({"status": "stopped", "last_dose_at": "2026-03-01T00:01"}, NEVER), self.code)
        assert found.reason == ("Systemic corticosteroids: last dose 2026-03-01T00:01, 71 h 59 min before the start "
                                "of the leukapheresis day (2026-03-04), less than the 72 h required: wait until "
                                "2026-03-04T00:01.")
        found = item(washout({"status": "stopped", "last_dose_at": "2026-03-01T00:00"}, NEVER), self.code)
        assert found.reason.startswith("Systemic corticosteroids: last dose 2026-03-01T00:00, 72 h before the start "
                                       "of the leukapheresis day (2026-03-04), at least the 72 h required.")

    @pytest.mark.parametrize(("last_dose_on", "expected"), [
        ("2026-02-18", "pass"),  # 14 days
        ("2026-02-19", "defer"),  # 13 days
        ("2026-03-04", "defer"),
    ])
    def test_chemotherapy_14_days(self, last_dose_on, expected):
        case = washout(NEVER, {"status": "stopped", "last_dose_on": last_dose_on})
        assert status(case, self.code) == expected

    @pytest.mark.parametrize(("hours", "days", "steroids_at", "chemo_on", "expected"), [
        (48, 7, "2026-03-02T00:00", "2026-02-25", "pass"),
        (48, 7, "2026-03-02T00:01", "2026-02-25", "defer"),
        (48, 7, "2026-03-02T00:00", "2026-02-26", "defer"),
    ])
    def test_edited_intervals(self, hours, days, steroids_at, chemo_on, expected):
        ruleset = edited(washout_corticosteroids_hours=hours, washout_chemotherapy_days=days)
        case = washout({"status": "stopped", "last_dose_at": steroids_at},
                       {"status": "stopped", "last_dose_on": chemo_on})
        assert status(case, self.code, ruleset) == expected

    @pytest.mark.parametrize(("steroids", "chemotherapy", "collection", "expected"), [
        (NEVER, NEVER, "2026-03-04", "pass"),
        (None, NEVER, "2026-03-04", "missing"),
        (NEVER, None, "2026-03-04", "missing"),
        ({"status": "ongoing"}, NEVER, "2026-03-04", "defer"),
        (NEVER, {"status": "ongoing"}, "2026-03-04", "defer"),
        ({"status": "stopped"}, NEVER, "2026-03-04", "missing"),
        (NEVER, {"status": "stopped"}, "2026-03-04", "missing"),
        ({"status": "stopped", "last_dose_at": "2026-01-01T08:00"}, NEVER, None, "missing"),
        (NEVER, {"status": "stopped", "last_dose_on": "2026-01-01"}, None, "missing"),
        (NEVER, NEVER, None, "pass"),  # nothing to count
        ({"status": "ongoing"}, None, "2026-03-04", "defer"),  # defer is worse than missing
    ])
    def test_each_class(self, steroids, chemotherapy, collection, expected):
        assert status(washout(steroids, chemotherapy, collection), self.code) == expected

    def test_inputs_hold_each_object_whole(self):
        found = item(washout({"status": "stopped", "last_dose_at": "2026-03-01T00:00"}, NEVER), self.code)
        assert found.inputs == {
            "washout.systemic_corticosteroids": {"status": "stopped", "last_dose_at": "2026-03-01T00:00"},
            "washout.cytotoxic_chemotherapy": {"status": "never", "last_dose_on": None},
            "leukapheresis_date": "2026-03-04"}
        assert found.source == ASH
        assert item(washout(), self.code).inputs == {"washout.systemic_corticosteroids": None,
                                                     "washout.cytotoxic_chemotherapy": None,
                                                     "leukapheresis_date": "2026-03-04"}

    def test_the_time_is_quoted_as_written_on_the_cached_path(self):
        engine = ENGINES[id(EVERY_RULE)]
        for written in ("2026-03-01T00:00", "2026-03-01T00:00:00"):
            parsed = engine.parse(washout({"status": "stopped", "last_dose_at": written}, NEVER))
            found = next(entry for entry in engine.evaluate(parsed).items if entry.code == self.code)
            assert found.inputs["washout.systemic_corticosteroids"]["last_dose_at"] == written


# --- Phase before lymphodepletion: common ---------------------------------------------------------------

AS_OF = "2026-03-10"
LD = {"stage": "pre_lymphodepletion", "as_of": AS_OF, "lymphodepletion_start_date": AS_OF}
ON = "2026-03-09"


def lab(value, unit, measured_on=ON, **more):
    found = {"value": value, "unit": unit, **more}
    if measured_on is not None:
        found["measured_on"] = measured_on
    return found


#: A complete, current case for every rule of the phase (every rule passes).
COMPLETE = {
    **LD, "infections": {"sars_cov_2": "negative", "sars_cov_2_tested_on": ON},
    "labs": {"bilirubin": lab(10, "umol/L"), "ast": lab(30, "U/L", uln=40), "alt": lab(30, "U/L", uln=40),
             "creatinine_clearance": lab(90, "mL/min"), "creatinine": lab(1.0, "mg/dL"),
             "platelets": lab(200, "10^9/L"), "anc": lab(2000, "cells/uL"), "haemoglobin": lab(12, "g/dL"),
             "crp": lab(1, "mg/dL"), "ferritin": lab(300, "ng/mL"), "ldh": lab(200, "U/L")},
    "lvef": lab(60, "%"), "spo2_room_air": lab(97, "%"), "gilbert_syndrome": False,
    "product_received_on": "2026-03-05", "age_years": 60, "weight_kg": 70, "sex": "male",
    "lymphodepletion": "flu_cy",
}
PHASE_CODES = ("sars_cov_2", "hepatic_function", "renal_function", "cardiac_function", "pulmonary_function",
               "product_on_site", "car_hematotox", "easix")
#: The dated values each rule reads (case path, then the key of ``labs`` or the top-level key).
DATED_VALUES = {
    "sars_cov_2": [("infections", "sars_cov_2_tested_on")],
    "hepatic_function": [("labs", "bilirubin"), ("labs", "ast"), ("labs", "alt")],
    "cardiac_function": [(None, "lvef")],
    "pulmonary_function": [(None, "spo2_room_air")],
    "car_hematotox": [("labs", key) for key in ("platelets", "anc", "haemoglobin", "crp", "ferritin")],
    "easix": [("labs", key) for key in ("ldh", "creatinine", "platelets", "crp")],
}


def with_date(case, group, key, day):
    """``case`` (deep-copied) with the date of one dated value set (``None``: removed)."""
    case = copy.deepcopy(case)
    if group == "infections":
        target, field = case["infections"], "sars_cov_2_tested_on"
    else:
        target, field = (case["labs"][key] if group == "labs" else case[key]), "measured_on"
    if day is None:
        target.pop(field, None)
    else:
        target[field] = day
    return case


def without(case, group, key):
    case = copy.deepcopy(case)
    (case[group] if group else case).pop(key)
    return case


class TestPhaseBeforeLymphodepletion:
    @pytest.mark.parametrize("code", PHASE_CODES)
    def test_a_complete_current_case_passes(self, code):
        assert status(COMPLETE, code) == "pass"

    @pytest.mark.parametrize("code", PHASE_CODES)
    def test_the_lymphodepletion_start_date_absent_is_missing(self, code):
        case = {key: value for key, value in COMPLETE.items() if key != "lymphodepletion_start_date"}
        found = item(case, code)
        assert found.status == "missing"
        assert "lymphodepletion_start_date not recorded" in found.reason
        assert found.inputs["lymphodepletion_start_date"] is None

    @pytest.mark.parametrize(("code", "group", "key"), [
        (code, group, key) for code, values in DATED_VALUES.items() for group, key in values])
    @pytest.mark.parametrize(("day", "expected"), [
        ("2026-03-03", "pass"),  # 7 days: the window's edge
        ("2026-03-02", "missing"),  # 8 days
        ("2026-03-10", "pass"),  # the anchor day
        (None, "missing"),  # date not recorded
    ])
    def test_every_value_must_be_current(self, code, group, key, day, expected):
        found = item(with_date(COMPLETE, group, key, day), code)
        assert found.status == expected
        if day == "2026-03-02":
            assert ("out of date: measured on 2026-03-02, 8 days before the lymphodepletion_start_date on "
                    "2026-03-10, more than the 7 days allowed: repeat it.") in found.reason
        if day is None:
            assert "date not recorded." in found.reason

    @pytest.mark.parametrize(("code", "group", "key"), [
        (code, group, key) for code, values in DATED_VALUES.items() for group, key in values
        if group != "infections"])
    def test_every_value_absent_is_missing(self, code, group, key):
        assert status(without(COMPLETE, group, key), code) == "missing"

    @pytest.mark.parametrize(("code", "group", "key"), [
        (code, group, key) for code, values in DATED_VALUES.items() for group, key in values])
    def test_a_value_measured_after_the_start_is_missing(self, code, group, key):
        case = {**with_date(COMPLETE, group, key, "2026-03-10"), "lymphodepletion_start_date": "2026-03-09"}
        found = item(case, code)
        assert found.status == "missing"
        assert "measured on 2026-03-10, after the lymphodepletion_start_date on 2026-03-09." in found.reason

    def test_a_planned_start_asks_for_a_repeat(self):
        case = {**with_date(COMPLETE, None, "lvef", "2026-03-01"), "lymphodepletion_start_date": "2026-03-12"}
        assert item(case, "cardiac_function").reason == (
            "LVEF 60%: repeat within 7 days before the lymphodepletion_start_date on 2026-03-12: measured on "
            "2026-03-01, 11 days before.")

    @pytest.mark.parametrize(("window", "day", "expected"), [(30, "2026-02-08", "pass"), (30, "2026-02-07", "missing")])
    def test_an_edited_window(self, window, day, expected):
        ruleset = edited(pre_lymphodepletion_tests_max_days=window)
        assert status(with_date(COMPLETE, None, "lvef", day), "cardiac_function", ruleset) == expected

    def test_derived_only_on_31_32_36_37_with_exactly_their_fields(self):
        engine = ENGINES[id(EVERY_RULE)]
        items = engine.evaluate(engine.parse(COMPLETE)).items
        fields = {entry.code: set(entry.derived) for entry in items if entry.derived is not None}
        assert fields == {"hepatic_function": {"bilirubin_umol_l", "ast_x_uln", "alt_x_uln"},
                          "renal_function": {"crcl_ml_min", "crcl_source"},
                          "car_hematotox": {"score", "risk", "points", "partial_score"},
                          "easix": {"easix", "log2_easix", "m_easix"}}
        assert all("derived" not in entry.as_dict() for entry in items if entry.code not in fields)

    def test_pending_items_carry_derived_with_null_fields(self):
        engine = ENGINES[id(EVERY_RULE)]
        items = {entry.code: entry for entry in engine.evaluate(engine.parse({"stage": "screening"})).items}
        assert items["hepatic_function"].derived == {"bilirubin_umol_l": None, "ast_x_uln": None, "alt_x_uln": None}
        assert items["renal_function"].derived == {"crcl_ml_min": None, "crcl_source": None}
        assert items["easix"].derived == {"easix": None, "log2_easix": None, "m_easix": None}
        assert items["car_hematotox"].derived == {
            "score": None, "risk": None, "partial_score": 0,
            "points": {"platelets": None, "anc": None, "haemoglobin": None, "crp": None, "ferritin": None}}
        assert items["car_hematotox"].status == "pending"
        assert "derived" not in items["sars_cov_2"].as_dict()


# --- 30 sars_cov_2 --------------------------------------------------------------------------------------


class TestSarsCov2:
    code = "sars_cov_2"

    @pytest.mark.parametrize(("result", "tested_on", "expected"), [
        ("negative", ON, "pass"),
        ("positive", ON, "defer"),
        ("positive", "2026-03-01", "missing"),  # not current: never defer
        ("negative", None, "missing"),
        ("not_tested", None, "missing"),
        (None, None, "missing"),
    ])
    def test_statuses(self, result, tested_on, expected):
        infections = {"sars_cov_2": result}
        if tested_on is not None:
            infections["sars_cov_2_tested_on"] = tested_on
        found = item({**LD, "infections": infections}, self.code)
        assert found.status == expected
        assert found.inputs == {"infections.sars_cov_2": result, "infections.sars_cov_2_tested_on": tested_on,
                                "lymphodepletion_start_date": AS_OF}
        assert found.source == GRECO_1

    def test_positive_reason_says_delay(self):
        reason = item({**LD, "infections": {"sars_cov_2": "positive", "sars_cov_2_tested_on": ON}}, self.code).reason
        assert "delay" in reason and ON in reason


# --- 31 hepatic_function --------------------------------------------------------------------------------


def hepatic(bilirubin=None, ast=None, alt=None, gilbert=None):
    labs = {"bilirubin": bilirubin or lab(10, "umol/L"), "ast": ast or lab(30, "U/L", uln=40),
            "alt": alt or lab(30, "U/L", uln=40)}
    case = {**LD, "labs": labs}
    if gilbert is not None:
        case["gilbert_syndrome"] = gilbert
    return case


class TestHepaticFunction:
    code = "hepatic_function"

    @pytest.mark.parametrize(("value", "unit", "gilbert", "expected", "compared"), [
        (2.0, "mg/dL", False, "flag", 34.2),  # 6.2's example
        (1.98, "mg/dL", False, "pass", 33.9),  # 33.858 -> 33.9
        (40, "umol/L", True, "pass", 40),
        (43.0, "umol/L", True, "flag", 43),
        (42.9, "umol/L", True, "pass", 42.9),
        (34, "umol/L", False, "flag", 34),  # the threshold itself
        (33.9, "umol/L", False, "pass", 33.9),
        (33.95, "umol/L", False, "flag", 34),  # rounds half-up to 34.0
        (33.94, "umol/L", False, "pass", 33.9),
        (34, "umol/L", None, "missing", 34),  # Gilbert's not recorded in the band
        (10, "umol/L", None, "pass", 10),  # ... not needed below it
        (43, "umol/L", None, "flag", 43),
        (2.5, "mg/dL", True, "pass", 42.8),  # 42.75 -> 42.8: below 43 with Gilbert's
    ])
    def test_bilirubin(self, value, unit, gilbert, expected, compared):
        found = item(hepatic(bilirubin=lab(value, unit), gilbert=gilbert), self.code)
        assert found.status == expected
        assert found.derived["bilirubin_umol_l"] == compared

    def test_the_reason_notes_gilberts(self):
        assert "Gilbert's syndrome" in item(hepatic(bilirubin=lab(40, "umol/L"), gilbert=True), self.code).reason

    def test_example_reason(self):
        found = item(hepatic(bilirubin=lab(2.0, "mg/dL"), gilbert=False), self.code)
        assert found.reason.startswith("Bilirubin 2 mg/dL = 34.2 µmol/L is at or above 34 µmol/L without Gilbert's "
                                       "syndrome")

    @pytest.mark.parametrize("which", ["ast", "alt"])
    @pytest.mark.parametrize(("value", "uln", "expected", "ratio"), [
        (160, 40, "flag", 4.0),  # 6.2's example
        (159.9, 40, "flag", 4.0),  # 3.9975 -> 4.00 (4.2's example)
        (159.7, 40, "pass", 3.99),  # 3.9925 -> 3.99
        (0, 40, "pass", 0),
    ])
    def test_transaminases(self, which, value, uln, expected, ratio):
        found = item(hepatic(**{which: lab(value, "U/L", uln=uln)}), self.code)
        assert found.status == expected
        assert found.derived[f"{which}_x_uln"] == ratio

    @pytest.mark.parametrize(("value", "expected"), [(199.9, "flag"), (199.7, "pass")])
    def test_an_edited_transaminase_multiple(self, value, expected):
        assert status(hepatic(ast=lab(value, "U/L", uln=40)), self.code, edited(transaminases_flag_x_uln=5)) == expected

    def test_an_edited_bilirubin_limit(self):
        ruleset = edited(bilirubin_max_umol_l=20, bilirubin_gilbert_max_umol_l=30)
        assert status(hepatic(bilirubin=lab(20, "umol/L"), gilbert=False), self.code, ruleset) == "flag"
        assert status(hepatic(bilirubin=lab(19.9, "umol/L"), gilbert=False), self.code, ruleset) == "pass"
        assert status(hepatic(bilirubin=lab(29.9, "umol/L"), gilbert=True), self.code, ruleset) == "pass"
        assert status(hepatic(bilirubin=lab(30, "umol/L"), gilbert=True), self.code, ruleset) == "flag"

    def test_inputs_and_derived(self):
        found = item(hepatic(bilirubin=lab(0.8, "mg/dL"), ast=lab(35, "U/L", uln=40), gilbert=False), self.code)
        assert found.inputs == {
            "labs.bilirubin": {"value": 0.8, "unit": "mg/dL", "measured_on": ON},
            "labs.ast": {"value": 35, "unit": "U/L", "uln": 40, "measured_on": ON},
            "labs.alt": {"value": 30, "unit": "U/L", "uln": 40, "measured_on": ON},
            "gilbert_syndrome": False, "lymphodepletion_start_date": AS_OF}
        assert found.derived == {"bilirubin_umol_l": 13.7, "ast_x_uln": 0.88, "alt_x_uln": 0.75}
        assert found.source == GRECO_1

    def test_a_stale_value_gives_a_null_derived_field_and_missing(self):
        found = item(hepatic(bilirubin=lab(80, "umol/L", "2026-01-01"), gilbert=False), self.code)
        assert found.status == "missing"  # never flag for a value not current
        assert found.derived == {"bilirubin_umol_l": None, "ast_x_uln": 0.75, "alt_x_uln": 0.75}
        assert found.reason == ("Bilirubin 80 µmol/L: out of date: measured on 2026-01-01, 68 days before the "
                                "lymphodepletion_start_date on 2026-03-10, more than the 7 days allowed: repeat it.")


# --- 32 renal_function ----------------------------------------------------------------------------------


def renal(clearance=None, creatinine=None, regimen="flu_cy", **patient):
    labs = {}
    if clearance is not None:
        labs["creatinine_clearance"] = clearance
    if creatinine is not None:
        labs["creatinine"] = creatinine
    case = {**LD, "labs": labs, **patient}
    if regimen is not None:
        case["lymphodepletion"] = regimen
    return case


MALE_60 = {"age_years": 60, "weight_kg": 70, "sex": "male"}


class TestRenalFunction:
    code = "renal_function"

    @pytest.mark.parametrize(("value", "expected", "crcl"), [
        (60, "pass", 60), (59, "flag", 59), (59.5, "pass", 60), (59.4, "flag", 59), (61, "pass", 61)])
    def test_recorded_clearance_against_the_cut_off(self, value, expected, crcl):
        found = item(renal(lab(value, "mL/min")), self.code)
        assert found.status == expected
        assert found.derived == {"crcl_ml_min": crcl, "crcl_source": "recorded"}

    @pytest.mark.parametrize(("regimen", "expected"), [
        ("flu_cy", "flag"), ("other", "flag"), ("cy_only", "pass"), ("bendamustine", "pass"), ("none", "pass"),
        (None, "missing")])
    def test_below_the_cut_off_by_regimen(self, regimen, expected):
        found = item(renal(lab(40, "mL/min"), regimen=regimen), self.code)
        assert found.status == expected
        assert "40 mL/min" in found.reason and "60 mL/min" in found.reason

    def test_flu_cy_reason(self):
        reason = item(renal(lab(40, "mL/min")), self.code).reason
        assert "reduce the fludarabine dose as the local fludarabine label says (e.g. by 50%)" in reason

    def test_above_the_cut_off_without_a_regimen_passes(self):
        assert status(renal(lab(90, "mL/min"), regimen=None), self.code) == "pass"

    @pytest.mark.parametrize(("creatinine", "patient", "crcl"), [
        (lab(1.0, "mg/dL"), MALE_60, 78),  # 4.3's examples
        (lab(88.4, "umol/L"), MALE_60, 78),
        (lab(1.0, "mg/dL"), {**MALE_60, "sex": "female"}, 66),
        (lab(1.3, "mg/dL"), {"age_years": 65, "weight_kg": 55, "sex": "female"}, 37),
        (lab(1.0, "mg/dL"), {**MALE_60, "age_years": 18}, 119),  # 122 x 70 / 72 = 118.6
    ])
    def test_cockcroft_gault_estimate(self, creatinine, patient, crcl):
        found = item(renal(creatinine=creatinine, **patient), self.code)
        assert found.derived == {"crcl_ml_min": crcl, "crcl_source": "cockcroft_gault"}
        assert f"{crcl} mL/min" in found.reason and "Cockcroft-Gault" in found.reason

    def test_recorded_clearance_wins_over_the_estimate(self):
        found = item(renal(lab(50, "mL/min"), lab(1.0, "mg/dL"), **MALE_60), self.code)
        assert (found.status, found.derived) == ("flag", {"crcl_ml_min": 50, "crcl_source": "recorded"})

    def test_a_stale_recorded_clearance_falls_back_to_the_estimate(self):
        found = item(renal(lab(50, "mL/min", "2026-01-01"), lab(1.0, "mg/dL"), **MALE_60), self.code)
        assert (found.status, found.derived) == ("pass", {"crcl_ml_min": 78, "crcl_source": "cockcroft_gault"})

    def test_under_18_no_estimate(self):
        found = item(renal(creatinine=lab(0.5, "mg/dL"), age_years=17.9, weight_kg=50, sex="male"), self.code)
        assert found.status == "missing"
        assert found.derived == {"crcl_ml_min": None, "crcl_source": None}
        assert "17.9 years" in found.reason and "under 18" in found.reason

    @pytest.mark.parametrize("absent", ["age_years", "weight_kg", "sex"])
    def test_each_estimate_input_absent_is_named(self, absent):
        patient = {key: value for key, value in MALE_60.items() if key != absent}
        found = item(renal(creatinine=lab(1.0, "mg/dL"), **patient), self.code)
        assert found.status == "missing"
        assert f"{ {'age_years': 'age', 'weight_kg': 'weight', 'sex': 'sex'}[absent]} not recorded" in found.reason

    def test_nothing_recorded_names_everything_absent(self):
        found = item(renal(), self.code)
        assert found.reason == ("Creatinine clearance cannot be established: measured creatinine clearance not "
                                "recorded; creatinine not recorded.")
        # age, weight, sex and the regimen are read only where they matter (an estimate; a low clearance)
        assert found.inputs == {"labs.creatinine_clearance": None, "labs.creatinine": None,
                                "lymphodepletion_start_date": AS_OF}

    def test_inputs_of_an_estimate_below_the_cut_off(self):
        found = item(renal(creatinine=lab(2.0, "mg/dL"), **MALE_60), self.code)  # 80 x 70 / 144 = 38.9 -> 39
        assert (found.status, found.derived) == ("flag", {"crcl_ml_min": 39, "crcl_source": "cockcroft_gault"})
        assert found.inputs == {"labs.creatinine_clearance": None,
                                "labs.creatinine": {"value": 2, "unit": "mg/dL", "measured_on": ON},
                                "age_years": 60, "weight_kg": 70, "sex": "male", "lymphodepletion_start_date": AS_OF,
                                "lymphodepletion": "flu_cy"}

    def test_a_recorded_clearance_above_the_cut_off_reads_nothing_else(self):
        found = item(renal(lab(90, "mL/min"), lab(1.0, "mg/dL"), **MALE_60), self.code)
        assert found.inputs == {"labs.creatinine_clearance": {"value": 90, "unit": "mL/min", "measured_on": ON},
                                "labs.creatinine": {"value": 1, "unit": "mg/dL", "measured_on": ON},
                                "lymphodepletion_start_date": AS_OF}

    def test_a_stale_creatinine_is_named(self):
        found = item(renal(creatinine=lab(1.0, "mg/dL", "2026-03-01"), **MALE_60), self.code)
        assert found.status == "missing"
        assert "creatinine 1 mg/dL: out of date" in found.reason

    def test_an_edited_cut_off(self):
        assert status(renal(lab(40, "mL/min")), self.code, edited(fludarabine_reduce_below_crcl_ml_min=40)) == "pass"
        assert status(renal(lab(39, "mL/min")), self.code, edited(fludarabine_reduce_below_crcl_ml_min=40)) == "flag"

    def test_source_quotes_both_parts(self):
        assert item(renal(), self.code).source == (
            f"{GRECO_6}; Cockcroft and Gault, Nephron 1976 - creatinine clearance estimate")


# --- 33 cardiac_function, 34 pulmonary_function ---------------------------------------------------------


class TestCardiacFunction:
    code = "cardiac_function"

    @pytest.mark.parametrize(("value", "expected"), [(40, "flag"), (41, "pass"), (40.4, "flag"), (40.5, "pass"),
                                                      (39, "flag")])
    def test_flag_at_or_below_40(self, value, expected):
        found = item({**LD, "lvef": lab(value, "%")}, self.code)
        assert found.status == expected
        assert found.inputs == {"lvef": {"value": value, "unit": "%", "measured_on": ON},
                                "lymphodepletion_start_date": AS_OF}

    def test_reason_and_source(self):
        found = item({**LD, "lvef": lab(40, "%")}, self.code)
        assert found.reason == ("LVEF 40% is at or below 40%: can the patient tolerate conditioning? Measured on "
                                "2026-03-09, within the 7 days before the lymphodepletion_start_date on 2026-03-10.")
        assert found.source == f"{GRECO_6}; Alfred Health, CAR-T eligibility criteria - LVEF"

    def test_absent_is_missing(self):
        assert item(LD, self.code).inputs == {"lvef": None, "lymphodepletion_start_date": AS_OF}
        assert status(LD, self.code) == "missing"

    @pytest.mark.parametrize(("value", "expected"), [(50, "flag"), (51, "pass")])
    def test_an_edited_threshold(self, value, expected):
        assert status({**LD, "lvef": lab(value, "%")}, self.code, edited(lvef_flag_at_or_below_pct=50)) == expected


class TestPulmonaryFunction:
    code = "pulmonary_function"

    @pytest.mark.parametrize(("value", "expected"), [(92, "pass"), (91, "defer"), (91.5, "pass"), (91.4, "defer"),
                                                      (100, "pass")])
    def test_at_least_92_on_room_air(self, value, expected):
        assert status({**LD, "spo2_room_air": lab(value, "%")}, self.code) == expected

    def test_stale_low_value_is_missing_not_defer(self):
        assert status({**LD, "spo2_room_air": lab(85, "%", "2026-02-01")}, self.code) == "missing"

    def test_reason_and_source(self):
        found = item({**LD, "spo2_room_air": lab(91, "%")}, self.code)
        assert found.reason.startswith("SpO2 on room air 91% is below 92%: hold lymphodepletion.")
        assert found.source == GRECO_6

    @pytest.mark.parametrize(("value", "expected"), [(95, "pass"), (94, "defer")])
    def test_an_edited_threshold(self, value, expected):
        case = {**LD, "spo2_room_air": lab(value, "%")}
        assert status(case, self.code, edited(spo2_room_air_min_pct=95)) == expected


# --- 35 product_on_site ---------------------------------------------------------------------------------


class TestProductOnSite:
    code = "product_on_site"

    @pytest.mark.parametrize(("received", "confirmed", "expected"), [
        ("2026-03-09", None, "pass"),  # before
        ("2026-03-10", None, "flag"),  # same day
        (None, True, "flag"),  # the exception
        (None, False, "missing"),
        (None, None, "missing"),
    ])
    def test_statuses(self, received, confirmed, expected):
        case = {**LD}
        if received is not None:
            case["product_received_on"] = received
        if confirmed is not None:
            case["product_manufacture_confirmed"] = confirmed
        found = item(case, self.code)
        assert found.status == expected
        assert found.inputs == {"product_received_on": received, "product_manufacture_confirmed": confirmed,
                                "lymphodepletion_start_date": AS_OF}
        assert found.source == GRECO_6

    @pytest.mark.parametrize(("confirmed", "words"), [(True, "manufacture was confirmed successful"),
                                                      (False, "manufacture was not confirmed"),
                                                      (None, "manufacture confirmation not recorded")])
    def test_after_the_start_flags_and_says_whether_manufacture_was_confirmed(self, confirmed, words):
        case = {**LD, "as_of": "2026-03-12", "lymphodepletion_start_date": "2026-03-10",
                "product_received_on": "2026-03-11"}
        if confirmed is not None:
            case["product_manufacture_confirmed"] = confirmed
        found = item(case, self.code)
        assert found.status == "flag"
        assert words in found.reason

    def test_start_date_absent_is_missing(self):
        found = item({"stage": "pre_lymphodepletion", "as_of": AS_OF, "product_received_on": ON}, self.code)
        assert found.status == "missing"
        assert found.inputs["lymphodepletion_start_date"] is None


# --- 36 car_hematotox -----------------------------------------------------------------------------------


def hematotox(platelets=200, anc=2000, haemoglobin=12, crp=1, ferritin=300, units=None):
    units = {"platelets": "10^9/L", "anc": "cells/uL", "haemoglobin": "g/dL", "crp": "mg/dL", "ferritin": "ng/mL",
             **(units or {})}
    values = {"platelets": platelets, "anc": anc, "haemoglobin": haemoglobin, "crp": crp, "ferritin": ferritin}
    return {**LD, "labs": {key: lab(value, units[key]) for key, value in values.items() if value is not None}}


class TestCarHematotox:
    code = "car_hematotox"

    @pytest.mark.parametrize(("variable", "value", "points"), [
        ("platelets", 175, 1), ("platelets", 175.5, 0), ("platelets", 176, 0), ("platelets", 75, 1),
        ("platelets", 74.4, 2), ("platelets", 74.5, 1),
        ("anc", 1200, 0), ("anc", 1199, 1),
        ("haemoglobin", 9.0, 0), ("haemoglobin", 8.94, 1), ("haemoglobin", 8.95, 0),
        ("crp", 3.0, 1), ("crp", 2.99, 0),
        ("ferritin", 650, 1), ("ferritin", 649, 0), ("ferritin", 2000, 1), ("ferritin", 2001, 2),
    ])
    def test_the_point_table_boundaries(self, variable, value, points):
        found = item(hematotox(**{variable: value}), self.code)
        assert found.derived["points"][variable] == points
        assert found.derived["score"] == points

    @pytest.mark.parametrize(("variable", "value", "unit", "points"), [
        ("platelets", 75, "10^3/uL", 1), ("anc", 1.2, "10^9/L", 0), ("anc", 1.199, "10^9/L", 1),
        ("haemoglobin", 89.5, "g/L", 0), ("haemoglobin", 89.4, "g/L", 1),
        ("crp", 29.96, "mg/L", 1), ("crp", 29.94, "mg/L", 0), ("ferritin", 650, "ug/L", 1)])
    def test_each_unit(self, variable, value, unit, points):
        found = item(hematotox(**{variable: value}, units={variable: unit}), self.code)
        assert found.derived["points"][variable] == points

    def test_the_example_of_6_2(self):
        found = item(hematotox(platelets=60, anc=1500, haemoglobin=10.2, crp=4.1, ferritin=500), self.code)
        assert found.status == "flag"
        assert found.reason.startswith(
            "CAR-HEMATOTOX 3 of 7 (high risk, 2 or more): platelets 60 ×10⁹/L = 2, ANC 1500 cells/µL = 0, "
            "haemoglobin 10.2 g/dL = 0, CRP 4.1 mg/dL = 1, ferritin 500 ng/mL = 0. High risk: EHA/EBMT recommend "
            "G-CSF 5 µg/kg from day +2 after infusion.")
        assert found.derived == {"score": 3, "risk": "high", "partial_score": 3,
                                 "points": {"platelets": 2, "anc": 0, "haemoglobin": 0, "crp": 1, "ferritin": 0}}
        assert found.source == ("Rejeski et al., Blood 2021 (CAR-HEMATOTOX) - score and risk groups; EHA/EBMT ICAHT "
                                "recommendations (Blood) - prophylaxis by CAR-HEMATOTOX risk")

    @pytest.mark.parametrize(("platelets", "expected", "risk"), [(175, "pass", "low"), (74, "flag", "high")])
    def test_high_risk_from_2(self, platelets, expected, risk):
        found = item(hematotox(platelets=platelets), self.code)
        assert (found.status, found.derived["risk"]) == (expected, risk)

    def test_a_score_of_1_is_low_risk(self):
        found = item(hematotox(platelets=100), self.code)
        assert found.status == "pass"
        assert found.reason.startswith("CAR-HEMATOTOX 1 of 7 (low risk, below 2): ")

    def test_an_edited_cut_off_and_g_csf_text(self):
        ruleset = edited(hematotox_high_risk_from=3, gcsf_ug_per_kg=10, gcsf_from_day=1)
        assert status(hematotox(platelets=60), self.code, ruleset) == "pass"
        found = item(hematotox(platelets=60, crp=4), self.code, ruleset)
        assert found.status == "flag"
        assert "G-CSF 10 µg/kg from day +1 after infusion" in found.reason

    def test_incomplete_gives_the_partial_score_and_says_when_high_risk_is_certain(self):
        found = item(hematotox(platelets=60, crp=None), self.code)
        assert found.status == "missing"
        assert found.derived == {"score": None, "risk": None, "partial_score": 2,
                                 "points": {"platelets": 2, "anc": 0, "haemoglobin": 0, "crp": None, "ferritin": 0}}
        assert "High risk is already certain" in found.reason
        assert "Not recorded: CRP." in found.reason
        low = item(hematotox(crp=None), self.code)
        assert "already certain" not in low.reason

    def test_all_absent(self):
        found = item(LD, self.code)
        assert found.derived == {"score": None, "risk": None, "partial_score": 0,
                                 "points": {"platelets": None, "anc": None, "haemoglobin": None, "crp": None,
                                            "ferritin": None}}
        assert found.inputs == {"labs.platelets": None, "labs.anc": None, "labs.haemoglobin": None, "labs.crp": None,
                                "labs.ferritin": None, "lymphodepletion_start_date": AS_OF}


# --- 37 easix -------------------------------------------------------------------------------------------


def easix(ldh=250, creatinine=None, platelets=100, crp=None):
    return {**LD, "labs": {"ldh": lab(ldh, "U/L"), "creatinine": creatinine or lab(1.1, "mg/dL"),
                           "platelets": lab(platelets, "10^9/L"), "crp": crp or lab(0.5, "mg/dL")}}


class TestEasix:
    code = "easix"

    def test_values(self):
        found = item(easix(), self.code)
        assert found.status == "pass"
        # 250 x 1.1 / 100 = 2.75; log2(2.75) = 1.459 -> 1.46; 250 x 0.5 / 100 = 1.25
        assert found.derived == {"easix": 2.75, "log2_easix": 1.46, "m_easix": 1.25}
        assert "2.75" in found.reason and "1.46" in found.reason and "1.25" in found.reason
        assert found.source == ("Pennisi et al., Blood Adv 2021 (EASIX) - EASIX and m-EASIX; Greenbaum et al., Blood "
                                "Adv 2021 - EASIX before lymphodepletion")

    def test_creatinine_in_umol_per_l_unrounded_inside_the_formula(self):
        # 100 umol/L = 1.131221... mg/dL; 300 x 1.131221 / 150 = 2.2624 -> 2.26; log2 = 1.1779 -> 1.18
        found = item(easix(ldh=300, creatinine=lab(100, "umol/L"), platelets=150, crp=lab(25, "mg/L")), self.code)
        assert found.derived == {"easix": 2.26, "log2_easix": 1.18, "m_easix": 5.0}

    def test_a_small_easix_has_a_negative_log(self):
        found = item(easix(ldh=100, creatinine=lab(0.5, "mg/dL"), platelets=200), self.code)
        assert found.derived == {"easix": 0.25, "log2_easix": -2.0, "m_easix": 0.25}

    @pytest.mark.parametrize("platelets", [0, 0.4])
    def test_platelets_0_as_rounded_flags(self, platelets):
        found = item(easix(platelets=platelets), self.code)
        assert found.status == "flag"
        assert found.derived == {"easix": None, "log2_easix": None, "m_easix": None}

    def test_platelets_0_5_rounds_to_1(self):
        assert item(easix(platelets=0.5), self.code).derived["easix"] == 275

    def test_an_easix_of_0_has_no_log(self):
        assert item(easix(ldh=0), self.code).derived == {"easix": 0, "log2_easix": None, "m_easix": 0}

    @pytest.mark.parametrize(("absent", "derived"), [
        ("ldh", {"easix": None, "log2_easix": None, "m_easix": None}),
        ("platelets", {"easix": None, "log2_easix": None, "m_easix": None}),
        ("creatinine", {"easix": None, "log2_easix": None, "m_easix": 1.25}),  # m-EASIX needs no creatinine
        ("crp", {"easix": 2.75, "log2_easix": 1.46, "m_easix": None}),
    ])
    def test_each_value_absent(self, absent, derived):
        case = easix()
        del case["labs"][absent]
        found = item(case, self.code)
        assert found.status == "missing"
        assert found.derived == derived  # 6.3: null where an input it needs is absent
        assert found.inputs[f"labs.{absent}"] is None

    def test_a_stale_value_nulls_the_fields_that_need_it(self):
        case = easix(crp=lab(0.5, "mg/dL", "2026-02-01"))
        found = item(case, self.code)
        assert (found.status, found.derived) == ("missing", {"easix": 2.75, "log2_easix": 1.46, "m_easix": None})
