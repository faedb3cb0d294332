"""The impact preview on both databases with real commits: two administrators pressing "Preview"
at once get one preview (the constraint on draft, revision and active version), the task is
enqueued once the request commits and the database backend's worker makes it, and a second worker
leaves a preview another holds alone."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from eligibility.models import RuleSet, RuleSetPreview
from eligibility.rulesets import preview
from eligibility.rulesets import services as rulesets
from tests.conftest import replay_data_migrations
from tests.factories import UserFactory
from tests.review.test_races import Other, finish, wait_until_blocked
from tests.review.test_tasks import run_worker
from tests.rulesets.test_services import VERSION_2, patient_at

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _migration_data(transactional_db):
    replay_data_migrations()


@pytest.fixture
def draft(administrator, coordinator):
    for minutes in (60, 90):
        patient_at(coordinator, minutes)
    draft = rulesets.ruleset_draft_create(by=administrator)
    rulesets.ruleset_thresholds_update(draft=draft, values=VERSION_2, by=administrator)
    return RuleSet.objects.get(pk=draft.pk)


def ask(draft, by):
    with transaction.atomic():
        return preview.preview_request(draft=draft, by=by)


def test_an_administrator_asking_while_another_inserts_gets_the_same_preview(draft, administrator):
    second = UserFactory(role="Administrator")
    with transaction.atomic():
        mine, queued = preview.preview_request(draft=draft, by=administrator)
        other = Other(lambda: ask(draft, second))
        other.start()
        wait_until_blocked(other)  # PostgreSQL: on the draft's row lock; SQLite: on the write lock
    finish(other)
    assert other.error is None
    theirs, theirs_queued = other.result
    assert (theirs.pk, queued, theirs_queued) == (mine.pk, True, False)  # one task to enqueue, not two
    assert list(RuleSetPreview.objects.values_list("requested_by", flat=True)) == [administrator.pk]


def test_two_administrators_pressing_preview_at_once_get_one_preview_and_one_task(draft, administrator):
    people = [administrator, UserFactory(role="Administrator")]
    barrier = threading.Barrier(2)
    statuses, errors = [], []

    def press(user):
        try:
            client = Client()
            client.force_login(user)
            barrier.wait(timeout=10)
            statuses.append(client.post(reverse("ruleset_preview_start", args=[draft.version])).status_code)
        except Exception as exc:  # noqa: BLE001 (the test reports it)
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=press, args=(user,)) for user in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors and statuses == [302, 302]
    assert RuleSetPreview.objects.count() == 1
    assert DBTaskResult.objects.filter(task_path="eligibility.rulesets.tasks.preview_impact").count() == 1


def test_the_database_worker_makes_the_preview_the_page_asked_for(client, draft, administrator):
    client.force_login(administrator)
    client.post(reverse("ruleset_preview_start", args=[draft.version]))
    task = DBTaskResult.objects.get()
    assert task.status == "READY"
    run_worker()
    record = RuleSetPreview.objects.get()
    assert (record.status, record.done, record.changed, record.worker) == ("finished", 2, 2, str(task.pk))
    assert DBTaskResult.objects.get().status == "SUCCESSFUL"
    page = client.get(reverse("ruleset_preview", args=[draft.version])).content.decode()
    assert "TRAVEL-60" in page and "TRAVEL-90" in page


def test_a_second_worker_leaves_a_preview_another_holds_alone(draft, administrator):
    record, _ = ask(draft, administrator)
    assert preview.preview_claim(preview_id=record.pk, worker="first").status == "running"
    assert preview.preview_run(preview_id=record.pk, worker="second") is None
    assert RuleSetPreview.objects.get().worker == "first"
    assert preview.preview_run(preview_id=record.pk, worker="first").status == "finished"
