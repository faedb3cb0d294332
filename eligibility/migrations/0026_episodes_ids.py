"""Episodes, step 3: every episode has its own opaque identifier (pages address it by that)."""

import uuid

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [("eligibility", "0025_episodes_data")]

    operations = [
        migrations.AlterField(
            model_name="assessment",
            name="public_id",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
        migrations.AlterField(
            model_name="historicalassessment",
            name="public_id",
            field=models.UUIDField(db_index=True, default=uuid.uuid4, editable=False),
        ),
    ]
