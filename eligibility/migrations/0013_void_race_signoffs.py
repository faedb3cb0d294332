"""Before the constraints of 0014: signatures that earlier versions' races left standing are voided
(with the reason stated; nothing deleted or rewritten), and identifiers that differ only by letter
case stop the migration with a message (they must be corrected by hand: which is the right patient
is not the migration's to guess)."""

from django.db import migrations
from django.db.models import Count, F
from django.db.models.functions import Upper
from django.utils import timezone


def void_race_signoffs(apps, schema_editor):
    SignOff = apps.get_model("eligibility", "SignOff")
    Assessment = apps.get_model("eligibility", "Assessment")
    now = timezone.now()
    # A standing signature on a checklist that is no longer the assessment's current one: a save
    # raced the signature (the save's new checklist was never signed).
    current = Assessment.objects.values_list("current_evaluation_id", flat=True)
    SignOff.objects.filter(voided_at__isnull=True).exclude(evaluation_id__in=current).update(
        voided_at=now, void_reason="Voided on upgrade: signed on a checklist that was no longer the current one "
                                   "(a save and the signature crossed).")
    # Two standing signatures on one assessment: the first stands, the later ones are voided.
    doubled = (SignOff.objects.filter(voided_at__isnull=True).values("assessment_id")
               .annotate(n=Count("id")).filter(n__gt=1).values_list("assessment_id", flat=True))
    for assessment_id in list(doubled):
        standing = SignOff.objects.filter(voided_at__isnull=True, assessment_id=assessment_id).order_by("signed_at", "id")
        SignOff.objects.filter(pk__in=[s.pk for s in standing[1:]]).update(
            voided_at=now, void_reason="Voided on upgrade: a second signature made at the same time as the first "
                                       "(two physicians signed at once); the first stands.")


def refuse_case_duplicates(apps, schema_editor):
    Patient = apps.get_model("eligibility", "Patient")
    clashes = (Patient.objects.annotate(key=Upper(F("study_id"))).values("key").annotate(n=Count("id"))
               .filter(n__gt=1).count())
    if clashes:
        # No identifier in the message: it goes to consoles and logs.
        raise RuntimeError(
            f"{clashes} study identifier(s) exist twice, differing only by letter case. Correct them in the "
            "application (Patient → Correct identifier) with the version before this upgrade, then migrate again.")


class Migration(migrations.Migration):

    dependencies = [
        ("eligibility", "0012_decisions_identity"),
    ]

    operations = [
        migrations.RunPython(refuse_case_duplicates, migrations.RunPython.noop),
        migrations.RunPython(void_race_signoffs, migrations.RunPython.noop),
    ]
