"""Drafts made from a preset (criteria-v2 2.4, 7) on the rule-set pages, and the rule-set file
download of each version (2.6)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from eligibility.models import RuleSet, RuleSetEvent
from eligibility.rules import PRESETS, default_ruleset, draft_from_preset, ruleset_from_file, ruleset_to_file
from eligibility.rulesets import services as rulesets
from eligibility.rulesets.selectors import ruleset_data
from tests.factories import UserFactory
from tests.pages import element, elements

pytestmark = pytest.mark.django_db

US = "us_labels_2025_06"
EBMT = "ebmt_eha"


def published(draft, by, **values):
    """Enter ``values`` in ``draft``, give it a note and publish it."""
    if values:
        rulesets.ruleset_thresholds_update(draft=draft, values=values, by=by)
    rulesets.ruleset_describe(draft=draft, change_note="Checked", by=by)
    return rulesets.ruleset_publish(draft=RuleSet.objects.get(pk=draft.pk), by=by)


@pytest.mark.parametrize("code", [US, EBMT])
def test_a_preset_draft_is_the_active_version_with_the_preset_applied(administrator, code):
    active = RuleSet.objects.get(status="active")
    expected = draft_from_preset(ruleset_data(active), code)
    draft = rulesets.ruleset_draft_from_preset(code=code, by=administrator)
    stored = ruleset_data(RuleSet.objects.get(pk=draft.pk))
    assert (draft.status, draft.version, draft.based_on_id, draft.created_by) == ("draft", 2, active.pk, administrator)
    assert draft.name == f"{PRESETS[code].title} (from version 1)" == expected.ruleset.name
    assert (stored.enabled_rules, stored.thresholds, stored.products) == (
        expected.ruleset.enabled_rules, expected.ruleset.thresholds, expected.ruleset.products)
    assert RuleSet.objects.get(pk=draft.pk).change_note == expected.change_note
    assert sorted(key for key, value in stored.thresholds.items() if value is None) == expected.to_be_entered


def test_the_us_preset_leaves_the_alc_window_to_be_entered_and_changes_the_weeks(administrator):
    draft = rulesets.ruleset_draft_from_preset(code=US, by=administrator)
    values = dict(draft.thresholds.values_list("key", "value"))
    assert values["alc_max_age_days"] is None
    assert (values["proximity_stay_weeks"], values["driving_restriction_weeks"]) == (2, 2)
    assert values["proximity_max_minutes"] == 60  # not named by the preset: as version 1
    breyanzi = draft.products.get(code="lisocabtagene_maraleucel")
    assert "mzl" in breyanzi.diagnoses
    assert RuleSet.objects.get(version=1).products.get(code="lisocabtagene_maraleucel").diagnoses != breyanzi.diagnoses


def test_the_ebmt_preset_enables_its_rules_and_leaves_the_test_window_to_be_entered(administrator):
    draft = rulesets.ruleset_draft_from_preset(code=EBMT, by=administrator)
    assert {"cns_involvement", "hepatic_function", "car_hematotox"} <= set(draft.enabled_rules)
    assert not {"washout", "renal_function", "easix"} & set(draft.enabled_rules)
    values = dict(draft.thresholds.values_list("key", "value"))
    assert (values["pre_lymphodepletion_tests_max_days"], values["bilirubin_max_umol_l"]) == (None, 34)


def test_the_preset_is_recorded_in_the_history_as_the_administrators_edits(administrator):
    draft = rulesets.ruleset_draft_from_preset(code=US, by=administrator)
    event = RuleSetEvent.objects.get(ruleset=draft)
    assert (event.action, event.by) == ("preset", administrator)
    assert event.new_value.startswith('Created from the preset "US labels (June 2025)" on top of version 1')
    assert "to be entered: " in event.new_value
    change = draft.thresholds.get(key="proximity_stay_weeks").history.first()
    assert (change.history_type, change.history_user, change.prev_record.value, change.value) == (
        "~", administrator, 4, 2)
    assert change.history_change_reason == 'Created from the preset "US labels (June 2025)"'
    unchanged = draft.thresholds.get(key="proximity_max_minutes").history.first()
    assert unchanged.history_change_reason == "Copied from version 1"
    product = draft.products.get(code="lisocabtagene_maraleucel").history.first()
    assert (product.history_type, product.history_user) == ("~", administrator)


def test_preview_and_publish_are_refused_until_the_value_is_entered(administrator):
    draft = rulesets.ruleset_draft_from_preset(code=US, by=administrator)
    for what in ("previewed", "published"):
        with pytest.raises(rulesets.RuleSetRefused, match="Dated ALC|ALC"):
            rulesets.ruleset_publishable_or_refused(draft=draft, what=what)
    with pytest.raises(rulesets.RuleSetRefused):
        rulesets.ruleset_publish(draft=draft, by=administrator)
    assert RuleSet.objects.get(pk=draft.pk).status == "draft"
    active = published(draft, administrator, alc_max_age_days=Decimal(14))
    assert active.status == "active" and active.thresholds.get(key="alc_max_age_days").value == 14


def test_a_preset_draft_is_refused_while_a_draft_exists(administrator):
    plain = rulesets.ruleset_draft_create(by=administrator)
    with pytest.raises(rulesets.RuleSetRefused, match=f"Draft version {plain.version} exists already"):
        rulesets.ruleset_draft_from_preset(code=US, by=administrator)
    assert RuleSet.objects.count() == 2


def test_a_preset_draft_is_refused_when_its_name_is_taken(administrator):
    plain = rulesets.ruleset_draft_create(by=administrator)
    rulesets.ruleset_describe(draft=plain, name="US labels (June 2025) (from version 2)", by=administrator)
    published(plain, administrator)
    with pytest.raises(rulesets.RuleSetRefused, match="Version 2 is named 'US labels .June 2025. .from version 2.' "
                                                      "already"):
        rulesets.ruleset_draft_from_preset(code=US, by=administrator)
    assert not RuleSet.objects.filter(status="draft").exists()
    # The other preset's name is free: made on top of version 2.
    assert rulesets.ruleset_draft_from_preset(code=EBMT, by=administrator).name == \
        "EBMT/EHA best practice (from version 2)"


def test_an_unknown_preset_is_refused(administrator):
    with pytest.raises(rulesets.RuleSetRefused, match="is not a preset"):
        rulesets.ruleset_draft_from_preset(code="nice_2030", by=administrator)
    assert RuleSet.objects.count() == 1


# --- Pages --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ["Coordinator", "Physician", None])
def test_only_administrators_create_drafts_from_presets_or_download_files(client, role):
    client.force_login(UserFactory(role=role))
    assert client.post(reverse("ruleset_from_preset"), {"preset": US}).status_code == 403
    assert client.get(reverse("ruleset_file_download", args=[1])).status_code == 403
    assert RuleSet.objects.count() == 1


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get(reverse("ruleset_file_download", args=[1]))
    assert response.status_code in (302, 403) and b"cart-ruleset" not in response.content


def test_the_list_page_says_what_each_preset_changes_and_leaves_to_be_entered(client, administrator):
    client.force_login(administrator)
    page = client.get(reverse("ruleset_list"))
    us = element(page.content, tag="article", aria_labelledby=f"preset-{US}").text
    assert "US labels (June 2025)" in us
    assert "4 weeks 2 weeks" in us  # the proximity stay: version 1 -> the preset, with its unit
    assert "Kymriah US prescribing information" in us  # the change note's sources
    assert "To be entered" in us and "ALC" in us
    ebmt = element(page.content, tag="article", aria_labelledby=f"preset-{EBMT}").text
    assert "Hepatic function (laboratory values) disabled enabled" in ebmt
    assert len(elements(page.content, tag="form", action=reverse("ruleset_from_preset"))) == len(PRESETS)
    assert [field.attrs["value"] for field in elements(page.content, tag="input", name="preset")] == [US, EBMT]


def test_an_administrator_creates_a_draft_from_a_preset_without_javascript(client, administrator):
    client.force_login(administrator)
    response = client.post(reverse("ruleset_from_preset"), {"preset": US}, follow=True)
    draft = RuleSet.objects.get(status="draft")
    assert response.redirect_chain[-1][0] == reverse("ruleset_detail", args=[draft.version])
    assert draft.name == "US labels (June 2025) (from version 1)"
    text = response.content.decode()
    assert "created from the preset" in text and "to be entered" in text.lower()
    refused = client.post(reverse("ruleset_from_preset"), {"preset": EBMT}, follow=True)
    assert f"Draft version {draft.version} exists already" in refused.content.decode()
    assert RuleSet.objects.count() == 2


def test_a_crafted_preset_code_creates_nothing(client, administrator):
    client.force_login(administrator)
    response = client.post(reverse("ruleset_from_preset"), {"preset": "../1"}, follow=True)
    assert "choose one of the presets" in response.content.decode()
    assert RuleSet.objects.count() == 1


def test_a_long_preset_change_note_can_be_kept_when_the_name_is_changed(client, administrator):
    draft = rulesets.ruleset_draft_from_preset(code=US, by=administrator)
    client.force_login(administrator)
    # As a browser sends it: every line break of the note (and of its hidden copy) as CRLF.
    shown = {"name": draft.name, "change_note": draft.change_note.replace("\n", "\r\n")}
    response = client.post(reverse("ruleset_describe", args=[draft.version]),
                           {**shown, "name": "June 2025 US labels", **{f"initial-{k}": v for k, v in shown.items()}})
    assert response.status_code == 302
    saved = RuleSet.objects.get(pk=draft.pk)
    assert (saved.name, saved.change_note) == ("June 2025 US labels", draft.change_note)
    assert list(saved.events.values_list("action", flat=True)) == ["preset", "named"]  # the note is unchanged


def test_version_1_downloads_as_the_rule_set_file_of_the_default_rule_set(client, administrator):
    client.force_login(administrator)
    response = client.get(reverse("ruleset_file_download", args=[1]))
    assert response.status_code == 200
    assert response.content == ruleset_to_file(default_ruleset(), None)
    assert response["Content-Disposition"] == 'attachment; filename="ruleset-version-1.json"'
    page = client.get(reverse("ruleset_detail", args=[1]))
    assert element(page.content, tag="a", href=reverse("ruleset_file_download", args=[1])).text == \
        "Download as a rule-set file"


def test_a_draft_downloads_naming_its_base_and_reads_back_with_its_null(client, administrator):
    draft = rulesets.ruleset_draft_from_preset(code=US, by=administrator)
    client.force_login(administrator)
    raw = client.get(reverse("ruleset_file_download", args=[draft.version])).content
    read = ruleset_from_file(raw)
    assert read.based_on == (RuleSet.objects.get(version=1).name, 1)
    assert read.ruleset.thresholds["alc_max_age_days"] is None
    assert read.name == draft.name
