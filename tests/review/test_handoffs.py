"""Hand-offs: a stage marked ready for review and what clears it, the physicians' queue it feeds,
notes (append-only) and the question loop (open, answered, closed; a follow-up re-opens), each
step with who and when, each refusal with its reason."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from eligibility.common.text import FREE_TEXT_MAX
from eligibility.models import Assessment, Evaluation, Note, Question, QuestionEntry, ReadyMark
from eligibility.patients import services
from eligibility.patients.presenters import history_rows
from eligibility.review import services as review
from eligibility.review.handoffs import services as handoffs
from eligibility.review.handoffs.selectors import handoff_history
from eligibility.review.selectors import physician_queue
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


def assessment_of(patient) -> Assessment:
    return Assessment.objects.get(patient=patient)


def queued(patient) -> list[Evaluation]:
    return list(physician_queue().filter(assessment__patient=patient))


def decide_all(evaluation, physician):
    review.disposition_record(evaluation=evaluation, code="viral_infection", kind="overridden", by=physician,
                              reason_code="other", justification="Checked")
    review.disposition_record(evaluation=evaluation, code="hbv", kind="acknowledged", by=physician)


@pytest.fixture
def reviewed(coordinator):
    """A patient at screening with a deferred and a flagged item."""
    patient = PatientFactory(by=coordinator, study_id="HAND-001")
    return patient, save(patient, coordinator, **SCREENING_TO_REVIEW)


# --- Ready for review and the queue ------------------------------------------------------------


def test_the_queue_holds_marked_checklists_only(coordinator):
    unmarked, marked = PatientFactory(by=coordinator), PatientFactory(by=coordinator)
    assert physician_queue().count() == 0  # patients with nothing recorded no longer land in the queue
    before = timezone.now()
    mark = handoffs.ready_mark(assessment=marked.assessment, by=coordinator)
    assert (mark.stage, mark.marked_by, mark.marked_by_name, mark.evaluation_id) == (
        "screening", coordinator, "Casey Jones", marked.assessment.current_evaluation_id)
    assert before <= mark.marked_at <= timezone.now() and mark.is_open
    queue = list(physician_queue())
    assert [evaluation.assessment.patient for evaluation in queue] == [marked]
    assert (queue[0].ready_marked_by, queue[0].ready_marked_at) == ("Casey Jones", mark.marked_at)
    assert queued(unmarked) == []


def test_a_stage_is_marked_once_and_refused_while_marked_signed_or_withdrawn(reviewed, coordinator, physician):
    patient, evaluation = reviewed
    handoffs.ready_mark(assessment=patient.assessment, by=coordinator)
    with pytest.raises(handoffs.HandoffRefused, match="Marked ready for review already, by Casey Jones"):
        handoffs.ready_mark(assessment=patient.assessment, by=coordinator)
    assert ReadyMark.objects.count() == 1
    decide_all(evaluation, physician)
    review.signoff_create(evaluation=evaluation, password=PASSWORD, by=physician)
    with pytest.raises(handoffs.HandoffRefused, match="signed already"):
        handoffs.ready_mark(assessment=patient.assessment, by=coordinator)
    other = PatientFactory(by=coordinator)
    services.patient_withdraw(patient=other, reason="Duplicate", by=coordinator)
    with pytest.raises(handoffs.HandoffRefused, match="withdrawn"):
        handoffs.ready_mark(assessment=other.assessment, by=coordinator)


def test_the_database_keeps_one_open_mark_per_assessment(reviewed, coordinator):
    patient, evaluation = reviewed
    handoffs.ready_mark(assessment=patient.assessment, by=coordinator)
    with pytest.raises(IntegrityError), transaction.atomic():
        ReadyMark.objects.create(assessment=patient.assessment, stage="screening", evaluation=evaluation,
                                 marked_by=coordinator, marked_by_name="x", marked_at=timezone.now())
    with pytest.raises(IntegrityError), transaction.atomic():  # cleared needs its reason
        ReadyMark.objects.update(cleared_at=timezone.now())


def test_a_signature_clears_the_mark_and_a_later_change_needs_a_new_one(reviewed, coordinator, physician):
    patient, evaluation = reviewed
    mark = handoffs.ready_mark(assessment=patient.assessment, by=coordinator)
    assert [e.pk for e in queued(patient)] == [evaluation.pk]
    decide_all(evaluation, physician)
    review.signoff_create(evaluation=evaluation, password=PASSWORD, by=physician)
    mark.refresh_from_db()
    assert (mark.clearance, mark.cleared_by, mark.cleared_by_name) == ("signed", physician, "Robin Lee")
    assert mark.cleared_at is not None and queued(patient) == []
    current = save(patient, coordinator, ecog=0)  # voids the signature
    assert queued(patient) == []
    handoffs.ready_mark(assessment=assessment_of(patient), by=coordinator)
    assert [e.pk for e in queued(patient)] == [current.pk]


def test_a_save_of_the_same_stage_keeps_the_mark_and_the_queue_shows_the_new_checklist(reviewed, coordinator):
    patient, evaluation = reviewed
    mark = handoffs.ready_mark(assessment=patient.assessment, by=coordinator)
    newer = save(patient, coordinator, ecog=0)
    mark.refresh_from_db()
    assert mark.is_open and mark.evaluation == evaluation  # the checklist it was marked on, kept
    assert [e.pk for e in queued(patient)] == [newer.pk]


def test_a_save_that_moves_the_stage_on_clears_the_mark(reviewed, coordinator):
    patient, _ = reviewed
    mark = handoffs.ready_mark(assessment=patient.assessment, by=coordinator)
    save(patient, coordinator, stage="pre_apheresis")
    mark.refresh_from_db()
    assert (mark.clearance, mark.cleared_by) == ("stage_changed", coordinator)
    assert queued(patient) == []


def test_the_coordinator_withdraws_the_mark_once(reviewed, coordinator):
    patient, _ = reviewed
    mark = handoffs.ready_mark(assessment=patient.assessment, by=coordinator)
    handoffs.ready_mark_withdraw(assessment=patient.assessment, by=coordinator)
    mark.refresh_from_db()
    assert (mark.clearance, mark.cleared_by_name) == ("withdrawn", "Casey Jones") and queued(patient) == []
    with pytest.raises(handoffs.HandoffRefused, match="not marked ready"):
        handoffs.ready_mark_withdraw(assessment=patient.assessment, by=coordinator)


def test_a_physician_who_reopens_keeps_the_checklist_in_the_queue(coordinator, physician):
    patient = PatientFactory(by=coordinator)
    evaluation = save(patient, coordinator, **dict(SCREENING_TO_REVIEW, ecog=2,  # ECOG 2: exclude
                                                   infections=dict(SCREENING_TO_REVIEW["infections"], viral="none")))
    review.disposition_record(evaluation=evaluation, code="performance_status", kind="accepted", by=physician)
    review.disposition_record(evaluation=evaluation, code="hbv", kind="acknowledged", by=physician)
    handoffs.ready_mark(assessment=patient.assessment, by=coordinator)
    review.signoff_create(evaluation=evaluation, password=PASSWORD, by=physician)
    assert queued(patient) == []
    review.workup_reopen(assessment=assessment_of(patient), justification="Age misread", by=physician)
    mark = ReadyMark.objects.open().get()
    assert (mark.marked_by, mark.stage) == (physician, "screening") and len(queued(patient)) == 1


# --- Notes -------------------------------------------------------------------------------------


def test_notes_on_the_patient_and_on_an_item_keep_who_and_when(reviewed, coordinator, physician):
    patient, evaluation = reviewed
    note = handoffs.note_add(patient=patient, text="  Prefers morning calls  ", by=coordinator)
    assert (note.text, note.code, note.evaluation, note.author_name) == ("Prefers morning calls", "", None,
                                                                       "Casey Jones")
    on_item = handoffs.note_add(patient=patient, evaluation=evaluation, code="hbv", text="Entecavir since May",
                                by=physician)
    assert (on_item.code, on_item.item_title, on_item.evaluation, on_item.author) == (
        "hbv", "Hepatitis B", evaluation, physician)
    assert on_item.created_at >= note.created_at


@pytest.mark.parametrize(("length", "refused"), [(FREE_TEXT_MAX, False), (FREE_TEXT_MAX + 1, True)])
def test_a_note_is_at_most_the_free_text_limit(reviewed, coordinator, length, refused):
    patient, _ = reviewed
    if refused:
        with pytest.raises(handoffs.HandoffRefused, match="At most 2,000 characters") as caught:
            handoffs.note_add(patient=patient, text="x" * length, by=coordinator)
        assert caught.value.field == "text" and not Note.objects.exists()
    else:
        assert len(handoffs.note_add(patient=patient, text="x" * length, by=coordinator).text) == length


def test_a_note_is_refused_empty_on_an_unknown_item_or_another_patients_checklist(reviewed, coordinator):
    patient, evaluation = reviewed
    with pytest.raises(handoffs.HandoffRefused, match="Write the note"):
        handoffs.note_add(patient=patient, text="   ", by=coordinator)
    with pytest.raises(handoffs.HandoffRefused, match="no such item"):
        handoffs.note_add(patient=patient, evaluation=evaluation, code="no_such_rule", text="x", by=coordinator)
    other = PatientFactory(by=coordinator)
    with pytest.raises(handoffs.HandoffRefused, match="not the patient's"):
        handoffs.note_add(patient=other, evaluation=evaluation, code="hbv", text="x", by=coordinator)
    assert not Note.objects.exists()


def test_the_database_refuses_an_item_note_without_its_checklist(reviewed, coordinator):
    patient, _ = reviewed
    with pytest.raises(IntegrityError), transaction.atomic():
        Note.objects.create(patient=patient, code="hbv", text="x", author=coordinator, author_name="x",
                            created_at=timezone.now())


# --- Questions ---------------------------------------------------------------------------------


@pytest.fixture
def asked(reviewed, physician):
    patient, evaluation = reviewed
    return handoffs.question_ask(evaluation=evaluation, code="hbv", text="Which prophylaxis, since when?",
                                 by=physician)


def steps(question) -> list[tuple[str, str, str]]:
    return [(entry.kind, entry.by_name, entry.text) for entry in question.entries.order_by("at", "id")]


def test_a_question_is_asked_on_an_item_of_the_current_checklist(asked, physician):
    assert (asked.state, asked.code, asked.item_title, asked.asked_by, asked.asked_by_name) == (
        "open", "hbv", "Hepatitis B", physician, "Robin Lee")
    assert steps(asked) == [("asked", "Robin Lee", "Which prophylaxis, since when?")]
    assert asked.entries.get().at == asked.asked_at == asked.updated_at


def test_a_question_is_refused_empty_on_an_unknown_item_or_a_replaced_checklist(reviewed, coordinator, physician):
    patient, evaluation = reviewed
    with pytest.raises(handoffs.HandoffRefused, match="Write the question"):
        handoffs.question_ask(evaluation=evaluation, code="hbv", text=" ", by=physician)
    with pytest.raises(handoffs.HandoffRefused, match="no such item"):
        handoffs.question_ask(evaluation=evaluation, code="nothing", text="?", by=physician)
    save(patient, coordinator, ecog=0)
    with pytest.raises(handoffs.HandoffRefused, match="re-evaluated since"):
        handoffs.question_ask(evaluation=evaluation, code="hbv", text="?", by=physician)
    assert not Question.objects.exists() and not QuestionEntry.objects.exists()


def test_the_loop_open_answered_follow_up_answered_closed(asked, coordinator, physician):
    answered = handoffs.question_answer(question=asked, text="Entecavir since 2 May", by=coordinator)
    assert answered.state == "answered"
    with pytest.raises(handoffs.HandoffRefused, match="not open. It is answered now \\(answered by Casey Jones"):
        handoffs.question_answer(question=asked, text="again", by=coordinator)
    reopened = handoffs.question_follow_up(question=asked, text="Dose?", by=physician)
    assert reopened.state == "open"
    with pytest.raises(handoffs.HandoffRefused, match="only an answered question takes a follow-up"):
        handoffs.question_follow_up(question=asked, text="More?", by=physician)
    handoffs.question_answer(question=asked, text="0.5 mg daily", by=coordinator)
    closed = handoffs.question_close(question=asked, by=physician)
    assert closed.state == "closed"
    assert steps(asked) == [("asked", "Robin Lee", "Which prophylaxis, since when?"),
                            ("answered", "Casey Jones", "Entecavir since 2 May"), ("follow_up", "Robin Lee", "Dose?"),
                            ("answered", "Casey Jones", "0.5 mg daily"), ("closed", "Robin Lee", "")]
    times = [entry.at for entry in asked.entries.order_by("at", "id")]
    assert times == sorted(times) and closed.updated_at == times[-1]


def test_an_open_question_can_be_closed_and_nothing_follows_a_close(asked, coordinator, physician):
    handoffs.question_close(question=asked, by=physician)
    with pytest.raises(handoffs.HandoffRefused, match="closed already"):
        handoffs.question_close(question=asked, by=physician)
    with pytest.raises(handoffs.HandoffRefused, match="not open. It is closed now"):
        handoffs.question_answer(question=asked, text="late", by=coordinator)
    with pytest.raises(handoffs.HandoffRefused, match="only an answered question"):
        handoffs.question_follow_up(question=asked, text="?", by=physician)
    assert [kind for kind, _, _ in steps(asked)] == ["asked", "closed"]


def test_an_answer_is_refused_empty_or_over_the_limit_and_for_a_withdrawn_patient(reviewed, asked, coordinator):
    with pytest.raises(handoffs.HandoffRefused, match="Write the answer"):
        handoffs.question_answer(question=asked, text="", by=coordinator)
    with pytest.raises(handoffs.HandoffRefused, match="At most"):
        handoffs.question_answer(question=asked, text="x" * (FREE_TEXT_MAX + 1), by=coordinator)
    services.patient_withdraw(patient=reviewed[0], reason="Duplicate", by=coordinator)
    with pytest.raises(handoffs.HandoffRefused, match="withdrawn"):
        handoffs.question_answer(question=asked, text="x", by=coordinator)
    assert Question.objects.get().state == "open" and QuestionEntry.objects.count() == 1


def test_a_question_stays_with_the_patient_across_re_evaluations(reviewed, asked, coordinator):
    patient, _ = reviewed
    save(patient, coordinator, ecog=0)
    handoffs.question_answer(question=asked, text="Entecavir", by=coordinator)  # answered on the new checklist
    assert Question.objects.get().state == "answered"


def test_the_patient_history_shows_every_hand_off(reviewed, asked, coordinator, physician):
    patient, evaluation = reviewed
    handoffs.ready_mark(assessment=patient.assessment, by=coordinator)
    handoffs.ready_mark_withdraw(assessment=patient.assessment, by=coordinator)
    handoffs.note_add(patient=patient, text="Call first", by=coordinator)
    handoffs.question_answer(question=asked, text="Entecavir", by=coordinator)
    rows = {(row["who"], row["field"], row["new"]) for row in history_rows(assessment_of(patient))}
    assert {("Casey Jones", "Ready for review", "Screening marked ready for review"),
            ("Casey Jones", "Ready for review", "cleared: withdrawn by the coordinator"),
            ("Casey Jones", "Note", "Call first"),
            ("Robin Lee", "Question on Hepatitis B: asked", "Which prophylaxis, since when?"),
            ("Casey Jones", "Question on Hepatitis B: answered", "Entecavir")} <= rows
    assert len(handoff_history(assessment_of(patient))) == 5


def test_the_upgrade_keeps_in_the_queue_what_had_something_recorded(coordinator, physician):
    """Migration 0019 marks the unsigned checklists that were in the queue with data recorded (or a
    signature once); patients with nothing recorded, signed, or withdrawn get no mark."""
    import importlib

    from django.apps import apps

    upgrade = importlib.import_module("eligibility.migrations.0019_handoffs")
    empty, recorded, signed, withdrawn = (PatientFactory(by=coordinator) for _ in range(4))
    save(recorded, coordinator, ecog=1)
    evaluation = save(signed, coordinator, **SCREENING_TO_REVIEW)
    decide_all(evaluation, physician)
    review.signoff_create(evaluation=evaluation, password=PASSWORD, by=physician)
    save(withdrawn, coordinator, ecog=1)
    services.patient_withdraw(patient=withdrawn, reason="Duplicate", by=coordinator)
    upgrade.keep_the_queue(apps, None)
    mark = ReadyMark.objects.get()
    assert (mark.assessment.patient, mark.marked_by_name, mark.evaluation) == (
        recorded, upgrade.UPGRADE_NAME, assessment_of(recorded).current_evaluation)
    assert [e.assessment.patient for e in physician_queue()] == [recorded]
    assert queued(empty) == []
