"""Governance races, reproduced deterministically on both databases (as tests/review/test_races.py):
the main thread holds one side open inside its transaction while a second thread, on its own
connection, runs the other side and waits for the draft's row lock (PostgreSQL) or the write lock
(SQLite); once the main thread commits, the other side sees what it did."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import transaction

from eligibility.models import RuleSet, RuleSetEvent
from eligibility.rulesets import services as rulesets
from tests.conftest import replay_data_migrations
from tests.factories import UserFactory
from tests.review.test_races import Other, finish, wait_until_blocked

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _migration_data(transactional_db):
    replay_data_migrations()


@pytest.fixture
def four_eyes(settings):
    settings.RULESET_PUBLISH_REQUIRES_APPROVAL = True


@pytest.fixture
def author():
    return UserFactory(role="Administrator", first_name="Ada", last_name="Admin")


@pytest.fixture
def approver():
    return UserFactory(role="Administrator", first_name="Bo", last_name="Berg")


@pytest.fixture
def draft(author):
    draft = rulesets.ruleset_draft_create(by=author)
    rulesets.ruleset_describe(draft=draft, name="Shorter driving restriction", change_note="June labels", by=author)
    return RuleSet.objects.get(pk=draft.pk)


def drive_2_weeks(draft, by):
    rulesets.ruleset_thresholds_update(draft=draft, values={"driving_restriction_weeks": Decimal(2)}, by=by)


def test_an_approval_racing_an_edit_is_refused_when_the_edit_commits_first(draft, author, approver):
    seen = draft.revision  # the approver's page showed this revision
    with transaction.atomic():
        drive_2_weeks(draft, author)
        other = Other(lambda: rulesets.ruleset_approve(draft=draft, revision=seen, by=approver))
        other.start()
        wait_until_blocked(other)
    finish(other)
    assert isinstance(other.error, rulesets.RuleSetRefused) and "changed since you opened" in str(other.error)
    assert RuleSet.objects.get(pk=draft.pk).approved_by is None  # nobody approved what they never saw


def test_an_edit_racing_an_approval_withdraws_it_when_the_approval_commits_first(draft, author, approver):
    with transaction.atomic():
        rulesets.ruleset_approve(draft=draft, revision=draft.revision, by=approver)
        other = Other(lambda: drive_2_weeks(draft, author))
        other.start()
        wait_until_blocked(other)
    finish(other)
    assert other.error is None
    after = RuleSet.objects.get(pk=draft.pk)
    assert (after.approved_by, after.thresholds.get(key="driving_restriction_weeks").value) == (None, 2)
    assert list(RuleSetEvent.objects.filter(ruleset=draft).values_list("action", flat=True))[-2:] == [
        "approved", "withdrawn"]


def test_an_edit_racing_a_publish_is_refused_when_the_publish_commits_first(draft, author, approver, four_eyes):
    rulesets.ruleset_approve(draft=draft, revision=draft.revision, by=approver)
    with transaction.atomic():
        rulesets.ruleset_publish(draft=draft, revision=draft.revision, by=author)
        other = Other(lambda: drive_2_weeks(draft, author))
        other.start()
        wait_until_blocked(other)
    finish(other)
    assert isinstance(other.error, rulesets.RuleSetRefused) and "active and read-only" in str(other.error)
    published = RuleSet.objects.get(pk=draft.pk)
    assert published.status == "active" and published.approved_by == approver
    assert published.thresholds.get(key="driving_restriction_weeks").value == 8  # as approved and published


def test_a_publish_racing_an_edit_is_refused_when_the_edit_commits_first(draft, author, approver, four_eyes):
    rulesets.ruleset_approve(draft=draft, revision=draft.revision, by=approver)
    confirmed = RuleSet.objects.get(pk=draft.pk).revision  # the confirmation page showed this revision
    with transaction.atomic():
        drive_2_weeks(draft, author)
        other = Other(lambda: rulesets.ruleset_publish(draft=draft, revision=confirmed, by=author))
        other.start()
        wait_until_blocked(other)
    finish(other)
    assert isinstance(other.error, rulesets.RuleSetRefused) and "changed since you opened" in str(other.error)
    after = RuleSet.objects.get(pk=draft.pk)
    assert (after.status, after.approved_by) == ("draft", None)  # the edit withdrew the approval too
    assert RuleSet.objects.get(status="active").version == 1


# The catalogue's edits (criteria-v2 2.1-2.3, 5) ------------------------------------------------------


def test_two_rules_enabled_at_once_are_both_kept(draft, author, approver):
    """The enabled rules are one list on the draft's row: without the row lock the second write would
    drop the first rule (a lost update)."""
    with transaction.atomic():
        rulesets.ruleset_rule_enable(draft=draft, code="cns_involvement", enabled=True, by=author)
        other = Other(lambda: rulesets.ruleset_rule_enable(draft=draft, code="hepatic_function", enabled=True,
                                                           by=approver))
        other.start()
        wait_until_blocked(other)
    finish(other)
    assert other.error is None
    after = RuleSet.objects.get(pk=draft.pk)
    assert {"cns_involvement", "hepatic_function"} <= set(after.enabled_rules)
    assert after.revision == draft.revision + 2
    assert after.thresholds.get(key="bilirubin_max_umol_l").value == 34  # added with its rule, once


def test_a_threshold_saved_while_its_rule_is_enabled_waits_and_then_finds_it_held(draft, author, approver):
    with transaction.atomic():
        rulesets.ruleset_rule_enable(draft=draft, code="hepatic_function", enabled=True, by=author)
        other = Other(lambda: rulesets.ruleset_thresholds_update(
            draft=draft, values={"bilirubin_max_umol_l": Decimal(30)}, by=approver))
        other.start()
        wait_until_blocked(other)
    finish(other)
    assert other.error is None
    assert RuleSet.objects.get(pk=draft.pk).thresholds.get(key="bilirubin_max_umol_l").value == 30


def test_two_indication_edits_from_the_same_page_the_second_is_refused(draft, author, approver):
    product = draft.products.get(code="tisagenlecleucel")
    shown = product.indications  # both administrators opened the page showing these entries
    values = {"name": product.name, "target": product.target, "accepts_cryopreserved": True, "investigational": False}

    def edit(indications, by):
        return rulesets.ruleset_product_update(draft=draft, code="tisagenlecleucel", by=by, shown_indications=shown,
                                               indications=indications, **values)

    with transaction.atomic():
        edit(shown[1:], author)  # drops b_all
        other = Other(lambda: edit([{**shown[0], "max_age_years": 26}, *shown[1:]], approver))
        other.start()
        wait_until_blocked(other)
    finish(other)
    assert isinstance(other.error, rulesets.RuleSetRefused) and "changed by someone else" in str(other.error)
    assert RuleSet.objects.get(pk=draft.pk).products.get(code="tisagenlecleucel").diagnoses == ["fl", "lbcl"]


@pytest.mark.parametrize("first, second", [("preset", "plain"), ("preset", "preset")])
def test_two_drafts_made_at_once_give_one_draft_and_a_clear_refusal(author, approver, first, second):
    """Two administrators press "Create a draft" at the same moment (a barrier releases both):
    every way of making a draft locks the active version first, so one draft and one refusal."""
    barrier = threading.Barrier(2)

    def make(kind, by):
        def run():
            barrier.wait(5)
            if kind == "preset":
                return rulesets.ruleset_draft_from_preset(code="us_labels_2025_06", by=by)
            return rulesets.ruleset_draft_create(by=by)
        return run

    sides = [Other(make(first, author)), Other(make(second, approver))]
    for side in sides:
        side.start()
    for side in sides:
        finish(side)
    made = [side for side in sides if side.error is None]
    refused = [side for side in sides if side.error is not None]
    assert len(made) == 1 and len(refused) == 1, [side.error for side in sides]
    assert isinstance(refused[0].error, rulesets.RuleSetRefused)
    assert f"Draft version {made[0].result.version} exists already" in str(refused[0].error)
    draft = RuleSet.objects.get(status="draft")
    assert draft.pk == made[0].result.pk and RuleSet.objects.count() == 2
