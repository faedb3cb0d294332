"""Migrations 0024-0027 (issue 14): every patient's one assessment becomes its episode 1, current and
open, and every past evaluation, decision, signature, review request, ready mark, question and
history row keeps pointing at the same row; and back again while every patient has one episode.

Run on the real schema: the database is migrated back to 0023, rows are written as the release
before wrote them (its historical models), and it is migrated forward again."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tests.conftest import migrate_to

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("migration_data_then_latest_schema")]

BEFORE = [("eligibility", "0023_retire_product_age_fields")]
AFTER = [("eligibility", "0027_episode_permissions")]


def _rows(apps, user, number: int):
    """A patient as the release before recorded one: assessment, two evaluations (the second
    current), a decision, a voided and a standing signature, a review request, a ready mark, a
    question, a note, and the assessment's history."""
    get = lambda name: apps.get_model("eligibility", name)  # noqa: E731
    now = timezone.now()
    patient = get("Patient").objects.create(study_id=f"MIG-{number}", initials="AB", created_by=user)
    Patient = get("Patient")
    Patient.objects.filter(pk=patient.pk).update(created_at=now - dt.timedelta(days=30 + number))
    assessment = get("Assessment").objects.create(patient=patient, updated_by=user, stage="pre_apheresis",
                                                  data={"ecog": 1}, revision=2)
    ruleset = get("RuleSet").objects.get(status="active")
    evaluations = [get("Evaluation").objects.create(
        assessment=assessment, ruleset=ruleset, stage="screening", inputs={"ecog": 1}, checklist={"items": []},
        overall="ready", created_by=user) for _ in range(2)]
    get("Assessment").objects.filter(pk=assessment.pk).update(current_evaluation=evaluations[1])
    get("Disposition").objects.create(evaluation=evaluations[1], code="hbv", status="flag", item_inputs={},
                                      kind="acknowledged", decided_by=user, decided_by_name="Robin Lee",
                                      decided_at=now)
    signoffs = [get("SignOff").objects.create(
        assessment=assessment, evaluation=evaluation, stage="screening", meaning="Reviewed", signer=user,
        signer_name="Robin Lee", signed_at=now, content_hash="0" * 64,
        voided_at=now if evaluation is evaluations[0] else None) for evaluation in evaluations]
    get("ReviewRequest").objects.create(assessment=assessment, ruleset=ruleset, evaluation=evaluations[1],
                                        message="Asked")
    get("ReadyMark").objects.create(assessment=assessment, stage="pre_apheresis", evaluation=evaluations[1],
                                    marked_by=user, marked_by_name="Casey Jones", marked_at=now)
    get("Question").objects.create(assessment=assessment, code="hbv", item_title="HBV", evaluation=evaluations[1],
                                   asked_by=user, asked_by_name="Robin Lee", asked_at=now, updated_at=now)
    get("Note").objects.create(patient=patient, text="A note", author=user, author_name="Casey Jones",
                               created_at=now)
    History = get("HistoricalAssessment")
    for revision in (1, 2):
        History.objects.create(id=assessment.pk, patient_id=patient.pk, stage="screening", data={"ecog": revision},
                               revision=revision, updated_by_id=user.pk, history_date=now, history_type="~",
                               history_user_id=user.pk)
    return {"patient": patient.pk, "assessment": assessment.pk,
            "created_at": Patient.objects.get(pk=patient.pk).created_at,
            "evaluations": sorted(e.pk for e in evaluations), "signoffs": sorted(s.pk for s in signoffs),
            "current": evaluations[1].pk}


def test_every_assessment_becomes_episode_1_with_everything_still_linked_and_back_again():
    old = migrate_to(BEFORE)
    user = old.get_model("auth", "User").objects.create(username="migration-user")
    made = [_rows(old, user, number) for number in (1, 2)]

    new = migrate_to(AFTER)
    get = lambda name: new.get_model("eligibility", name)  # noqa: E731
    assert get("Assessment").objects.count() == 2
    for rows in made:
        episode = get("Assessment").objects.get(pk=rows["assessment"])
        patient = get("Patient").objects.get(pk=rows["patient"])
        assert patient.assessment_id == episode.pk  # episode 1 is current
        assert (episode.patient_id, episode.number, episode.kind, episode.closed_at, episode.close_reason) == (
            patient.pk, 1, "first_workup", None, "")
        assert (episode.opened_at, episode.opened_by_id) == (rows["created_at"], user.pk)
        assert episode.public_id is not None and episode.data == {"ecog": 1} and episode.revision == 2
        assert episode.current_evaluation_id == rows["current"]
        assert sorted(get("Evaluation").objects.filter(assessment=episode).values_list("pk", flat=True)) == \
            rows["evaluations"]
        signoffs = get("SignOff").objects.filter(assessment=episode)
        assert sorted(signoffs.values_list("pk", flat=True)) == rows["signoffs"]
        assert get("SignOff").objects.filter(assessment=episode, voided_at__isnull=True).get().evaluation_id == \
            rows["current"]
        assert get("Disposition").objects.filter(evaluation__assessment=episode).count() == 1
        for name in ("ReviewRequest", "ReadyMark", "Question"):
            assert get(name).objects.filter(assessment=episode).count() == 1, name
        assert get("Note").objects.filter(patient=patient).count() == 1
        history = get("HistoricalAssessment").objects.filter(id=episode.pk)
        assert history.count() == 2 and set(history.values_list("public_id", flat=True)) == {episode.public_id}
    assert len({get("Assessment").objects.get(pk=rows["assessment"]).public_id for rows in made}) == 2
    assert new.get_model("auth", "Group").objects.get(name="Coordinator").permissions.filter(
        codename="manage_episode").exists()
    assert not new.get_model("auth", "Group").objects.get(name="Administrator").permissions.filter(
        codename="manage_episode").exists()

    old = migrate_to(BEFORE)  # back: one assessment a patient again, nothing lost
    get = lambda name: old.get_model("eligibility", name)  # noqa: E731
    for rows in made:
        assessment = get("Assessment").objects.get(patient_id=rows["patient"])
        assert assessment.pk == rows["assessment"] and assessment.current_evaluation_id == rows["current"]
        assert get("Evaluation").objects.filter(assessment=assessment).count() == 2
        assert get("SignOff").objects.filter(assessment=assessment).count() == 2
        assert get("HistoricalAssessment").objects.filter(id=assessment.pk).count() == 2


def test_migrating_back_is_refused_while_a_patient_has_two_episodes(coordinator):
    from eligibility.patients import episodes_services
    from tests.factories import PatientFactory

    patient = PatientFactory(by=coordinator)
    episodes_services.episode_start(patient=patient, kind="recollection", start_from_previous=False,
                                    expected_current_id=patient.assessment_id, by=coordinator)
    with pytest.raises(RuntimeError, match="more than one treatment episode"):
        migrate_to(BEFORE)
