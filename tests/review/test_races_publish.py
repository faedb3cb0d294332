"""Races of the re-evaluation after a publish: two workers on the same version's re-evaluation
never evaluate an assessment twice, and a save waits for one batch, not for the re-evaluation.

CI runs every tests/*/test_races*.py module on PostgreSQL and again on SQLite.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test import override_settings

from eligibility.models import Assessment, Evaluation, RuleSetReevaluation, RuleSetReevaluationPart
from eligibility.patients import services
from eligibility.review import reevaluation
from eligibility.rulesets import services as rulesets
from tests.conftest import replay_data_migrations
from tests.factories import PatientFactory
from tests.review.batches import after_the_first_batch

pytestmark = pytest.mark.django_db(transaction=True)

PATIENTS = 6


@pytest.fixture(autouse=True)
def _migration_data(transactional_db):
    replay_data_migrations()


@pytest.fixture
def published(administrator, coordinator):
    for n in range(PATIENTS):
        PatientFactory(by=coordinator, study_id=f"OPEN-{n}")
    draft = rulesets.ruleset_draft_create(by=administrator)
    rulesets.ruleset_thresholds_update(draft=draft, values={"alc_min_1e9_per_l": Decimal("0.1")}, by=administrator)
    return rulesets.ruleset_publish(draft=draft, note="test", by=administrator)


def assert_each_assessment_evaluated_once(published) -> RuleSetReevaluation:
    assert Evaluation.objects.filter(ruleset=published).count() == PATIENTS
    assert Assessment.objects.filter(current_evaluation__ruleset=published).count() == PATIENTS
    record = RuleSetReevaluation.objects.get(ruleset=published)
    assert (record.status, record.done, record.total, record.reevaluated) == ("finished", PATIENTS, PATIENTS,
                                                                             PATIENTS)
    return record


def two_workers_at_once(record) -> tuple[dict, list]:
    """Workers "first" and "second" (threads, each with its own connection) run the re-evaluation
    of ``record`` in batches of one, released together by a barrier: what each returned, and errors."""
    barrier = threading.Barrier(2)
    results, errors = {}, []

    def worker(name):
        try:
            barrier.wait(5)
            results[name] = reevaluation.reevaluation_run(reevaluation_id=record.pk, worker=name, batch_size=1)
        except Exception as exc:  # noqa: BLE001 (the test inspects it)
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(name,)) for name in ("first", "second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results, errors


def test_two_workers_started_at_once_on_one_version_evaluate_each_assessment_once(published):
    """Two workers (threads, each with its own connection) released together by a barrier: the
    lease, taken under the record's row lock, lets exactly one of them run."""
    record = RuleSetReevaluation.objects.get(ruleset=published)
    results, errors = two_workers_at_once(record)
    assert not errors
    ran = [name for name, result in results.items() if result is not None]
    assert len(results) == 2 and len(ran) == 1  # one ran it; the other found it held or finished
    record = assert_each_assessment_evaluated_once(published)
    part = RuleSetReevaluationPart.objects.get(reevaluation=record)  # six assessments: one part
    assert record.attempts == 1 and (part.worker, part.attempts, part.status) == (ran[0], 1, "finished")


@override_settings(REEVALUATION_PART_SIZE=2)
def test_two_workers_at_once_share_the_parts_and_evaluate_each_assessment_once(published):
    """Three parts of two assessments; two workers released together by a barrier: each part is
    run by one worker once, every assessment evaluated once, the counts added up exactly."""
    record = RuleSetReevaluation.objects.get(ruleset=published)
    results, errors = two_workers_at_once(record)
    assert not errors and len(results) == 2
    record = assert_each_assessment_evaluated_once(published)
    assert record.attempts == 1  # started once; the other worker joined it
    parts = list(RuleSetReevaluationPart.objects.filter(reevaluation=record).order_by("number"))
    assert [(part.number, part.total, part.done, part.status, part.attempts) for part in parts] == [
        (1, 2, 2, "finished", 1), (2, 2, 2, "finished", 1), (3, 2, 2, "finished", 1)]
    assert {part.worker for part in parts} <= {"first", "second"}
    assert any(result is not None and result.status == "finished" for result in results.values())
    assert all(result is None or result.status in ("running", "finished") for result in results.values())


@override_settings(REEVALUATION_PART_SIZE=2)
def test_a_second_worker_takes_the_parts_the_first_one_does_not_hold(published):
    """The second worker starts while the first is between the batches of part 1 (held, live): it
    takes parts 2 and 3, then leaves; the first finishes part 1 and records the whole finished."""
    record = RuleSetReevaluation.objects.get(ruleset=published)
    second = []

    def second_worker():
        second.append(reevaluation.reevaluation_run(reevaluation_id=record.pk, worker="second", batch_size=1))
        return second[-1]

    with after_the_first_batch(published.reevaluation.requested_by, second_worker):
        first = reevaluation.reevaluation_run(reevaluation_id=record.pk, worker="first", batch_size=1)
    assert second[0].status == "running"  # it did its parts and left; part 1 was still the first worker's
    assert first is not None and first.status == "finished"
    record = assert_each_assessment_evaluated_once(published)
    parts = RuleSetReevaluationPart.objects.filter(reevaluation=record).order_by("number")
    assert [(part.worker, part.done, part.attempts) for part in parts] == [
        ("first", 2, 1), ("second", 2, 1), ("second", 2, 1)]
    assert record.attempts == 1


@override_settings(REEVALUATION_STALLED_AFTER=timedelta(0))
def test_a_worker_thought_dead_that_wakes_up_commits_nothing_more(published):
    """The first worker's lease is taken over after its first batch (it looks stalled: here, at
    once); when it goes on, its next batch finds the lease gone and rolls back: each assessment is
    still evaluated once, and the counts are the second worker's and the first one's first batch."""
    record = RuleSetReevaluation.objects.get(ruleset=published)
    taken_over = []

    def second_worker():
        taken_over.append(reevaluation.reevaluation_run(reevaluation_id=record.pk, worker="second", batch_size=2))

    with after_the_first_batch(published.reevaluation.requested_by, second_worker):
        first = reevaluation.reevaluation_run(reevaluation_id=record.pk, worker="first", batch_size=2)
    assert first is None  # it lost the lease and stopped
    assert taken_over[0] is not None and taken_over[0].worker == "second"
    record = assert_each_assessment_evaluated_once(published)
    assert record.attempts == 2


def test_two_runs_without_a_lease_still_never_evaluate_an_assessment_twice(published, administrator):
    """Even without the lease (the command and a worker on a version published before leases), each
    batch reads its rows again under their locks and skips what the version did meanwhile."""
    barrier = threading.Barrier(2)
    outcomes, errors = [], []

    def run():
        try:
            barrier.wait(5)
            outcomes.append(reevaluation.reevaluate_open_assessments(ruleset=published, by=administrator,
                                                                     batch_size=1))
        except Exception as exc:  # noqa: BLE001 (the test inspects it)
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors and len(outcomes) == 2
    assert sum(outcome.reevaluated for outcome in outcomes) == PATIENTS
    assert Evaluation.objects.filter(ruleset=published).count() == PATIENTS


def test_a_save_between_two_batches_of_the_worker_goes_through(published, coordinator):
    """A save waits for one batch at most: between two batches it runs, under the new version."""
    record = RuleSetReevaluation.objects.get(ruleset=published)
    last = Assessment.objects.order_by("-pk").first()

    def a_save():
        assessment = Assessment.objects.get(pk=last.pk)
        return services.assessment_update(assessment=assessment, changes={"weight_kg": 70}, stage=assessment.stage,
                                          revision=assessment.revision, by=coordinator)

    with after_the_first_batch(published.reevaluation.requested_by, a_save) as saves:
        reevaluation.reevaluation_run(reevaluation_id=record.pk, worker="w", batch_size=1)
    assert saves[0].ruleset == published  # saved under the new version while the re-evaluation ran
    record.refresh_from_db()
    assert (record.status, record.done, record.reevaluated, record.changed_meanwhile) == (
        "finished", PATIENTS, PATIENTS - 1, 1)
    assert Evaluation.objects.filter(ruleset=published, assessment_id=last.pk).count() == 1


def test_a_save_after_a_batch_was_planned_discards_the_evaluation_inserted_for_it(published, coordinator, monkeypatch):
    """A batch inserts its new evaluations before it locks its rows; a row saved after the batch was
    planned (and before its transaction) is read again under the lock: the evaluation inserted for it
    is deleted in the same transaction (never current, never committed), and the save's own
    evaluation, under the new version, is the only one. Deterministic: the save runs between the
    planning and the batch's transaction, through the run's own planning step."""
    record = RuleSetReevaluation.objects.get(ruleset=published)
    target = Assessment.objects.order_by("pk").first()
    plan_batch = reevaluation.batch_plans
    saved = []

    def plans_then_a_save(ruleset, pks, *args):
        plans = plan_batch(ruleset, pks, *args)
        if target.pk in pks and not saved:
            assessment = Assessment.objects.get(pk=target.pk)
            saved.append(services.assessment_update(assessment=assessment, changes={"weight_kg": 71},
                                                    stage=assessment.stage, revision=assessment.revision,
                                                    by=coordinator))
        return plans

    monkeypatch.setattr(reevaluation, "batch_plans", plans_then_a_save)
    finished = reevaluation.reevaluation_run(reevaluation_id=record.pk, worker="w", batch_size=3)
    assert saved[0].ruleset == published  # the save evaluated it under the new version
    assert (finished.status, finished.done, finished.reevaluated, finished.changed_meanwhile) == (
        "finished", PATIENTS, PATIENTS - 1, 1)
    assert list(Evaluation.objects.filter(ruleset=published, assessment_id=target.pk)) == [saved[0]]
    assert Assessment.objects.get(pk=target.pk).current_evaluation_id == saved[0].pk
    assert Evaluation.objects.filter(ruleset=published).count() == PATIENTS  # one each: none left over
    assert Assessment.objects.filter(current_evaluation__ruleset=published).count() == PATIENTS
