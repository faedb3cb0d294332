"""Physician review: dispositions, e-signature bound to what it signs, voiding and carry-over."""

from __future__ import annotations

import io
import logging

import pytest
from django.urls import reverse
from pypdf import PdfReader

from eligibility import review, services
from eligibility.models import Assessment, Disposition, Evaluation, SignOff
from eligibility.selectors import physician_queue
from tests.factories import PASSWORD, SCREENING_TO_REVIEW, PatientFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def coordinator():
    return UserFactory(role="Coordinator", first_name="Casey", last_name="Jones")


@pytest.fixture
def physician():
    return UserFactory(role="Physician", first_name="Robin", last_name="Lee")


def save(patient, by, stage="screening", **changes) -> Evaluation:
    assessment = Assessment.objects.get(patient=patient)
    return services.assessment_update(assessment=assessment, changes=changes, stage=stage,
                                      revision=assessment.revision, by=by)


@pytest.fixture
def reviewed(coordinator):
    """A patient at screening whose checklist has one deferred and one flagged item."""
    patient = PatientFactory(by=coordinator)
    evaluation = save(patient, coordinator, **SCREENING_TO_REVIEW)
    statuses = {item["code"]: item["status"] for item in evaluation.checklist["items"]}
    assert (statuses["viral_infection"], statuses["hbv"], evaluation.overall) == ("defer", "flag", "deferred")
    return patient, evaluation


def test_sign_off_is_refused_while_a_blocking_item_has_no_disposition(reviewed, physician):
    _, evaluation = reviewed
    review.disposition_record(evaluation=evaluation, code="hbv", kind="acknowledged", by=physician)
    with pytest.raises(review.ReviewRefused, match="Viral infection"):
        review.signoff_create(evaluation=evaluation, password=PASSWORD, by=physician)
    assert not SignOff.objects.exists()


def test_override_needs_a_reason_and_a_justification(reviewed, physician):
    _, evaluation = reviewed
    with pytest.raises(review.ReviewRefused, match="reason"):
        review.disposition_record(evaluation=evaluation, code="viral_infection", kind="overridden",
                                  justification="PCR negative since", by=physician)
    with pytest.raises(review.ReviewRefused, match="justification"):
        review.disposition_record(evaluation=evaluation, code="viral_infection", kind="overridden",
                                  reason_code="data_verified_elsewhere", justification="   ", by=physician)
    with pytest.raises(review.ReviewRefused, match="Only flagged"):
        review.disposition_record(evaluation=evaluation, code="ecog", kind="acknowledged", by=physician)
    assert not Disposition.objects.exists()


def test_signed_checklist_shows_the_engine_status_and_the_override(reviewed, physician, client):
    patient, evaluation = reviewed
    review.disposition_record(evaluation=evaluation, code="viral_infection", kind="overridden",
                              reason_code="data_verified_elsewhere", justification="PCR negative on 12 Nov",
                              by=physician)
    review.disposition_record(evaluation=evaluation, code="hbv", kind="acknowledged", by=physician)
    signoff = review.signoff_create(evaluation=evaluation, password=PASSWORD, by=physician)
    assert signoff.meaning == "Reviewed and approved to proceed to leukapheresis"
    assert signoff.signer_name == "Robin Lee"
    assert review.signoff_verify(signoff)
    evaluation.refresh_from_db()
    assert evaluation.overall == "deferred"  # the engine's result is untouched
    client.force_login(physician)
    page = client.get(reverse("checklist", args=[patient.public_id])).content.decode()
    assert "Defer by rule; overridden by Robin Lee (Data verified elsewhere): PCR negative on 12 Nov" in page
    assert "Reviewed and approved to proceed to leukapheresis." in page
    assert "verified, unchanged since signing" in page


def test_wrong_password_is_refused_and_logged_without_identifiers(reviewed, physician, caplog):
    patient, evaluation = reviewed
    review.disposition_record(evaluation=evaluation, code="viral_infection", kind="acknowledged", by=physician)
    with caplog.at_level(logging.WARNING, logger="eligibility.review"), pytest.raises(review.WrongPassword):
        review.signoff_create(evaluation=evaluation, password="not-the-password", by=physician)
    assert not SignOff.objects.exists()
    assert "wrong password" in caplog.text
    assert patient.study_id not in caplog.text


def test_a_tampered_snapshot_is_detected(reviewed, physician, client):
    patient, evaluation = reviewed
    review.disposition_record(evaluation=evaluation, code="viral_infection", kind="acknowledged", by=physician)
    signoff = review.signoff_create(evaluation=evaluation, password=PASSWORD, by=physician)
    tampered = dict(evaluation.inputs, ecog=0)
    Evaluation.objects.filter(pk=evaluation.pk).update(inputs=tampered)
    assert not review.signoff_verify(signoff)
    client.force_login(physician)
    assert "DOES NOT MATCH" in client.get(reverse("checklist", args=[patient.public_id])).content.decode()


def test_an_edit_voids_the_sign_off_and_carries_unchanged_dispositions_over(reviewed, physician, coordinator):
    patient, evaluation = reviewed
    review.disposition_record(evaluation=evaluation, code="viral_infection", kind="overridden",
                              reason_code="clinical_judgement", justification="Resolving", by=physician)
    review.disposition_record(evaluation=evaluation, code="hbv", kind="acknowledged", by=physician)
    signoff = review.signoff_create(evaluation=evaluation, password=PASSWORD, by=physician)
    assert not physician_queue().filter(pk=evaluation.pk).exists()

    # The coordinator changes the HBV prophylaxis (hbv item inputs change) and nothing about the virus.
    infections = dict(SCREENING_TO_REVIEW["infections"], hbv_prophylaxis=False)
    current = save(patient, coordinator, infections=infections)

    signoff.refresh_from_db()
    assert signoff.is_void
    assert signoff.voided_by == coordinator
    assert "infections.hbv_prophylaxis" in signoff.void_reason and "Casey Jones" in signoff.void_reason
    carried = {d.code: d for d in current.dispositions.all()}
    assert set(carried) == {"viral_infection"}  # unchanged finding kept, changed one reopened
    assert carried["viral_infection"].carried_over_from.evaluation == evaluation
    assert carried["viral_infection"].justification == "Resolving"
    queued = physician_queue().get(pk=current.pk)
    assert queued.undecided == 1  # hbv (now defer) needs a new decision


def test_queue_lists_unsigned_checklists_oldest_first(coordinator):
    first, second = PatientFactory(by=coordinator), PatientFactory(by=coordinator)
    queue = list(physician_queue())
    assert [evaluation.assessment.patient for evaluation in queue] == [first, second]
    assert all(evaluation.undecided == evaluation.missing_count for evaluation in queue)


@pytest.mark.parametrize("role", ["Coordinator", "Administrator"])
def test_only_physicians_record_dispositions_and_sign_also_on_crafted_posts(reviewed, client, role):
    patient, evaluation = reviewed
    client.force_login(UserFactory(role=role))
    disposition = client.post(reverse("disposition", args=[evaluation.public_id, "viral_infection"]),
                              {"viral_infection-kind": "acknowledged"})
    sign = client.post(reverse("sign_off", args=[evaluation.public_id]), {"password": PASSWORD})
    assert (disposition.status_code, sign.status_code) == (403, 403)
    assert not Disposition.objects.exists() and not SignOff.objects.exists()
    page = client.get(reverse("checklist", args=[patient.public_id])).content.decode()
    assert "Record your decision" not in page and "Your password (to sign)" not in page


def test_physician_reviews_and_signs_through_the_pages(reviewed, client, physician):
    patient, evaluation = reviewed
    client.force_login(physician)
    page = client.get(reverse("checklist", args=[patient.public_id])).content.decode()
    assert "Record your decision" in page and "Your password (to sign)" in page
    client.post(reverse("disposition", args=[evaluation.public_id, "viral_infection"]),
                {"viral_infection-kind": "overridden", "viral_infection-reason_code": "other",
                 "viral_infection-justification": "Treated, afebrile 5 days"})
    refused = client.post(reverse("sign_off", args=[evaluation.public_id]), {"password": "wrong"}, follow=True)
    assert "The password is not correct" in refused.content.decode()
    client.post(reverse("sign_off", args=[evaluation.public_id]), {"password": PASSWORD})
    assert SignOff.objects.get().evaluation == evaluation


def test_a_save_that_changes_nothing_keeps_the_signature(reviewed, physician, coordinator):
    patient, evaluation = reviewed
    review.disposition_record(evaluation=evaluation, code="viral_infection", kind="acknowledged", by=physician)
    signoff = review.signoff_create(evaluation=evaluation, password=PASSWORD, by=physician)
    assert save(patient, coordinator, ecog=1) == evaluation  # same value as before
    signoff.refresh_from_db()
    assert not signoff.is_void
    assert Assessment.objects.get(patient=patient).current_evaluation == evaluation


def test_the_pdf_shows_exactly_what_was_signed(reviewed, physician, coordinator, client):
    patient, evaluation = reviewed
    review.disposition_record(evaluation=evaluation, code="viral_infection", kind="overridden",
                              reason_code="trial_protocol_allows", justification="Protocol 7.2 allows", by=physician)
    signoff = review.signoff_create(evaluation=evaluation, password=PASSWORD, by=physician)
    save(patient, coordinator, ecog=2)  # a later edit voids it; the PDF still shows what was signed
    client.force_login(coordinator)
    response = client.get(reverse("signoff_pdf", args=[signoff.public_id]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert patient.study_id not in response["Content-Disposition"]
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    text = " ".join(text.split())
    assert "Signed by Robin Lee" in text
    assert "Reviewed and approved to proceed to leukapheresis." in text
    assert "Rule set: Default (source documents), version 1" in text
    assert "overridden by Robin Lee (Trial protocol allows): Protocol 7.2 allows" in text
    assert "VOIDED" in text and "ecog" in text
    assert "ECOG 1 is below 2." in text  # the signed evaluation, not the edited one
    for item in evaluation.checklist["items"]:
        assert item["title"] in text, item["title"]
