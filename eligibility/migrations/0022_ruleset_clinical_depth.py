"""Rule sets of the clinical-depth catalogue (criteria-v2 2.2, 2.3, 2.5, 5.2).

- Every rule set records the rules it enables: each existing version enables the 26 of version 1.
- A threshold may be held without a value ("to be entered", drafts only); it may be any key of the
  catalogue (the choices follow the code's, which have no effect on the database).
- Products carry indication entries: for every stored rule set, whatever its status, each
  diagnosis of each product becomes one entry with the product's age limits where they applied to
  that diagnosis, and one pathway whose minimum of prior lines is that rule set's
  ``min_prior_lines_<diagnosis>`` (lbcl, fl, mcl, cll, mm; none for other diagnoses); the five
  ``min_prior_lines_*`` thresholds are then deleted (their values live on in the entries). The
  products' history rows get their entries the same way, so a product's history reads in one shape.
  Migration 0023 drops the product-level diagnosis and age fields.
- A version's events include rules enabled or disabled and optional groups added or removed.
- An evaluation records the evaluation date it used (empty for those made before).

The values are computed here, not with the application's code, so that this migration always
gives the same result whatever later code changes.
"""

from decimal import Decimal

from django.db import migrations, models

import eligibility.rulesets.models

#: Version 1's rules (criteria.md 6) in catalogue order: by phase, then number.
VERSION_1_RULES = [
    "indication", "target_antigen", "prior_targeted_therapy", "prior_inotuzumab", "age", "performance_status",
    "life_expectancy", "prior_allo_hsct", "bacterial_infection", "fungal_infection", "viral_infection", "hbv",
    "hcv", "hiv", "disease_burden", "alc", "infectious_markers", "starting_material", "lymphodepletion",
    "organ_function", "tocilizumab", "caregiver", "proximity", "driving_counselled", "fever", "site_accreditation",
]
#: The retired thresholds, by the diagnosis whose minimum of prior lines they held.
MIN_PRIOR_LINES_KEYS = {
    "lbcl": "min_prior_lines_lbcl",
    "fl": "min_prior_lines_fl",
    "mcl": "min_prior_lines_mcl",
    "cll": "min_prior_lines_cll",
    "mm": "min_prior_lines_mm",
}


def _age(value):
    """An age as a rule-set file writes it (``rules.indication_as_dict``): a whole number as an int."""
    if value is None:
        return None
    value = Decimal(value)
    return int(value) if value == value.to_integral_value() else float(value)


def product_indications(*, diagnoses, age_limit_diagnoses, min_age_years, max_age_years, min_prior_lines):
    """A product's indication entries (criteria-v2 5.2) from its old fields and its rule set's
    ``min_prior_lines`` values ({diagnosis: Decimal}), ordered by diagnosis."""
    entries = []
    for diagnosis in sorted(set(diagnoses or ())):
        limited = diagnosis in (age_limit_diagnoses or ())
        minimum = min_prior_lines.get(diagnosis)
        entries.append({
            "diagnosis": diagnosis,
            "min_age_years": _age(min_age_years) if limited else None,
            "max_age_years": _age(max_age_years) if limited else None,
            "source": "",
            "pathways": [{"label": "", "min_prior_lines": None if minimum is None else int(minimum),
                          "required_drug_classes": [], "first_line_response_in": None, "disease_status_in": None,
                          "min_relapse_number": None, "transplant_ineligible": False,
                          "lenalidomide_refractory": False}],
        })
    return entries


def migrate_rulesets(apps, schema_editor):
    """Every stored rule set (and its products' history) in the shape of criteria-v2 5.2."""
    RuleSet = apps.get_model("eligibility", "RuleSet")
    Threshold = apps.get_model("eligibility", "Threshold")
    Product = apps.get_model("eligibility", "Product")
    HistoricalProduct = apps.get_model("eligibility", "HistoricalProduct")
    RuleSet.objects.update(enabled_rules=VERSION_1_RULES)
    retired = list(MIN_PRIOR_LINES_KEYS.values())
    minimums: dict[int, dict[str, Decimal]] = {}
    for ruleset_id, key, value in Threshold.objects.filter(key__in=retired).values_list("ruleset_id", "key", "value"):
        diagnosis = next(code for code, name in MIN_PRIOR_LINES_KEYS.items() if name == key)
        minimums.setdefault(ruleset_id, {})[diagnosis] = value
    for model in (Product, HistoricalProduct):
        for row in model.objects.all().iterator():
            row.indications = product_indications(
                diagnoses=row.diagnoses, age_limit_diagnoses=row.age_limit_diagnoses,
                min_age_years=row.min_age_years, max_age_years=row.max_age_years,
                min_prior_lines=minimums.get(row.ruleset_id, {}))
            # The history model's primary key is history_id: update, not save (no new history row).
            model.objects.filter(pk=row.pk).update(indications=row.indications)
    Threshold.objects.filter(key__in=retired).delete()


class Migration(migrations.Migration):
    dependencies = [("eligibility", "0021_speed_indexes")]

    operations = [
        migrations.AddField(
            model_name="ruleset",
            name="enabled_rules",
            field=models.JSONField(default=eligibility.rulesets.models.version_1_rules),
        ),
        migrations.AlterField(
            model_name="threshold",
            name="key",
            field=models.CharField(choices=eligibility.rulesets.models.THRESHOLD_CHOICES, max_length=64),
        ),
        migrations.AlterField(
            model_name="historicalthreshold",
            name="key",
            field=models.CharField(choices=eligibility.rulesets.models.THRESHOLD_CHOICES, max_length=64),
        ),
        migrations.AlterField(
            model_name="threshold",
            name="value",
            field=models.DecimalField(blank=True, decimal_places=3, max_digits=10, null=True),
        ),
        migrations.AlterField(
            model_name="historicalthreshold",
            name="value",
            field=models.DecimalField(blank=True, decimal_places=3, max_digits=10, null=True),
        ),
        migrations.AddField(
            model_name="product",
            name="indications",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddField(
            model_name="historicalproduct",
            name="indications",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddField(
            model_name="evaluation",
            name="as_of",
            field=models.DateField(blank=True, null=True),
        ),
        *(migrations.AlterField(
            model_name=model,
            name="action",
            field=models.CharField(choices=eligibility.rulesets.models.RuleSetEvent.Action.choices, max_length=10),
        ) for model in ("rulesetevent", "historicalrulesetevent")),
        migrations.RunPython(migrate_rulesets, migrations.RunPython.noop),
    ]
