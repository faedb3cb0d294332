"""What the database enforces from now on: study identifiers unique in any letter case, at most one
standing signature per checklist and per assessment (0013 voided what earlier races left)."""

import django.db.models.functions.text
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("eligibility", "0013_void_race_signoffs"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name="patient",
            constraint=models.UniqueConstraint(django.db.models.functions.text.Upper("study_id"), name="study_id_unique_any_case"),
        ),
        migrations.AddConstraint(
            model_name="signoff",
            constraint=models.UniqueConstraint(condition=models.Q(("voided_at__isnull", True)), fields=("evaluation",), name="one_standing_signoff_per_evaluation"),
        ),
        migrations.AddConstraint(
            model_name="signoff",
            constraint=models.UniqueConstraint(condition=models.Q(("voided_at__isnull", True)), fields=("assessment",), name="one_standing_signoff_per_assessment"),
        ),
    ]
