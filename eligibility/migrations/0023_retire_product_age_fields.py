"""The product-level diagnoses and age limits, now in the products' indication entries (0022;
criteria-v2 5.1, 5.2), are dropped, from the products and their history alike."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("eligibility", "0022_ruleset_clinical_depth")]

    operations = [
        migrations.RemoveField(model_name=model, name=name)
        for model in ("product", "historicalproduct")
        for name in ("diagnoses", "age_limit_diagnoses", "min_age_years", "max_age_years")
    ]
