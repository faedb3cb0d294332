"""Migration 0022 (criteria-v2 5.2): every stored rule set's products get indication entries from
their diagnoses, age limits and that rule set's minimums of prior lines, whatever its status; the
``min_prior_lines_*`` thresholds then go, and every version enables version 1's 26 rules.

Run on the real schema: the database is migrated back to 0021, rows are written as the release
before wrote them, and it is migrated forward again."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from tests.conftest import migrate_to, migrate_to_latest

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _latest_schema_after(transactional_db):
    yield
    migrate_to_latest()  # leave the schema as the other tests expect it, whatever happened

BEFORE = [("eligibility", "0021_speed_indexes")]
AFTER = [("eligibility", "0023_retire_product_age_fields")]
MINIMUMS = {"min_prior_lines_lbcl": "3", "min_prior_lines_fl": "2", "min_prior_lines_mcl": "1",
            "min_prior_lines_cll": "1", "min_prior_lines_mm": "1"}


def pathway(minimum):
    return {"label": "", "min_prior_lines": minimum, "required_drug_classes": [], "first_line_response_in": None,
            "disease_status_in": None, "min_relapse_number": None, "transplant_ineligible": False,
            "lenalidomide_refractory": False}


def entry(diagnosis, minimum=None, *, min_age=None, max_age=None):
    return {"diagnosis": diagnosis, "min_age_years": min_age, "max_age_years": max_age, "source": "",
            "pathways": [pathway(minimum)]}


def test_products_of_every_version_get_their_entries_and_the_minimums_move_into_them():
    old = migrate_to(BEFORE)
    RuleSet, Threshold = old.get_model("eligibility", "RuleSet"), old.get_model("eligibility", "Threshold")
    Product, History = old.get_model("eligibility", "Product"), old.get_model("eligibility", "HistoricalProduct")
    versions = {}
    for version, status, lbcl in ((50, "retired", "3"), (51, "draft", "1")):
        ruleset = versions[version] = RuleSet.objects.create(name=f"Old {version}", version=version, status=status)
        Threshold.objects.bulk_create([Threshold(ruleset=ruleset, key=key, value=Decimal(value)) for key, value in
                                       {**MINIMUMS, "min_prior_lines_lbcl": lbcl, "fever_c": "38.0"}.items()])
        Product.objects.create(ruleset=ruleset, code="tisagenlecleucel", name="Kymriah", target="CD19",
                               diagnoses=["b_all", "fl", "lbcl"], accepts_cryopreserved=True,
                               age_limit_diagnoses=["b_all"], max_age_years=Decimal(25))
        Product.objects.create(ruleset=ruleset, code="baltaleucel_t", name="Baltaleucel-T", target="EBV",
                               diagnoses=["ptld", "npc"], investigational=True)
    History.objects.create(id=999, ruleset_id=versions[50].pk, code="tisagenlecleucel", name="Kymriah",
                           target="CD19", diagnoses=["lbcl"], history_date=timezone.now(), history_type="~")

    new = migrate_to(AFTER)
    RuleSet, Product = new.get_model("eligibility", "RuleSet"), new.get_model("eligibility", "Product")
    for version, lbcl in ((50, 3), (51, 1)):
        ruleset = RuleSet.objects.get(version=version)
        assert len(ruleset.enabled_rules) == 26
        assert Product.objects.get(ruleset=ruleset, code="tisagenlecleucel").indications == [
            entry("b_all", max_age=25), entry("fl", 2), entry("lbcl", lbcl)]  # the edited minimum of version 50
        assert Product.objects.get(ruleset=ruleset, code="baltaleucel_t").indications == [entry("npc"), entry("ptld")]
        assert set(new.get_model("eligibility", "Threshold").objects.filter(ruleset=ruleset).values_list(
            "key", flat=True)) == {"fever_c"}  # the minimums retired
    history = new.get_model("eligibility", "HistoricalProduct").objects.get(history_id__isnull=False, id=999)
    assert history.indications == [entry("lbcl", 3)]  # the history reads in the same shape
