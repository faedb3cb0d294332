"""What a rule set may hold (criteria-v2 2.2, 2.3, 5.4): required thresholds, optional groups,
values to be entered, kinds and ranges, ordered pairs, retired and unknown keys, product data."""

from dataclasses import replace
from decimal import Decimal

import pytest

from eligibility.rules import (
    CATALOGUE,
    DEFAULT_PRODUCTS,
    OPTIONAL_GROUPS,
    THRESHOLDS,
    VERSION_1_RULES,
    IndicationEntry,
    Pathway,
    ProductSpec,
    default_ruleset,
    group_add,
    group_remove,
    groups_held,
    product_errors,
    rules_disable,
    rules_enable,
    ruleset_errors,
    threshold_set_errors,
)

ALL_CODES = [entry.code for entry in CATALOGUE]
TO_BE_ENTERED = "is to be entered: give it a value before the rule set is previewed or published"


def everything():
    """Every rule enabled, every optional group held, every value entered (a publishable rule set)."""
    data = rules_enable(default_ruleset(), ALL_CODES)
    for group in OPTIONAL_GROUPS:
        data = group_add(data, group)
    entered = {"alc_max_age_days": Decimal(14), "pre_lymphodepletion_tests_max_days": Decimal(7),
               "fludarabine_reduce_below_crcl_ml_min": Decimal(60)}
    return replace(data, thresholds={**data.thresholds, **entered})


def with_values(data, **values):
    return replace(data, thresholds={**data.thresholds, **values})


def without(data, *keys):
    return replace(data, thresholds={key: value for key, value in data.thresholds.items() if key not in keys})


class TestVersion1:
    def test_version_1_is_valid_and_publishable(self):
        assert ruleset_errors(default_ruleset(), publishable=False) == {}
        assert ruleset_errors(default_ruleset(), publishable=True) == {}

    def test_version_1_holds_no_optional_group_and_enables_the_26(self):
        assert groups_held(default_ruleset()) == []
        assert default_ruleset().enabled_rules == VERSION_1_RULES

    def test_every_rule_enabled_with_its_values_entered_is_publishable(self):
        assert ruleset_errors(everything(), publishable=True) == {}


class TestRequiredThresholds:
    def test_a_threshold_of_an_enabled_rule_is_required(self):
        errors = ruleset_errors(without(default_ruleset(), "fever_c"), publishable=False)
        assert errors == {"fever_c": ["is required while the rule 'Fever' is enabled"]}

    def test_a_threshold_of_a_disabled_rule_may_be_absent(self):
        data = rules_disable(without(default_ruleset(), "fever_c"), ["fever"])
        assert ruleset_errors(data, publishable=True) == {}

    def test_a_threshold_read_by_several_rules_is_required_while_any_of_them_is_enabled(self):
        data = rules_enable(default_ruleset(), ["car_hematotox"])
        assert "pre_lymphodepletion_tests_max_days" in data.thresholds
        errors = ruleset_errors(without(data, "pre_lymphodepletion_tests_max_days"), publishable=False)
        assert errors == {"pre_lymphodepletion_tests_max_days": [
            "is required while the rule 'CAR-HEMATOTOX score' is enabled"]}

    def test_a_value_to_be_entered_is_allowed_in_a_draft_and_refused_when_publishable(self):
        data = rules_enable(default_ruleset(), ["renal_function"])
        assert data.thresholds["fludarabine_reduce_below_crcl_ml_min"] is None
        assert ruleset_errors(data, publishable=False) == {}
        assert ruleset_errors(data, publishable=True) == {
            "fludarabine_reduce_below_crcl_ml_min": [TO_BE_ENTERED],
            "pre_lymphodepletion_tests_max_days": [TO_BE_ENTERED]}

    def test_a_value_to_be_entered_of_a_disabled_rule_is_refused_too_when_publishable(self):
        data = rules_disable(rules_enable(default_ruleset(), ["renal_function"]), ["renal_function"])
        assert set(ruleset_errors(data, publishable=True)) == {"fludarabine_reduce_below_crcl_ml_min",
                                                               "pre_lymphodepletion_tests_max_days"}

    def test_publishing_needs_at_least_one_enabled_rule(self):
        data = replace(default_ruleset(), enabled_rules=frozenset())
        assert ruleset_errors(data, publishable=False) == {}
        assert ruleset_errors(data, publishable=True) == {"enabled_rules": ["must enable at least one rule"]}

    def test_an_unknown_rule_code_is_refused(self):
        data = replace(default_ruleset(), enabled_rules=default_ruleset().enabled_rules | {"astrology"})
        assert ruleset_errors(data, publishable=False) == {"enabled_rules": ["holds unknown rule codes: astrology"]}

    def test_retired_and_unknown_keys_are_refused(self):
        data = with_values(default_ruleset(), min_prior_lines_lbcl=Decimal(2), colour=Decimal(1))
        assert ruleset_errors(data, publishable=False) == {
            "min_prior_lines_lbcl": ["is retired: minimum prior lines are set in each product's indication entries"],
            "colour": ["is not a known threshold"]}


class TestOptionalGroups:
    @pytest.mark.parametrize("group", list(OPTIONAL_GROUPS))
    def test_a_group_is_held_whole_or_not_at_all(self, group):
        data = group_add(default_ruleset(), group)
        assert groups_held(data) == [group]
        assert ruleset_errors(data, publishable=False) == {}
        assert group_remove(data, group) == default_ruleset()

    def test_part_of_a_group_is_refused_naming_the_keys_missing(self):
        data = without(group_add(default_ruleset(), "corrected tocilizumab dosing"),
                       "tocilizumab_low_weight_below_kg", "tocilizumab_low_weight_mg_per_kg")
        errors = ruleset_errors(data, publishable=False)
        assert set(errors) == {"tocilizumab_low_weight_below_kg", "tocilizumab_low_weight_mg_per_kg"}
        assert errors["tocilizumab_low_weight_below_kg"] == [
            "is missing from the optional group 'corrected tocilizumab dosing': hold all of "
            "tocilizumab_max_doses_total, tocilizumab_low_weight_below_kg, tocilizumab_low_weight_mg_per_kg or none "
            "(missing: tocilizumab_low_weight_below_kg, tocilizumab_low_weight_mg_per_kg)"]

    def test_adding_a_group_adds_its_defaults_and_keeps_values_held(self):
        data = group_add(with_values(default_ruleset(), tocilizumab_max_doses_total=Decimal(5)),
                         "corrected tocilizumab dosing")
        assert data.thresholds["tocilizumab_max_doses_total"] == 5
        assert data.thresholds["tocilizumab_low_weight_below_kg"] == 30
        assert data.thresholds["tocilizumab_low_weight_mg_per_kg"] == 12
        assert group_add(default_ruleset(), "dated ALC").thresholds["alc_max_age_days"] is None

    def test_an_unknown_group_or_rule_is_an_error_of_the_caller(self):
        with pytest.raises(ValueError, match="Unknown optional group"):
            group_add(default_ruleset(), "dated everything")
        with pytest.raises(ValueError, match="Unknown rule codes: astrology"):
            rules_enable(default_ruleset(), ["astrology"])


class TestEnablingAndDisabling:
    def test_enabling_adds_the_rules_thresholds_at_their_defaults(self):
        data = rules_enable(default_ruleset(), ["hepatic_function"])
        assert "hepatic_function" in data.enabled_rules
        assert {key: data.thresholds[key] for key in ("bilirubin_max_umol_l", "bilirubin_gilbert_max_umol_l",
                                                      "transaminases_flag_x_uln",
                                                      "pre_lymphodepletion_tests_max_days")} == {
            "bilirubin_max_umol_l": 34, "bilirubin_gilbert_max_umol_l": 43, "transaminases_flag_x_uln": 4,
            "pre_lymphodepletion_tests_max_days": None}
        assert "spo2_room_air_min_pct" not in data.thresholds

    def test_disabling_keeps_the_values_and_re_enabling_keeps_them(self):
        data = with_values(rules_enable(default_ruleset(), ["active_gvhd"]), gvhd_acute_defer_from_grade=Decimal(3))
        data = rules_disable(data, ["active_gvhd"])
        assert "active_gvhd" not in data.enabled_rules and data.thresholds["gvhd_acute_defer_from_grade"] == 3
        assert rules_enable(data, ["active_gvhd"]).thresholds["gvhd_acute_defer_from_grade"] == 3

    def test_a_disabled_rules_values_are_still_checked_for_range(self):
        data = rules_disable(with_values(rules_enable(default_ruleset(), ["active_gvhd"]),
                                         gvhd_acute_defer_from_grade=Decimal(5)), ["active_gvhd"])
        assert ruleset_errors(data, publishable=False) == {"gvhd_acute_defer_from_grade": [
            "must be between 1 and 4 grade"]}


def _neighbours(spec):
    step = Decimal(1) if spec.kind == "count" else Decimal("0.001")
    return spec.minimum - step, spec.maximum + step


class TestKindsAndRanges:
    """The boundary value itself and its neighbour, for every threshold (held, rule enabled or not)."""

    @pytest.mark.parametrize("spec", THRESHOLDS, ids=lambda spec: spec.key)
    def test_each_bound_is_accepted_and_its_neighbour_refused(self, spec):
        base = everything()
        for bound in (spec.minimum, spec.maximum):
            errors = ruleset_errors(with_values(base, **{spec.key: bound}), publishable=True)
            assert not any("must be between" in message for message in errors.get(spec.key, [])), (spec.key, bound)
        for neighbour in _neighbours(spec):
            errors = ruleset_errors(with_values(base, **{spec.key: neighbour}), publishable=True)
            assert errors[spec.key] == [f"must be between {spec.minimum.normalize():f} and "
                                        f"{spec.maximum.normalize():f} {spec.unit}".rstrip()], (spec.key, neighbour)

    @pytest.mark.parametrize("spec", [spec for spec in THRESHOLDS if spec.kind == "count"], ids=lambda spec: spec.key)
    def test_a_count_with_a_fraction_is_refused(self, spec):
        errors = ruleset_errors(with_values(everything(), **{spec.key: spec.minimum + Decimal("0.5")}),
                                publishable=True)
        assert errors[spec.key] == ["must be a whole number"]
        whole = ruleset_errors(with_values(everything(), **{spec.key: spec.minimum + 1}), publishable=True)
        assert not any("whole number" in message for message in whole.get(spec.key, []))

    @pytest.mark.parametrize("spec", [spec for spec in THRESHOLDS if spec.kind != "count"], ids=lambda spec: spec.key)
    def test_a_decimal_or_percent_keeps_its_fraction(self, spec):
        value = spec.minimum + Decimal("0.5")
        errors = ruleset_errors(with_values(everything(), **{spec.key: value}), publishable=True)
        assert not any("whole number" in message or "between" in message for message in errors.get(spec.key, []))

    def test_a_value_must_be_finite(self):
        errors = ruleset_errors(with_values(default_ruleset(), fever_c=Decimal("NaN")), publishable=False)
        assert errors == {"fever_c": ["must be a finite number"]}


class TestOrderedPairs:
    @pytest.mark.parametrize(("lower", "upper", "strict"), [
        ("life_expectancy_exclude_weeks", "life_expectancy_flag_weeks", True),
        ("tocilizumab_min_doses", "tocilizumab_max_doses", True),
        ("bilirubin_max_umol_l", "bilirubin_gilbert_max_umol_l", True),
        ("tocilizumab_max_doses", "tocilizumab_max_doses_total", False),
    ])
    def test_each_pair_stays_ordered(self, lower, upper, strict):
        base = everything()
        high = base.thresholds[upper]
        equal = ruleset_errors(with_values(base, **{lower: high}), publishable=True)
        above = ruleset_errors(with_values(base, **{lower: high + 1}), publishable=True)
        below = ruleset_errors(with_values(base, **{lower: high - 1}), publishable=True)
        assert lower not in below
        assert lower in above
        assert (lower in equal) == strict

    def test_the_new_pairs_are_checked_with_their_rules_disabled(self):
        data = rules_disable(with_values(rules_enable(default_ruleset(), ["hepatic_function"]),
                                         bilirubin_max_umol_l=Decimal(50)), ["hepatic_function"])
        assert ruleset_errors(data, publishable=False) == {"bilirubin_max_umol_l": [
            "must be below 'With Gilbert's syndrome, bilirubin must be below' (43)"]}
        data = group_add(with_values(default_ruleset(), tocilizumab_max_doses=Decimal(5)),
                         "corrected tocilizumab dosing")
        assert ruleset_errors(data, publishable=False) == {"tocilizumab_max_doses": [
            "must be at most 'Tocilizumab maximum number of doses in total' (4)"]}

    def test_a_pair_with_a_value_to_be_entered_is_not_compared(self):
        data = with_values(everything(), bilirubin_gilbert_max_umol_l=None, bilirubin_max_umol_l=Decimal(999))
        assert ruleset_errors(data, publishable=False) == {}

    def test_the_old_set_validation_knows_the_new_pairs(self):
        assert threshold_set_errors({**default_ruleset().thresholds, "tocilizumab_max_doses_total": Decimal(2)}) == {
            "tocilizumab_max_doses": ["must be at most 'Tocilizumab maximum number of doses in total' (2)"]}


def product(*entries, code="lisocabtagene_maraleucel"):
    return ProductSpec(code, "Breyanzi", "CD19", indications=entries)


class TestProductData:
    def test_version_1_products_are_valid(self):
        assert all(product_errors(spec) == {} for spec in DEFAULT_PRODUCTS)

    def test_every_problem_of_5_4_is_named_by_its_path(self):
        spec = product(
            IndicationEntry("lbcl", (), min_age_years=Decimal(30), max_age_years=Decimal(29)),
            IndicationEntry("lbcl", (Pathway(),)),
            IndicationEntry("leukaemia", (Pathway(),)),
            IndicationEntry("mcl", (
                Pathway(label="one", required_drug_classes=frozenset({"magic"})),
                Pathway(label="", first_line_response_in=frozenset(), disease_status_in=frozenset({"remission"})),
            )),
            IndicationEntry("cll", (Pathway(disease_status_in=frozenset(), first_line_response_in=frozenset({"x"})),)),
        )
        assert product_errors(spec) == {
            "indications[0].min_age_years": ["must not be above the maximum age"],
            "indications[0].pathways": ["needs at least one pathway"],
            "indications[1].diagnosis": ["repeats the diagnosis of indications[0]: one entry per diagnosis"],
            "indications[2].diagnosis": ["is not a known diagnosis (leukaemia)"],
            "indications[3].pathways[0].required_drug_classes": ["holds unknown drug classes: magic"],
            "indications[3].pathways[1].label": ["is required when the entry has more than one pathway"],
            "indications[3].pathways[1].first_line_response_in": ["is empty: use null when the condition is not set"],
            "indications[3].pathways[1].disease_status_in": [
                "holds unknown values: remission (allowed: relapsed, refractory)"],
            "indications[4].pathways[0].first_line_response_in": [
                "holds unknown values: x (allowed: refractory, relapse_within_12_months, relapse_after_12_months)"],
            "indications[4].pathways[0].disease_status_in": ["is empty: use null when the condition is not set"],
        }

    def test_equal_ages_and_an_empty_label_in_a_single_pathway_are_allowed(self):
        spec = product(IndicationEntry("b_all", (Pathway(),), min_age_years=Decimal(18), max_age_years=Decimal(18)))
        assert product_errors(spec) == {}

    def test_minimums_stay_in_range(self):
        spec = product(IndicationEntry("lbcl", (Pathway(label="a", min_prior_lines=21),
                                                Pathway(label="b", min_prior_lines=20, min_relapse_number=0))))
        assert product_errors(spec) == {
            "indications[0].pathways[0].min_prior_lines": ["must be a whole number from 0 to 20, or null"],
            "indications[0].pathways[1].min_relapse_number": ["must be a whole number from 1 to 20, or null"]}

    def test_the_rule_sets_errors_carry_the_products_path(self):
        data = replace(default_ruleset(), products={
            **default_ruleset().products, "lisocabtagene_maraleucel": product(IndicationEntry("lbcl", ()))})
        assert ruleset_errors(data, publishable=False) == {
            "products.lisocabtagene_maraleucel.indications[0].pathways": ["needs at least one pathway"]}

    def test_a_product_code_outside_the_catalogue_is_refused(self):
        data = replace(default_ruleset(), products={**default_ruleset().products,
                                                    "unknown_cel": product(code="unknown_cel")})
        assert ruleset_errors(data, publishable=False) == {"products.unknown_cel": [
            "is not a product of the catalogue"]}
