"""Administrators' rule sets: drafts, validated edits, differences, impact preview and publishing
(service level; the re-evaluation after a publish is in tests/review/test_reevaluation.py)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django_tasks_db.models import DBTaskResult

from eligibility.models import RuleSet, RuleSetReevaluation
from eligibility.patients import services
from eligibility.rules import CaseValidationError, Engine
from eligibility.rulesets import preview
from eligibility.rulesets import selectors as rs_selectors
from eligibility.rulesets import services as rulesets
from tests.conftest import EXAMPLES_DIR
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db

CLEAN = json.loads((EXAMPLES_DIR / "01-clean.json").read_text())["case"]
VERSION_2 = {"proximity_max_minutes": Decimal(120), "driving_restriction_weeks": Decimal(2),
             "proximity_stay_weeks": Decimal(2)}


def patient_at(coordinator, minutes):
    """A clean pre-infusion case living ``minutes`` away from the centre."""
    patient = PatientFactory(by=coordinator, study_id=f"TRAVEL-{minutes}")
    data = {key: value for key, value in CLEAN.items() if key not in ("case_id", "stage")}
    services.assessment_update(assessment=patient.assessment, changes={**data, "travel_time_minutes": minutes},
                               stage="pre_infusion", revision=patient.assessment.revision, by=coordinator)
    return patient


def test_a_draft_copies_the_active_version(administrator):
    draft = rulesets.ruleset_draft_create(by=administrator)
    assert (draft.version, draft.status, draft.based_on.version) == (2, "draft", 1)
    assert rs_selectors.ruleset_differences(draft.based_on, draft) == []
    assert draft.products.count() == 9


@pytest.mark.parametrize(("key", "value", "message"), [
    ("markers_window_days", "30.5", "must be a whole number"),
    ("marrow_blasts_flag_pct", "100.1", "must be between 0 and 100 %"),
    ("fever_c", "34.9", "must be between 35 and 42 C"),
    ("life_expectancy_exclude_weeks", "8", "must be below 'Life expectancy: flag at or below' (8)"),
])
def test_every_kind_of_threshold_is_validated_and_nothing_is_saved(administrator, key, value, message):
    draft = rulesets.ruleset_draft_create(by=administrator)
    with pytest.raises(rulesets.RuleSetRefused) as refused:
        rulesets.ruleset_thresholds_update(draft=draft, values={key: Decimal(value)}, by=administrator)
    assert message in refused.value.errors[key]
    assert rs_selectors.ruleset_differences(draft.based_on, draft) == []


def test_active_and_retired_versions_are_read_only(administrator):
    active = RuleSet.objects.get(version=1)
    with pytest.raises(rulesets.RuleSetRefused, match="read-only"):
        rulesets.ruleset_thresholds_update(draft=active, values={"fever_c": Decimal("38.5")}, by=administrator)
    draft = rulesets.ruleset_draft_create(by=administrator)
    rulesets.ruleset_publish(draft=draft, note="Same values", by=administrator)
    with pytest.raises(rulesets.RuleSetRefused, match="retired and read-only"):
        rulesets.ruleset_thresholds_update(draft=RuleSet.objects.get(version=1), values={}, by=administrator)
    assert RuleSet.objects.get(version=1).thresholds.get(key="fever_c").value == Decimal("38.0")


def test_publish_needs_a_note_and_leaves_exactly_one_active_version(administrator):
    draft = rulesets.ruleset_draft_create(by=administrator)
    with pytest.raises(rulesets.RuleSetRefused, match="change note"):
        rulesets.ruleset_publish(draft=draft, note="  ", by=administrator)
    assert RuleSet.objects.get(status="active").version == 1
    published = rulesets.ruleset_publish(draft=draft, note="June 2025 labels", by=administrator)
    assert list(RuleSet.objects.filter(status="active")) == [published]
    assert RuleSet.objects.get(version=1).status == "retired"
    assert (published.published_by, published.change_note) == (administrator, "June 2025 labels")


def test_preview_flips_exactly_the_patients_61_to_120_minutes_away(administrator, coordinator):
    for minutes in (30, 60, 61, 90, 120, 121):
        patient_at(coordinator, minutes)
    draft = rulesets.ruleset_draft_create(by=administrator)
    rulesets.ruleset_thresholds_update(draft=draft, values=VERSION_2, by=administrator)
    impact = preview.impact_preview(draft=draft)
    assert impact.total == 6
    proximity = {row["study_id"]: [(before, after) for code, before, after in row["items"] if code == "proximity"]
                 for row in impact.changed}
    assert {study_id for study_id, change in proximity.items() if change == [("defer", "pass")]} == {
        "TRAVEL-61", "TRAVEL-90", "TRAVEL-120"}
    # Every patient was counselled under 8 weeks: under 2 weeks the record does not say the patient was
    # told 2 weeks, so the item asks for confirmation (missing) instead of reading "counselled for 2 weeks".
    assert {row["study_id"] for row in impact.changed} == {f"TRAVEL-{m}" for m in (30, 60, 61, 90, 120, 121)}
    assert all(("driving_counselled", "pass", "missing") in row["items"] for row in impact.changed)
    assert sorted(impact.summary) == [("cleared", "incomplete", 2), ("deferred", "incomplete", 3)]


def pathway(**changes):
    return {"label": "", "min_prior_lines": None, "required_drug_classes": [], "first_line_response_in": None,
            "disease_status_in": None, "min_relapse_number": None, "transplant_ineligible": False,
            "lenalidomide_refractory": False, **changes}


def entry(diagnosis, *pathways, **changes):
    return {"diagnosis": diagnosis, "min_age_years": None, "max_age_years": None, "source": "",
            "pathways": list(pathways) or [pathway()], **changes}


KYMRIAH = [entry("b_all", max_age_years=25), entry("fl", pathway(min_prior_lines=2)),
           entry("lbcl", pathway(min_prior_lines=2))]


def product_values(**changes):
    values = {"name": "Kymriah", "target": "CD19", "accepts_cryopreserved": True, "investigational": False,
              "indications": KYMRIAH}
    return {**values, **changes}


def test_version_1_products_carry_the_migrated_entries():
    version_1 = RuleSet.objects.get(version=1)
    assert version_1.products.get(code="tisagenlecleucel").indications == KYMRIAH
    assert version_1.products.get(code="inaticabtagene_autoleucel").indications == [entry("b_all", min_age_years=18)]
    assert version_1.products.get(code="baltaleucel_t").indications == [
        entry("ebv_lymphoma"), entry("npc"), entry("ptld")]
    assert [e["pathways"][0]["min_prior_lines"] for e in version_1.products.get(
        code="lisocabtagene_maraleucel").indications] == [1, 2, 2, 1]  # cll, fl, lbcl, mcl


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"indications": []}, "indications", "add at least one indication"),
    ({"target": " "}, "target", "is required"),
    ({"target": "T" * 21}, "target", "at most 20 characters"),
    ({"name": "N" * 101}, "name", "at most 100 characters"),
    ({"indications": [entry("b_all", pathways=[])]}, "indications[0].pathways", "add at least one pathway"),
    ({"indications": [entry("fl"), entry("fl")]}, "indications[1].diagnosis", "one per diagnosis"),
    ({"indications": [entry("fl", min_age_years=18, max_age_years=17)]}, "indications[0].min_age_years",
     "must be at most the maximum age"),
    ({"indications": [entry("fl", max_age_years=121)]}, "indications[0].max_age_years", "between 0 and 120"),
    ({"indications": [entry("xyz")]}, "indications[0].diagnosis", "unknown diagnosis: xyz"),
    ({"indications": [entry("fl", pathway(required_drug_classes=["statin"]))]},
     "indications[0].pathways[0].required_drug_classes", "unknown: statin"),
    ({"indications": [entry("fl", pathway(first_line_response_in=["cured"]))]},
     "indications[0].pathways[0].first_line_response_in", "unknown: cured"),
    ({"indications": [entry("fl", pathway(disease_status_in=["remission"]))]},
     "indications[0].pathways[0].disease_status_in", "unknown: remission"),
    ({"indications": [entry("fl", pathway(first_line_response_in=[]))]},
     "indications[0].pathways[0].first_line_response_in", "choose at least one"),
    ({"indications": [entry("fl", pathway(disease_status_in=[]))]},
     "indications[0].pathways[0].disease_status_in", "choose at least one"),
    ({"indications": [entry("fl", pathway(label="a"), pathway(label=" "))]}, "indications[0].pathways[1].label",
     "name each pathway"),
    ({"indications": [entry("fl", pathway(min_prior_lines=21))]}, "indications[0].pathways[0].min_prior_lines",
     "between 0 and 20"),
    ({"indications": [entry("fl", pathway(min_relapse_number=0))]},
     "indications[0].pathways[0].min_relapse_number", "between 1 and 20"),
])
def test_product_values_are_validated_and_nothing_is_saved(administrator, changes, field, message):
    draft = rulesets.ruleset_draft_create(by=administrator)
    with pytest.raises(rulesets.RuleSetRefused) as refused:
        rulesets.ruleset_product_update(draft=draft, code="tisagenlecleucel", by=administrator,
                                        **product_values(**changes))
    assert any(message in problem for problem in refused.value.errors[field]), refused.value.errors
    assert rs_selectors.ruleset_differences(draft.based_on, draft) == []


def test_the_boundaries_of_product_data_are_accepted(administrator):
    draft = rulesets.ruleset_draft_create(by=administrator)
    boundary = [entry("b_all", pathway(label="refractory", disease_status_in=["refractory"]),
                      pathway(label="second relapse", disease_status_in=["relapsed"], min_relapse_number=20),
                      min_age_years=18, max_age_years=18),
                entry("mzl", pathway(min_prior_lines=0, first_line_response_in=["relapse_after_12_months"])),
                entry("cll", pathway(min_prior_lines=20, required_drug_classes=["btk_inhibitor", "bcl2_inhibitor"]))]
    rulesets.ruleset_product_update(draft=draft, code="tisagenlecleucel", by=administrator,
                                    **product_values(name="N" * 100, target="T" * 20, indications=boundary))
    product = draft.products.get(code="tisagenlecleucel")
    assert product.target == "T" * 20
    assert [e["diagnosis"] for e in product.indications] == ["b_all", "cll", "mzl"]  # ordered by diagnosis


def test_a_product_change_shows_in_the_differences_and_the_engine(administrator):
    draft = rulesets.ruleset_draft_create(by=administrator)
    changed = [KYMRIAH[0] | {"max_age_years": 26}, *KYMRIAH[1:]]
    rulesets.ruleset_product_update(draft=draft, code="tisagenlecleucel", by=administrator,
                                    **product_values(indications=changed))
    [difference] = rs_selectors.ruleset_differences(draft.based_on, draft)
    assert (difference.key, difference.before, difference.after) == (
        "indication:tisagenlecleucel:b_all", "age at most 25; no minimum",
        "age at most 26; no minimum")
    assert rs_selectors.ruleset_data(draft).products["tisagenlecleucel"].indications[0].max_age_years == 26
    with pytest.raises(rulesets.RuleSetRefused, match="read-only"):
        rulesets.ruleset_product_update(draft=draft.based_on, code="tisagenlecleucel", by=administrator,
                                        **product_values())


def test_an_indication_edit_made_meanwhile_refuses_the_one_that_never_saw_it(administrator):
    draft = rulesets.ruleset_draft_create(by=administrator)
    shown = list(KYMRIAH)
    rulesets.ruleset_product_update(draft=draft, code="tisagenlecleucel", by=administrator,
                                    shown_indications=shown, **product_values(indications=KYMRIAH[1:]))
    with pytest.raises(rulesets.RuleSetRefused, match="changed by someone else"):
        rulesets.ruleset_product_update(draft=draft, code="tisagenlecleucel", by=administrator,
                                        shown_indications=shown, **product_values(indications=KYMRIAH[:1]))
    assert [e["diagnosis"] for e in draft.products.get(code="tisagenlecleucel").indications] == ["fl", "lbcl"]


NEW_PRODUCT = product_values(name="Example product", target="CD22", indications=[entry("b_all")],
                             accepts_cryopreserved=False)


def test_a_product_is_added_to_a_draft_and_read_by_its_engine(administrator):
    draft = rulesets.ruleset_draft_create(by=administrator)
    rulesets.ruleset_product_add(draft=draft, code="example_product", by=administrator, **NEW_PRODUCT)
    [difference] = rs_selectors.ruleset_differences(draft.based_on, draft)
    assert (difference.key, difference.label, difference.before, difference.after) == (
        "product:example_product", "Product Example product", "absent", "Example product, CD22, B-ALL")
    engine = Engine(rs_selectors.ruleset_data(draft))
    def indication(diagnosis):
        case = engine.parse({"stage": "screening", "product": "example_product", "diagnosis": diagnosis,
                             "disease_status": "refractory", "prior_lines": 3})
        return next(item for item in engine.evaluate(case).items if item.code == "indication")

    assert indication("b_all").status == "pass" and "Example product for" in indication("b_all").reason
    assert indication("lbcl").status == "exclude"
    assert "Example product is not indicated for" in indication("lbcl").reason
    with pytest.raises(CaseValidationError):  # not in the active version's catalogue
        rs_selectors.engine_for(draft.based_on).parse({"stage": "screening", "product": "example_product"})


@pytest.mark.parametrize(("code", "message"), [
    ("Example Product", "lower-case letters"),
    ("1example", "starting with a letter"),
    ("example__product", "single underscores"),
    ("e" * 65, "at most 64 characters"),
    ("tisagenlecleucel", "in this catalogue already"),
])
def test_a_new_product_code_is_validated_and_nothing_is_added(administrator, code, message):
    draft = rulesets.ruleset_draft_create(by=administrator)
    with pytest.raises(rulesets.RuleSetRefused) as refused:
        rulesets.ruleset_product_add(draft=draft, code=code, by=administrator, **NEW_PRODUCT)
    assert any(message in problem for problem in refused.value.errors["code"])
    assert draft.products.count() == 9


def test_the_longest_allowed_code_is_accepted(administrator):
    draft = rulesets.ruleset_draft_create(by=administrator)
    rulesets.ruleset_product_add(draft=draft, code="e" * 64, by=administrator, **NEW_PRODUCT)
    assert draft.products.filter(code="e" * 64).exists()


def test_products_are_removed_from_drafts_only_and_never_the_last(administrator):
    draft = rulesets.ruleset_draft_create(by=administrator)
    for refused_on in (draft.based_on,):
        with pytest.raises(rulesets.RuleSetRefused, match="read-only"):
            rulesets.ruleset_product_remove(draft=refused_on, code="tisagenlecleucel", by=administrator)
        with pytest.raises(rulesets.RuleSetRefused, match="read-only"):
            rulesets.ruleset_product_add(draft=refused_on, code="example_product", by=administrator, **NEW_PRODUCT)
    codes = list(draft.products.values_list("code", flat=True))
    for code in codes[:-1]:
        rulesets.ruleset_product_remove(draft=draft, code=code, by=administrator)
    with pytest.raises(rulesets.RuleSetRefused, match="at least one product"):
        rulesets.ruleset_product_remove(draft=draft, code=codes[-1], by=administrator)
    with pytest.raises(rulesets.RuleSetRefused, match="not in the catalogue"):
        rulesets.ruleset_product_remove(draft=draft, code=codes[0], by=administrator)
    assert list(draft.products.values_list("code", flat=True)) == codes[-1:]
    assert draft.based_on.products.count() == 9


def test_a_draft_is_copied_with_history_naming_its_source(administrator):
    draft = rulesets.ruleset_draft_create(by=administrator)
    copied = draft.thresholds.get(key="fever_c").history.get()
    assert (copied.history_user, copied.history_change_reason) == (administrator, "Copied from version 1")


def test_a_draft_is_discarded_with_its_rows_and_the_history_keeps_them(administrator):
    draft = rulesets.ruleset_draft_create(by=administrator)
    threshold = draft.thresholds.get(key="fever_c")
    rulesets.ruleset_draft_discard(draft=draft, by=administrator)
    assert not RuleSet.objects.filter(pk=draft.pk).exists()
    assert [row.history_type for row in threshold.history.order_by("history_id")] == ["+", "-"]
    assert RuleSet.objects.get(status="active").version == 1


def test_an_active_version_cannot_be_discarded(administrator):
    with pytest.raises(rulesets.RuleSetRefused, match="active and read-only"):
        rulesets.ruleset_draft_discard(draft=RuleSet.objects.get(version=1), by=administrator)
    assert RuleSet.objects.filter(version=1).exists()


def test_unknown_thresholds_are_refused_by_key_and_nothing_is_changed(administrator):
    draft = rulesets.ruleset_draft_create(by=administrator)
    with pytest.raises(rulesets.RuleSetRefused, match="Unknown thresholds") as refused:
        rulesets.ruleset_thresholds_update(draft=draft, values={"fever_c": Decimal("38.5"), "no_such": Decimal("1")},
                                           by=administrator)
    assert refused.value.errors == {"no_such": ["is not a known threshold"]}
    assert draft.thresholds.get(key="fever_c").value == Decimal("38.0")


def test_a_threshold_update_writes_only_changed_values_with_history(administrator):
    draft = rulesets.ruleset_draft_create(by=administrator)
    rulesets.ruleset_thresholds_update(draft=draft, values={"fever_c": Decimal("38.5"), "ecog_below": Decimal("2")},
                                       by=administrator)
    assert draft.thresholds.get(key="fever_c").value == Decimal("38.5")
    assert draft.thresholds.get(key="fever_c").history.count() == 2
    assert draft.thresholds.get(key="ecog_below").history.count() == 1  # the value it had: nothing written


def test_publish_records_the_reevaluation_and_enqueues_it_once_committed(
        administrator, coordinator, django_capture_on_commit_callbacks):
    patient_at(coordinator, 90)
    draft = rulesets.ruleset_draft_create(by=administrator)
    with django_capture_on_commit_callbacks() as callbacks:
        published = rulesets.ruleset_publish(draft=draft, note="Same values", by=administrator)
        assert not DBTaskResult.objects.exists()  # nothing enqueued before the commit
    record = RuleSetReevaluation.objects.get(ruleset=published)
    assert (record.status, record.requested_by, record.done, record.total) == ("queued", administrator, 0, None)
    assert len(callbacks) == 1
    callbacks[0]()
    task = DBTaskResult.objects.get()
    assert task.task_path == "eligibility.review.tasks.reevaluate_after_publish"
    assert task.args_kwargs["kwargs"] == {"reevaluation_id": record.pk}
