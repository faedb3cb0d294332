"""Hand-offs reach the audit export: a mark made and cleared, a note, every step of a question,
each with who, when, the patient's opaque identifier and study identifier."""

from __future__ import annotations

import pytest
from django.utils import timezone

from accounts import audit
from eligibility.patients import services
from eligibility.review.handoffs import services as handoffs
from tests.factories import SCREENING_TO_REVIEW, PatientFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_every_hand_off_is_in_the_export():
    coordinator = UserFactory(role="Coordinator", first_name="Casey", last_name="Jones", username="casey")
    physician = UserFactory(role="Physician", first_name="Robin", last_name="Lee", username="robin")
    patient = PatientFactory(by=coordinator, study_id="EXP-HAND")
    evaluation = services.assessment_update(assessment=patient.assessment, changes=SCREENING_TO_REVIEW,
                                            stage="screening", revision=0, by=coordinator)
    handoffs.ready_mark(assessment=patient.assessment, by=coordinator)
    handoffs.ready_mark_withdraw(assessment=patient.assessment, by=coordinator)
    handoffs.note_add(patient=patient, evaluation=evaluation, code="hbv", text="Entecavir", by=coordinator)
    question = handoffs.question_ask(evaluation=evaluation, code="hbv", text="Since when?", by=physician)
    handoffs.question_answer(question=question, text="May", by=coordinator)
    handoffs.question_follow_up(question=question, text="Dose?", by=physician)
    handoffs.question_answer(question=question, text="0.5 mg", by=coordinator)
    handoffs.question_close(question=question, by=physician)
    today = timezone.localdate()
    rows = [row for row in audit.audit_rows(date_from=today, date_to=today)
            if row["record"] in ("ready-for-review mark", "note", "question step")]
    assert [(row["who"], row["action"], row["new_value"]) for row in rows] == [
        ("Casey Jones", "marked ready for review", "Screening"),
        ("Casey Jones", "ready for review cleared", "Withdrawn by the coordinator"),
        ("Casey Jones", "note added", "Hepatitis B: Entecavir"),
        ("Robin Lee", "question asked", "Hepatitis B: Since when?"),
        ("Casey Jones", "question answered", "Hepatitis B: May"),
        ("Robin Lee", "question followed up", "Hepatitis B: Dose?"),
        ("Casey Jones", "question answered", "Hepatitis B: 0.5 mg"),
        ("Robin Lee", "question closed", "Hepatitis B"),
    ]
    assert {row["study_id"] for row in rows} == {"EXP-HAND"}
    assert {row["record_id"] for row in rows if row["record"] == "question step"} == {str(question.public_id)}
