"""Versioned rule sets in the database: the default version 1 and what the engine receives."""

import pytest
from django.db import IntegrityError, transaction

from eligibility.models import Product, RuleSet, Threshold
from eligibility.rules import RETIRED_THRESHOLDS, VERSION_1_THRESHOLDS, default_ruleset, threshold_set_errors
from eligibility.rulesets.selectors import NoActiveRuleSet, engine_get, ruleset_data, ruleset_get

pytestmark = pytest.mark.django_db


def test_migration_creates_version_1_as_the_only_active_set():
    ruleset = RuleSet.objects.get()
    assert (ruleset.version, ruleset.status, ruleset.name) == (1, "active", "Default (source documents)")
    assert not ruleset.is_editable


def test_version_1_holds_every_threshold_and_product_of_the_source_documents():
    assert ruleset_data(ruleset_get()) == default_ruleset()
    assert Threshold.objects.exclude(key__in=RETIRED_THRESHOLDS).count() == len(VERSION_1_THRESHOLDS)
    assert Product.objects.count() == len(default_ruleset().products)


def test_default_thresholds_are_valid():
    assert threshold_set_errors(default_ruleset().thresholds) == {}


def test_engine_loads_the_rule_set_in_a_fixed_number_of_queries(django_assert_max_num_queries):
    with django_assert_max_num_queries(3):
        engine = engine_get()
    assert engine.ruleset.version == 1


def test_only_one_rule_set_may_be_active():
    with pytest.raises(IntegrityError), transaction.atomic():
        RuleSet.objects.create(name="Second", version=2, status=RuleSet.Status.ACTIVE)


def test_a_draft_beside_the_active_set_is_allowed_and_editable():
    draft = RuleSet.objects.create(name="Draft", version=2)
    assert draft.is_editable
    assert ruleset_get().version == 1


def test_no_active_rule_set_is_a_clear_error():
    RuleSet.objects.update(status=RuleSet.Status.RETIRED)
    with pytest.raises(NoActiveRuleSet, match="no active rule set"):
        ruleset_get()


def test_thresholds_are_loaded_as_exact_decimals():
    data = ruleset_data(ruleset_get())
    assert str(data.thresholds["alc_min_1e9_per_l"].normalize()) == "0.2"
    assert data.products["tisagenlecleucel"].indication("b_all").max_age_years == 25
