"""Rule sets of the clinical-depth catalogue (criteria-v2 2.1-2.3, 2.5): rules enabled per draft,
optional groups, thresholds to be entered, what previewing and publishing need, comparisons by code,
and the evaluation date an evaluation records."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from eligibility.models import Evaluation, RuleSet, RuleSetEvent
from eligibility.patients.services import checklist_changes
from eligibility.rules import THRESHOLDS_BY_KEY, ChecklistItem
from eligibility.rulesets import selectors as rs_selectors
from eligibility.rulesets import services as rulesets
from eligibility.rulesets.presenters import ruleset_edit_rows
from eligibility.rulesets.preview import item_changes
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft(administrator):
    draft = rulesets.ruleset_draft_create(by=administrator)
    rulesets.ruleset_describe(draft=draft, name="Clinical depth", change_note="Why, and the source", by=administrator)
    return RuleSet.objects.get(pk=draft.pk)


def held(draft) -> dict:
    return dict(RuleSet.objects.get(pk=draft.pk).thresholds.values_list("key", "value"))


def test_every_version_enables_version_1s_26_rules_in_catalogue_order(draft):
    version_1 = RuleSet.objects.get(version=1)
    assert len(version_1.enabled_rules) == 26
    assert version_1.enabled_rules[:3] == ["indication", "target_antigen", "prior_targeted_therapy"]
    assert version_1.enabled_rules[-1] == "site_accreditation"
    assert draft.enabled_rules == version_1.enabled_rules  # a draft copies the active version's rules


def test_enabling_a_rule_adds_its_thresholds_at_their_defaults_and_none_to_be_entered(draft, administrator):
    rulesets.ruleset_rule_enable(draft=draft, code="hepatic_function", enabled=True, by=administrator)
    rulesets.ruleset_rule_enable(draft=draft, code="sars_cov_2", enabled=True, by=administrator)
    after = RuleSet.objects.get(pk=draft.pk)
    # In catalogue order: rule 30 before 31, both in the phase before lymphodepletion after rule 20.
    assert after.enabled_rules.index("organ_function") + 1 == after.enabled_rules.index("sars_cov_2")
    assert after.enabled_rules.index("sars_cov_2") + 1 == after.enabled_rules.index("hepatic_function")
    values = held(draft)
    assert (values["bilirubin_max_umol_l"], values["bilirubin_gilbert_max_umol_l"],
            values["transaminases_flag_x_uln"]) == (34, 43, 4)
    assert values["pre_lymphodepletion_tests_max_days"] is None  # default "none": to be entered
    assert rs_selectors.ruleset_data(after).enabled_rules >= {"hepatic_function", "sars_cov_2"}
    actions = list(RuleSetEvent.objects.filter(ruleset=draft).values_list("action", flat=True))
    assert actions[-2:] == ["enabled", "enabled"]
    assert after.revision == draft.revision + 2


def test_disabling_keeps_the_thresholds_and_re_enabling_keeps_the_administrators_values(draft, administrator):
    rulesets.ruleset_rule_enable(draft=draft, code="active_gvhd", enabled=True, by=administrator)
    rulesets.ruleset_thresholds_update(draft=draft, values={"gvhd_acute_defer_from_grade": Decimal(3)},
                                       by=administrator)
    rulesets.ruleset_rule_enable(draft=draft, code="active_gvhd", enabled=False, by=administrator)
    assert "active_gvhd" not in RuleSet.objects.get(pk=draft.pk).enabled_rules
    assert held(draft)["gvhd_acute_defer_from_grade"] == 3  # kept, not read
    rulesets.ruleset_rule_enable(draft=draft, code="active_gvhd", enabled=True, by=administrator)
    assert held(draft)["gvhd_acute_defer_from_grade"] == 3


def test_an_unknown_rule_is_refused_and_read_only_versions_stay(draft, administrator):
    with pytest.raises(rulesets.RuleSetRefused, match="not a rule of the catalogue"):
        rulesets.ruleset_rule_enable(draft=draft, code="no_such_rule", enabled=True, by=administrator)
    with pytest.raises(rulesets.RuleSetRefused, match="read-only"):
        rulesets.ruleset_rule_enable(draft=draft.based_on, code="easix", enabled=True, by=administrator)


def test_an_optional_group_is_added_and_removed_as_a_whole(draft, administrator):
    rulesets.ruleset_group_hold(draft=draft, group="corrected tocilizumab dosing", held=True, by=administrator)
    values = held(draft)
    assert (values["tocilizumab_max_doses_total"], values["tocilizumab_low_weight_below_kg"],
            values["tocilizumab_low_weight_mg_per_kg"]) == (4, 30, 12)
    rulesets.ruleset_group_hold(draft=draft, group="dated ALC", held=True, by=administrator)
    assert held(draft)["alc_max_age_days"] is None  # no default: to be entered
    rulesets.ruleset_group_hold(draft=draft, group="corrected tocilizumab dosing", held=False, by=administrator)
    assert not {"tocilizumab_max_doses_total", "tocilizumab_low_weight_below_kg"} & held(draft).keys()
    assert "tocilizumab_max_doses" in held(draft)  # version 1's own threshold stays
    with pytest.raises(rulesets.RuleSetRefused, match="not an optional group"):
        rulesets.ruleset_group_hold(draft=draft, group="dated nothing", held=True, by=administrator)


def test_holding_part_of_a_group_is_refused_naming_the_missing_keys(draft, administrator):
    rulesets.ruleset_group_hold(draft=draft, group="corrected tocilizumab dosing", held=True, by=administrator)
    draft.thresholds.filter(key="tocilizumab_low_weight_below_kg").delete()  # as a crafted or old row would leave it
    with pytest.raises(rulesets.RuleSetRefused) as refused:
        rulesets.ruleset_thresholds_update(draft=draft, values={"tocilizumab_max_doses_total": Decimal(5)},
                                           by=administrator)
    [problem] = refused.value.errors["tocilizumab_low_weight_below_kg"]
    assert "is missing from the optional group 'corrected tocilizumab dosing'" in problem
    assert held(draft)["tocilizumab_max_doses_total"] == 4


def test_a_draft_saves_values_to_be_entered_but_preview_and_publish_name_each(draft, administrator):
    rulesets.ruleset_rule_enable(draft=draft, code="renal_function", enabled=True, by=administrator)
    rulesets.ruleset_group_hold(draft=draft, group="dated ALC", held=True, by=administrator)
    rulesets.ruleset_thresholds_update(draft=draft, values={"fever_c": None}, by=administrator)  # emptied: allowed
    expected = {"pre_lymphodepletion_tests_max_days", "fludarabine_reduce_below_crcl_ml_min", "alc_max_age_days",
                "fever_c"}
    for what in ("previewed", "published"):
        with pytest.raises(rulesets.RuleSetRefused) as refused:
            rulesets.ruleset_publishable_or_refused(draft=draft, what=what)
        assert set(refused.value.errors) == expected
        for key in expected:
            assert THRESHOLDS_BY_KEY[key].label in str(refused.value)
    with pytest.raises(rulesets.RuleSetRefused, match="to be entered"):
        rulesets.ruleset_publish(draft=draft, by=administrator)
    assert RuleSet.objects.get(pk=draft.pk).status == "draft"
    rulesets.ruleset_thresholds_update(draft=draft, by=administrator, values={
        "pre_lymphodepletion_tests_max_days": Decimal(7), "fludarabine_reduce_below_crcl_ml_min": Decimal(30),
        "alc_max_age_days": Decimal(14), "fever_c": Decimal(38)})
    rulesets.ruleset_publishable_or_refused(draft=draft, what="published")  # nothing left to enter


def test_a_disabled_rules_threshold_to_be_entered_still_blocks_publishing(draft, administrator):
    rulesets.ruleset_rule_enable(draft=draft, code="renal_function", enabled=True, by=administrator)
    rulesets.ruleset_rule_enable(draft=draft, code="renal_function", enabled=False, by=administrator)
    with pytest.raises(rulesets.RuleSetRefused) as refused:
        rulesets.ruleset_publishable_or_refused(draft=draft, what="published")
    assert set(refused.value.errors) == {"pre_lymphodepletion_tests_max_days", "fludarabine_reduce_below_crcl_ml_min"}


def test_publishing_needs_at_least_one_enabled_rule(draft, administrator):
    for code in list(draft.enabled_rules)[1:]:
        rulesets.ruleset_rule_enable(draft=draft, code=code, enabled=False, by=administrator)
    rulesets.ruleset_publishable_or_refused(draft=draft, what="published")  # one rule: allowed
    rulesets.ruleset_rule_enable(draft=draft, code="indication", enabled=False, by=administrator)  # a draft may
    with pytest.raises(rulesets.RuleSetRefused) as refused:
        rulesets.ruleset_publishable_or_refused(draft=draft, what="published")
    assert refused.value.errors == {"enabled_rules": ["must enable at least one rule"]}


@pytest.mark.parametrize(("values", "refused_key"), [
    ({"bilirubin_max_umol_l": Decimal(43), "bilirubin_gilbert_max_umol_l": Decimal(43)}, "bilirubin_max_umol_l"),
    ({"bilirubin_max_umol_l": Decimal("42.999")}, None),
    ({"tocilizumab_max_doses": Decimal(4)}, None),  # equal to the total: allowed (<=)
    ({"tocilizumab_max_doses": Decimal(5)}, "tocilizumab_max_doses"),
])
def test_the_new_ordered_pairs_at_their_boundaries(draft, administrator, values, refused_key):
    rulesets.ruleset_rule_enable(draft=draft, code="hepatic_function", enabled=True, by=administrator)
    rulesets.ruleset_group_hold(draft=draft, group="corrected tocilizumab dosing", held=True, by=administrator)
    rulesets.ruleset_thresholds_update(draft=draft, values={"tocilizumab_max_doses_total": Decimal(4)},
                                       by=administrator)
    if refused_key is None:
        rulesets.ruleset_thresholds_update(draft=draft, values=values, by=administrator)
        assert all(held(draft)[key] == value for key, value in values.items())
    else:
        with pytest.raises(rulesets.RuleSetRefused) as refused:
            rulesets.ruleset_thresholds_update(draft=draft, values=values, by=administrator)
        assert refused_key in refused.value.errors


def test_differences_name_rules_groups_and_values_to_be_entered_in_words(draft, administrator):
    rulesets.ruleset_rule_enable(draft=draft, code="cns_involvement", enabled=True, by=administrator)
    rulesets.ruleset_rule_enable(draft=draft, code="fever", enabled=False, by=administrator)
    rulesets.ruleset_group_hold(draft=draft, group="dated ALC", held=True, by=administrator)
    rulesets.ruleset_rule_enable(draft=draft, code="car_hematotox", enabled=True, by=administrator)
    shown = {change.key: (change.label, change.before, change.after)
             for change in rs_selectors.ruleset_differences(draft.based_on, RuleSet.objects.get(pk=draft.pk))}
    assert shown["rule:cns_involvement"] == ("Rule 27: CNS involvement", "disabled", "enabled")
    assert shown["rule:fever"] == ("Rule 25: Fever", "enabled", "disabled")
    assert shown["group:dated ALC"] == ("Optional group 'dated ALC' (Absolute lymphocyte count)", "not held", "held")
    assert shown["pre_lymphodepletion_tests_max_days"][1:] == ("not held", "to be entered")
    assert shown["hematotox_high_risk_from"][1:] == ("not held", "2 points")
    assert "alc_max_age_days" not in shown  # said by its group's line


def test_the_edits_list_thresholds_added_by_enabling_a_rule(draft, administrator):
    rulesets.ruleset_rule_enable(draft=draft, code="washout", enabled=True, by=administrator)
    rows = {row["what"]: (row["old"], row["new"]) for row in ruleset_edit_rows(draft)}
    assert rows["Last cytotoxic chemotherapy at least this long before leukapheresis"] == (
        "not held", "14 days (Rule 'Washout before leukapheresis' enabled)")


def item(code, status, reason="why"):
    return ChecklistItem(code=code, title=code.title(), phase="screening", status=status, reason=reason, inputs={},
                         source="")


def test_checklists_are_compared_by_code_with_a_rule_on_one_side_a_change():
    before = [item("indication", "pass"), item("age", "pass"), item("fever", "pass")]
    after = [item("indication", "pass"), item("age", "flag"), item("cns_involvement", "missing")]  # catalogue order
    assert item_changes(before, after) == [("age", "pass", "flag"), ("cns_involvement", None, "missing"),
                                           ("fever", "pass", None)]
    changes = checklist_changes(before, after)
    assert [(c["code"], c["before"], c["after"]) for c in changes] == [
        ("age", "pass", "flag"), ("cns_involvement", None, "missing"), ("fever", "pass", None)]
    assert checklist_changes(before, before) == [] and item_changes(before, before) == []


def test_an_evaluation_records_the_date_it_used(coordinator):
    PatientFactory(by=coordinator)
    assert Evaluation.objects.get().as_of == timezone.localdate()
