"""patients/lifecycle.py: row locks and a new current evaluation, announced to the packages above."""

from __future__ import annotations

import pytest
from django.db import transaction

from eligibility.models import Assessment, Evaluation
from eligibility.patients import lifecycle, services
from eligibility.patients.signals import evaluations_replaced
from eligibility.rulesets.selectors import active_engine
from tests.conftest import replay_data_migrations
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def heard():
    """What ``evaluations_replaced`` announced during the test."""
    announced = []

    def receiver(sender, **kwargs):
        announced.append(kwargs)

    evaluations_replaced.connect(receiver, weak=False)
    yield announced
    evaluations_replaced.disconnect(receiver)


def new_evaluation(assessment: Assessment, by) -> Evaluation:
    ruleset, engine = active_engine()
    case = engine.parse({"stage": assessment.stage, "case_id": str(assessment.patient.public_id), "ecog": 1})
    return services.evaluation_build(assessment_id=assessment.pk, ruleset=ruleset, case=case,
                                     checklist=engine.evaluate(case), by=by)


@pytest.fixture
def migration_data(transactional_db):
    """Roles and version 1 again after a transactional test's flush (ask for it first)."""
    replay_data_migrations()


@pytest.mark.django_db(transaction=True)
def test_locks_and_installs_are_refused_outside_a_transaction(migration_data, coordinator):
    patient = PatientFactory(by=coordinator)
    with pytest.raises(RuntimeError, match="needs a transaction"):
        lifecycle.assessments_lock([patient.assessment.pk])
    replacement = lifecycle.Replacement(assessment_id=patient.assessment.pk, previous_id=None,
                                        evaluation=new_evaluation(patient.assessment, coordinator),
                                        void_reason="", request_note="")
    with pytest.raises(RuntimeError, match="needs the assessments locked"):
        lifecycle.evaluations_install([replacement], by=coordinator)
    assert Evaluation.objects.count() == 1


def test_installing_nothing_writes_and_announces_nothing(coordinator, heard):
    PatientFactory(by=coordinator)
    heard.clear()
    assert lifecycle.evaluations_install([], by=coordinator) == []
    assert heard == [] and Evaluation.objects.count() == 1


def test_a_new_evaluation_becomes_current_and_is_announced_with_its_replacement(coordinator, heard):
    patient = PatientFactory(by=coordinator)
    previous = patient.assessment.current_evaluation
    heard.clear()
    with transaction.atomic():
        assessment = lifecycle.assessment_locked(patient.assessment.pk)
        evaluation = lifecycle.install_one(assessment=assessment, evaluation=new_evaluation(assessment, coordinator),
                                           void_reason="Data changed.", request_note="Data changed.", by=coordinator)
    assert Assessment.objects.get(pk=assessment.pk).current_evaluation == evaluation != previous
    assert evaluation.inputs["ecog"] == 1
    [announced] = heard
    assert announced["by"] == coordinator
    assert [(r.assessment_id, r.previous_id, r.evaluation) for r in announced["replacements"]] == [
        (assessment.pk, previous.pk, evaluation)]
