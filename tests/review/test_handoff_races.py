"""Hand-off races, reproduced deterministically on both databases (as in ``test_races``): one side
holds its step open in the main thread (written, not committed) while the other side runs in a
second thread on its own connection and must wait (PostgreSQL: the question's row lock taken by the
conditional update; SQLite: the write lock). The main thread commits once the other side waits;
the test checks what the other side did after the wait: one outcome, never a step recorded on a
question in a state that does not take it."""

from __future__ import annotations

import pytest
from django.db import transaction

from eligibility.models import Question, ReadyMark
from eligibility.review.handoffs import services as handoffs
from tests.conftest import replay_data_migrations
from tests.factories import SCREENING_TO_REVIEW, PatientFactory, UserFactory
from tests.review.test_races import Other, finish, save, wait_until_blocked

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


@pytest.fixture
def question(coordinator, physician):
    patient = PatientFactory(by=coordinator)
    evaluation = save(patient, coordinator, **SCREENING_TO_REVIEW)
    return handoffs.question_ask(evaluation=evaluation, code="hbv", text="Since when?", by=physician)


def kinds(question) -> list[str]:
    return list(question.entries.order_by("at", "id").values_list("kind", flat=True))


def test_a_close_racing_an_answer_closes_the_answered_question(question, coordinator, physician):
    with transaction.atomic():
        handoffs.question_answer(question=question, text="Since May", by=coordinator)
        other = Other(lambda: handoffs.question_close(question=question, by=physician))
        other.start()
        wait_until_blocked(other)
    finish(other)
    assert other.error is None and other.result.state == "closed"
    assert Question.objects.get().state == "closed"
    assert kinds(question) == ["asked", "answered", "closed"]


def test_an_answer_racing_a_close_is_refused_with_what_happened(question, coordinator, physician):
    with transaction.atomic():
        handoffs.question_close(question=question, by=physician)
        other = Other(lambda: handoffs.question_answer(question=question, text="Since May", by=coordinator))
        other.start()
        wait_until_blocked(other)
    finish(other)
    assert isinstance(other.error, handoffs.HandoffRefused)
    assert "It is closed now (closed by Robin Lee" in str(other.error)
    assert Question.objects.get().state == "closed"
    assert kinds(question) == ["asked", "closed"]


def test_two_coordinators_answering_at_once_leave_one_answer(question, coordinator):
    colleague = UserFactory(role="Coordinator", first_name="Sam", last_name="Okafor")
    with transaction.atomic():
        handoffs.question_answer(question=question, text="Since May", by=coordinator)
        other = Other(lambda: handoffs.question_answer(question=question, text="Since June", by=colleague))
        other.start()
        wait_until_blocked(other)
    finish(other)
    assert isinstance(other.error, handoffs.HandoffRefused) and "answered by Casey Jones" in str(other.error)
    assert list(question.entries.filter(kind="answered").values_list("text", flat=True)) == ["Since May"]


def test_two_coordinators_marking_at_once_leave_one_mark(coordinator):
    patient = PatientFactory(by=coordinator)
    colleague = UserFactory(role="Coordinator", first_name="Sam", last_name="Okafor")
    with transaction.atomic():
        handoffs.ready_mark(assessment=patient.assessment, by=coordinator)
        other = Other(lambda: handoffs.ready_mark(assessment=patient.assessment, by=colleague))
        other.start()
        wait_until_blocked(other)
    finish(other)
    assert isinstance(other.error, handoffs.HandoffRefused) and "already, by Casey Jones" in str(other.error)
    assert list(ReadyMark.objects.open().values_list("marked_by_name", flat=True)) == ["Casey Jones"]
