"""Physician review: decisions, the signature's meaning that follows from them, bound to what it
signs, voiding and carry-over."""

from __future__ import annotations

import io
import logging

import pytest
from django.urls import reverse
from pypdf import PdfReader

from eligibility.common.text import FREE_TEXT_MAX
from eligibility.models import Assessment, Disposition, Evaluation, SignOff
from eligibility.patients import services
from eligibility.review import services as review
from eligibility.review.handoffs import services as handoffs
from eligibility.review.selectors import physician_queue
from tests.factories import PASSWORD, SCREENING_TO_REVIEW, PatientFactory, UserFactory
from tests.pages import element, elements

pytestmark = pytest.mark.django_db


def _form_actions(page, evaluation) -> list[str]:
    """Where the page's forms about ``evaluation`` post to (decisions on its items, its signature; not the
    notes and questions beside the items)."""
    return [form.attrs["action"] for form in elements(page, tag="form")
            if str(evaluation.public_id) in form.attrs.get("action", "")
            and not form.attrs["action"].endswith(("/notes/", "/questions/"))]


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


def test_sign_off_is_refused_while_a_flag_is_not_acknowledged(reviewed, physician):
    _, evaluation = reviewed
    review.disposition_record(evaluation=evaluation, code="viral_infection", kind="accepted", by=physician)
    with pytest.raises(review.ReviewRefused, match="still open: Hepatitis B"):
        review.signoff_create(evaluation=evaluation, password=PASSWORD, by=physician)
    assert not SignOff.objects.exists()


def test_a_blocking_item_cannot_be_acknowledged_and_a_flag_cannot_be_accepted(reviewed, physician):
    _, evaluation = reviewed
    with pytest.raises(review.ReviewRefused, match="finding accepted or overridden") as refused:
        review.disposition_record(evaluation=evaluation, code="viral_infection", kind="acknowledged", by=physician)
    assert refused.value.field == "kind"
    with pytest.raises(review.ReviewRefused, match="takes: acknowledged"):
        review.disposition_record(evaluation=evaluation, code="hbv", kind="accepted", by=physician)
    assert not Disposition.objects.exists()


def test_accepting_a_deferral_signs_not_approved_deferred(reviewed, physician):
    _, evaluation = reviewed
    review.disposition_record(evaluation=evaluation, code="viral_infection", kind="accepted", by=physician)
    review.disposition_record(evaluation=evaluation, code="hbv", kind="acknowledged", by=physician)
    signoff = review.signoff_create(evaluation=evaluation, password=PASSWORD, by=physician)
    assert signoff.decision == SignOff.Decision.DEFERRED
    assert signoff.meaning == ("Not approved: deferred at screening until resolved: Viral infection. "
                               "Back to the coordinator.")
    assert review.signoff_verify(signoff)
    # The meaning is bound by the hash: changing it breaks the verification.
    SignOff.objects.filter(pk=signoff.pk).update(decision=SignOff.Decision.APPROVED)
    signoff.refresh_from_db()
    assert not review.signoff_verify(signoff)


def test_accepting_an_exclusion_signs_not_eligible_and_closes_the_work_up(coordinator, physician):
    patient = PatientFactory(by=coordinator)
    evaluation = save(patient, coordinator, **dict(SCREENING_TO_REVIEW, ecog=2,
                                                   infections=dict(SCREENING_TO_REVIEW["infections"], viral="none")))
    statuses = {item["code"]: item["status"] for item in evaluation.checklist["items"] if item["status"] != "pass"}
    assert statuses["performance_status"] == "exclude"
    review.disposition_record(evaluation=evaluation, code="performance_status", kind="accepted", by=physician)
    review.disposition_record(evaluation=evaluation, code="hbv", kind="acknowledged", by=physician)
    signoff = review.signoff_create(evaluation=evaluation, password=PASSWORD, by=physician)
    assert signoff.decision == SignOff.Decision.NOT_ELIGIBLE
    assert signoff.meaning.startswith("Not eligible: Performance status (finding accepted).")
    # Closed: the coordinator's save is refused and nothing changes.
    with pytest.raises(services.WorkupClosed, match="closed as not eligible by Robin Lee"):
        save(patient, coordinator, ecog=1)
    assert Assessment.objects.get(patient=patient).current_evaluation == evaluation
    # A physician reopens it with a justification: the signature is voided, the data can change.
    with pytest.raises(review.ReviewRefused, match="justification"):
        review.workup_reopen(assessment=evaluation.assessment, justification="  ", by=physician)
    review.workup_reopen(assessment=evaluation.assessment, justification="ECOG re-assessed", by=physician)
    signoff.refresh_from_db()
    assert signoff.is_void and signoff.void_reason == "Work-up reopened by Robin Lee: ECOG re-assessed"
    assert save(patient, coordinator, ecog=1) != evaluation


def test_overriding_every_blocking_item_approves_and_names_the_overrides(reviewed, physician):
    _, evaluation = reviewed
    review.disposition_record(evaluation=evaluation, code="viral_infection", kind="overridden",
                              reason_code="clinical_judgement", justification="Resolved", by=physician)
    review.disposition_record(evaluation=evaluation, code="hbv", kind="acknowledged", by=physician)
    meaning = review.signature_meaning(evaluation, evaluation.dispositions.all())
    assert (meaning.decision, meaning.overridden, meaning.undecided) == ("approved", ("Viral infection",), ())
    signoff = review.signoff_create(evaluation=evaluation, password=PASSWORD, by=physician)
    assert signoff.meaning == ("Approved to proceed to leukapheresis by physician override of 1 criterion: "
                               "Viral infection")


def test_a_signature_made_before_decisions_had_meanings_still_verifies(reviewed, physician):
    """Signatures of hash format 1 (before migration 0012) verify as they were made."""
    _, evaluation = reviewed
    acknowledged = Disposition.objects.create(
        evaluation=evaluation, code="viral_infection", status="defer", item_inputs={}, kind="acknowledged",
        decided_by=physician, decided_by_name="Robin Lee", decided_at=evaluation.created_at)
    old = SignOff.objects.create(
        assessment=evaluation.assessment, evaluation=evaluation, stage="screening", hash_version=1,
        meaning="Reviewed and approved to proceed to leukapheresis", signer=physician, signer_name="Robin Lee",
        signed_at=evaluation.created_at, content_hash=review.content_hash(evaluation, [acknowledged], version=1))
    assert old.decision == SignOff.Decision.APPROVED
    assert review.signoff_verify(old)
    # ... and an acknowledgement of a blocking item no longer counts as a decision for a new signature.
    assert review.signature_meaning(evaluation, [acknowledged]).undecided == ("Viral infection", "Hepatitis B")


def test_a_justification_has_a_maximum_length(reviewed, physician):
    _, evaluation = reviewed
    longest = "x" * FREE_TEXT_MAX
    review.disposition_record(evaluation=evaluation, code="viral_infection", kind="overridden",
                              reason_code="other", justification=longest, by=physician)
    with pytest.raises(review.ReviewRefused, match="At most 2,000 characters") as refused:
        review.disposition_record(evaluation=evaluation, code="viral_infection", kind="overridden",
                                  reason_code="other", justification=longest + "x", by=physician)
    assert refused.value.field == "justification"
    assert Disposition.objects.get().justification == longest


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
    assert signoff.meaning == ("Approved to proceed to leukapheresis by physician override of 1 criterion: "
                               "Viral infection")
    assert signoff.signer_name == "Robin Lee"
    assert review.signoff_verify(signoff)
    evaluation.refresh_from_db()
    assert evaluation.overall == "deferred"  # the engine's result is untouched
    client.force_login(physician)
    page = client.get(reverse("checklist", args=[patient.public_id])).content.decode()
    assert "Defer by rule; overridden by Robin Lee (Data verified elsewhere): PCR negative on 12 Nov" in page
    assert ("Approved to proceed to leukapheresis by physician override of 1 criterion: Viral infection."
            in page)
    assert "Result by rule: Deferred." in page
    assert "verified, unchanged since signing" in page


def decide_all(evaluation, physician, blocking="accepted"):
    """Acknowledge the flags and accept (or override) the blocking items."""
    for item in evaluation.checklist["items"]:
        if item["status"] == "flag":
            review.disposition_record(evaluation=evaluation, code=item["code"], kind="acknowledged", by=physician)
        elif item["status"] in ("defer", "exclude", "missing"):
            review.disposition_record(evaluation=evaluation, code=item["code"], kind=blocking, by=physician,
                                      reason_code="other", justification="Checked")


def test_wrong_password_is_refused_and_logged_without_identifiers(reviewed, physician, caplog):
    patient, evaluation = reviewed
    decide_all(evaluation, physician)
    with caplog.at_level(logging.WARNING, logger="eligibility.review"), pytest.raises(review.WrongPassword):
        review.signoff_create(evaluation=evaluation, password="not-the-password", by=physician)
    assert not SignOff.objects.exists()
    assert "wrong password" in caplog.text
    assert patient.study_id not in caplog.text


def test_a_tampered_snapshot_is_detected(reviewed, physician, client):
    patient, evaluation = reviewed
    decide_all(evaluation, physician)
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
    assert "HBV antiviral prophylaxis in place" in signoff.void_reason and "Casey Jones" in signoff.void_reason
    assert "infections." not in signoff.void_reason  # the label, not the case key
    carried = {d.code: d for d in current.dispositions.all()}
    assert set(carried) == {"viral_infection"}  # unchanged finding kept, changed one reopened
    assert carried["viral_infection"].carried_over_from.evaluation == evaluation
    assert carried["viral_infection"].justification == "Resolving"
    # The signature ended the hand-off: back in the queue when the coordinator marks the stage ready again.
    assert not physician_queue().filter(pk=current.pk).exists()
    handoffs.ready_mark(assessment=Assessment.objects.get(patient=patient), by=coordinator)
    queued = physician_queue().get(pk=current.pk)
    assert queued.undecided == 1  # hbv (now defer) needs a new decision
    assert queued.assessment.patient.initials == "AB"  # the queue shows initials beside the identifier


def test_queue_lists_checklists_marked_ready_oldest_first(coordinator):
    first, unmarked, second = (PatientFactory(by=coordinator) for _ in range(3))
    for patient in (second, first):
        handoffs.ready_mark(assessment=patient.assessment, by=coordinator)
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
    response = client.get(reverse("checklist", args=[patient.public_id]))
    assert response.status_code == 200 and "signoff_form" not in response.context
    assert not [item for item in response.context["view"]["all_items"] if item.get("form")]
    assert _form_actions(response.content, evaluation) == []  # neither a decision nor a signature form is offered


def test_physician_reviews_and_signs_through_the_pages(reviewed, client, physician):
    patient, evaluation = reviewed
    client.force_login(physician)
    page = client.get(reverse("checklist", args=[patient.public_id]))
    assert "password" in page.context["signoff_form"].fields
    decided = [item["code"] for item in page.context["view"]["all_items"] if item.get("form")]
    assert set(_form_actions(page.content, evaluation)) == {
        *(reverse("disposition", args=[evaluation.public_id, code]) for code in decided),
        reverse("dispositions_bulk", args=[evaluation.public_id, "acknowledge-flags"]),  # one undecided flag
        reverse("sign_off", args=[evaluation.public_id])}
    assert {"viral_infection", "hbv"} <= set(decided)
    assert element(page.content, tag="input", type="password", name="password")
    client.post(reverse("disposition", args=[evaluation.public_id, "viral_infection"]),
                {"viral_infection-kind": "overridden", "viral_infection-reason_code": "other",
                 "viral_infection-justification": "Treated, afebrile 5 days"})
    client.post(reverse("disposition", args=[evaluation.public_id, "hbv"]), {"hbv-kind": "acknowledged"})
    refused = client.post(reverse("sign_off", args=[evaluation.public_id]), {"password": "wrong"})
    assert refused.status_code == 400
    assert refused.context["signoff_form"].errors["password"] == ["The password is not correct; nothing was signed."]
    assert not SignOff.objects.exists()
    client.post(reverse("sign_off", args=[evaluation.public_id]), {"password": PASSWORD})
    assert SignOff.objects.get().evaluation == evaluation


def test_a_save_that_changes_nothing_keeps_the_signature(reviewed, physician, coordinator):
    patient, evaluation = reviewed
    decide_all(evaluation, physician, blocking="overridden")
    signoff = review.signoff_create(evaluation=evaluation, password=PASSWORD, by=physician)
    assert save(patient, coordinator, ecog=1) == evaluation  # same value as before
    signoff.refresh_from_db()
    assert not signoff.is_void
    assert Assessment.objects.get(patient=patient).current_evaluation == evaluation


def test_the_patient_page_names_the_standing_signature_and_not_one_voided(reviewed, physician, coordinator, client):
    """The page's first query finds the signature (its part is read); voided by a later edit, the
    page says so no longer."""
    patient, evaluation = reviewed
    review.disposition_record(evaluation=evaluation, code="viral_infection", kind="overridden",
                              reason_code="trial_protocol_allows", justification="Protocol 7.2 allows", by=physician)
    review.disposition_record(evaluation=evaluation, code="hbv", kind="acknowledged", by=physician)
    client.force_login(coordinator)
    url = reverse("patient_detail", args=[patient.public_id])
    assert "Signed by" not in client.get(url).content.decode()
    review.signoff_create(evaluation=evaluation, password=PASSWORD, by=physician)
    assert "Signed by Robin Lee" in client.get(url).content.decode()
    save(patient, coordinator, ecog=2)  # a new checklist: the signature no longer stands
    assert "Signed by" not in client.get(url).content.decode()


def test_the_pdf_shows_exactly_what_was_signed(reviewed, physician, coordinator, client):
    patient, evaluation = reviewed
    review.disposition_record(evaluation=evaluation, code="viral_infection", kind="overridden",
                              reason_code="trial_protocol_allows", justification="Protocol 7.2 allows", by=physician)
    review.disposition_record(evaluation=evaluation, code="hbv", kind="acknowledged", by=physician)
    signoff = review.signoff_create(evaluation=evaluation, password=PASSWORD, by=physician)
    save(patient, coordinator, ecog=2)  # a later edit voids it; the PDF still shows what was signed
    client.force_login(coordinator)
    response = client.get(reverse("signoff_pdf", args=[signoff.public_id]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert patient.study_id not in reverse("signoff_pdf", args=[signoff.public_id])  # named in the file, not the URL
    assert response["Content-Disposition"].startswith(f'attachment; filename="voided-checklist-{patient.study_id}-')
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    text = " ".join(text.split())
    assert "Signed by Robin Lee" in text
    assert "Approved to proceed to leukapheresis by physician override of 1 criterion: Viral infection." in text
    assert "Result by rule: Deferred; approved by physician override of 1 criterion: Viral infection." in text
    assert "Rule set: Default (source documents), version 1" in text
    assert "overridden by Robin Lee (Trial protocol allows): Protocol 7.2 allows" in text
    assert "VOID" in text and "ECOG performance status" in text
    assert "ECOG 1 is below 2." in text  # the signed evaluation, not the edited one
    for item in evaluation.checklist["items"]:
        assert item["title"] in text, item["title"]


def test_a_refused_override_keeps_what_was_typed_beside_the_item(reviewed, client, physician):
    patient, evaluation = reviewed
    client.force_login(physician)
    typed = "PCR negative on 12 Nov, repeat pending"
    response = client.post(reverse("disposition", args=[evaluation.public_id, "viral_infection"]),
                           {"viral_infection-kind": "overridden", "viral_infection-justification": typed})
    assert response.status_code == 400
    # Kept in the form beside the item.
    assert element(response.content, tag="textarea", name="viral_infection-justification").text == typed
    form = response.context["view"]["all_items"]
    item = next(item for item in form if item["code"] == "viral_infection")
    assert item["form"].errors == {"reason_code": ["An override needs a reason: choose one."]}
    # An error message at the top links to the item, whose decision is still open.
    [alert] = elements(response.content, cls="alert-danger", role="status")
    assert alert.text.startswith(item["title"])
    assert [link.attrs["href"] for link in elements(response.content, tag="a", href="#item-viral_infection")]
    assert element(response.content, id="item-viral_infection")
    assert not Disposition.objects.exists()


def test_a_past_checklist_shows_only_its_own_signatures(reviewed, physician, coordinator, client):
    patient, first = reviewed
    decide_all(first, physician, blocking="overridden")
    first_signoff = review.signoff_create(evaluation=first, password=PASSWORD, by=physician)
    second = save(patient, coordinator, ecog=0)
    decide_all(second, physician, blocking="overridden")
    second_signoff = review.signoff_create(evaluation=second, password=PASSWORD, by=physician)
    third = save(patient, coordinator, ecog=1)  # voids the second signature
    client.force_login(physician)
    first_page = client.get(reverse("evaluation_detail", args=[first.public_id]))
    assert [s.pk for s in first_page.context["signoffs"]] == [first_signoff.pk]
    second_page = client.get(reverse("evaluation_detail", args=[second.public_id]))
    assert [s.pk for s in second_page.context["signoffs"]] == [second_signoff.pk]
    current_page = client.get(reverse("checklist", args=[patient.public_id]))
    assert current_page.context["evaluation"] == third and current_page.context["signoffs"] == []
    assert str(second_signoff.public_id) not in first_page.content.decode()
