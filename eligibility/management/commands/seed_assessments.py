"""Seed N synthetic open assessments (plausible, varied, reproducible) for demos and benchmarks."""

import random

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from eligibility.models import Assessment, Evaluation, Patient
from eligibility.patients.services import evaluation_build
from eligibility.rules import synthetic_case
from eligibility.rulesets.selectors import active_engine

BATCH = 500


class Command(BaseCommand):
    help = "Create N synthetic patients with an evaluated, open assessment (SYN-<seed>-<n> identifiers)."

    def add_arguments(self, parser):
        parser.add_argument("count", type=int)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--as-user", default=None, help="recorded as the author (default: the first administrator)")

    def handle(self, *args, count, seed, as_user, **options):
        User = get_user_model()
        author = (User.objects.filter(username=as_user).first() if as_user
                  else User.objects.filter(groups__name="Administrator").order_by("pk").first())
        if author is None:
            raise CommandError("No author: run 'manage.py ensure_admin' first or pass --as-user.")
        ruleset, engine = active_engine()
        rng = random.Random(seed)  # noqa: S311 (reproducible synthetic data)
        created = 0
        while created < count:
            size = min(BATCH, count - created)
            with transaction.atomic():
                self._batch(engine, ruleset, rng, seed, created, size, author)
            created += size
        # After a bulk load, the query planner's statistics (SQLite has none until ANALYZE: without
        # them it sorts every patient for a worklist page instead of reading an index in order).
        with connection.cursor() as cursor:
            for model in (Patient, Assessment, Evaluation):
                cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
        self.stdout.write(f"Seeded {created} synthetic open assessments (seed {seed}).")

    @staticmethod
    def _batch(engine, ruleset, rng, seed, start, size, author):
        cases = [synthetic_case(rng, start + index) for index in range(size)]
        # With their history records, as if entered on the pages (who, when, which values).
        patients = bulk_create_with_history(
            [Patient(study_id=f"SYN-{seed}-{start + index:06d}", initials="SY", created_by=author)
             for index in range(size)],
            Patient, default_user=author, default_change_reason="Synthetic (seed_assessments)",
        )
        assessments = bulk_create_with_history(
            [Assessment(patient=patient, stage=case.pop("stage"),
                        data={key: value for key, value in case.items() if key != "case_id" and value is not None},
                        updated_by=author, opened_by=author, opened_at=patient.created_at)
             for patient, case in zip(patients, cases, strict=True)],
            Assessment, default_user=author, default_change_reason="Synthetic (seed_assessments)",
        )
        evaluations = []
        for assessment in assessments:
            parsed = engine.parse({**assessment.data, "stage": assessment.stage,
                                   "case_id": str(assessment.patient.public_id)}, timezone.localdate())
            evaluations.append(evaluation_build(assessment_id=assessment.pk, ruleset=ruleset, case=parsed,
                                                checklist=engine.evaluate(parsed), by=author))
        Evaluation.objects.bulk_create(evaluations)
        for assessment, evaluation in zip(assessments, evaluations, strict=True):
            assessment.current_evaluation = evaluation
        Assessment.objects.bulk_update(assessments, ["current_evaluation"])
        for patient, assessment in zip(patients, assessments, strict=True):
            patient.assessment = assessment  # episode 1, current
        Patient.objects.bulk_update(patients, ["assessment"])
