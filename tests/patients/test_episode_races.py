"""Episode races, reproduced deterministically on both databases (as in ``tests/review/test_races``):
one side holds its step open in the main thread (written, not committed) while the other side runs
in a second thread on its own connection and must wait (PostgreSQL: the episode's or the patient's
row lock; SQLite: the write lock). The main thread commits once the other side waits; the test then
checks what the other side did: one outcome, nothing recorded silently in a closed episode."""

from __future__ import annotations

import pytest
from django.db import transaction

from eligibility.models import Assessment, Evaluation, SignOff
from eligibility.patients import episodes_services as episodes
from eligibility.patients import services
from eligibility.review import services as review
from tests.conftest import replay_data_migrations
from tests.factories import PASSWORD, SCREENING_TO_REVIEW, PatientFactory, UserFactory
from tests.review.test_races import Other, decide_all, finish, save, wait_until_blocked

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _migration_data(transactional_db):
    replay_data_migrations()


@pytest.fixture
def coordinator():
    return UserFactory(role="Coordinator", first_name="Casey", last_name="Jones")


@pytest.fixture
def physician():
    return UserFactory(role="Physician", first_name="Robin", last_name="Lee")


def test_two_people_starting_a_new_episode_at_once_leave_exactly_one_episode_2(coordinator, physician):
    patient = PatientFactory(by=coordinator)
    opened_on = patient.assessment_id  # both pages were opened on episode 1

    def start(by, kind):
        return episodes.episode_start(patient=patient, kind=kind, start_from_previous=True,
                                      expected_current_id=opened_on, by=by)

    with transaction.atomic():
        mine = start(coordinator, "recollection")
        other = Other(lambda: start(physician, "retreatment"))
        other.start()
        wait_until_blocked(other)
    finish(other)
    assert isinstance(other.error, episodes.EpisodeRefused)
    assert "current episode changed since you opened this page (Episode 2 · Re-collection was started by Casey " \
           "Jones" in str(other.error)
    assert [(e.number, e.kind, e.is_closed) for e in patient.episodes.order_by("number")] == [
        (1, "first_workup", True), (2, "recollection", False)]
    patient.refresh_from_db()
    assert patient.assessment == mine
    assert Evaluation.objects.filter(assessment=mine).count() == 1


def test_a_save_racing_a_new_episode_is_refused_as_closed_and_nothing_is_lost(coordinator, physician):
    patient = PatientFactory(by=coordinator)
    first = Assessment.objects.get(pk=patient.assessment_id)
    with transaction.atomic():
        episodes.episode_start(patient=patient, kind="recollection", start_from_previous=True,
                               expected_current_id=first.pk, by=physician)
        other = Other(lambda: services.assessment_update(assessment=first, changes={"ecog": 1}, stage="screening",
                                                         revision=first.revision, by=coordinator))
        other.start()
        wait_until_blocked(other)
    finish(other)
    assert isinstance(other.error, services.WorkupClosed)
    assert "Episode 1 is closed (replaced by a new episode" in str(other.error)
    assert all("ecog" not in episode.data for episode in patient.episodes.all())  # refused, never hidden away


def test_a_save_committed_before_a_new_episode_stays_in_episode_1_and_is_copied(coordinator, physician):
    patient = PatientFactory(by=coordinator)
    first = Assessment.objects.get(pk=patient.assessment_id)
    with transaction.atomic():
        services.assessment_update(assessment=first, changes={"ecog": 1}, stage="screening", revision=first.revision,
                                   by=coordinator)
        other = Other(lambda: episodes.episode_start(patient=patient, kind="recollection", start_from_previous=True,
                                                     expected_current_id=first.pk, by=physician))
        other.start()
        wait_until_blocked(other)
    finish(other)
    assert other.error is None
    first.refresh_from_db()
    assert first.data["ecog"] == 1 and first.close_reason == "superseded"
    assert other.result.data["ecog"] == 1  # the new episode started from what was committed


def test_a_sign_off_racing_a_close_is_refused(coordinator, physician):
    patient = PatientFactory(by=coordinator)
    evaluation = save(patient, coordinator, **SCREENING_TO_REVIEW)
    decide_all(evaluation, physician)
    with transaction.atomic():
        episodes.episode_close(assessment=patient.assessment, reason="not_eligible", note="", by=coordinator)
        other = Other(lambda: review.signoff_create(evaluation=evaluation, password=PASSWORD, by=physician))
        other.start()
        wait_until_blocked(other)
    finish(other)
    assert isinstance(other.error, review.ReviewRefused) and "Episode 1 is closed (not eligible" in str(other.error)
    assert not SignOff.objects.exists()


def test_a_close_racing_a_sign_off_closes_after_it_and_the_signature_stands(coordinator, physician):
    patient = PatientFactory(by=coordinator)
    evaluation = save(patient, coordinator, **SCREENING_TO_REVIEW)
    decide_all(evaluation, physician)
    with transaction.atomic():
        signoff = review.signoff_create(evaluation=evaluation, password=PASSWORD, by=physician)
        other = Other(lambda: episodes.episode_close(assessment=patient.assessment, reason="completed", note="",
                                                     by=coordinator))
        other.start()
        wait_until_blocked(other)
    finish(other)
    assert other.error is None and other.result.close_reason == "completed"
    assert SignOff.objects.standing().get() == signoff  # it belongs to the episode, closed or not


def test_two_closes_at_once_leave_one_reason(coordinator, physician):
    patient = PatientFactory(by=coordinator)
    with transaction.atomic():
        episodes.episode_close(assessment=patient.assessment, reason="completed", note="", by=coordinator)
        other = Other(lambda: episodes.episode_close(assessment=patient.assessment, reason="stopped",
                                                     note="Moved away", by=physician))
        other.start()
        wait_until_blocked(other)
    finish(other)
    assert isinstance(other.error, episodes.EpisodeRefused)
    assert "was closed already (treatment completed) by Casey Jones" in str(other.error)
    assert Assessment.objects.get().close_reason == "completed"
