"""The draft's page for the catalogue (criteria-v2 2.1-2.3, 5): rules listed by phase with their state
in words and icon, enabled and disabled; optional groups added and removed; thresholds to be entered
shown empty, saved empty, and named when previewing or publishing is refused; the published version's
rules, thresholds and indications in words. Administrators only."""

from __future__ import annotations

import pytest
from django.urls import reverse

from eligibility.models import RuleSet
from tests.factories import UserFactory
from tests.pages import element, elements
from tests.rulesets.browser import form_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft(client):
    client.force_login(UserFactory(role="Administrator"))
    client.post(reverse("ruleset_list"))
    return RuleSet.objects.get(status="draft")


def page_of(client, draft):
    return client.get(reverse("ruleset_detail", args=[draft.version]))


def enable(client, draft, code, enabled=True):
    return client.post(reverse("ruleset_rule", args=[draft.version]),
                       {"code": code, "enabled": "1" if enabled else "0"})


def test_every_rule_is_listed_by_phase_in_catalogue_order_with_its_state_in_words(client, draft):
    rows = [element(page_of(client, draft).content, id=f"rule-{n}").text for n in (1, 27, 16, 29, 30, 21)]
    assert rows[0].startswith("Screening 1 Indication") and "✓ Enabled" in rows[0]
    assert rows[1].startswith("Screening 27 CNS involvement") and "○ Disabled" in rows[1]
    assert "Optional group “dated ALC”: ○ not held" in rows[2]
    page = page_of(client, draft).content.decode()
    order = [page.index(f'id="rule-{n}"') for n in (15, 27, 28, 16, 18, 29, 19, 20, 30, 37, 21)]
    assert order == sorted(order)  # 1-15, 27, 28, 16-18, 29, 19, 20, 30-37, 21-26
    assert "Enable<span class=\"visually-hidden\"> rule 27, CNS involvement</span>" in page


def test_enabling_a_rule_shows_its_thresholds_and_one_to_be_entered_empty(client, draft):
    response = enable(client, draft, "renal_function")
    assert response.status_code == 302
    page = page_of(client, draft)
    assert "○ Disabled" not in element(page.content, id="rule-32").text
    assert element(page.content, tag="input", name="fludarabine_reduce_below_crcl_ml_min").attrs.get("value") is None
    assert element(page.content, id="to-be-entered-fludarabine_reduce_below_crcl_ml_min").text == "⚠ To be entered"
    banner = element(page.content, id="to-be-entered").text
    assert "Creatinine clearance below which the fludarabine dose is reduced" in banner
    # Saving the draft with the empty values is allowed; a value typed is kept.
    form = form_data(page.content, reverse("ruleset_detail", args=[draft.version]))
    assert client.post(reverse("ruleset_detail", args=[draft.version]),
                       {**form, "fludarabine_reduce_below_crcl_ml_min": "30"}).status_code == 302
    assert draft.thresholds.get(key="fludarabine_reduce_below_crcl_ml_min").value == 30
    assert draft.thresholds.get(key="pre_lymphodepletion_tests_max_days").value is None
    # Disabled: kept and said to be not read.
    enable(client, draft, "renal_function", enabled=False)
    legends = [legend.text for legend in elements(page_of(client, draft).content, tag="legend")]
    assert "32. Renal function (creatinine clearance) ( ○ not read while the rule is disabled)" in legends


def test_preview_and_publish_are_refused_naming_each_value_to_be_entered(client, draft):
    enable(client, draft, "renal_function")
    preview = client.get(reverse("ruleset_preview", args=[draft.version]), follow=True)
    text = preview.content.decode()
    assert "No preview." in text and "Creatinine clearance below which the fludarabine dose is reduced" in text
    assert "Tests count when measured at most this long before lymphodepletion starts" in text
    confirm = client.get(reverse("ruleset_publish", args=[draft.version]))
    blockers = element(confirm.content, id="blockers").text
    assert "Creatinine clearance below which the fludarabine dose is reduced" in blockers
    assert not elements(confirm.content, tag="input", name="revision")  # nothing to confirm


def test_an_optional_group_is_added_and_removed_from_the_page(client, draft):
    url = reverse("ruleset_group", args=[draft.version])
    client.post(url, {"group": "dated fever", "held": "1"})
    assert draft.thresholds.get(key="fever_max_days_before_infusion").value == 0
    assert "Optional group “dated fever”: ✓ held" in element(page_of(client, draft).content, id="rule-25").text
    client.post(url, {"group": "dated fever", "held": "0"})
    assert not draft.thresholds.filter(key="fever_max_days_before_infusion").exists()
    refused = client.post(url, {"group": "no such group", "held": "1"}, follow=True)
    assert "Nothing was changed" in refused.content.decode()


def test_a_published_version_shows_its_rules_thresholds_and_indications_in_words(client, draft):
    page = client.get(reverse("ruleset_detail", args=[1]))
    assert "✓ Enabled" in element(page.content, id="rule-26").text
    assert "○ Disabled" in element(page.content, id="rule-37").text
    assert not elements(page.content, tag="form", action=reverse("ruleset_rule", args=[1]))
    products = element(page.content, id="products").text
    assert "B-ALL: age at most 25; no minimum" in products  # Kymriah
    assert "large B-cell lymphoma (LBCL): at least 2 prior lines" in products
    assert "to be entered" not in element(page.content, id="thresholds").text


@pytest.mark.parametrize("role", ["Coordinator", "Physician", None])
def test_only_administrators_enable_rules_or_hold_groups(client, draft, role):
    client.force_login(UserFactory(role=role))
    assert enable(client, draft, "easix").status_code == 403
    assert client.post(reverse("ruleset_group", args=[draft.version]),
                       {"group": "dated ALC", "held": "1"}).status_code == 403
    after = RuleSet.objects.get(pk=draft.pk)
    assert "easix" not in after.enabled_rules and not after.thresholds.filter(key="alc_max_age_days").exists()


def test_read_only_versions_refuse_rule_changes_by_crafted_posts(client, draft):
    refused = client.post(reverse("ruleset_rule", args=[1]), {"code": "easix", "enabled": "1"}, follow=True)
    assert "read-only" in refused.content.decode()
    assert "easix" not in RuleSet.objects.get(version=1).enabled_rules
