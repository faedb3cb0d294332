"""Rule-set files (criteria-v2 2.6): exact bytes out, every refusal in one pass with JSON paths, and
the round trip; ``--set KEY=VALUE``."""

import json
import random
from dataclasses import replace
from decimal import Decimal

import pytest

from eligibility.rules import (
    CATALOGUE,
    THRESHOLDS_BY_KEY,
    RuleSetFileError,
    default_ruleset,
    draft_from_preset,
    ruleset_from_file,
    ruleset_to_file,
    ruleset_with_settings,
)

V1 = default_ruleset()
US = draft_from_preset(V1, "us_labels_2025_06").ruleset
EBMT = draft_from_preset(V1, "ebmt_eha").ruleset
BASE = ("Default (source documents)", 1)


def document(data=US, based_on=BASE):
    return json.loads(ruleset_to_file(data, based_on))


def refused(doc) -> list[dict]:
    raw = doc if isinstance(doc, (bytes, str)) else json.dumps(doc)
    with pytest.raises(RuleSetFileError) as caught:
        ruleset_from_file(raw)
    return caught.value.errors


def fields(doc) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for error in refused(doc):
        assert set(error) == {"field", "message"}
        found.setdefault(error["field"], []).append(error["message"])
    return found


class TestExport:
    def test_the_bytes_of_the_format(self):
        raw = ruleset_to_file(US, BASE)
        assert raw.endswith(b"}\n") and not raw.endswith(b"\n\n")
        expected = json.dumps(json.loads(raw), indent=2, ensure_ascii=False) + "\n"
        assert raw.decode("utf-8") == expected  # two-space indentation, keys as written below
        doc = json.loads(raw)
        assert list(doc) == ["format", "format_version", "name", "based_on", "enabled_rules", "thresholds",
                             "products"]
        assert doc["format"] == "cart-ruleset" and doc["format_version"] == 1
        assert doc["based_on"] == {"name": "Default (source documents)", "version": 1}
        breyanzi = doc["products"]["lisocabtagene_maraleucel"]
        assert list(breyanzi) == ["name", "target", "accepts_cryopreserved", "investigational", "indications"]
        mcl = next(entry for entry in breyanzi["indications"] if entry["diagnosis"] == "mcl")
        assert mcl == {"diagnosis": "mcl", "min_age_years": None, "max_age_years": None,
                       "source": "FDA approval of Breyanzi for MCL, 30 May 2024",
                       "pathways": [{"label": "", "min_prior_lines": 2, "required_drug_classes": ["btk_inhibitor"],
                                     "first_line_response_in": None, "disease_status_in": None,
                                     "min_relapse_number": None, "transplant_ineligible": False,
                                     "lenalidomide_refractory": False}]}
        assert list(mcl) == ["diagnosis", "min_age_years", "max_age_years", "source", "pathways"]
        assert [entry["diagnosis"] for entry in breyanzi["indications"]] == ["cll", "fl", "lbcl", "mcl", "mzl"]

    def test_a_small_rule_set_byte_for_byte(self):
        data = replace(V1, name="Tiny", enabled_rules=frozenset({"fever", "indication"}),
                       thresholds={"fever_c": Decimal("38.0"), "alc_max_age_days": None},
                       products={"obecabtagene_autoleucel": V1.products["obecabtagene_autoleucel"]})
        assert ruleset_to_file(data, ("Default (source documents)", 1)) == (
            b'{\n  "format": "cart-ruleset",\n  "format_version": 1,\n  "name": "Tiny",\n'
            b'  "based_on": {\n    "name": "Default (source documents)",\n    "version": 1\n  },\n'
            b'  "enabled_rules": [\n    "indication",\n    "fever"\n  ],\n'
            b'  "thresholds": {\n    "fever_c": 38,\n    "alc_max_age_days": null\n  },\n'
            b'  "products": {\n    "obecabtagene_autoleucel": {\n      "name": "Aucatzyl",\n'
            b'      "target": "CD19",\n      "accepts_cryopreserved": false,\n      "investigational": false,\n'
            b'      "indications": [\n        {\n          "diagnosis": "b_all",\n          "min_age_years": null,\n'
            b'          "max_age_years": null,\n          "source": "",\n          "pathways": [\n            {\n'
            b'              "label": "",\n              "min_prior_lines": null,\n'
            b'              "required_drug_classes": [],\n              "first_line_response_in": null,\n'
            b'              "disease_status_in": null,\n              "min_relapse_number": null,\n'
            b'              "transplant_ineligible": false,\n              "lenalidomide_refractory": false\n'
            b'            }\n          ]\n        }\n      ]\n    }\n  }\n}\n')

    def test_enabled_rules_in_catalogue_order_and_null_for_a_value_to_be_entered(self):
        doc = document(EBMT)
        order = [entry.code for entry in CATALOGUE]
        assert doc["enabled_rules"] == [code for code in order if code in EBMT.enabled_rules]
        assert doc["thresholds"]["alc_max_age_days"] is None
        assert set(doc["thresholds"]) == set(EBMT.thresholds)

    def test_numbers_as_written_and_a_count_without_a_fraction(self):
        data = replace(V1, thresholds={**V1.thresholds, "markers_window_days": Decimal("30.000"),
                                       "alc_min_1e9_per_l": Decimal("0.250"), "fever_c": Decimal("38.5")})
        text = ruleset_to_file(data, None).decode()
        assert '"markers_window_days": 30,\n' in text
        assert '"alc_min_1e9_per_l": 0.25,\n' in text
        assert '"fever_c": 38.5\n' in text
        assert '"based_on": null,\n' in text
        assert '"max_age_years": 25,\n' in text

    def test_one_version_always_gives_the_same_bytes(self):
        shuffled = replace(US, thresholds=dict(reversed(list(US.thresholds.items()))),
                           products=dict(reversed(list(US.products.items()))))
        assert ruleset_to_file(shuffled, BASE) == ruleset_to_file(US, BASE)

    def test_text_beyond_ascii_is_written_as_utf_8(self):
        data = replace(V1, name="Réglages du centre")
        assert "Réglages du centre".encode() in ruleset_to_file(data, None)


class TestRoundTrip:
    @pytest.mark.parametrize("data", [V1, US, EBMT], ids=["version 1", "US labels", "EBMT/EHA"])
    def test_read_back_gives_the_same_rule_set(self, data):
        raw = ruleset_to_file(data, BASE)
        read = ruleset_from_file(raw)
        assert read.name == data.name
        assert read.based_on == BASE
        assert read.ruleset == replace(data, version=None)
        assert ruleset_to_file(read.ruleset, read.based_on) == raw

    def test_any_key_order_is_accepted(self):
        def shuffle(value, rng):
            if isinstance(value, dict):
                items = list(value.items())
                rng.shuffle(items)
                return {key: shuffle(item, rng) for key, item in items}
            if isinstance(value, list):
                return [shuffle(item, rng) for item in value]
            return value
        doc = shuffle(document(US), random.Random(7))  # noqa: S311 (a test's shuffle)
        doc["products"]["lisocabtagene_maraleucel"]["indications"].reverse()
        assert ruleset_from_file(json.dumps(doc)).ruleset == replace(US, version=None)

    def test_based_on_null(self):
        assert ruleset_from_file(ruleset_to_file(V1, None)).based_on is None


class TestRefusals:
    def test_not_json_or_not_utf_8(self):
        not_json = fields(b"{")
        assert list(not_json) == ["$"] and not_json["$"][0].startswith("is not JSON")
        assert fields(b"\xff\xfe") == {"$": ["is not UTF-8 text"]}
        assert fields(b"[]") == {"$": ["must be a JSON object"]}

    def test_format_and_format_version(self):
        doc = document()
        doc["format"], doc["format_version"] = "cart", 2
        assert fields(doc) == {"format": ['must be "cart-ruleset"'], "format_version": ["must be 1"]}

    def test_unknown_and_missing_fields_at_every_level(self):
        doc = document()
        del doc["name"]
        doc["comment"] = "x"
        doc["based_on"] = {"name": "Default (source documents)"}
        product = doc["products"]["lisocabtagene_maraleucel"]
        del product["target"]
        product["colour"] = "blue"
        entry = product["indications"][0]
        del entry["source"]
        entry["note"] = ""
        pathway = entry["pathways"][0]
        del pathway["label"]
        pathway["extra"] = 1
        at = "products.lisocabtagene_maraleucel"
        assert fields(doc) == {
            "comment": ["is not a known field"], "name": ["is required"], "based_on.version": ["is required"],
            f"{at}.colour": ["is not a known field"], f"{at}.target": ["is required"],
            f"{at}.indications[0].note": ["is not a known field"], f"{at}.indications[0].source": ["is required"],
            f"{at}.indications[0].pathways[0].extra": ["is not a known field"],
            f"{at}.indications[0].pathways[0].label": ["is required"],
        }

    def test_unknown_or_repeated_rule_codes(self):
        doc = document()
        doc["enabled_rules"] += ["indication", "astrology"]
        assert fields(doc) == {"enabled_rules[26]": ["repeats indication"],
                               "enabled_rules[27]": ["is not a known rule code (astrology)"]}

    def test_unknown_or_retired_keys_wrong_kind_and_out_of_range(self):
        doc = document()
        doc["thresholds"].update({"colour": 1, "min_prior_lines_lbcl": 2, "ecog_below": 2.5, "fever_c": 42.1,
                                  "caregiver_days": "30", "markers_window_days": 30.0})
        assert fields(doc) == {
            "thresholds.colour": ["is not a known threshold"],
            "thresholds.min_prior_lines_lbcl": [
                "is retired: minimum prior lines are set in each product's indication entries"],
            "thresholds.ecog_below": ["must be a whole number"],
            "thresholds.fever_c": ["must be between 35 and 42 C"],
            "thresholds.caregiver_days": ["must be a number, or null for a value to be entered"],
            "thresholds.markers_window_days": ["must be a whole number written without a fraction (30)"],
        }

    def test_the_boundary_itself_is_read_and_its_neighbour_refused(self):
        doc = document()
        doc["thresholds"]["fever_c"] = 42
        assert ruleset_from_file(json.dumps(doc)).ruleset.thresholds["fever_c"] == 42
        doc["thresholds"]["fever_c"] = 42.001
        assert fields(doc) == {"thresholds.fever_c": ["must be between 35 and 42 C"]}

    def test_a_required_threshold_absent_is_refused_and_no_default_filled_in(self):
        doc = document()
        del doc["thresholds"]["fever_c"]
        assert fields(doc) == {"thresholds.fever_c": ["is required while the rule 'Fever' is enabled"]}

    def test_null_is_allowed_in_a_draft(self):
        doc = document()
        doc["thresholds"]["fever_c"] = None
        assert ruleset_from_file(json.dumps(doc)).ruleset.thresholds["fever_c"] is None

    def test_part_of_an_optional_group(self):
        doc = document()
        del doc["thresholds"]["tocilizumab_low_weight_below_kg"]
        assert list(fields(doc)) == ["thresholds.tocilizumab_low_weight_below_kg"]
        del doc["thresholds"]["tocilizumab_max_doses_total"], doc["thresholds"]["tocilizumab_low_weight_mg_per_kg"]
        assert "tocilizumab_max_doses_total" not in ruleset_from_file(json.dumps(doc)).ruleset.thresholds

    def test_a_product_code_outside_criteria_md_5(self):
        doc = document()
        doc["products"]["magic_cel"] = doc["products"]["lisocabtagene_maraleucel"]
        assert fields(doc) == {"products.magic_cel": ["is not a product code of the catalogue (criteria.md 5)"]}

    def test_a_product_left_out_is_not_in_the_catalogue(self):
        doc = document()
        del doc["products"]["obecabtagene_autoleucel"]
        assert "obecabtagene_autoleucel" not in ruleset_from_file(json.dumps(doc)).ruleset.products

    def test_product_data_of_5_4_and_field_types_by_json_path(self):
        doc = document()
        at = "products.lisocabtagene_maraleucel.indications"
        entries = doc["products"]["lisocabtagene_maraleucel"]["indications"]
        entries[0]["pathways"][0]["min_prior_lines"] = "2"
        entries[1]["min_age_years"], entries[1]["max_age_years"] = 30, 20
        entries[2]["pathways"][1]["label"] = ""
        entries[3]["pathways"][0]["required_drug_classes"] = ["btk_inhibitor", "magic"]
        entries[4]["pathways"][0]["first_line_response_in"] = []
        entries[4]["pathways"][0]["transplant_ineligible"] = "yes"
        doc["products"]["lisocabtagene_maraleucel"]["target"] = "CD22"
        assert fields(doc) == {
            f"{at}[0].pathways[0].min_prior_lines": ["must be a whole number or null"],
            f"{at}[4].pathways[0].transplant_ineligible": ["must be true or false"],
            "products.lisocabtagene_maraleucel.target": ["must be one of CD19, BCMA, EBV"],
            f"{at}[1].min_age_years": ["must not be above the maximum age"],
            f"{at}[2].pathways[1].label": ["is required when the entry has more than one pathway"],
            f"{at}[3].pathways[0].required_drug_classes": ["holds unknown drug classes: magic"],
            f"{at}[4].pathways[0].first_line_response_in": ["is empty: use null when the condition is not set"],
        }

    def test_two_entries_for_one_diagnosis_and_an_entry_without_pathway(self):
        doc = document()
        entries = doc["products"]["lisocabtagene_maraleucel"]["indications"]
        entries.append(dict(entries[0]))
        entries[1]["pathways"] = []
        at = "products.lisocabtagene_maraleucel.indications"
        assert fields(doc) == {f"{at}[5].diagnosis": ["repeats the diagnosis of indications[0]: one entry per "
                                                      "diagnosis"],
                               f"{at}[1].pathways": ["needs at least one pathway"]}

    def test_a_key_given_twice(self):
        raw = ruleset_to_file(V1, None).replace(b'"ecog_below": 2,', b'"ecog_below": 2, "ecog_below": 3,')
        assert fields(raw) == {"thresholds.ecog_below": ["is given more than once"]}

    def test_every_error_in_one_pass(self):
        doc = document()
        doc["format_version"] = 2
        doc["enabled_rules"].append("astrology")
        doc["thresholds"]["fever_c"] = 50
        doc["products"]["lisocabtagene_maraleucel"]["indications"][0]["pathways"][0]["min_prior_lines"] = 21
        assert set(fields(doc)) == {
            "format_version", "enabled_rules[26]", "thresholds.fever_c",
            "products.lisocabtagene_maraleucel.indications[0].pathways[0].min_prior_lines"}


class TestSettings:
    def test_a_held_key_takes_the_value_and_a_key_not_held_is_added(self):
        data = ruleset_with_settings(US, ["alc_max_age_days=14", "proximity_stay_weeks=3.5"])
        assert data.thresholds["alc_max_age_days"] == 14 and data.thresholds["proximity_stay_weeks"] == Decimal("3.5")
        assert ruleset_with_settings(V1, ["gcsf_from_day=2"]).thresholds["gcsf_from_day"] == 2

    def test_the_result_must_be_publishable(self):
        with pytest.raises(RuleSetFileError) as caught:
            ruleset_with_settings(US, [])
        assert caught.value.errors == [{"field": "thresholds.alc_max_age_days", "message": (
            "is to be entered: give it a value before the rule set is previewed or published")}]
        with pytest.raises(RuleSetFileError) as caught:
            ruleset_with_settings(V1, ["tocilizumab_max_doses_total=4"])
        assert [error["field"] for error in caught.value.errors] == [
            "thresholds.tocilizumab_low_weight_below_kg", "thresholds.tocilizumab_low_weight_mg_per_kg"]

    def test_bad_settings_every_one_named(self):
        with pytest.raises(RuleSetFileError) as caught:
            ruleset_with_settings(US, ["alc_max_age_days=14", "alc_max_age_days=15", "colour=1",
                                       "min_prior_lines_lbcl=2", "fever_c=42.1", "ecog_below=2.0", "caregiver_days=x",
                                       "novalue"])
        assert caught.value.errors == [
            {"field": "--set alc_max_age_days", "message": "is given more than once"},
            {"field": "--set colour", "message": "is not a threshold key"},
            {"field": "--set min_prior_lines_lbcl",
             "message": "is retired: minimum prior lines are set in each product's indication entries"},
            {"field": "--set fever_c", "message": "must be between 35 and 42 C"},
            {"field": "--set ecog_below", "message": "must be a whole number written without a fraction (2)"},
            {"field": "--set caregiver_days", "message": "must be a number written as in a rule-set file (got 'x')"},
            {"field": "--set", "message": "must be KEY=VALUE (novalue)"},
        ]

    def test_the_boundary_and_its_neighbour(self):
        spec = THRESHOLDS_BY_KEY["alc_max_age_days"]
        assert ruleset_with_settings(US, [f"alc_max_age_days={spec.maximum}"]).thresholds["alc_max_age_days"] == 365
        with pytest.raises(RuleSetFileError):
            ruleset_with_settings(US, ["alc_max_age_days=366"])
