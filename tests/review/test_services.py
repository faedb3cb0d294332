"""The review package's refusals not covered by the decision and sign-off tests (test_review.py)
and the review-request tests: one message and field each, and nothing written."""

from __future__ import annotations

import pytest

from eligibility.common.text import FREE_TEXT_MAX
from eligibility.models import Assessment, Disposition, SignOff
from eligibility.patients import services
from eligibility.review import services as review
from tests.factories import PASSWORD, SCREENING_TO_REVIEW, SCREENING_WITH_FLAGS_AND_GAPS, PatientFactory

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


@pytest.fixture
def gaps(coordinator):
    """A checklist with two flags, a deferral and two missing items (none decided)."""
    return save(PatientFactory(by=coordinator), coordinator, **SCREENING_WITH_FLAGS_AND_GAPS)


def _decisions(evaluation) -> dict[str, tuple[str, str, str]]:
    return {d.code: (d.kind, d.justification, d.decided_by_name) for d in Disposition.objects.filter(
        evaluation=evaluation)}


class TestDispositionsRecordBulk:
    def test_all_flags_are_acknowledged_with_the_note_and_nothing_else(self, gaps, physician):
        recorded = review.dispositions_record_bulk(evaluation=gaps, action="acknowledge-flags",
                                                   note="  Discussed at the board  ", by=physician)
        assert sorted(d.code for d in recorded) == ["hbv", "prior_inotuzumab"]
        name = f"{physician.first_name} {physician.last_name}"
        assert _decisions(gaps) == {"hbv": ("acknowledged", "Discussed at the board", name),
                                    "prior_inotuzumab": ("acknowledged", "Discussed at the board", name)}
        # Who decided is in each decision's history (the audit export reads it).
        assert {h.history_user for h in Disposition.history.all()} == {physician}

    def test_all_missing_items_are_accepted_and_the_signature_will_mean_deferred(self, gaps, physician):
        recorded = review.dispositions_record_bulk(evaluation=gaps, action="accept-missing", by=physician)
        assert sorted(d.code for d in recorded) == ["life_expectancy", "performance_status"]
        assert {kind for kind, _, _ in _decisions(gaps).values()} == {"accepted"}
        meaning = review.signature_meaning(gaps, gaps.dispositions.all())
        assert meaning.accepted == ("Performance status", "Life expectancy")
        assert meaning.undecided == ("Prior inotuzumab ozogamicin", "Viral infection", "Hepatitis B")

    def test_items_decided_already_keep_their_decision(self, gaps, physician):
        review.disposition_record(evaluation=gaps, code="hbv", kind="acknowledged", justification="On entecavir",
                                  by=physician)
        review.disposition_record(evaluation=gaps, code="performance_status", kind="overridden",
                                  reason_code="data_verified_elsewhere", justification="ECOG 1 in clinic letter",
                                  by=physician)
        flags = review.dispositions_record_bulk(evaluation=gaps, action="acknowledge-flags", note="Board",
                                                by=physician)
        missing = review.dispositions_record_bulk(evaluation=gaps, action="accept-missing", by=physician)
        assert ([d.code for d in flags], [d.code for d in missing]) == (["prior_inotuzumab"], ["life_expectancy"])
        decisions = _decisions(gaps)
        assert decisions["hbv"][:2] == ("acknowledged", "On entecavir")
        assert decisions["performance_status"][:2] == ("overridden", "ECOG 1 in clinic letter")
        # Nothing left: a second call records nothing.
        assert review.dispositions_record_bulk(evaluation=gaps, action="accept-missing", by=physician) == []

    def test_an_acknowledgement_of_a_missing_item_from_before_decisions_had_meanings_is_replaced(self, gaps,
                                                                                                 physician):
        Disposition.objects.create(evaluation=gaps, code="life_expectancy", status="missing", item_inputs={},
                                   kind="acknowledged", decided_by=physician, decided_by_name="Robin Lee",
                                   decided_at=gaps.created_at)
        recorded = review.dispositions_record_bulk(evaluation=gaps, action="accept-missing", by=physician)
        assert sorted(d.code for d in recorded) == ["life_expectancy", "performance_status"]
        assert _decisions(gaps)["life_expectancy"][0] == "accepted"

    def test_the_note_has_a_maximum_length_beside_it(self, gaps, physician):
        longest = "x" * FREE_TEXT_MAX
        with pytest.raises(review.ReviewRefused, match="At most 2,000 characters") as refused:
            review.dispositions_record_bulk(evaluation=gaps, action="acknowledge-flags", note=longest + "x",
                                            by=physician)
        assert refused.value.field == "note" and not Disposition.objects.exists()
        review.dispositions_record_bulk(evaluation=gaps, action="acknowledge-flags", note=longest, by=physician)
        assert {d.justification for d in Disposition.objects.all()} == {longest}

    def test_an_unknown_decision_is_refused(self, gaps, physician):
        with pytest.raises(review.ReviewRefused, match="No such decision"):
            review.dispositions_record_bulk(evaluation=gaps, action="accept-flags", by=physician)
        assert not Disposition.objects.exists()

    def test_a_superseded_checklist_takes_no_bulk_decision(self, gaps, physician, coordinator):
        newer = save(gaps.assessment.patient, coordinator, weight_kg=73)
        with pytest.raises(review.ReviewRefused, match="re-evaluated since"):
            review.dispositions_record_bulk(evaluation=gaps, action="acknowledge-flags", by=physician)
        assert not Disposition.objects.filter(evaluation__in=[gaps, newer]).exists()

    def test_a_withdrawn_patients_checklist_takes_no_bulk_decision(self, gaps, physician, coordinator):
        services.patient_withdraw(patient=gaps.assessment.patient, reason="Consent withdrawn", by=coordinator)
        with pytest.raises(review.ReviewRefused, match="has been withdrawn"):
            review.dispositions_record_bulk(evaluation=gaps, action="accept-missing", by=physician)
        assert not Disposition.objects.exists()

    def test_a_signed_checklist_takes_no_bulk_decision(self, evaluation, physician):
        decide_all(evaluation, physician)
        review.signoff_create(evaluation=evaluation, password=PASSWORD, by=physician)
        Disposition.objects.filter(code="hbv").delete()  # as if undecided: still refused, the signature stands
        with pytest.raises(review.ReviewRefused, match="This checklist is signed"):
            review.dispositions_record_bulk(evaluation=evaluation, action="acknowledge-flags", by=physician)
        assert not Disposition.objects.filter(code="hbv").exists()
