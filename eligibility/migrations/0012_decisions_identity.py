"""Decisions with meanings (accepted findings, the signature's decision bound by hash format 2),
withdrawal of patients, study identifiers unique in any letter case (constraints in 0014)."""

import django.core.validators
import django.db.models.deletion
import django.db.models.functions.text
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('eligibility', '0011_compact_json_field'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='signoff',
            options={'ordering': ['-signed_at', '-id']},
        ),
        migrations.AddField(
            model_name='historicalpatient',
            name='withdrawal_reason',
            field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name='historicalpatient',
            name='withdrawn_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='historicalpatient',
            name='withdrawn_by',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='patient',
            name='withdrawal_reason',
            field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name='patient',
            name='withdrawn_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='patient',
            name='withdrawn_by',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='signoff',
            name='decision',
            field=models.CharField(choices=[('approved', 'Approved to proceed'), ('deferred', 'Not approved: deferred'), ('not_eligible', 'Not eligible')], default='approved', max_length=16),
        ),
        migrations.AddField(
            model_name='signoff',
            name='hash_version',
            # Signatures made before this migration hash with format 1.
            field=models.PositiveSmallIntegerField(default=1),
        ),
        migrations.AlterField(
            model_name='signoff',
            name='hash_version',
            field=models.PositiveSmallIntegerField(default=2),
        ),
        migrations.AlterField(
            model_name='disposition',
            name='kind',
            field=models.CharField(choices=[('acknowledged', 'Acknowledged'), ('accepted', 'Finding accepted'), ('overridden', 'Overridden')], max_length=12),
        ),
        migrations.AlterField(
            model_name='historicalpatient',
            name='study_id',
            field=models.CharField(help_text="The programme's or trial's identifier for this patient, not a medical record number.", max_length=40, validators=[django.core.validators.RegexValidator('^[A-Za-z0-9][A-Za-z0-9._/-]*$', 'Use letters, digits and . _ / - only (a programme or study number).')], verbose_name='study identifier'),
        ),
        migrations.AlterField(
            model_name='patient',
            name='study_id',
            field=models.CharField(help_text="The programme's or trial's identifier for this patient, not a medical record number.", max_length=40, validators=[django.core.validators.RegexValidator('^[A-Za-z0-9][A-Za-z0-9._/-]*$', 'Use letters, digits and . _ / - only (a programme or study number).')], verbose_name='study identifier'),
        ),
        migrations.AlterField(
            model_name='signoff',
            name='meaning',
            field=models.TextField(),
        ),
    ]
