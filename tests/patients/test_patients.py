"""Patients: identifiers unique in any letter case, corrections, withdrawal and restoring."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from eligibility.models import Patient
from eligibility.patients import services
from eligibility.review.handoffs import services as handoffs
from eligibility.review.selectors import physician_queue, worklist_patients
from tests.factories import PatientFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("duplicate", ["CART-001", "cart-001", " Cart-001 ", "CART-001  "])
def test_an_identifier_in_another_letter_case_or_with_spaces_is_a_duplicate(coordinator, duplicate):
    services.patient_create(study_id="CART-001", initials="AB", by=coordinator)
    with pytest.raises(services.PatientRefused, match="exists already") as refused:
        services.patient_create(study_id=duplicate, initials="CD", by=coordinator)
    assert refused.value.field == "study_id"
    assert Patient.objects.count() == 1


def test_a_neighbouring_identifier_is_not_a_duplicate(coordinator):
    services.patient_create(study_id="CART-001", initials="AB", by=coordinator)
    services.patient_create(study_id="CART-0011", initials="AB", by=coordinator)
    assert Patient.objects.count() == 2


def test_surrounding_spaces_are_not_stored(coordinator):
    patient = services.patient_create(study_id="  CART-7 ", initials=" jd ", by=coordinator)
    assert (patient.study_id, patient.initials) == ("CART-7", "JD")


def test_a_duplicate_is_a_message_beside_the_field_on_the_page(coordinator, client):
    services.patient_create(study_id="CART-001", initials="AB", by=coordinator)
    client.force_login(coordinator)
    response = client.post(reverse("patient_create"), {"study_id": "cart-001", "initials": "cd"})
    assert response.status_code == 200
    assert response.context["form"].errors["study_id"][0].startswith("A patient with this study identifier exists")
    assert response.context["form"]["initials"].value() == "cd"  # what was typed stays


def test_a_coordinator_corrects_identifier_and_initials_and_the_history_shows_it(coordinator, client):
    patient = PatientFactory(by=coordinator, study_id="CART-01O")
    other = PatientFactory(by=coordinator, study_id="CART-002")
    client.force_login(coordinator)
    url = reverse("patient_identity", args=[patient.public_id])
    refused = client.post(url, {"study_id": "cart-002", "initials": "AB"})
    assert refused.context["form"].errors["study_id"]
    response = client.post(url, {"study_id": "CART-010", "initials": "xy"})
    assert response.status_code == 302
    patient.refresh_from_db()
    assert (patient.study_id, patient.initials) == ("CART-010", "XY")
    history = list(patient.history.order_by("history_date").values_list("study_id", "history_user"))
    assert history[-2:] == [("CART-01O", coordinator.pk), ("CART-010", coordinator.pk)]
    # Keeping one's own identifier in another letter case is allowed (it is the same patient).
    services.patient_identity_update(patient=other, study_id="cart-002", initials="AB", by=coordinator)


def test_withdrawal_removes_the_patient_from_worklist_and_queue_and_keeps_the_record(coordinator, administrator,
                                                                                     client):
    patient = PatientFactory(by=coordinator)
    kept = PatientFactory(by=coordinator)
    for marked in (patient, kept):
        handoffs.ready_mark(assessment=marked.assessment, by=coordinator)
    with pytest.raises(services.PatientRefused, match="Say why"):
        services.patient_withdraw(patient=patient, reason="  ", by=coordinator)
    client.force_login(coordinator)
    response = client.post(reverse("patient_withdraw", args=[patient.public_id]),
                           {"reason": "Entered twice: duplicate of CART-9"})
    assert response.status_code == 302
    assert list(worklist_patients()) == [kept]
    assert [e.assessment.patient for e in physician_queue()] == [kept]
    patient.refresh_from_db()
    assert patient.is_withdrawn and patient.withdrawn_by == coordinator
    # Read-only: the record is still there, saves are refused, and it cannot be withdrawn twice.
    page = client.get(reverse("patient_detail", args=[patient.public_id]))
    assert page.status_code == 200 and "Withdrawn" in page.content.decode()
    with pytest.raises(services.WorkupClosed, match="withdrawn"):
        services.assessment_update(assessment=patient.assessment, changes={"ecog": 1}, stage="screening",
                                   revision=patient.assessment.revision, by=coordinator)
    assert client.get(reverse("patient_withdraw", args=[patient.public_id])).status_code == 404
    # Only an administrator restores, and the withdrawal stays in the history.
    assert client.post(reverse("withdrawn_patients"), {"patient": str(patient.public_id)}).status_code == 403
    client.force_login(administrator)
    listing = client.get(reverse("withdrawn_patients")).content.decode()
    assert "Entered twice: duplicate of CART-9" in listing
    client.post(reverse("withdrawn_patients"), {"patient": str(patient.public_id)})
    patient.refresh_from_db()
    assert not patient.is_withdrawn
    assert patient.history.filter(withdrawal_reason="Entered twice: duplicate of CART-9").exists()
    assert set(worklist_patients()) == {patient, kept}


@pytest.mark.parametrize("role", ["Physician", "Administrator"])
def test_only_coordinators_correct_and_withdraw(role, coordinator, client):
    patient = PatientFactory(by=coordinator)
    client.force_login(UserFactory(role=role))
    assert client.post(reverse("patient_identity", args=[patient.public_id]),
                       {"study_id": "X-1", "initials": "AB"}).status_code == 403
    assert client.post(reverse("patient_withdraw", args=[patient.public_id]), {"reason": "x"}).status_code == 403
    patient.refresh_from_db()
    assert not patient.is_withdrawn and patient.study_id != "X-1"


def test_a_withdrawn_patient_is_not_re_evaluated_by_a_publish(coordinator, administrator):
    from eligibility.review import reevaluation
    from eligibility.rulesets import services as rulesets

    patient = PatientFactory(by=coordinator)
    services.patient_withdraw(patient=patient, reason="Consent withdrawn", by=coordinator)
    before = patient.assessment.current_evaluation_id
    draft = rulesets.ruleset_draft_create(by=administrator)
    published = rulesets.ruleset_publish(draft=draft, note="Same values", by=administrator)
    assert reevaluation.reevaluate_open_assessments(ruleset=published, by=administrator).reevaluated == 0
    patient.assessment.refresh_from_db()
    assert patient.assessment.current_evaluation_id == before


def test_the_patient_history_shows_corrections_withdrawal_and_restoring(coordinator, administrator, client):
    patient = PatientFactory(by=coordinator, study_id="CART-06")
    services.patient_identity_update(patient=patient, study_id="CART-007", initials="AB", by=coordinator)
    services.patient_withdraw(patient=patient, reason="Entered twice", by=coordinator)
    services.patient_restore(patient=patient, by=administrator)
    client.force_login(coordinator)
    rows = client.get(reverse("patient_detail", args=[patient.public_id])).context["history"]
    assert [(row["field"], row["old"], row["new"]) for row in rows[:3]] == [
        ("Withdrawal", "withdrawn: Entered twice", "restored"),
        ("Withdrawal", "", "withdrawn: Entered twice"),
        ("Study identifier", "CART-06", "CART-007"),
    ]


def test_the_patient_page_reads_the_patients_own_history_only_once_it_has_a_change(coordinator, client):
    # Its first query says whether the patient's history has more than its first record; without
    # one there is nothing to show, and the page does not read it.
    patient = PatientFactory(by=coordinator, study_id="CART-08")
    client.force_login(coordinator)
    url = reverse("patient_detail", args=[patient.public_id])
    client.get(url)

    def page():
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        reads = [query["sql"] for query in queries
                 if query["sql"].startswith('SELECT "eligibility_historicalpatient".')]
        return [(row["field"], row["old"], row["new"]) for row in response.context["history"]], reads

    rows, reads = page()
    assert reads == [] and not any(field == "Study identifier" for field, _, _ in rows)
    services.patient_identity_update(patient=patient, study_id="CART-008", initials="AB", by=coordinator)
    rows, reads = page()
    assert len(reads) == 1 and ("Study identifier", "CART-08", "CART-008") in rows


def test_a_patient_restored_after_a_publish_is_evaluated_under_the_active_version(coordinator, administrator):
    from eligibility.review import reevaluation
    from eligibility.rulesets import services as rulesets

    patient = PatientFactory(by=coordinator)
    services.patient_withdraw(patient=patient, reason="On hold", by=coordinator)
    draft = rulesets.ruleset_draft_create(by=administrator)
    published = rulesets.ruleset_publish(draft=draft, note="Same values", by=administrator)
    reevaluation.reevaluate_open_assessments(ruleset=published, by=administrator)
    patient.assessment.refresh_from_db()
    assert patient.assessment.current_evaluation.ruleset.version == 1  # left out while withdrawn
    services.patient_restore(patient=patient, by=administrator)
    patient.assessment.refresh_from_db()
    assert patient.assessment.current_evaluation.ruleset == published


@pytest.mark.parametrize(("typed", "stored"), [("g.h.", "GH"), ("J D K", "JDK"), ("abcd", "ABCD")])
def test_initials_written_with_dots_or_spaces_are_normalised(coordinator, client, typed, stored):
    client.force_login(coordinator)
    response = client.post(reverse("patient_create"), {"study_id": f"INI-{stored}", "initials": typed})
    assert response.status_code == 302
    assert Patient.objects.get(study_id=f"INI-{stored}").initials == stored


def test_five_initials_are_refused_beside_the_field(coordinator, client):
    client.force_login(coordinator)
    response = client.post(reverse("patient_create"), {"study_id": "INI-5", "initials": "A.B.C.D.E"})
    assert response.status_code == 200 and response.context["form"].errors["initials"]
    assert not Patient.objects.exists()
