"""Rule 1 with indication pathways, rule 20 with organs judged elsewhere and rule 21's corrected
tocilizumab dosing (criteria-v2 6.1), with the examples given there."""

from dataclasses import replace
from decimal import Decimal

import pytest

from eligibility.rules import (
    CaseValidationError,
    Engine,
    IndicationEntry,
    Pathway,
    default_ruleset,
    draft_from_preset,
    group_add,
    rules_enable,
)

VERSION_1_SOURCE = Engine(default_ruleset()).by_code["indication"].source


def us_labels():
    data = draft_from_preset(default_ruleset(), "us_labels_2025_06").ruleset
    return replace(data, thresholds={**data.thresholds, "alc_max_age_days": Decimal(14)})


US = Engine(us_labels())
V1 = Engine(default_ruleset())


def indication(engine=US, **case):
    data = {"stage": "screening", "disease_status": "relapsed", **case}
    return next(item for item in engine.evaluate(engine.parse(data)).items if item.code == "indication")


def breyanzi_lbcl(**case):
    return indication(product="lisocabtagene_maraleucel", diagnosis="lbcl", **case)


class TestBreyanziForLbcl:
    """The example of 6.1: pathways are alternatives, and the better status wins."""

    def test_three_prior_lines_pass_by_pathway_1(self):
        item = breyanzi_lbcl(prior_lines=3)
        assert item.status == "pass"
        assert item.reason == ('Breyanzi for relapsed large B-cell lymphoma (LBCL) after 3 prior lines is an approved '
                               'indication. Met by pathway 1 "at least 2 prior lines": at least 2 prior lines: 3 prior '
                               'lines (met).')

    def test_one_prior_line_without_the_first_line_response_is_missing(self):
        item = breyanzi_lbcl(prior_lines=1)
        assert item.status == "missing"
        assert item.reason.startswith("Breyanzi for large B-cell lymphoma (LBCL): no pathway is met yet: record what "
                                      'is not recorded. Pathway 1 "at least 2 prior lines": at least 2 prior lines: 1 '
                                      "prior line (not met). Pathway 2 ")
        assert "first-line response refractory to first-line therapy or relapse within 12 months of first-line " \
               "therapy: not recorded" in item.reason
        assert "not eligible for HSCT: not recorded." in item.reason

    def test_late_relapse_eligible_for_transplant_is_excluded(self):
        item = breyanzi_lbcl(prior_lines=1, first_line_response="relapse_after_12_months", transplant_eligible=True)
        assert item.status == "exclude"
        assert item.reason.endswith("; not eligible for HSCT: eligible (not met).")
        assert "no pathway is met." in item.reason

    def test_late_relapse_not_eligible_for_transplant_passes_by_pathway_3(self):
        item = breyanzi_lbcl(prior_lines=1, first_line_response="relapse_after_12_months", transplant_eligible=False)
        assert item.status == "pass"
        assert 'Met by pathway 3 "second line: relapse after first-line therapy, not eligible for HSCT (age or ' \
               'comorbidity)"' in item.reason
        assert item.reason.endswith("not eligible for HSCT: not eligible (met).")

    def test_inputs_hold_version_1s_keys_then_the_keys_the_pathways_read(self):
        item = breyanzi_lbcl(prior_lines=1, first_line_response="refractory", transplant_eligible=True,
                             prior_drug_classes=["imid"], relapse_number=2, lenalidomide_refractory=True, age_years=50)
        assert list(item.inputs.items()) == [
            ("product", "lisocabtagene_maraleucel"), ("diagnosis", "lbcl"), ("disease_status", "relapsed"),
            ("prior_lines", 1), ("first_line_response", "refractory"), ("transplant_eligible", True)]
        assert item.status == "pass"

    def test_the_source_adds_the_entrys_source(self):
        assert breyanzi_lbcl(prior_lines=3).source == (
            f"{VERSION_1_SOURCE}; FDA approval of Breyanzi for second-line LBCL, 24 June 2022")


class TestConditions:
    def test_drug_classes_every_one_required_and_read_as_a_sorted_list_without_repeats(self):
        item = indication(product="lisocabtagene_maraleucel", diagnosis="cll", prior_lines=2,
                          prior_drug_classes=["bcl2_inhibitor", "btk_inhibitor", "bcl2_inhibitor"])
        assert item.status == "pass"
        assert item.inputs["prior_drug_classes"] == ["bcl2_inhibitor", "btk_inhibitor"]
        item = indication(product="lisocabtagene_maraleucel", diagnosis="cll", prior_lines=2,
                          prior_drug_classes=["btk_inhibitor"])
        assert item.status == "exclude"
        assert item.reason == ("Breyanzi for chronic lymphocytic leukaemia (CLL): the indication's conditions are not "
                               "met. Conditions: at least 2 prior lines: 2 prior lines (met); prior BTK inhibitor and "
                               "BCL-2 inhibitor: received BTK inhibitor (not met).")
        assert indication(product="lisocabtagene_maraleucel", diagnosis="cll", prior_lines=2,
                          prior_drug_classes=[]).status == "exclude"
        assert indication(product="lisocabtagene_maraleucel", diagnosis="cll", prior_lines=2).status == "missing"

    def test_a_condition_not_met_excludes_even_when_another_is_not_recorded(self):
        item = indication(product="lisocabtagene_maraleucel", diagnosis="cll", prior_lines=1)
        assert item.status == "exclude"

    def test_lenalidomide_refractory_is_required_where_the_entry_says(self):
        case = {"product": "ciltacabtagene_autoleucel", "diagnosis": "mm", "prior_lines": 1,
                "prior_drug_classes": ["imid", "proteasome_inhibitor"]}
        assert indication(**case, lenalidomide_refractory=True).status == "pass"
        assert indication(**case, lenalidomide_refractory=False).status == "exclude"
        assert indication(**case).status == "missing"

    def test_kymriah_b_all_needs_refractory_disease_or_a_second_relapse(self):
        case = {"product": "tisagenlecleucel", "diagnosis": "b_all", "age_years": 10}
        assert indication(**case, disease_status="refractory").status == "pass"
        assert indication(**case, relapse_number=2).status == "pass"
        assert indication(**case, relapse_number=1).status == "exclude"
        assert indication(**case).status == "missing"
        assert indication(**{**case, "age_years": 25.5}, disease_status="refractory").status == "exclude"

    def test_breyanzi_is_indicated_for_mzl_after_two_lines(self):
        case = {"product": "lisocabtagene_maraleucel", "diagnosis": "mzl"}
        assert indication(**case, prior_lines=2).status == "pass"
        assert indication(**case, prior_lines=1).status == "exclude"
        assert indication(V1, **case, prior_lines=2).status == "exclude"  # no version-1 product lists mzl

    def test_tecartus_and_aucatzyl_b_all_from_age_18(self):
        for product in ("brexucabtagene_autoleucel", "obecabtagene_autoleucel"):
            assert indication(product=product, diagnosis="b_all", age_years=18).status == "pass"
            assert indication(product=product, diagnosis="b_all", age_years=17.9).status == "exclude"
            assert indication(V1, product=product, diagnosis="b_all", age_years=17.9).status == "pass"


class TestProductsLeftOut:
    def test_a_product_of_criteria_md_5_the_catalogue_does_not_hold_is_excluded_not_an_input_error(self):
        data = default_ruleset()
        products = {code: product for code, product in data.products.items() if code != "obecabtagene_autoleucel"}
        engine = Engine(replace(data, version=3, products=products))
        item = indication(engine, product="obecabtagene_autoleucel", diagnosis="b_all")
        assert (item.status, item.reason) == (
            "exclude", "Product obecabtagene_autoleucel is not in the catalogue of rule set version 3.")

    def test_any_other_code_stays_an_input_error(self):
        with pytest.raises(CaseValidationError):
            US.parse({"product": "magic_cel"})


class TestCatalogueMinimum:
    """Finding g: no entry found, the fewest lines any pathway of any entry for the diagnosis sets."""

    def test_lbcl_falls_to_one_line_under_the_us_labels(self):
        assert indication(diagnosis="lbcl", prior_lines=1).status == "missing"
        assert indication(diagnosis="lbcl", prior_lines=0).reason == (
            "0 prior lines are fewer than the 1 required for large B-cell lymphoma (LBCL).")
        assert indication(V1, diagnosis="lbcl", prior_lines=1).status == "exclude"

    def test_cll_rises_to_two_lines_and_mzl_has_two(self):
        assert indication(diagnosis="cll", prior_lines=1).status == "exclude"
        assert indication(diagnosis="cll", prior_lines=2).status == "missing"
        assert indication(V1, diagnosis="cll", prior_lines=1).status == "missing"
        assert indication(diagnosis="mzl", prior_lines=1).reason == (
            "1 prior line is fewer than the 2 required for marginal zone lymphoma (MZL).")

    def test_a_diagnosis_with_a_pathway_without_minimum_has_none(self):
        assert "prior_lines" not in indication(diagnosis="b_all", prior_lines=0).inputs


class TestVersion1Texts:
    def test_a_single_pathway_setting_only_lines_keeps_version_1s_words_and_adds_the_source(self):
        item = indication(product="tisagenlecleucel", diagnosis="fl", prior_lines=1)
        assert item.reason == "1 prior line is fewer than the 2 required for follicular lymphoma (FL)."
        assert item.source == f"{VERSION_1_SOURCE}; Kymriah US prescribing information"
        item = indication(product="tisagenlecleucel", diagnosis="fl")
        assert item.reason == "Prior lines not recorded: follicular lymphoma (FL) needs at least 2 prior lines."

    def test_version_1_entries_have_no_source_to_add(self):
        assert indication(V1, product="tisagenlecleucel", diagnosis="fl", prior_lines=2).source == VERSION_1_SOURCE


class TestCacheKey:
    def test_the_key_holds_the_new_keys_only_where_the_entry_reads_them(self):
        key = US.by_code["indication"].key_function()
        plain = US.parse({"product": "tisagenlecleucel", "diagnosis": "fl", "prior_lines": 2,
                          "first_line_response": "refractory"})
        other = US.parse({"product": "tisagenlecleucel", "diagnosis": "fl", "prior_lines": 2})
        assert key(plain) == key(other)
        read = US.parse({"product": "lisocabtagene_maraleucel", "diagnosis": "cll", "prior_lines": 2,
                         "prior_drug_classes": ["btk_inhibitor", "bcl2_inhibitor"]})
        same = US.parse({"product": "lisocabtagene_maraleucel", "diagnosis": "cll", "prior_lines": 2,
                         "prior_drug_classes": ["bcl2_inhibitor", "btk_inhibitor", "btk_inhibitor"]})
        fewer = US.parse({"product": "lisocabtagene_maraleucel", "diagnosis": "cll", "prior_lines": 2,
                          "prior_drug_classes": ["btk_inhibitor"]})
        assert key(read) == key(same) != key(fewer)
        hash(key(read))

    def test_an_unlabelled_single_pathway_with_conditions_uses_the_pathway_texts(self):
        data = default_ruleset()
        product = data.products["idecabtagene_vicleucel"]
        entry = IndicationEntry("mm", (Pathway(min_prior_lines=1, min_relapse_number=1),))
        engine = Engine(replace(data, products={**data.products, product.code: replace(product, indications=(entry,))}))
        item = indication(engine, product="idecabtagene_vicleucel", diagnosis="mm", prior_lines=1, relapse_number=1)
        assert item.reason.endswith("Met: at least 1 prior line: 1 prior line (met); at least 1 relapse: 1 relapse "
                                    "(met).")


#: Test values for the windows and cut-offs the catalogue leaves to be entered (not clinical values).
ENTERED = {"pre_lymphodepletion_tests_max_days": Decimal(7), "fludarabine_reduce_below_crcl_ml_min": Decimal(30)}


def organ_item(enabled, **organs):
    data = rules_enable(default_ruleset(), enabled)
    engine = Engine(replace(data, thresholds={key: ENTERED.get(key, value) if value is None else value
                                              for key, value in data.thresholds.items()}))
    case = engine.parse({"stage": "pre_lymphodepletion", "organ_function": organs})
    return next(item for item in engine.evaluate(case).items if item.code == "organ_function")


class TestOrganFunction:
    def test_version_1_unchanged(self):
        item = organ_item([], cardiac="normal", pulmonary="normal", hepatic="normal", renal="normal")
        assert item.reason == "Cardiac, pulmonary, hepatic and renal assessments normal."

    def test_organs_judged_by_enabled_rules_31_to_34_are_left_out(self):
        item = organ_item(["hepatic_function", "pulmonary_function"], cardiac="normal", renal="normal",
                          hepatic="abnormal")
        assert (item.status, item.reason) == ("pass", "Cardiac and renal assessments normal.")
        assert item.inputs == {"organ_function.cardiac": "normal", "organ_function.renal": "normal"}
        item = organ_item(["hepatic_function"], cardiac="normal", pulmonary="not_done", renal="abnormal")
        assert (item.status, item.reason) == ("missing", "Assessment not done or not recorded: pulmonary. Abnormal: "
                                                         "renal.")

    def test_all_four_enabled_does_not_apply(self):
        item = organ_item(["hepatic_function", "renal_function", "cardiac_function", "pulmonary_function"],
                          cardiac="abnormal")
        assert (item.status, item.reason, item.inputs) == (
            "pass", "Does not apply: hepatic, renal, cardiac and pulmonary function are judged by rules 31-34.", {})


def tocilizumab_item(weight, doses=2, corrected=True):
    data = default_ruleset()
    if corrected:
        data = group_add(data, "corrected tocilizumab dosing")
    engine = Engine(data)
    case = engine.parse({"stage": "pre_infusion", "tocilizumab_doses_available": doses, "weight_kg": weight})
    return next(item for item in engine.evaluate(case).items if item.code == "tocilizumab")


class TestCorrectedTocilizumabDosing:
    LIMITS = ("IV over 1 hour; repeat no sooner than every 8 h if there is no improvement, at most 3 doses in 24 h "
              "and 4 doses in total.")

    @pytest.mark.parametrize(("weight", "dose"), [
        (29.9, "12 mg/kg (below 30 kg) × 29.9 kg = 358.8 mg"),
        (30, "8 mg/kg × 30 kg = 240 mg"),
        (100, "8 mg/kg × 100 kg = 800 mg"),
        (100.1, "8 mg/kg × 100.1 kg = 800.8 mg, capped at 800 mg a dose"),
    ])
    def test_the_examples_of_6_1(self, weight, dose):
        item = tocilizumab_item(weight)
        assert item.status == "pass"
        assert item.reason == f"2 doses on site (at least 2). Dose {dose}, {self.LIMITS}"

    def test_the_source_gains_the_santomasso_and_kymriah_parts(self):
        assert tocilizumab_item(70).source == (
            f"{tocilizumab_item(70, corrected=False).source}; Santomasso et al., J Clin Oncol 2021 (ASCO guideline) - "
            "CRS management table; Kymriah US prescribing information - tocilizumab dosing")

    def test_statuses_stay_those_of_version_1(self):
        assert tocilizumab_item(70, doses=1).status == "defer"
        assert tocilizumab_item(None).status == "missing"

    def test_without_the_group_version_1s_text(self):
        assert tocilizumab_item(100.1, corrected=False).reason == (
            "2 doses on site (at least 2). Dose 8 mg/kg × 100.1 kg = 800 mg (capped at 800 mg), repeatable every 8 h "
            "up to 3 doses.")
