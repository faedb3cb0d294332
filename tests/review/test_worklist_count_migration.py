"""Migration 0033: SQLite keeps the worklist's caption counts from the migration on, starting from
the patients already listed (PostgreSQL's are 0032's: the migration leaves them as they are).

Run on the real schema: migrated back to 0032, patients written, migrated forward again."""

from __future__ import annotations

import pytest
from django.db import connection

from eligibility.models import Assessment, Patient, WorklistCount
from eligibility.patients import services
from eligibility.review.selectors import worklist_count
from tests.conftest import migrate_to, migrate_to_latest, replay_data_migrations
from tests.factories import SCREENING_TO_REVIEW, PatientFactory, UserFactory
from tests.review.test_worklist_rows import assert_counts_right

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("migration_data_then_latest_schema")]


def test_the_patients_listed_before_the_migration_are_counted_from_it_on():
    migrate_to([("eligibility", "0032_worklist_counts")])
    coordinator = UserFactory(role="Coordinator")
    patients = [PatientFactory(by=coordinator, study_id=f"MIGC-{number}") for number in range(3)]
    services.patient_withdraw(patient=Patient.objects.get(pk=patients[2].pk), reason="Entered by mistake",
                              by=coordinator)
    if connection.vendor == "sqlite":
        assert not WorklistCount.objects.exists()  # nothing kept before 0033 there

    migrate_to_latest()
    assert_counts_right()
    assert worklist_count() == 2 and worklist_count(stage="screening") == 2

    assessment = Assessment.objects.get(patient=patients[0])  # and kept from then on
    services.assessment_update(assessment=assessment, changes=SCREENING_TO_REVIEW, stage="pre_apheresis",
                               revision=assessment.revision, by=coordinator)
    assert_counts_right()
    assert (worklist_count(), worklist_count(stage="screening"), worklist_count(stage="pre_apheresis")) == (2, 1, 1)


def test_a_flush_leaves_no_count_behind():
    """``manage.py flush`` (and every transactional test's end) empties the tables one by one; on
    SQLite the episodes' deletion appends its deltas, maybe after the counts' table was emptied:
    the counts are counted again after it (``post_migrate``), so none is left for no patient."""
    from django.core.management import call_command

    coordinator = UserFactory(role="Coordinator")
    for number in range(3):
        PatientFactory(by=coordinator, study_id=f"FLUSH-{number}")
    assert worklist_count() == 3
    call_command("flush", interactive=False, verbosity=0)
    assert not WorklistCount.objects.exists()
    assert not Assessment.objects.exists()
    replay_data_migrations()
    PatientFactory(by=UserFactory(role="Coordinator"), study_id="FLUSH-AFTER")
    assert_counts_right()
    assert worklist_count() == 1
