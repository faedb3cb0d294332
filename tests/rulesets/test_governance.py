"""Rule-set governance: confirmation pages for publish, remove and discard; a version's own name and
change note; a value departing from the source documents shown beside theirs; four eyes."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts import audit
from eligibility.models import RuleSet, RuleSetEvent
from eligibility.rulesets import services as rulesets
from tests.factories import UserFactory
from tests.pages import element, elements
from tests.rulesets.previews import preview_made
from tests.rulesets.test_services import VERSION_2, patient_at
from tests.rulesets.test_views import confirmed, describe, values

pytestmark = pytest.mark.django_db

DRIVING_SOURCE = "Baltaleucel-T drug overview - Do's and Don'ts; CAR-T Cell Therapy: Overview and Clinical " \
                 "Applications - Monitoring Protocol"


@pytest.fixture
def ada():
    return UserFactory(role="Administrator", first_name="Ada", last_name="Admin", username="ada")


@pytest.fixture
def bo():
    return UserFactory(role="Administrator", first_name="Bo", last_name="Berg", username="bo")


@pytest.fixture
def draft(ada):
    return rulesets.ruleset_draft_create(by=ada)


@pytest.fixture
def four_eyes(settings):
    settings.RULESET_PUBLISH_REQUIRES_APPROVAL = True


def texts(page, **criteria) -> list[str]:
    return [found.text for found in elements(page.content, **criteria)]


# Confirmation pages -------------------------------------------------------------------------------


def test_publishing_shows_what_it_will_do_and_acts_only_when_confirmed_on_that_page(client, ada, coordinator, draft):
    patient_at(coordinator, 90)
    rulesets.ruleset_thresholds_update(draft=draft, values=VERSION_2, by=ada)
    rulesets.ruleset_describe(draft=draft, name="June 2025 US labels", change_note="Driving and stay 2 weeks",
                              by=ada)
    client.force_login(ada)
    # No preview of this revision yet: the page says so and links to it (it computes none itself).
    unknown = client.get(reverse("ruleset_publish", args=[draft.version])).content
    assert "no impact preview of this revision against version 1 has finished" in element(unknown, id="no-preview").text
    assert elements(unknown, tag="a", href=reverse("ruleset_preview", args=[draft.version]))
    preview_made(client, draft)
    page = client.get(reverse("ruleset_publish", args=[draft.version]))
    assert page.status_code == 200
    what = element(page.content, id="what").text
    assert "June 2025 US labels" in what and "Driving and stay 2 weeks" in what and f"{draft.version} (draft" in what
    consequences = element(page.content, id="consequences").text
    assert "3 rules, thresholds, products or indications differ from version 1" in consequences
    assert "1 open assessment (not signed off for infusion) is evaluated under it; the result or an item " \
           "changes for 1 (1 deferred → " in consequences
    assert "Signed checklists stay exactly as signed" in consequences and "0 signed checklists would change" \
        in consequences
    assert element(page.content, tag="input", name="revision").attrs["value"] == str(confirmed(draft)["revision"])
    assert RuleSet.objects.get(pk=draft.pk).status == "draft"  # showing it did nothing
    # A post that skips the page (the old one-click form: a note, no confirmation) does nothing.
    skipped = client.post(reverse("ruleset_publish", args=[draft.version]), {"change_note": "one click"})
    assert skipped.status_code == 400
    assert "confirm on this page" in element(skipped.content, cls="alert-danger").text
    assert RuleSet.objects.get(pk=draft.pk).status == "draft"
    done = client.post(reverse("ruleset_publish", args=[draft.version]), confirmed(draft), follow=True)
    assert done.redirect_chain == [(reverse("ruleset_detail", args=[2]) + "#reevaluation", 302)]
    assert RuleSet.objects.get(pk=draft.pk).status == "active"
    assert "Version 2 is active. Its open assessments are re-evaluated in the background" in " ".join(
        texts(done, cls="alert-success"))
    assert "Waiting for a task worker" in element(done.content, id="reevaluation").text


def test_a_confirmation_overtaken_by_an_edit_is_refused_and_shown_again_as_it_now_is(client, ada, bo, draft):
    rulesets.ruleset_describe(draft=draft, change_note="Same values", by=ada)
    client.force_login(ada)
    shown = confirmed(draft)  # Ada reads the confirmation page ...
    rulesets.ruleset_thresholds_update(draft=draft, values={"fever_c": Decimal("38.5")}, by=bo)  # ... Bo edits
    refused = client.post(reverse("ruleset_publish", args=[draft.version]), shown)
    assert refused.status_code == 409
    assert "was changed since you opened the page" in element(refused.content, cls="alert-danger").text
    assert element(refused.content, tag="input", name="revision").attrs["value"] == str(shown["revision"] + 1)
    assert RuleSet.objects.get(pk=draft.pk).status == "draft"


def test_removing_a_product_asks_for_confirmation(client, ada, draft):
    client.force_login(ada)
    page = client.get(reverse("ruleset_product_remove", args=[draft.version, "tisagenlecleucel"]))
    assert page.status_code == 200
    assert "Kymriah (tisagenlecleucel): CD19" in element(page.content, id="what").text
    assert "Open assessments naming it" in element(page.content, id="consequences").text
    assert draft.products.filter(code="tisagenlecleucel").exists()
    skipped = client.post(reverse("ruleset_product_remove", args=[draft.version, "tisagenlecleucel"]))
    assert skipped.status_code == 400 and draft.products.filter(code="tisagenlecleucel").exists()
    done = client.post(reverse("ruleset_product_remove", args=[draft.version, "tisagenlecleucel"]), confirmed(draft))
    assert done.status_code == 302 and not draft.products.filter(code="tisagenlecleucel").exists()


def test_discarding_a_draft_asks_for_confirmation_and_is_recorded(client, ada, draft):
    rulesets.ruleset_thresholds_update(draft=draft, values={"fever_c": Decimal("38.5")}, by=ada)
    client.force_login(ada)
    page = client.get(reverse("ruleset_discard", args=[draft.version]))
    assert page.status_code == 200 and "its 1 edit are deleted" in element(page.content, id="consequences").text
    skipped = client.post(reverse("ruleset_discard", args=[draft.version]))
    assert skipped.status_code == 400 and RuleSet.objects.filter(pk=draft.pk).exists()
    assert client.post(reverse("ruleset_discard", args=[draft.version]), confirmed(draft)).status_code == 302
    assert not RuleSet.objects.filter(pk=draft.pk).exists()
    [discarded] = RuleSetEvent.objects.filter(action="discarded")
    assert (discarded.version, discarded.ruleset, discarded.by) == (draft.version, None, ada)


@pytest.mark.parametrize("name", ["ruleset_publish", "ruleset_discard"])
def test_a_published_version_has_no_confirmation_page(client, ada, name):
    client.force_login(ada)
    response = client.get(reverse(name, args=[1]), follow=True)
    assert "read-only" in " ".join(texts(response, cls="alert-danger"))
    assert client.post(reverse(name, args=[1]), {"revision": 0}).status_code == 302
    assert RuleSet.objects.get(version=1).status == "active"


# Permissions ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["Coordinator", "Physician"])
def test_coordinators_and_physicians_are_refused_on_every_governance_page(client, draft, role):
    client.force_login(UserFactory(role=role))
    version = draft.version
    for url in (reverse("ruleset_publish", args=[version]), reverse("ruleset_discard", args=[version]),
                reverse("ruleset_product_remove", args=[version, "tisagenlecleucel"])):
        assert client.get(url).status_code == 403, url
        assert client.post(url, confirmed(draft)).status_code == 403, url
    assert client.post(reverse("ruleset_describe", args=[version]), {"name": "X", "change_note": "x"}).status_code \
        == 403
    assert client.post(reverse("ruleset_approve", args=[version]), confirmed(draft)).status_code == 403
    after = RuleSet.objects.get(pk=draft.pk)
    assert (after.status, after.name, after.change_note, after.approved_by) == ("draft", draft.name, "", None)
    assert after.products.count() == 9


# Names and change notes ---------------------------------------------------------------------------


def test_a_draft_starts_with_a_name_of_its_own_not_a_copy_of_the_active_versions(draft):
    assert draft.name == f"Version 2 of {timezone.localdate().isoformat()}"
    assert RuleSet.objects.get(version=1).name == "Default (source documents)"
    assert draft.change_note == ""


def test_the_name_is_required_and_each_problem_is_beside_the_field_with_what_was_typed_kept(client, ada, draft):
    client.force_login(ada)
    empty = describe(client, draft, name="  ", change_note="Kept note")
    assert empty.status_code == 400
    assert empty.context["description_form"].errors["name"] == ["This field is required."]
    assert element(empty.content, tag="textarea", name="change_note").text == "Kept note"
    taken = describe(client, draft, name="default (SOURCE documents)")
    assert taken.context["description_form"].errors["name"] == [
        "version 1 is named 'Default (source documents)' already: choose a name of its own"]
    assert element(taken.content, id="error_1_id_name").text.startswith("version 1 is named")  # beside the field
    long = describe(client, draft, name="n" * 201)
    assert long.status_code == 400 and "name" in long.context["description_form"].errors
    assert RuleSet.objects.get(pk=draft.pk).name == draft.name
    assert describe(client, draft, name="n" * 200).status_code == 302
    assert RuleSet.objects.get(pk=draft.pk).name == "n" * 200


def test_name_and_note_edits_are_recorded_and_read_only_once_published(client, ada, draft):
    client.force_login(ada)
    describe(client, draft, name="June 2025 US labels", change_note="Driving 2 weeks")
    assert [(event.action, event.old_value, event.new_value) for event in RuleSetEvent.objects.all()] == [
        ("named", draft.name, "June 2025 US labels"), ("noted", "", "Driving 2 weeks")]
    client.post(reverse("ruleset_publish", args=[draft.version]), confirmed(draft))
    published = RuleSet.objects.get(pk=draft.pk)
    assert (published.status, published.name, published.change_note) == ("active", "June 2025 US labels",
                                                                          "Driving 2 weeks")
    crafted = client.post(reverse("ruleset_describe", args=[draft.version]), {"name": "Renamed", "change_note": "x"},
                          follow=True)
    assert "read-only" in " ".join(texts(crafted, cls="alert-danger"))
    assert RuleSet.objects.get(pk=draft.pk).name == "June 2025 US labels"
    page = client.get(reverse("ruleset_detail", args=[draft.version]))
    assert not elements(page.content, tag="input", name="name")
    assert element(page.content, id="change-note").text == "Change note: Driving 2 weeks"
    with pytest.raises(rulesets.RuleSetRefused, match="read-only"):
        rulesets.ruleset_describe(draft=published, name="Renamed", by=ada)


def test_publishing_is_refused_without_a_note_or_under_another_versions_name(ada, draft):
    with pytest.raises(rulesets.RuleSetRefused) as refused:
        rulesets.ruleset_publish(draft=draft, by=ada)
    assert refused.value.errors == {"change_note": ["is required to publish: why, and the source"]}
    # A draft made before versions had names of their own carries the active version's name.
    RuleSet.objects.filter(pk=draft.pk).update(name="Default (source documents)")
    with pytest.raises(rulesets.RuleSetRefused) as refused:
        rulesets.ruleset_publish(draft=draft, note="Same values", by=ada)
    assert "choose a name of its own" in refused.value.errors["name"][0]
    assert RuleSet.objects.get(pk=draft.pk).status == "draft"


def test_the_confirmation_page_says_why_publishing_cannot_be_done_yet(client, ada, draft):
    client.force_login(ada)
    page = client.get(reverse("ruleset_publish", args=[draft.version]))
    assert "It has no change note" in element(page.content, id="blockers").text
    assert not elements(page.content, tag="input", name="revision")  # nothing to confirm


# The source documents' value -------------------------------------------------------------------------


def departures(page) -> dict[str, str]:
    return {found.attrs["id"].removeprefix("departure-"): found.text
            for found in elements(page.content, cls="departure") if "id" in found.attrs}


def test_a_value_departing_from_the_source_documents_shows_theirs_and_an_equal_one_does_not(client, ada, draft):
    client.force_login(ada)
    assert departures(client.get(reverse("ruleset_detail", args=[draft.version]))) == {}  # as the sources
    rulesets.ruleset_thresholds_update(draft=draft, values={"driving_restriction_weeks": Decimal("8.001"),
                                                            "ecog_below": Decimal(3)}, by=ada)
    shown = departures(client.get(reverse("ruleset_detail", args=[draft.version])))
    assert shown.keys() == {"driving_restriction_weeks", "ecog_below"}
    assert shown["driving_restriction_weeks"] == f"≠ Departs from the source documents: 8 weeks, {DRIVING_SOURCE}"
    assert shown["ecog_below"].startswith("≠ Departs from the source documents: 2, CAR-T Cell Therapy: Overview")
    rulesets.ruleset_thresholds_update(draft=draft, values={"driving_restriction_weeks": Decimal(8)}, by=ada)
    assert set(departures(client.get(reverse("ruleset_detail", args=[draft.version])))) == {"ecog_below"}


def test_a_published_version_shows_the_source_documents_value_beside_a_departing_one(client, ada, draft):
    rulesets.ruleset_thresholds_update(draft=draft, values={"driving_restriction_weeks": Decimal(2)}, by=ada)
    rulesets.ruleset_publish(draft=draft, note="Driving 2 weeks", by=ada)
    client.force_login(ada)
    rows = [row.text for row in elements(client.get(reverse("ruleset_detail", args=[draft.version])).content,
                                         tag="tr")]
    assert ("24. Driving restriction counselled No driving after infusion 2 weeks — source documents: 8 weeks, "
            f"{DRIVING_SOURCE}") in rows
    assert "25. Fever Fever: defer at or above 38 °C" in rows  # equal to the sources: nothing beside it
    assert not [row for row in rows if "source documents" in row and "No driving" not in row]
    version_1 = client.get(reverse("ruleset_detail", args=[1])).content.decode()
    assert "source documents:" not in version_1


# Four eyes ---------------------------------------------------------------------------------------------


def test_without_the_setting_one_administrator_publishes_alone(ada, draft, settings):
    assert settings.RULESET_PUBLISH_REQUIRES_APPROVAL is False  # the default
    published = rulesets.ruleset_publish(draft=draft, note="Alone", by=ada)
    assert (published.status, published.approved_by) == ("active", None)


def test_with_the_setting_a_second_administrator_approves_and_an_edit_withdraws_it(client, ada, bo, draft, four_eyes):
    cy = UserFactory(role="Administrator", first_name="Cy", last_name="Chen")
    rulesets.ruleset_describe(draft=draft, name="Driving 2 weeks", change_note="June labels", by=ada)
    client.force_login(ada)
    page = client.get(reverse("ruleset_publish", args=[draft.version]))
    assert "needs the approval of a second administrator" in element(page.content, id="blockers").text
    assert not elements(page.content, tag="input", name="revision")
    refused = client.post(reverse("ruleset_publish", args=[draft.version]), confirmed(draft))
    assert refused.status_code == 409 and "needs the approval" in element(refused.content, cls="alert-danger").text
    # The author may not approve, nor may an administrator who edited the draft.
    detail = client.get(reverse("ruleset_detail", args=[draft.version]))
    assert not elements(detail.content, tag="form", action=reverse("ruleset_approve", args=[draft.version]))
    client.post(reverse("ruleset_approve", args=[draft.version]), confirmed(draft))
    assert RuleSet.objects.get(pk=draft.pk).approved_by is None
    rulesets.ruleset_thresholds_update(draft=draft, values={"driving_restriction_weeks": Decimal(2)}, by=bo)
    with pytest.raises(rulesets.RuleSetRefused, match="You made or edited"):
        rulesets.ruleset_approve(draft=draft, revision=RuleSet.objects.get(pk=draft.pk).revision, by=bo)
    # A third administrator approves from the page.
    client.force_login(cy)
    detail = client.get(reverse("ruleset_detail", args=[draft.version]))
    assert element(detail.content, tag="form", action=reverse("ruleset_approve", args=[draft.version]))
    client.post(reverse("ruleset_approve", args=[draft.version]), confirmed(draft))
    assert RuleSet.objects.get(pk=draft.pk).approved_by == cy
    # An edit after the approval withdraws it, naming the edit.
    client.force_login(bo)
    client.post(reverse("ruleset_detail", args=[draft.version]), values(driving_restriction_weeks=3))
    assert RuleSet.objects.get(pk=draft.pk).approved_by is None
    withdrawn = RuleSetEvent.objects.get(action="withdrawn")
    assert (withdrawn.by, withdrawn.old_value, withdrawn.new_value) == (
        bo, "Approved by Cy Chen", "Bo Berg changed No driving after infusion")
    with pytest.raises(rulesets.RuleSetRefused, match="needs the approval"):
        rulesets.ruleset_publish(draft=draft, by=ada)
    # Approved again as it now is, then published by its author.
    client.force_login(cy)
    client.post(reverse("ruleset_approve", args=[draft.version]), confirmed(draft))
    client.force_login(ada)
    assert client.post(reverse("ruleset_publish", args=[draft.version]), confirmed(draft)).status_code == 302
    published = RuleSet.objects.get(pk=draft.pk)
    assert (published.status, published.approved_by, published.published_by) == ("active", cy, ada)
    history = client.get(reverse("ruleset_detail", args=[draft.version]))
    rows = [row.text for row in elements(history.content, tag="tr")
            if row.text.split(" ")[0].count("-") == 2 and ("Approv" in row.text or "Published" in row.text)]
    assert [row.split(" ", 2)[2] for row in rows] == [
        "Cy Chen Approved Revision 2",
        "Bo Berg Approval withdrawn Approved by Cy Chen → Bo Berg changed No driving after infusion",
        "Cy Chen Approved Revision 3", "Ada Admin Published June labels"]


def test_an_approval_on_a_page_that_an_edit_overtook_is_refused(ada, bo, draft, four_eyes):
    seen = draft.revision
    rulesets.ruleset_thresholds_update(draft=draft, values={"fever_c": Decimal("38.5")}, by=ada)
    with pytest.raises(rulesets.RuleSetRefused, match="changed since you opened"):
        rulesets.ruleset_approve(draft=draft, revision=seen, by=bo)
    rulesets.ruleset_approve(draft=draft, revision=seen + 1, by=bo)
    with pytest.raises(rulesets.RuleSetRefused, match="approved already, by Bo Berg"):
        rulesets.ruleset_approve(draft=draft, revision=seen + 1, by=UserFactory(role="Administrator"))


def test_the_database_refuses_an_approval_by_the_author(ada, draft):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        RuleSet.objects.filter(pk=draft.pk).update(approved_by=ada)


def test_approvals_withdrawals_and_publication_are_in_the_audit_export(ada, bo, draft, four_eyes):
    rulesets.ruleset_approve(draft=draft, revision=draft.revision, by=bo)
    rulesets.ruleset_describe(draft=draft, change_note="Same values", by=ada)
    rulesets.ruleset_approve(draft=draft, revision=RuleSet.objects.get(pk=draft.pk).revision, by=bo)
    rulesets.ruleset_publish(draft=draft, by=ada)
    today = timezone.localdate()
    rows = [row for row in audit.audit_rows(date_from=today, date_to=today) if row["record"] == "rule set event"]
    assert [(row["who"].split(" ")[0], row["action"]) for row in rows] == [("Bo", "created")] * 1 + [
        ("Ada", "created")] * 2 + [("Bo", "created"), ("Ada", "created")]
    assert ['"action": "approved"' in rows[0]["new_value"], '"action": "noted"' in rows[1]["new_value"],
            '"action": "withdrawn"' in rows[2]["new_value"], '"action": "published"' in rows[4]["new_value"]] == [
        True] * 4


# Whatever is posted ------------------------------------------------------------------------------------


def test_the_governance_forms_never_answer_500(client, ada, draft):
    from hypothesis import given
    from hypothesis import strategies as st

    from tests.patients.test_fuzz_forms import FUZZ, VALUE

    client.force_login(ada)
    version = draft.version

    @FUZZ
    @given(VALUE, VALUE, VALUE, st.sampled_from(["publish", "discard", "remove", "describe", "approve"]))
    def post(revision, name, note, what):
        url = {"publish": reverse("ruleset_publish", args=[version]),
               "discard": reverse("ruleset_discard", args=[version]),
               "remove": reverse("ruleset_product_remove", args=[version, "tisagenlecleucel"]),
               "describe": reverse("ruleset_describe", args=[version]),
               "approve": reverse("ruleset_approve", args=[version])}[what]
        form = {"revision": revision, "name": name, "change_note": note, "initial-name": name,
                "initial-change_note": ""}
        assert client.post(url, form).status_code in (200, 302, 400, 404, 409)

    post()
