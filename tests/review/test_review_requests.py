"""A new rule-set version and signed checklists: pinned, a review request opened, and the
physician's decision (keep with a justification, or re-evaluate and sign again), service and pages."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.urls import reverse

from eligibility.models import Assessment, Evaluation, ReviewRequest
from eligibility.patients import services
from eligibility.review import reevaluation
from eligibility.review import services as review
from eligibility.review.handoffs import services as handoffs
from eligibility.review.presenters import checklist_view_model
from eligibility.review.selectors import physician_queue
from eligibility.rulesets import preview
from eligibility.rulesets import services as rulesets
from tests.conftest import EXAMPLES_DIR
from tests.factories import PASSWORD, PatientFactory, UserFactory
from tests.rulesets.previews import previewed

pytestmark = pytest.mark.django_db

CLEAN = {key: value for key, value in json.loads((EXAMPLES_DIR / "01-clean.json").read_text())["case"].items()
         if key not in ("case_id", "stage")}


def signed_before_apheresis(coordinator, physician, study_id="SIGNED-1", **changes):
    """Signed off before leukapheresis with ALC 150 cells/uL (flag, acknowledged) and HBV positive
    with prophylaxis (flag, acknowledged: a finding no version below changes)."""
    patient = PatientFactory(by=coordinator, study_id=study_id)
    infections = {**CLEAN["infections"], "hbv": "positive", "hbv_prophylaxis": True}
    evaluation = services.assessment_update(
        assessment=patient.assessment, stage="pre_apheresis", revision=patient.assessment.revision, by=coordinator,
        changes={**CLEAN, "alc": {"value": 150, "unit": "cells/uL"}, "infections": infections, **changes})
    for code in ("alc", "hbv"):
        review.disposition_record(evaluation=evaluation, code=code, kind="acknowledged", by=physician)
    signoff = review.signoff_create(evaluation=evaluation, password=PASSWORD, by=physician)
    return patient, evaluation, signoff


def publish(administrator, **values):
    draft = rulesets.ruleset_draft_create(by=administrator)
    rulesets.ruleset_thresholds_update(draft=draft, values=values, by=administrator)
    published = rulesets.ruleset_publish(draft=draft, note="test", by=administrator)
    return published, reevaluation.reevaluate_open_assessments(ruleset=published, by=administrator)


def lower_alc(administrator):
    """A version whose ALC threshold (0.1 x10^9/L) clears ALC 150 cells/uL = 0.15 x10^9/L."""
    return publish(administrator, alc_min_1e9_per_l=Decimal("0.1"))


def queued(patient) -> bool:
    return physician_queue().filter(assessment__patient=patient).exists()


def test_a_physician_keeps_the_signed_checklist_with_a_justification(administrator, coordinator, physician):
    patient, evaluation, signoff = signed_before_apheresis(coordinator, physician)
    lower_alc(administrator)
    request = patient.assessment.review_requests.get()
    with pytest.raises(review.ReviewRefused, match="needs a justification"):
        review.review_request_keep(request=request, justification="  ", by=physician)
    assert ReviewRequest.objects.get(pk=request.pk).is_open
    review.review_request_keep(request=request, justification="Leukapheresis booked; ALC rechecked.",
                                 by=physician)
    request.refresh_from_db()
    assert (request.resolution, request.resolved_by, request.justification) == (
        "kept", physician, "Leukapheresis booked; ALC rechecked.")
    assert Assessment.objects.get(pk=patient.assessment.pk).current_evaluation == evaluation
    signoff.refresh_from_db()
    assert not signoff.is_void and review.signoff_verify(signoff)
    assert not queued(patient)
    with pytest.raises(review.ReviewRefused, match="resolved already"):
        review.review_request_keep(request=request, justification="again", by=physician)


def test_a_physician_reevaluates_under_the_new_version_and_signs_again(administrator, coordinator, physician):
    patient, evaluation, signoff = signed_before_apheresis(coordinator, physician)
    published, _ = lower_alc(administrator)
    request = patient.assessment.review_requests.get()
    new = review.review_request_reevaluate(request=request, by=physician)
    assert Assessment.objects.get(pk=patient.assessment.pk).current_evaluation == new
    assert (new.ruleset, new.reevaluated_from) == (published, evaluation)
    assert [(change["code"], change["before"], change["after"]) for change in new.changes] == [("alc", "flag", "pass")]
    signoff.refresh_from_db()
    assert signoff.is_void and f"version {published.version}" in signoff.void_reason
    # The HBV finding did not change: its decision carries over; ALC passes now and needs none.
    assert list(new.dispositions.values_list("code", flat=True)) == ["hbv"]
    assert ReviewRequest.objects.get(pk=request.pk).resolution == "reevaluated"
    assert queued(patient)  # unsigned now: awaiting the physician's signature
    view = checklist_view_model(new)
    assert view["changes"] == [{"title": "Absolute lymphocyte count", "before": "Flag", "after": "Pass",
                                "status_changed": True}]
    review.signoff_create(evaluation=new, password=PASSWORD, by=physician)
    assert not queued(patient)
    # The pinned, signed checklist is still shown exactly as it was signed.
    assert Evaluation.objects.get(pk=evaluation.pk).checklist == evaluation.checklist and review.signoff_verify(signoff)


def test_a_reevaluated_checklist_page_reads_the_patient_and_its_checklist_in_one_query(
        client, administrator, coordinator, physician):
    """The page reads the patient, its episode and the current checklist together; of the checklist
    it re-evaluated only what it links to (not that checklist's documents)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    patient, evaluation, _ = signed_before_apheresis(coordinator, physician)
    lower_alc(administrator)
    new = review.review_request_reevaluate(request=patient.assessment.review_requests.get(), by=physician)
    client.force_login(physician)
    url = reverse("checklist", args=[patient.public_id])
    client.get(url)
    with CaptureQueriesContext(connection) as queries:
        page = client.get(url).content.decode()
    assert f"Re-evaluated under rule-set version {new.ruleset.version}" in page
    assert reverse("evaluation_detail", args=[evaluation.public_id]) in page  # the previous one, linked
    documents = [query["sql"] for query in queries if '"checklist"' in query["sql"]]
    assert len(documents) == 1  # one checklist read: the current one, with its patient
    assert '"eligibility_patient"."study_id"' in documents[0] and documents[0].count('"checklist"') == 1
    assert not [query for query in queries if query["sql"].startswith('SELECT "eligibility_assessment"')]


def test_a_checklist_shows_the_signature_its_own_making_voided_and_no_older_one(client, coordinator, physician):
    """A save voids the signature on the checklist it replaces: the new checklist shows that signature
    as the previous checklist's, voided (voided when it was made: the boundary); the checklist after
    it (another save) does not, its previous checklist had no signature to void."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    patient, signed, signoff = signed_before_apheresis(coordinator, physician)
    second = services.assessment_update(assessment=Assessment.objects.get(pk=patient.assessment.pk),
                                        changes={"ecog": 0}, stage="pre_apheresis",
                                        revision=Assessment.objects.get(pk=patient.assessment.pk).revision,
                                        by=coordinator)
    signoff.refresh_from_db()
    assert signoff.voided_at is not None and signoff.voided_at >= second.created_at
    client.force_login(physician)
    url = reverse("checklist", args=[patient.public_id])
    client.get(url)
    with CaptureQueriesContext(connection) as queries:
        page = client.get(url).content.decode()
    assert "Voided sign-off of the previous checklist" in page
    assert reverse("evaluation_detail", args=[signed.public_id]) in page and signoff.signer_name in page
    assert len([query for query in queries if 'FROM "eligibility_signoff"' in query["sql"]]) == 2  # its own, replaced
    # The checklist they were on is read with them, not by a query of its own.
    assert not [query for query in queries if query["sql"].startswith('SELECT "eligibility_evaluation"')]

    third = Assessment.objects.get(pk=patient.assessment.pk)
    services.assessment_update(assessment=third, changes={"ecog": 2}, stage="pre_apheresis", revision=third.revision,
                               by=coordinator)
    assert "Voided sign-off of the previous checklist" not in client.get(url).content.decode()


def test_a_data_change_or_a_later_version_supersedes_an_open_request(administrator, coordinator, physician):
    patient, _, _ = signed_before_apheresis(coordinator, physician)
    lower_alc(administrator)
    first = patient.assessment.review_requests.get()
    publish(administrator, alc_min_1e9_per_l=Decimal("0.12"))  # a later version asks again
    first.refresh_from_db()
    assert first.resolution == "superseded" and "version 3 published" in first.justification
    second = ReviewRequest.objects.get(assessment=patient.assessment, resolved_at__isnull=True)
    assert second.ruleset.version == 3
    assessment = Assessment.objects.get(pk=patient.assessment.pk)
    services.assessment_update(assessment=assessment, changes={"weight_kg": 81}, stage=assessment.stage,
                               revision=assessment.revision, by=coordinator)
    second.refresh_from_db()
    assert second.resolution == "superseded" and "Weight (kg)" in second.justification
    assert not ReviewRequest.objects.filter(resolved_at__isnull=True).exists()


@pytest.mark.parametrize("role", ["Coordinator", "Administrator"])
def test_only_physicians_resolve_requests_also_by_crafted_posts(client, administrator, coordinator, physician, role):
    patient, _, _ = signed_before_apheresis(coordinator, physician)
    lower_alc(administrator)
    request = patient.assessment.review_requests.get()
    client.force_login(UserFactory(role=role))
    assert "review requested by a new rule-set version" in client.get(reverse("worklist")).content.decode()
    page = client.get(reverse("checklist", args=[patient.public_id])).content.decode()
    assert "Physician review requested" in page and "Keep the signed checklist" not in page
    assert client.post(reverse("review_keep", args=[request.public_id]), {"justification": "x"}).status_code == 403
    assert client.post(reverse("review_reevaluate", args=[request.public_id])).status_code == 403
    assert ReviewRequest.objects.get(pk=request.pk).is_open


def test_the_physician_decides_on_the_checklist_page(client, administrator, coordinator, physician):
    patient, _, _ = signed_before_apheresis(coordinator, physician)
    lower_alc(administrator)
    request = patient.assessment.review_requests.get()
    client.force_login(physician)
    worklist = client.get(reverse("worklist")).content.decode()
    assert "review requested by a new rule-set version" in worklist
    page = client.get(reverse("checklist", args=[patient.public_id])).content.decode()
    assert "Re-evaluate under version 2" in page and "Keep the signed checklist" in page
    refused = client.post(reverse("review_keep", args=[request.public_id]), {"justification": ""}, follow=True)
    assert "write the justification" in refused.content.decode()
    kept = client.post(reverse("review_keep", args=[request.public_id]), {"justification": "ALC rechecked"},
                       follow=True).content.decode()
    assert "Signed checklist kept" in kept and "ALC rechecked" in kept
    assert "Keep the signed checklist" not in kept


def test_a_removed_product_excludes_the_case_under_the_new_version(administrator, coordinator):
    # criteria-v2 6.1 rule 1 a: a product code of the catalogue of criteria.md 5 that the rule set
    # leaves out is judged (exclude), not an input error that leaves the checklist unevaluable.
    patient = PatientFactory(by=coordinator, study_id="LISO-1")
    services.assessment_update(assessment=patient.assessment, changes=CLEAN, stage="pre_infusion",
                               revision=patient.assessment.revision, by=coordinator)
    draft = rulesets.ruleset_draft_create(by=administrator)
    rulesets.ruleset_product_remove(draft=draft, code="lisocabtagene_maraleucel", by=administrator)
    impact = preview.impact_preview(draft=draft)
    assert impact.unevaluable == []
    [row] = impact.changed
    assert (row["study_id"], row["after"]) == ("LISO-1", "not_eligible")
    published = rulesets.ruleset_publish(draft=draft, note="withdrawn", by=administrator)
    reevaluation.reevaluate_open_assessments(ruleset=published, by=administrator)
    evaluation = Assessment.objects.get(pk=patient.assessment.pk).current_evaluation
    [item] = [item for item in evaluation.checklist["items"] if item["code"] == "indication"]
    assert (evaluation.ruleset, item["status"]) == (published, "exclude")
    assert "is not in the catalogue of rule set version 2" in item["reason"]


def test_data_a_new_version_cannot_evaluate_are_listed_in_the_preview_and_asked_about_after_publishing(
        administrator, coordinator, physician, client):
    patient = PatientFactory(by=coordinator, study_id="LISO-1")
    services.assessment_update(assessment=patient.assessment, changes=CLEAN, stage="pre_infusion",
                               revision=patient.assessment.revision, by=coordinator)
    before = Assessment.objects.get(pk=patient.assessment.pk).current_evaluation
    # Stored data the engine now refuses (as data saved under an earlier release could be).
    Assessment.objects.filter(pk=patient.assessment.pk).update(data={**CLEAN, "weight_kg": -5})
    draft = rulesets.ruleset_draft_create(by=administrator)
    rulesets.ruleset_thresholds_update(draft=draft, values={"alc_min_1e9_per_l": Decimal("0.15")}, by=administrator)
    impact = preview.impact_preview(draft=draft)
    assert [(row["study_id"], [error["field"] for error in row["errors"]]) for row in impact.unevaluable] == [
        ("LISO-1", ["weight_kg"])]
    client.force_login(administrator)
    shown = previewed(client, draft).content.decode()
    assert "LISO-1</a> AB: Weight" in shown
    assert "<code>" not in shown  # by its label, not the case key
    published = rulesets.ruleset_publish(draft=draft, note="withdrawn", by=administrator)
    outcome = reevaluation.reevaluate_open_assessments(ruleset=published, by=administrator)
    assert outcome.unevaluable == 1
    assessment = Assessment.objects.get(pk=patient.assessment.pk)
    assert assessment.current_evaluation == before  # stays under version 1, never silently changed
    request = assessment.review_requests.get()
    assert "cannot evaluate this assessment (Weight" in request.message
    with pytest.raises(review.ReviewRefused, match="coordinator must correct them first"):
        review.review_request_reevaluate(request=request, by=physician)
    with pytest.raises(review.ReviewRefused, match="no signed checklist to keep"):
        review.review_request_keep(request=request, justification="x", by=physician)
    client.force_login(physician)
    page = client.get(reverse("checklist", args=[patient.public_id])).content.decode()
    assert "cannot evaluate this assessment (Weight" in page
    assert "when the coordinator corrects the data" in page
    assert "Keep the signed checklist" not in page
    # Unsigned: the coordinator's to correct, not the physicians' queue (marked ready or not) ...
    assert not queued(patient)
    handoffs.ready_mark(assessment=assessment, by=coordinator)
    assert queued(patient)  # ... unless a coordinator marks it ready, as any unsigned checklist
    handoffs.ready_mark_withdraw(assessment=assessment, by=coordinator)
    client.force_login(coordinator)
    worklist = client.get(reverse("worklist")).content.decode()
    assert "the new rule-set version cannot evaluate these data: correct them (see the checklist)" in worklist
    assert "signed; review requested" not in worklist
    services.assessment_update(assessment=assessment, changes={"weight_kg": 70},
                               stage=assessment.stage, revision=assessment.revision, by=coordinator)
    request.refresh_from_db()
    assert request.resolution == "superseded"
    assert Assessment.objects.get(pk=assessment.pk).current_evaluation.ruleset == published


def test_the_preview_says_which_signed_checklists_will_be_asked_about(administrator, coordinator, physician, client):
    patient, _, _ = signed_before_apheresis(coordinator, physician)
    PatientFactory(by=coordinator, study_id="UNSIGNED-1")
    draft = rulesets.ruleset_draft_create(by=administrator)
    rulesets.ruleset_thresholds_update(draft=draft, values={"alc_min_1e9_per_l": Decimal("0.15")}, by=administrator)
    impact = preview.impact_preview(draft=draft)
    [row] = impact.changed
    assert (row["study_id"], row["signed"], row["asks"], impact.reviews) == ("SIGNED-1", True, True, 1)
    client.force_login(administrator)
    page = previewed(client, draft).content.decode()
    assert "1 of them is a signed checklist" in page and "physician review requested" in page
    # 0.16: the flag stays; only the reason quotes the new minimum: no review to ask for.
    rulesets.ruleset_thresholds_update(draft=draft, values={"alc_min_1e9_per_l": Decimal("0.16")}, by=administrator)
    impact = preview.impact_preview(draft=draft)
    assert [(row["signed"], row["asks"]) for row in impact.changed] == [(True, False)] and impact.reviews == 0
