"""The patients package's services, one class per service (patients/services.py): the happy path,
each refusal with its message and field, and what is written (rows, history)."""

from __future__ import annotations

import pytest

from eligibility.common.text import FREE_TEXT_MAX
from eligibility.models import Assessment, Evaluation, Patient
from eligibility.patients import services
from eligibility.patients.services import ConcurrentEdit, PatientRefused, WorkupClosed
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db


class TestPatientCreate:
    def test_writes_the_patient_an_assessment_at_screening_and_a_first_current_evaluation(self, coordinator):
        patient = services.patient_create(study_id="  CREATE-1 ", initials="ab", by=coordinator)
        assert (patient.study_id, patient.initials, patient.created_by) == ("CREATE-1", "AB", coordinator)
        assessment = Assessment.objects.get(patient=patient)
        assert (assessment.stage, assessment.revision, assessment.data) == ("screening", 0, {})
        assert Evaluation.objects.filter(assessment=assessment).count() == 1
        assert assessment.current_evaluation.ruleset.version == 1
        assert [(row.history_type, row.history_user) for row in patient.history.all()] == [("+", coordinator)]

    def test_refuses_an_existing_identifier_beside_the_study_id_and_writes_nothing(self, coordinator):
        services.patient_create(study_id="CREATE-2", initials="AB", by=coordinator)
        with pytest.raises(PatientRefused, match="exists already") as refused:
            services.patient_create(study_id="create-2", initials="CD", by=coordinator)
        assert refused.value.field == "study_id"
        assert Patient.objects.count() == 1 and Assessment.objects.count() == 1


class TestPatientIdentityUpdate:
    def test_corrects_the_identifier_and_initials_with_history(self, coordinator):
        patient = PatientFactory(by=coordinator, study_id="FIX-1", initials="AB")
        services.patient_identity_update(patient=patient, study_id="FIX-2 ", initials="cd", by=coordinator)
        patient.refresh_from_db()
        assert (patient.study_id, patient.initials) == ("FIX-2", "CD")
        assert [row.study_id for row in patient.history.order_by("history_id")] == ["FIX-1", "FIX-2"]

    def test_unchanged_values_write_no_history(self, coordinator):
        patient = PatientFactory(by=coordinator, study_id="FIX-3", initials="AB")
        services.patient_identity_update(patient=patient, study_id="FIX-3", initials="AB", by=coordinator)
        assert patient.history.count() == 1

    def test_refuses_another_patients_identifier_beside_the_study_id(self, coordinator):
        PatientFactory(by=coordinator, study_id="FIX-4")
        patient = PatientFactory(by=coordinator, study_id="FIX-5")
        with pytest.raises(PatientRefused, match="exists already") as refused:
            services.patient_identity_update(patient=patient, study_id="fix-4", initials="AB", by=coordinator)
        assert refused.value.field == "study_id"
        assert Patient.objects.get(pk=patient.pk).study_id == "FIX-5"


class TestPatientWithdraw:
    def test_records_who_when_and_why_and_keeps_the_record(self, coordinator):
        patient = PatientFactory(by=coordinator)
        services.patient_withdraw(patient=patient, reason=" Entered twice ", by=coordinator)
        patient.refresh_from_db()
        assert patient.is_withdrawn and patient.withdrawn_by == coordinator
        assert patient.withdrawal_reason == "Entered twice"
        assert patient.history.count() == 2

    @pytest.mark.parametrize("reason", ["", "   "])
    def test_refuses_no_reason_beside_the_reason(self, coordinator, reason):
        patient = PatientFactory(by=coordinator)
        with pytest.raises(PatientRefused, match="Say why the patient is withdrawn") as refused:
            services.patient_withdraw(patient=patient, reason=reason, by=coordinator)
        assert refused.value.field == "reason"
        assert not Patient.objects.get(pk=patient.pk).is_withdrawn

    def test_the_longest_reason_is_accepted_and_one_more_character_refused(self, coordinator):
        patient = PatientFactory(by=coordinator)
        with pytest.raises(PatientRefused) as refused:
            services.patient_withdraw(patient=patient, reason="x" * (FREE_TEXT_MAX + 1), by=coordinator)
        assert refused.value.field == "reason"
        services.patient_withdraw(patient=patient, reason="x" * FREE_TEXT_MAX, by=coordinator)
        assert Patient.objects.get(pk=patient.pk).is_withdrawn

    def test_refuses_a_second_withdrawal(self, coordinator):
        patient = PatientFactory(by=coordinator)
        services.patient_withdraw(patient=patient, reason="Consent withdrawn", by=coordinator)
        with pytest.raises(PatientRefused, match="withdrawn already"):
            services.patient_withdraw(patient=patient, reason="Again", by=coordinator)
        assert Patient.objects.get(pk=patient.pk).withdrawal_reason == "Consent withdrawn"


class TestPatientRestore:
    def test_clears_the_withdrawal_and_keeps_it_in_the_history(self, coordinator, administrator):
        patient = PatientFactory(by=coordinator)
        services.patient_withdraw(patient=patient, reason="By mistake", by=coordinator)
        services.patient_restore(patient=patient, by=administrator)
        patient.refresh_from_db()
        assert not patient.is_withdrawn and patient.withdrawal_reason == ""
        assert [row.withdrawal_reason for row in patient.history.order_by("history_id")] == ["", "By mistake", ""]

    def test_refuses_a_patient_not_withdrawn(self, coordinator, administrator):
        patient = PatientFactory(by=coordinator)
        with pytest.raises(PatientRefused, match="is not withdrawn"):
            services.patient_restore(patient=patient, by=administrator)
        assert patient.history.count() == 1


def _update(patient, by, revision=None, **changes):
    assessment = Assessment.objects.get(patient=patient)
    return services.assessment_update(assessment=assessment, changes=changes, stage=assessment.stage,
                                      revision=assessment.revision if revision is None else revision, by=by)


class TestAssessmentUpdate:
    def test_saves_the_changes_and_makes_a_new_current_evaluation(self, coordinator):
        patient = PatientFactory(by=coordinator)
        evaluation = _update(patient, coordinator, ecog=1, age_years=54)
        assessment = Assessment.objects.get(patient=patient)
        assert assessment.data == {"ecog": 1, "age_years": 54} and assessment.revision == 1
        assert assessment.current_evaluation == evaluation and evaluation.inputs["ecog"] == 1
        assert Evaluation.objects.filter(assessment=assessment).count() == 2

    def test_none_removes_a_value(self, coordinator):
        patient = PatientFactory(by=coordinator)
        _update(patient, coordinator, ecog=1, age_years=54)
        _update(patient, coordinator, ecog=None)
        assert Assessment.objects.get(patient=patient).data == {"age_years": 54}

    def test_refuses_a_form_built_from_an_older_revision_and_writes_nothing(self, coordinator):
        patient = PatientFactory(by=coordinator)
        _update(patient, coordinator, ecog=1)
        with pytest.raises(ConcurrentEdit, match="changed by someone else"):
            _update(patient, coordinator, revision=0, ecog=2)
        assessment = Assessment.objects.get(patient=patient)
        assert (assessment.data, assessment.revision, Evaluation.objects.count()) == ({"ecog": 1}, 1, 2)

    def test_refuses_a_withdrawn_patient(self, coordinator):
        patient = PatientFactory(by=coordinator)
        services.patient_withdraw(patient=patient, reason="Consent withdrawn", by=coordinator)
        with pytest.raises(WorkupClosed, match="has been withdrawn"):
            _update(patient, coordinator, ecog=1)
        assert Assessment.objects.get(patient=patient).data == {}
