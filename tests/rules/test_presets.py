"""Presets (criteria-v2 2.4 and 7): each value and indication entry from the tables, with its
citation; a draft from a preset on top of version 1; values to be entered."""

from dataclasses import replace
from decimal import Decimal

import pytest

from eligibility.rules import (
    OPTIONAL_GROUPS,
    PRESETS,
    VERSION_1_RULES,
    IndicationEntry,
    Pathway,
    default_ruleset,
    draft_from_preset,
    groups_held,
    ruleset_errors,
)

V1 = default_ruleset()
US = draft_from_preset(V1, "us_labels_2025_06")
EBMT = draft_from_preset(V1, "ebmt_eha")
EARLY = frozenset({"refractory", "relapse_within_12_months"})

#: criteria-v2 7.2, row by row: (product, diagnosis, labels and conditions of each pathway, min age,
#: max age, source = the section-8 title of the first reference cited).
US_ROWS = [
    ("tisagenlecleucel", "b_all", (Pathway(label="refractory disease", disease_status_in=frozenset({"refractory"})),
                                   Pathway(label="second or later relapse", disease_status_in=frozenset({"relapsed"}),
                                           min_relapse_number=2)),
     None, 25, "Kymriah US prescribing information"),
    ("tisagenlecleucel", "lbcl", (Pathway(min_prior_lines=2),), None, None, "Kymriah US prescribing information"),
    ("tisagenlecleucel", "fl", (Pathway(min_prior_lines=2),), None, None, "Kymriah US prescribing information"),
    ("axicabtagene_ciloleucel", "lbcl", (
        Pathway(label="at least 2 prior lines", min_prior_lines=2),
        Pathway(label="second line: refractory to first-line therapy or relapse within 12 months", min_prior_lines=1,
                first_line_response_in=EARLY)),
     None, None, "FDA approval of Yescarta for second-line LBCL, April 2022"),
    ("axicabtagene_ciloleucel", "fl", (Pathway(min_prior_lines=2),), None, None, "research report, product table (US)"),
    ("lisocabtagene_maraleucel", "lbcl", (
        Pathway(label="at least 2 prior lines", min_prior_lines=2),
        Pathway(label="second line: refractory to first-line therapy or relapse within 12 months", min_prior_lines=1,
                first_line_response_in=EARLY),
        Pathway(label="second line: relapse after first-line therapy, not eligible for HSCT (age or comorbidity)",
                min_prior_lines=1, first_line_response_in=frozenset({"relapse_within_12_months",
                                                                     "relapse_after_12_months"}),
                transplant_ineligible=True)),
     None, None, "FDA approval of Breyanzi for second-line LBCL, 24 June 2022"),
    ("lisocabtagene_maraleucel", "fl", (Pathway(min_prior_lines=2),), None, None,
     "research report, product table (US)"),
    ("lisocabtagene_maraleucel", "mcl",
     (Pathway(min_prior_lines=2, required_drug_classes=frozenset({"btk_inhibitor"})),), None, None,
     "FDA approval of Breyanzi for MCL, 30 May 2024"),
    ("lisocabtagene_maraleucel", "cll", (Pathway(min_prior_lines=2, required_drug_classes=frozenset(
        {"btk_inhibitor", "bcl2_inhibitor"})),), None, None, "FDA approval of Breyanzi for CLL/SLL, 14 March 2024"),
    ("lisocabtagene_maraleucel", "mzl", (Pathway(min_prior_lines=2),), None, None,
     "FDA approval of Breyanzi for MZL, 4 December 2025"),
    ("brexucabtagene_autoleucel", "b_all", (Pathway(),), 18, None, "research report, product table (US)"),
    ("obecabtagene_autoleucel", "b_all", (Pathway(),), 18, None, "FDA approval of Aucatzyl, 8 November 2024"),
    ("idecabtagene_vicleucel", "mm", (Pathway(min_prior_lines=2, required_drug_classes=frozenset(
        {"imid", "proteasome_inhibitor", "anti_cd38"})),), None, None,
     "FDA approvals of Carvykti and Abecma, April 2024"),
    ("ciltacabtagene_autoleucel", "mm", (Pathway(min_prior_lines=1, required_drug_classes=frozenset(
        {"proteasome_inhibitor", "imid"}), lenalidomide_refractory=True),), None, None,
     "FDA approvals of Carvykti and Abecma, April 2024"),
]
#: Rows 7.2 lists for information only ("version 1 kept", "unchanged"): the preset sets no entry.
US_UNCHANGED = [("brexucabtagene_autoleucel", "mcl"), ("inaticabtagene_autoleucel", "b_all"),
                ("baltaleucel_t", "ebv_lymphoma"), ("baltaleucel_t", "ptld"), ("baltaleucel_t", "npc")]


def age(value):
    return None if value is None else Decimal(value)


class TestPresetCatalogue:
    def test_two_presets_with_their_codes_and_titles(self):
        assert {code: preset.title for code, preset in PRESETS.items()} == {
            "us_labels_2025_06": "US labels (June 2025)", "ebmt_eha": "EBMT/EHA best practice"}

    @pytest.mark.parametrize("code", list(PRESETS))
    def test_every_setting_has_a_citation_and_every_group_is_whole(self, code):
        preset = PRESETS[code]
        settings = [*preset.enable, *preset.disable, *preset.thresholds, *preset.entries]
        assert all(setting.citation.strip() for setting in settings)
        keys = {setting.key for setting in preset.thresholds}
        for group, members in OPTIONAL_GROUPS.items():
            assert set(members) <= keys, group


class TestUsLabels:
    @pytest.mark.parametrize(("product", "diagnosis", "pathways", "min_age", "max_age", "source"), US_ROWS,
                             ids=[f"{row[0]}-{row[1]}" for row in US_ROWS])
    def test_each_indication_entry_row_by_row(self, product, diagnosis, pathways, min_age, max_age, source):
        entry = US.ruleset.products[product].indication(diagnosis)
        assert entry == IndicationEntry(diagnosis=diagnosis, pathways=pathways, min_age_years=age(min_age),
                                        max_age_years=age(max_age), source=source)

    @pytest.mark.parametrize(("product", "diagnosis"), US_UNCHANGED)
    def test_rows_for_information_keep_the_base_entry(self, product, diagnosis):
        assert US.ruleset.products[product].indication(diagnosis) == V1.products[product].indication(diagnosis)

    def test_entries_of_a_product_stay_ordered_by_diagnosis(self):
        diagnoses = [entry.diagnosis for entry in US.ruleset.products["lisocabtagene_maraleucel"].indications]
        assert diagnoses == ["cll", "fl", "lbcl", "mcl", "mzl"]

    def test_thresholds_rules_and_groups(self):
        held = US.ruleset.thresholds
        assert held["proximity_stay_weeks"] == 2 and held["driving_restriction_weeks"] == 2
        assert held["alc_max_age_days"] is None
        assert {key: held[key] for key in ("markers_max_days_after_collection", "fever_max_days_before_infusion",
                                           "tocilizumab_max_doses_total", "tocilizumab_low_weight_below_kg",
                                           "tocilizumab_low_weight_mg_per_kg")} == {
            "markers_max_days_after_collection": 0, "fever_max_days_before_infusion": 0,
            "tocilizumab_max_doses_total": 4, "tocilizumab_low_weight_below_kg": 30,
            "tocilizumab_low_weight_mg_per_kg": 12}
        assert sorted(groups_held(US.ruleset)) == sorted(OPTIONAL_GROUPS)
        assert US.ruleset.enabled_rules == VERSION_1_RULES
        changed = {"proximity_stay_weeks", "driving_restriction_weeks"}
        assert {key: value for key, value in held.items() if key in V1.thresholds and key not in changed} == {
            key: value for key, value in V1.thresholds.items() if key not in changed}
        assert set(held) - set(V1.thresholds) == {key for keys in OPTIONAL_GROUPS.values() for key in keys}

    def test_name_version_and_to_be_entered(self):
        assert US.ruleset.name == "US labels (June 2025) (from version 1)"
        assert US.ruleset.version is None
        assert US.to_be_entered == ["alc_max_age_days"]
        assert ruleset_errors(US.ruleset, publishable=False) == {}
        assert set(ruleset_errors(US.ruleset, publishable=True)) == {"alc_max_age_days"}

    def test_the_change_note_lists_each_change_with_its_citation(self):
        lines = US.change_note.splitlines()
        assert lines[0] == ('Drafted from the preset "US labels (June 2025)" on top of version 1 '
                            "(Default (source documents)).")
        assert ("Stay near the centre after infusion (proximity_stay_weeks): 4 weeks -> 2 weeks. Source: FDA Safety "
                "Communication, 26 June 2025 (R9)") in US.change_note
        assert any(line.startswith("No driving after infusion (driving_restriction_weeks): 8 weeks -> 2 weeks. "
                                   "Source: ARM press release, 27 June 2025 (R10)") for line in lines)
        assert any(line.startswith("ALC counts when measured at most this long before leukapheresis "
                                   "(alc_max_age_days): not held -> to be entered. Source:") for line in lines)
        assert any(line.startswith("Breyanzi for marginal zone lymphoma (MZL): new -> at least 2 prior lines") and
                   line.endswith("Source: FDA approval, 4 December 2025 (R16) [V]") for line in lines)
        # each of the 6 thresholds set, the 2 changed values and each of the 14 entries: one line each
        assert len(lines) == 1 + 6 + 2 + len(US_ROWS)
        assert all(" Source: " in line for line in lines[1:])
        assert "proximity_max_minutes" not in US.change_note and "caregiver_days" not in US.change_note


class TestEbmtEha:
    def test_rules_enabled_and_not(self):
        added = EBMT.ruleset.enabled_rules - VERSION_1_RULES
        assert added == {"cns_involvement", "active_gvhd", "sars_cov_2", "hepatic_function", "pulmonary_function",
                         "product_on_site", "car_hematotox"}
        assert EBMT.ruleset.enabled_rules >= VERSION_1_RULES

    def test_thresholds_and_to_be_entered(self):
        held = EBMT.ruleset.thresholds
        assert {key: held[key] for key in (
            "gvhd_acute_defer_from_grade", "bilirubin_max_umol_l", "bilirubin_gilbert_max_umol_l",
            "transaminases_flag_x_uln", "spo2_room_air_min_pct", "hematotox_high_risk_from", "gcsf_ug_per_kg",
            "gcsf_from_day")} == {
            "gvhd_acute_defer_from_grade": 2, "bilirubin_max_umol_l": 34, "bilirubin_gilbert_max_umol_l": 43,
            "transaminases_flag_x_uln": 4, "spo2_room_air_min_pct": 92, "hematotox_high_risk_from": 2,
            "gcsf_ug_per_kg": 5, "gcsf_from_day": 2}
        assert EBMT.to_be_entered == ["alc_max_age_days", "pre_lymphodepletion_tests_max_days"]
        for key in ("washout_corticosteroids_hours", "fludarabine_reduce_below_crcl_ml_min",
                    "lvef_flag_at_or_below_pct"):
            assert key not in held  # rules 29, 32, 33 stay disabled
        assert {key: held[key] for key in V1.thresholds} == dict(V1.thresholds)

    def test_products_unchanged(self):
        assert EBMT.ruleset.products == V1.products

    def test_the_change_note_names_each_enabled_rule_with_its_citation(self):
        assert ("Rule enabled: Active GvHD after allogeneic HSCT (active_gvhd). Source: Yakoub-Agha 2020 (R2) Table 1 "
                "[V]") in EBMT.change_note.splitlines()
        assert ("Tests count when measured at most this long before lymphodepletion starts "
                "(pre_lymphodepletion_tests_max_days): not held -> to be entered. Source: no reference value found "
                "(criteria-v2 10, Q19)") in EBMT.change_note.splitlines()


class TestOnTopOfAnotherBase:
    def test_a_value_held_by_the_base_is_kept_for_a_key_to_be_entered(self):
        base = replace(V1, version=4, name="Local", thresholds={**V1.thresholds, "alc_max_age_days": Decimal(10),
                                                              "markers_max_days_after_collection": Decimal(0),
                                                              "proximity_stay_weeks": Decimal(3)})
        draft = draft_from_preset(base, "us_labels_2025_06")
        assert draft.ruleset.thresholds["alc_max_age_days"] == 10
        assert draft.ruleset.thresholds["proximity_stay_weeks"] == 2  # a value the preset sets overrides
        assert draft.to_be_entered == []
        assert draft.ruleset.name == "US labels (June 2025) (from version 4)"
        assert "alc_max_age_days" not in draft.change_note
        assert "markers_max_days_after_collection" not in draft.change_note  # already 0: no change
        assert "(proximity_stay_weeks): 3 weeks -> 2 weeks" in draft.change_note

    def test_a_rule_enabled_in_the_base_is_kept_and_not_listed(self):
        base = replace(V1, enabled_rules=V1.enabled_rules | {"washout", "active_gvhd"},
                       thresholds={**V1.thresholds, "washout_corticosteroids_hours": Decimal(72),
                                   "washout_chemotherapy_days": Decimal(14),
                                   "gvhd_acute_defer_from_grade": Decimal(2)})
        draft = draft_from_preset(base, "ebmt_eha")
        assert "washout" in draft.ruleset.enabled_rules
        assert "active_gvhd" not in draft.change_note

    def test_a_product_the_base_does_not_hold_is_not_added(self):
        products = {code: product for code, product in V1.products.items() if code != "obecabtagene_autoleucel"}
        draft = draft_from_preset(replace(V1, products=products), "us_labels_2025_06")
        assert "obecabtagene_autoleucel" not in draft.ruleset.products
        assert ("Not set: the indication of obecabtagene_autoleucel for B-ALL (the product is not in the catalogue of "
                "version 1).") in draft.change_note.splitlines()

    def test_an_unknown_preset(self):
        with pytest.raises(KeyError):
            draft_from_preset(V1, "eu_labels")
