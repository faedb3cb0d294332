"""Episodes, step 2: every patient's one assessment becomes its episode 1 (a migration of its own:
PostgreSQL refuses to alter a table with row updates pending their deferred checks)."""

import uuid

from django.db import migrations
from django.db.models import OuterRef, Subquery


def episodes_from_assessments(apps, schema_editor):
    """Every patient's one assessment becomes its episode 1 (first work-up), current and open,
    opened when and by whom the patient was created. Nothing else moves: evaluations, signatures,
    decisions, review requests, hand-offs and every history row keep pointing at the same row."""
    Patient = apps.get_model("eligibility", "Patient")
    Assessment = apps.get_model("eligibility", "Assessment")
    Historical = apps.get_model("eligibility", "HistoricalAssessment")
    of_patient = Patient.objects.filter(pk=OuterRef("patient_id"))
    Assessment.objects.update(number=1, opened_at=Subquery(of_patient.values("created_at")[:1]),
                              opened_by=Subquery(of_patient.values("created_by")[:1]))
    Patient.objects.update(assessment=Subquery(Assessment.objects.filter(patient=OuterRef("pk")).values("pk")[:1]))
    pks = list(Assessment.objects.order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(pks), 2000):
        chunk = [Assessment(pk=pk, public_id=uuid.uuid4()) for pk in pks[start:start + 2000]]
        Assessment.objects.bulk_update(chunk, ["public_id"])
    Historical.objects.update(public_id=Subquery(Assessment.objects.filter(pk=OuterRef("id")).values("public_id")[:1]))

def assessments_from_episodes(apps, schema_editor):
    """Back to one assessment a patient: only possible while every patient has one episode."""
    Assessment = apps.get_model("eligibility", "Assessment")
    if Assessment.objects.exclude(number=1).exists():
        raise RuntimeError("Patients have more than one treatment episode: migrating back would lose them.")


class Migration(migrations.Migration):

    dependencies = [("eligibility", "0024_episodes")]

    operations = [migrations.RunPython(episodes_from_assessments, assessments_from_episodes, elidable=False)]
