"""Version 1 "Default (source documents)": every threshold and product as criteria.md gives them.

The values are written out here, not imported from the application code, so that this migration
always creates the same version 1 whatever later code changes (a test checks they match the
code's defaults today).
"""

from decimal import Decimal

from django.db import migrations

THRESHOLDS = {
    "min_prior_lines_lbcl": "2",
    "min_prior_lines_fl": "2",
    "min_prior_lines_mcl": "1",
    "min_prior_lines_cll": "1",
    "min_prior_lines_mm": "1",
    "infant_age_years": "1",
    "ecog_below": "2",
    "karnofsky_above": "60",
    "lansky_above": "60",
    "life_expectancy_exclude_weeks": "6",
    "life_expectancy_flag_weeks": "8",
    "marrow_blasts_flag_pct": "5",
    "alc_min_1e9_per_l": "0.2",
    "markers_window_days": "30",
    "cryopreserved_max_months": "30",
    "tocilizumab_min_doses": "2",
    "tocilizumab_mg_per_kg": "8",
    "tocilizumab_max_dose_mg": "800",
    "tocilizumab_interval_hours": "8",
    "tocilizumab_max_doses": "3",
    "caregiver_days": "30",
    "proximity_max_minutes": "60",
    "proximity_stay_weeks": "4",
    "driving_restriction_weeks": "8",
    "fever_c": "38.0",
}

PRODUCTS = [
    # code, name, target, diagnoses, accepts cryopreserved, investigational, age-limit diagnoses, min age, max age
    ("tisagenlecleucel", "Kymriah", "CD19", ["b_all", "fl", "lbcl"], True, False, ["b_all"], None, "25"),
    ("axicabtagene_ciloleucel", "Yescarta", "CD19", ["fl", "lbcl"], False, False, [], None, None),
    ("lisocabtagene_maraleucel", "Breyanzi", "CD19", ["cll", "fl", "lbcl", "mcl"], False, False, [], None, None),
    ("brexucabtagene_autoleucel", "Tecartus", "CD19", ["b_all", "mcl"], False, False, [], None, None),
    ("obecabtagene_autoleucel", "Aucatzyl", "CD19", ["b_all"], False, False, [], None, None),
    ("idecabtagene_vicleucel", "Abecma", "BCMA", ["mm"], False, False, [], None, None),
    ("ciltacabtagene_autoleucel", "Carvykti", "BCMA", ["mm"], False, False, [], None, None),
    ("inaticabtagene_autoleucel", "CNCT19", "CD19", ["b_all"], False, False, ["b_all"], "18", None),
    ("baltaleucel_t", "Baltaleucel-T (CMD-003)", "EBV", ["ebv_lymphoma", "npc", "ptld"], False, True, [], None, None),
]


def create_default_ruleset(apps, schema_editor):
    RuleSet = apps.get_model("eligibility", "RuleSet")
    Threshold = apps.get_model("eligibility", "Threshold")
    Product = apps.get_model("eligibility", "Product")
    ruleset = RuleSet.objects.create(
        name="Default (source documents)",
        version=1,
        status="active",
        change_note="Thresholds and product catalogue as given by the source documents (criteria.md).",
    )
    Threshold.objects.bulk_create(
        Threshold(ruleset=ruleset, key=key, value=Decimal(value)) for key, value in THRESHOLDS.items()
    )
    Product.objects.bulk_create(
        Product(
            ruleset=ruleset, code=code, name=name, target=target, diagnoses=diagnoses,
            accepts_cryopreserved=cryopreserved, investigational=investigational,
            age_limit_diagnoses=age_limit_diagnoses,
            min_age_years=Decimal(min_age) if min_age else None,
            max_age_years=Decimal(max_age) if max_age else None,
        )
        for code, name, target, diagnoses, cryopreserved, investigational, age_limit_diagnoses, min_age, max_age
        in PRODUCTS
    )


def remove_default_ruleset(apps, schema_editor):
    apps.get_model("eligibility", "RuleSet").objects.filter(version=1).delete()


class Migration(migrations.Migration):
    dependencies = [("eligibility", "0001_initial")]

    operations = [migrations.RunPython(create_default_ruleset, remove_default_ruleset)]
