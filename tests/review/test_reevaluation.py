"""The bulk re-evaluation after a publish (eligibility/review/reevaluation.py): open assessments
re-evaluated under the new version, signed checklists pinned and asked about, resumable batches that
never overwrite a save made meanwhile, and the command that finishes a cut-short run."""

from __future__ import annotations

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from eligibility.models import Assessment, Evaluation
from eligibility.patients import services
from eligibility.review import reevaluation
from eligibility.review import services as review
from eligibility.rulesets import services as rulesets
from tests.conftest import replay_data_migrations
from tests.factories import PASSWORD, PatientFactory, UserFactory
from tests.review.batches import after_the_first_batch
from tests.review.test_review_requests import publish, queued, signed_before_apheresis
from tests.rulesets.test_services import CLEAN, VERSION_2, patient_at

pytestmark = pytest.mark.django_db


@pytest.fixture
def migration_data(transactional_db):
    """Roles and version 1 again after a transactional test's flush (ask for it first)."""
    replay_data_migrations()


def test_the_boundary_decides_whether_a_signed_checklist_is_asked_about(administrator, coordinator, physician):
    # ALC 0.15 x10^9/L: a minimum of 0.16 keeps the flag (nothing to review); 0.15 itself passes it.
    patient, evaluation, _ = signed_before_apheresis(coordinator, physician)
    _, outcome = publish(administrator, alc_min_1e9_per_l=Decimal("0.16"))
    assert (outcome.review_requested, outcome.unchanged_signed) == (0, 1)
    assert not patient.assessment.review_requests.exists()
    assert not queued(patient)
    _, outcome = publish(administrator, alc_min_1e9_per_l=Decimal("0.15"))
    assert (outcome.review_requested, outcome.unchanged_signed) == (1, 0)
    assert Assessment.objects.get(pk=patient.assessment.pk).current_evaluation == evaluation
    assert queued(patient)


def test_publishing_reevaluates_open_assessments_and_pins_signed_ones(administrator, coordinator):
    near = patient_at(coordinator, 30)
    physician = UserFactory(role="Physician")
    # Signed off before leukapheresis with a low ALC (flag): a lower ALC threshold would change it.
    signed = PatientFactory(by=coordinator, study_id="SIGNED-APHERESIS")
    data = {key: value for key, value in CLEAN.items() if key not in ("case_id", "stage")}
    signed_evaluation = services.assessment_update(
        assessment=signed.assessment, changes={**data, "alc": {"value": 150, "unit": "cells/uL"}},
        stage="pre_apheresis", revision=signed.assessment.revision, by=coordinator)
    review.disposition_record(evaluation=signed_evaluation, code="alc", kind="acknowledged", by=physician)
    signoff = review.signoff_create(evaluation=signed_evaluation, password=PASSWORD, by=physician)
    # Signed off for infusion: closed, not re-evaluated at all.
    closed = patient_at(coordinator, 45)
    closed_evaluation = Assessment.objects.get(patient=closed).current_evaluation
    review.signoff_create(evaluation=closed_evaluation, password=PASSWORD, by=physician)

    draft = rulesets.ruleset_draft_create(by=administrator)
    rulesets.ruleset_thresholds_update(draft=draft, values={**VERSION_2, "alc_min_1e9_per_l": Decimal("0.1")},
                                       by=administrator)
    published = rulesets.ruleset_publish(draft=draft, note="June 2025 labels", by=administrator)
    outcome = reevaluation.reevaluate_open_assessments(ruleset=published, by=administrator)
    assert (outcome.reevaluated, outcome.review_requested) == (1, 1)

    near_evaluation = Assessment.objects.get(patient=near).current_evaluation
    assert near_evaluation.ruleset == published
    assert {change["code"] for change in near_evaluation.changes} >= {"driving_counselled", "proximity"}
    driving = next(item for item in near_evaluation.checklist["items"] if item["code"] == "driving_counselled")
    assert "2 weeks" in driving["reason"]

    signed_assessment = Assessment.objects.get(patient=signed)
    assert signed_assessment.current_evaluation == signed_evaluation  # pinned, never silently changed
    assert signed_evaluation.ruleset.version == 1
    request = signed_assessment.review_requests.get()
    assert request.is_open and request.evaluation == signed_evaluation and request.ruleset == published
    assert "version 2 would change this signed checklist" in request.message
    assert "(cleared with flags → cleared; Absolute lymphocyte count: flag → pass)" in request.message
    signoff.refresh_from_db()
    assert not signoff.is_void and review.signoff_verify(signoff)
    assert Assessment.objects.get(patient=closed).current_evaluation == closed_evaluation
    assert not Assessment.objects.get(patient=closed).review_requests.exists()


@pytest.mark.django_db(transaction=True)
def test_reevaluation_is_resumable_and_never_overwrites_a_save_made_meanwhile(
        migration_data, administrator, coordinator, physician):
    patients = [PatientFactory(by=coordinator, study_id=f"OPEN-{n}") for n in range(3)]
    signed_before_apheresis(coordinator, physician)
    draft = rulesets.ruleset_draft_create(by=administrator)
    rulesets.ruleset_thresholds_update(draft=draft, values={"alc_min_1e9_per_l": Decimal("0.1")}, by=administrator)
    published = rulesets.ruleset_publish(draft=draft, note="test", by=administrator)

    def a_save():
        # A coordinator saves the last patient after the rows to re-evaluate were listed, before its
        # batch reads and writes them.
        assessment = Assessment.objects.get(patient=patients[2])
        return services.assessment_update(assessment=assessment, changes={"weight_kg": 70}, stage=assessment.stage,
                                          revision=assessment.revision, by=coordinator)

    with after_the_first_batch(administrator, a_save) as saves:
        outcome = reevaluation.reevaluate_open_assessments(ruleset=published, by=administrator, batch_size=1)
    assert len(saves) == 1
    assert (outcome.reevaluated, outcome.changed_meanwhile, outcome.review_requested) == (2, 1, 1)
    saved = Assessment.objects.get(patient=patients[2])
    assert saved.data["weight_kg"] == 70 and saved.current_evaluation.inputs["weight_kg"] == 70
    assert saved.current_evaluation.reevaluated_from is None  # the save's own evaluation stands
    evaluations = Evaluation.objects.count()
    again = reevaluation.reevaluate_open_assessments(ruleset=published, by=administrator)
    assert (again.reevaluated, again.review_requested, again.changed_meanwhile) == (0, 0, 0)
    assert Evaluation.objects.count() == evaluations


def test_the_command_finishes_a_reevaluation(administrator, coordinator):
    patient = PatientFactory(by=coordinator, study_id="OPEN-CMD")
    draft = rulesets.ruleset_draft_create(by=administrator)
    rulesets.ruleset_thresholds_update(draft=draft, values={"alc_min_1e9_per_l": Decimal("0.1")}, by=administrator)
    rulesets.ruleset_publish(draft=draft, note="test", by=administrator)  # not re-evaluated: cut short
    with pytest.raises(CommandError, match="not an administrator"):
        call_command("reevaluate_open_assessments", "--as-user", coordinator.username)
    out = StringIO()
    call_command("reevaluate_open_assessments", "--as-user", administrator.username, stdout=out)
    assert "Rule set version 2: 1 re-evaluated" in out.getvalue()
    assert Assessment.objects.get(patient=patient).current_evaluation.ruleset.version == 2
