"""The re-evaluation after a publish as background work: enqueued once the publish commits, run by
the database backend's worker (``manage.py db_worker``), its progress and outcome recorded, resumed
after a crash without doing anything twice.

Transactional: the publish's on-commit enqueue and the worker's own transactions must really commit.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from eligibility.models import Assessment, Evaluation, RuleSet, RuleSetReevaluation, RuleSetReevaluationPart
from eligibility.patients.signals import evaluations_replaced
from eligibility.review import reevaluation
from eligibility.rulesets import services as rulesets
from tests.conftest import replay_data_migrations
from tests.factories import PatientFactory
from tests.pages import element
from tests.review.test_review_requests import signed_before_apheresis

pytestmark = pytest.mark.django_db(transaction=True)

TASK = "eligibility.review.tasks.reevaluate_after_publish"


@pytest.fixture(autouse=True)
def _migration_data(transactional_db):
    replay_data_migrations()


def run_worker() -> None:
    """The database backend's worker, as deployed, until the queue is empty."""
    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", "--verbosity", "0")


def draft_lowering_alc(administrator) -> RuleSet:
    draft = rulesets.ruleset_draft_create(by=administrator)
    rulesets.ruleset_describe(draft=draft, name="Lower ALC", change_note="ALC 0.1", by=administrator)
    rulesets.ruleset_thresholds_update(draft=draft, values={"alc_min_1e9_per_l": Decimal("0.1")}, by=administrator)
    return draft


@contextmanager
def down_in_batch(number: int):
    """The machine goes down while the ``number``-th batch writes (an announced, public hook): yields
    the list of the batches' sizes seen."""
    batches = []

    def crash(sender, replacements, by, **kwargs):
        batches.append(len(replacements))
        if len(batches) == number:
            raise RuntimeError("the machine went down")

    evaluations_replaced.connect(crash, weak=False)
    try:
        yield batches
    finally:
        evaluations_replaced.disconnect(crash)


def under(version: int) -> int:
    return Assessment.objects.filter(current_evaluation__ruleset__version=version).count()


def test_the_publish_returns_at_once_and_the_worker_reevaluates_everything(
        client, administrator, coordinator, physician):
    for n in range(3):
        PatientFactory(by=coordinator, study_id=f"OPEN-{n}")
    signed_before_apheresis(coordinator, physician)  # signed: ALC 0.1 would change it, a review request
    draft = draft_lowering_alc(administrator)
    client.force_login(administrator)

    response = client.post(reverse("ruleset_publish", args=[draft.version]),
                           {"revision": RuleSet.objects.get(pk=draft.pk).revision})

    # Published and answered: the new version active, the task waiting in the queue, nothing re-evaluated.
    assert response.status_code == 302 and response.url == reverse("ruleset_detail", args=[2]) + "#reevaluation"
    assert RuleSet.objects.get(status="active").version == 2
    record = RuleSetReevaluation.objects.get(ruleset__version=2)
    assert record.status == "queued" and record.requested_by == administrator and record.done == 0
    task = DBTaskResult.objects.get()
    assert (task.task_path, task.status, task.args_kwargs["kwargs"]) == (
        TASK, "READY", {"reevaluation_id": record.pk})
    assert under(2) == 0 and under(1) == 4
    page = client.get(reverse("ruleset_detail", args=[2]))
    assert "Waiting for a task worker" in element(page.content, id="reevaluation").text

    run_worker()

    record.refresh_from_db()
    assert (record.status, record.done, record.total, record.attempts) == ("finished", 4, 4, 1)
    assert (record.reevaluated, record.review_requested, record.unevaluable) == (3, 1, 0)
    assert under(2) == 3  # the signed one stays pinned to version 1
    assert DBTaskResult.objects.get().status == "SUCCESSFUL"
    state = client.get(reverse("ruleset_reevaluation", args=[2])).json()
    assert state["finished"] and (state["done"], state["total"], state["percent"]) == (4, 4, 100)
    assert "3 open assessment(s) re-evaluated; 1 signed checklist(s) marked for a physician's review; 0 that" \
        in state["text"]
    section = element(client.get(reverse("ruleset_detail", args=[2])).content, id="reevaluation")
    assert "Finished" in section.text and "3 open assessment(s) re-evaluated" in section.text


def test_a_worker_that_dies_halfway_is_resumed_after_the_last_batch_without_duplicates(
        client, administrator, coordinator):
    for n in range(5):
        PatientFactory(by=coordinator, study_id=f"OPEN-{n}")
    rulesets.ruleset_publish(draft=draft_lowering_alc(administrator), by=administrator)
    record = RuleSetReevaluation.objects.get()
    with down_in_batch(3) as batches, pytest.raises(RuntimeError):
        reevaluation.reevaluation_run(reevaluation_id=record.pk, worker="first", batch_size=2)
    assert batches == [2, 2, 1]  # the third batch's writes were rolled back with its progress
    record.refresh_from_db()
    assert (record.status, record.done, record.total, record.error) == ("failed", 4, 5, "RuntimeError")
    assert under(2) == 4
    client.force_login(administrator)
    state = client.get(reverse("ruleset_reevaluation", args=[2])).json()
    assert state["resumable"] and "Stopped by an error (RuntimeError) after 4 of 5" in state["text"]

    assert client.post(reverse("ruleset_reevaluation_resume", args=[2])).status_code == 302
    record.refresh_from_db()
    assert record.status == "queued"
    run_worker()  # the publish's task and the resume's: the second finds it finished

    record.refresh_from_db()
    assert (record.status, record.done, record.total, record.attempts, record.reevaluated) == (
        "finished", 5, 5, 2, 5)
    assert under(2) == 5
    # One evaluation under version 2 per assessment: nothing done twice.
    assert Evaluation.objects.filter(ruleset__version=2).count() == 5
    assert sorted(DBTaskResult.objects.values_list("status", flat=True)) == ["SUCCESSFUL", "SUCCESSFUL"]


def test_a_worker_killed_without_a_word_shows_as_stalled_and_is_resumed(client, administrator, coordinator):
    for n in range(3):
        PatientFactory(by=coordinator, study_id=f"OPEN-{n}")
    rulesets.ruleset_publish(draft=draft_lowering_alc(administrator), by=administrator)
    record = RuleSetReevaluation.objects.get()
    # A worker claimed it and was killed (no exception, no batch): its lease is no longer renewed.
    claimed = reevaluation.reevaluation_claim(reevaluation_id=record.pk, worker="killed")
    assert claimed.status == "running"
    client.force_login(administrator)
    resume = reverse("ruleset_reevaluation_resume", args=[2])
    # Within the lease it is running: nothing to resume, and a second worker leaves it alone.
    assert not client.get(reverse("ruleset_reevaluation", args=[2])).json()["resumable"]
    assert reevaluation.reevaluation_run(reevaluation_id=record.pk, worker="second") is None
    refused = client.post(resume, follow=True)
    assert "under way" in refused.content.decode()
    assert RuleSetReevaluation.objects.get().status == "running"

    stale = timezone.now() - timedelta(seconds=121)  # REEVALUATION_STALLED_AFTER is 120 s
    RuleSetReevaluation.objects.filter(pk=record.pk).update(heartbeat_at=stale)
    assert RuleSetReevaluationPart.objects.filter(reevaluation=record).update(heartbeat_at=stale) == 1  # its one part
    state = client.get(reverse("ruleset_reevaluation", args=[2])).json()
    assert state["resumable"] and state["label"] == "Stalled"
    assert client.post(resume).status_code == 302
    run_worker()
    record.refresh_from_db()
    assert (record.status, record.done, record.reevaluated) == ("finished", 3, 3)
    assert Evaluation.objects.filter(ruleset__version=2).count() == 3
    # Once finished, there is nothing to resume.
    assert "nothing to resume" in client.post(resume, follow=True).content.decode()


@override_settings(REEVALUATION_STALLED_AFTER=timedelta(seconds=60))
def test_stalled_is_decided_at_the_boundary(administrator):
    ruleset = RuleSet.objects.get()
    now = timezone.now()
    record = RuleSetReevaluation(ruleset=ruleset, requested_by=administrator, status="running",
                                 heartbeat_at=now - timedelta(seconds=60))
    assert not record.stalled(now, timedelta(seconds=60))
    record.heartbeat_at = now - timedelta(seconds=60, microseconds=1)
    assert record.stalled(now, timedelta(seconds=60))
    record.status, record.enqueued_at = "queued", now - timedelta(seconds=60)
    assert not record.stalled(now, timedelta(seconds=60))
    record.enqueued_at = now - timedelta(seconds=61)
    assert record.stalled(now, timedelta(seconds=60))
    record.status = "failed"
    assert not record.stalled(now, timedelta(seconds=60))  # stopped, and says so: not stalled


def test_the_command_runs_a_recorded_reevaluation_by_hand(administrator, coordinator):
    PatientFactory(by=coordinator, study_id="OPEN-CMD")
    rulesets.ruleset_publish(draft=draft_lowering_alc(administrator), by=administrator)
    call_command("reevaluate_open_assessments", "--as-user", administrator.username, verbosity=0)
    record = RuleSetReevaluation.objects.get()
    assert (record.status, record.done, record.reevaluated) == ("finished", 1, 1)
    run_worker()  # the queued task then finds nothing to do
    assert Evaluation.objects.filter(ruleset__version=2).count() == 1


@pytest.mark.parametrize(("target", "slow", "sizes"), [
    # The first batch held its locks longer than the target (1.5 times the setting on PostgreSQL): halved.
    (0.05, 0.11, [20, 10]),
    (10.0, 0.0, [20, 30]),  # far shorter than the target: the next is a half larger
])
def test_the_run_sizes_its_batches_by_how_long_they_hold_the_locks(
        administrator, coordinator, monkeypatch, target, slow, sizes):
    for n in range(50):
        PatientFactory(by=coordinator, study_id=f"OPEN-{n}")
    rulesets.ruleset_publish(draft=draft_lowering_alc(administrator), by=administrator)
    monkeypatch.setattr(reevaluation, "BATCH_SIZE", 20)
    monkeypatch.setattr(reevaluation, "LOCK_TARGET_SECONDS", target)
    seen = []

    def batch_written(sender, replacements, by, **kwargs):
        seen.append(len(replacements))
        if len(seen) == 1:
            time.sleep(slow)  # inside the first batch's transaction

    evaluations_replaced.connect(batch_written, weak=False)
    try:
        reevaluation.reevaluation_run(reevaluation_id=RuleSetReevaluation.objects.get().pk, worker="w")
    finally:
        evaluations_replaced.disconnect(batch_written)
    assert seen[:2] == sizes and sum(seen) == 50
    assert Evaluation.objects.filter(ruleset__version=2).count() == 50


@override_settings(REEVALUATION_PART_SIZE=2)
def test_the_first_worker_plans_the_parts_and_enqueues_a_task_for_each_other_part(administrator, coordinator):
    """Five assessments in parts of two: parts 1-3 (the last one short and open-ended), a task for parts 2 and 3
    enqueued once the planning committed. One worker process runs the three tasks in turn: the
    first does every part, the other two find nothing left."""
    for n in range(5):
        PatientFactory(by=coordinator, study_id=f"OPEN-{n}")
    rulesets.ruleset_publish(draft=draft_lowering_alc(administrator), by=administrator)
    record = RuleSetReevaluation.objects.get()
    assert not RuleSetReevaluationPart.objects.exists()  # planned by the first worker, not by the publish
    assert DBTaskResult.objects.count() == 1
    run_worker()
    record.refresh_from_db()
    assert (record.status, record.done, record.total, record.reevaluated, record.attempts) == ("finished", 5, 5, 5, 1)
    keys = sorted(Assessment.objects.values_list("pk", flat=True))
    parts = list(RuleSetReevaluationPart.objects.filter(reevaluation=record).order_by("number"))
    assert [(part.number, part.total, part.done, part.last, part.status) for part in parts] == [
        (1, 2, 2, keys[1], "finished"), (2, 2, 2, keys[3], "finished"), (3, 1, 1, 2**63 - 1, "finished")]
    assert sorted(DBTaskResult.objects.values_list("status", flat=True)) == ["SUCCESSFUL"] * 3
    assert sorted(DBTaskResult.objects.values_list("return_value", flat=True)) == [
        "Finished", "nothing to do", "nothing to do"]
    assert Evaluation.objects.filter(ruleset__version=2).count() == 5


@override_settings(REEVALUATION_PART_SIZE=2)
def test_a_part_that_fails_stops_the_whole_and_resume_does_what_is_left(client, administrator, coordinator):
    for n in range(6):
        PatientFactory(by=coordinator, study_id=f"OPEN-{n}")
    rulesets.ruleset_publish(draft=draft_lowering_alc(administrator), by=administrator)
    record = RuleSetReevaluation.objects.get()
    with down_in_batch(3), pytest.raises(RuntimeError):  # part 2's first batch of one
        reevaluation.reevaluation_run(reevaluation_id=record.pk, worker="first", batch_size=1)
    record.refresh_from_db()
    parts = RuleSetReevaluationPart.objects.filter(reevaluation=record).order_by("number")
    assert [(part.status, part.done) for part in parts] == [("finished", 2), ("failed", 0), ("queued", 0)]
    assert (record.status, record.done, record.total, record.error) == ("failed", 2, 6, "RuntimeError")
    client.force_login(administrator)
    state = client.get(reverse("ruleset_reevaluation", args=[2])).json()
    assert state["resumable"] and "after 2 of 6" in state["text"]
    assert client.post(reverse("ruleset_reevaluation_resume", args=[2])).status_code == 302
    run_worker()
    record.refresh_from_db()
    assert (record.status, record.done, record.total, record.reevaluated, record.attempts, record.error) == (
        "finished", 6, 6, 6, 2, "")
    assert [(part.status, part.done, part.attempts) for part in parts.all()] == [
        ("finished", 2, 1), ("finished", 2, 2), ("finished", 2, 1)]
    assert Evaluation.objects.filter(ruleset__version=2).count() == 6


@override_settings(REEVALUATION_PART_SIZE=2)
def test_a_helper_task_never_restarts_a_failed_reevaluation(administrator, coordinator):
    """A failed re-evaluation waits for Resume: the helper tasks queued for its parts find it failed
    and do nothing (no attempt more, the failing part not tried again, no more helpers queued)."""
    for n in range(6):
        PatientFactory(by=coordinator, study_id=f"OPEN-{n}")
    rulesets.ruleset_publish(draft=draft_lowering_alc(administrator), by=administrator)
    record = RuleSetReevaluation.objects.get()
    with down_in_batch(3) as batches:
        with pytest.raises(RuntimeError):
            reevaluation.reevaluation_run(reevaluation_id=record.pk, worker="first", batch_size=1)
        tasks = DBTaskResult.objects.count()  # the publish's, and a helper for each other part
        assert reevaluation.reevaluation_run(reevaluation_id=record.pk, worker="helper", helper=True) is None
    record.refresh_from_db()
    assert (record.status, record.attempts, record.done) == ("failed", 1, 2)
    assert batches == [1, 1, 1] and DBTaskResult.objects.count() == tasks == 3
    parts = RuleSetReevaluationPart.objects.filter(reevaluation=record).order_by("number")
    assert [(part.status, part.attempts) for part in parts] == [("finished", 1), ("failed", 1), ("queued", 0)]


def test_a_reevaluation_held_whole_by_a_worker_from_before_parts_is_left_to_it(administrator, coordinator):
    """A record running under a worker from before parts (no parts, a live heartbeat): a new worker
    neither plans parts over it nor records it finished; once stalled, it is resumed in parts."""
    for n in range(4):
        PatientFactory(by=coordinator, study_id=f"OPEN-{n}")
    rulesets.ruleset_publish(draft=draft_lowering_alc(administrator), by=administrator)
    record = RuleSetReevaluation.objects.get()
    RuleSetReevaluation.objects.filter(pk=record.pk).update(status="running", worker="old", done=0, total=4,
                                                            heartbeat_at=timezone.now(), started_at=timezone.now())
    assert reevaluation.reevaluation_run(reevaluation_id=record.pk, worker="new") is None
    record.refresh_from_db()
    assert (record.status, record.worker, record.done) == ("running", "old", 0)
    assert not RuleSetReevaluationPart.objects.exists() and under(2) == 0
    RuleSetReevaluation.objects.filter(pk=record.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=121))
    finished = reevaluation.reevaluation_run(reevaluation_id=record.pk, worker="new")
    assert (finished.status, finished.done, finished.total, finished.reevaluated) == ("finished", 4, 4, 4)
    assert under(2) == 4


@override_settings(REEVALUATION_PART_SIZE=2)
def test_rows_saved_after_the_parts_were_planned_count_as_done_meanwhile(administrator, coordinator):
    """A row of part 2 saved (under the new version) while part 1 runs: part 2 no longer lists it,
    and counts it done and saved meanwhile, so the record ends at done = total."""
    from eligibility.patients import services
    from tests.review.batches import after_the_first_batch

    for n in range(4):
        PatientFactory(by=coordinator, study_id=f"OPEN-{n}")
    rulesets.ruleset_publish(draft=draft_lowering_alc(administrator), by=administrator)
    record = RuleSetReevaluation.objects.get()
    last = Assessment.objects.order_by("-pk").first()  # in part 2

    def a_save():
        assessment = Assessment.objects.get(pk=last.pk)
        return services.assessment_update(assessment=assessment, changes={"weight_kg": 70}, stage=assessment.stage,
                                          revision=assessment.revision, by=coordinator)

    with after_the_first_batch(administrator, a_save) as saves:
        finished = reevaluation.reevaluation_run(reevaluation_id=record.pk, worker="w", batch_size=1)
    assert saves[0].ruleset.version == 2
    assert (finished.status, finished.done, finished.total, finished.reevaluated, finished.changed_meanwhile) == (
        "finished", 4, 4, 3, 1)
    parts = RuleSetReevaluationPart.objects.filter(reevaluation=record).order_by("number")
    assert [(part.done, part.total) for part in parts] == [(2, 2), (2, 2)]
    assert Evaluation.objects.filter(ruleset__version=2).count() == 4


@pytest.mark.parametrize(("locked", "expected"), [
    (1.0, 100),  # the target itself: kept
    (1.001, 50),  # just over it: halved
    (0.5, 100),  # half of it: kept
    (0.499, 150),  # just under half: a half larger
])
def test_the_next_batch_size_at_the_targets_boundaries(locked, expected):
    """The target is the setting on SQLite and 1.5 times it on PostgreSQL (``locked`` is a fraction of it)."""
    from django.db import connection

    target = reevaluation.lock_target_seconds()
    assert target == reevaluation.LOCK_TARGET_SECONDS * (1 if connection.vendor == "sqlite" else 1.5)
    assert reevaluation.next_batch_size(100, locked * target) == expected
    assert reevaluation.next_batch_size(reevaluation.BATCH_SIZES[0], 10 * target) == reevaluation.BATCH_SIZES[0]
    assert reevaluation.next_batch_size(reevaluation.BATCH_SIZES[1], 0.0) == reevaluation.BATCH_SIZES[1]
