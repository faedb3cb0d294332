"""The review package's refusals not covered by the decision and sign-off tests (test_review.py)
and the review-request tests: one message and field each, and nothing written."""

from __future__ import annotations

import pytest

from eligibility.models import Assessment, Disposition, SignOff
from eligibility.patients import services
from eligibility.review import services as review
from tests.factories import PASSWORD, SCREENING_TO_REVIEW, PatientFactory

pytestmark = pytest.mark.django_db


def save(patient, by, **changes):
    assessment = Assessment.objects.get(patient=patient)
    return services.assessment_update(assessment=assessment, changes=changes, stage=assessment.stage,
                                      revision=assessment.revision, by=by)


@pytest.fixture
def evaluation(coordinator):
    """A checklist with a deferred viral infection and a flagged HBV item."""
    return save(PatientFactory(by=coordinator), coordinator, **SCREENING_TO_REVIEW)


def decide_all(evaluation, physician):
    review.disposition_record(evaluation=evaluation, code="viral_infection", kind="accepted", by=physician)
    review.disposition_record(evaluation=evaluation, code="hbv", kind="acknowledged", by=physician)


class TestDispositionRecord:
    def test_a_passed_item_takes_no_decision(self, evaluation, physician):
        with pytest.raises(review.ReviewRefused, match="Only flagged, deferred, excluded or missing items"):
            review.disposition_record(evaluation=evaluation, code="age", kind="acknowledged", by=physician)
        assert not Disposition.objects.exists()

    def test_a_flag_takes_only_an_acknowledgement_beside_the_kind(self, evaluation, physician):
        with pytest.raises(review.ReviewRefused, match="This item takes: acknowledged") as refused:
            review.disposition_record(evaluation=evaluation, code="hbv", kind="accepted", by=physician)
        assert refused.value.field == "kind" and not Disposition.objects.exists()

    def test_a_superseded_checklist_takes_no_decision(self, evaluation, physician, coordinator):
        save(evaluation.assessment.patient, coordinator, weight_kg=73)
        with pytest.raises(review.ReviewRefused, match="re-evaluated since"):
            review.disposition_record(evaluation=evaluation, code="hbv", kind="acknowledged", by=physician)
        assert not Disposition.objects.exists()

    def test_a_withdrawn_patients_checklist_takes_no_decision(self, evaluation, physician, coordinator):
        services.patient_withdraw(patient=evaluation.assessment.patient, reason="Consent withdrawn", by=coordinator)
        with pytest.raises(review.ReviewRefused, match="has been withdrawn"):
            review.disposition_record(evaluation=evaluation, code="hbv", kind="acknowledged", by=physician)
        assert not Disposition.objects.exists()

    def test_a_signed_checklist_takes_no_new_decision(self, evaluation, physician):
        decide_all(evaluation, physician)
        review.signoff_create(evaluation=evaluation, password=PASSWORD, by=physician)
        with pytest.raises(review.ReviewRefused, match="This checklist is signed; decisions can change only"):
            review.disposition_record(evaluation=evaluation, code="hbv", kind="acknowledged", by=physician)
        assert Disposition.objects.get(code="hbv").decided_by == physician


class TestSignoffCreate:
    def test_a_second_signature_is_refused(self, evaluation, physician):
        decide_all(evaluation, physician)
        review.signoff_create(evaluation=evaluation, password=PASSWORD, by=physician)
        with pytest.raises(review.ReviewRefused, match="signed already"):
            review.signoff_create(evaluation=evaluation, password=PASSWORD, by=physician)
        assert SignOff.objects.count() == 1

    def test_undecided_items_are_named(self, evaluation, physician):
        review.disposition_record(evaluation=evaluation, code="hbv", kind="acknowledged", by=physician)
        with pytest.raises(review.ReviewRefused, match="Record a decision for every item first; still open: "):
            review.signoff_create(evaluation=evaluation, password=PASSWORD, by=physician)
        assert not SignOff.objects.exists()

    def test_a_wrong_password_is_refused_beside_the_password(self, evaluation, physician):
        decide_all(evaluation, physician)
        with pytest.raises(review.WrongPassword, match="password is not correct") as refused:
            review.signoff_create(evaluation=evaluation, password=PASSWORD + "x", by=physician)
        assert refused.value.field == "password" and not SignOff.objects.exists()


class TestWorkupReopen:
    def test_an_open_work_up_has_nothing_to_reopen(self, evaluation, physician):
        with pytest.raises(review.ReviewRefused, match="nothing to reopen"):
            review.workup_reopen(assessment=evaluation.assessment, justification="Re-assessed", by=physician)

    @pytest.mark.parametrize("justification", ["", "   "])
    def test_reopening_needs_a_justification_beside_it(self, evaluation, physician, justification):
        with pytest.raises(review.ReviewRefused, match="Reopening needs a justification") as refused:
            review.workup_reopen(assessment=evaluation.assessment, justification=justification, by=physician)
        assert refused.value.field == "justification"
