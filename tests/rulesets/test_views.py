"""Administrators' rule-set pages: only administrators, drafts edited with validation, preview, publish."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from eligibility.models import RuleSet, RuleSetReevaluation
from eligibility.rules import DEFAULT_THRESHOLDS
from tests.factories import UserFactory
from tests.pages import element, elements
from tests.rulesets.browser import form_data

pytestmark = pytest.mark.django_db


def values(**changes):
    return {key: str(value) for key, value in {**DEFAULT_THRESHOLDS, **changes}.items()}


def confirmed(draft) -> dict:
    """What a confirmation page posts: the draft's revision it showed."""
    return {"revision": RuleSet.objects.get(pk=draft.pk).revision}


def describe(client, draft, **changes):
    """Save the draft's name and change note as its page posts them (each with the value shown)."""
    draft = RuleSet.objects.get(pk=draft.pk)
    shown = {"name": draft.name, "change_note": draft.change_note}
    return client.post(reverse("ruleset_describe", args=[draft.version]),
                       {**shown, **changes, **{f"initial-{key}": value for key, value in shown.items()}})


def publish(client, draft, note="A change note", **kwargs):
    """Write the change note, then publish through the confirmation page."""
    describe(client, draft, change_note=note)
    return client.post(reverse("ruleset_publish", args=[draft.version]), confirmed(draft), **kwargs)


@pytest.mark.parametrize("role", ["Coordinator", "Physician", None])
def test_only_administrators_reach_rule_sets_also_by_crafted_posts(client, role):
    client.force_login(UserFactory(role=role))
    assert client.get(reverse("ruleset_list")).status_code == 403
    assert client.post(reverse("ruleset_list")).status_code == 403
    assert client.get(reverse("ruleset_detail", args=[1])).status_code == 403
    assert client.post(reverse("ruleset_detail", args=[1]), values(fever_c="39")).status_code == 403
    assert client.post(reverse("ruleset_publish", args=[1]), {"change_note": "x"}).status_code == 403
    assert RuleSet.objects.get().status == "active" and RuleSet.objects.count() == 1


def test_active_version_is_read_only_also_through_a_crafted_post(client):
    client.force_login(UserFactory(role="Administrator"))
    response = client.post(reverse("ruleset_detail", args=[1]), values(fever_c="39"), follow=True)
    assert "read-only" in response.content.decode()
    assert RuleSet.objects.get(version=1).thresholds.get(key="fever_c").value == 38


def test_administrator_drafts_edits_previews_and_publishes(client):
    client.force_login(UserFactory(role="Administrator"))
    client.post(reverse("ruleset_list"))
    draft = RuleSet.objects.get(status="draft")
    refused = client.post(reverse("ruleset_detail", args=[draft.version]), values(markers_window_days="30.5"))
    assert "must be a whole number" in refused.content.decode()
    client.post(reverse("ruleset_detail", args=[draft.version]),
                values(proximity_max_minutes=120, driving_restriction_weeks=2, proximity_stay_weeks=2))
    page = client.get(reverse("ruleset_detail", args=[draft.version]))
    assert element(page.content, tag="input", name="proximity_max_minutes").attrs["value"] == "120"
    assert [change.after for change in page.context["differences"] if change.key == "proximity_max_minutes"] == [
        "120 minutes"]
    assert client.get(reverse("ruleset_preview", args=[draft.version])).status_code == 200
    assert client.post(reverse("ruleset_publish", args=[draft.version]), confirmed(draft)).status_code == 409
    assert RuleSet.objects.get(pk=draft.pk).status == "draft"  # no note, not published
    describe(client, draft, name="June 2025 US labels")
    publish(client, draft, "June 2025 US labels")
    assert RuleSet.objects.get(pk=draft.pk).status == "active"
    history = client.get(reverse("ruleset_list")).content.decode()
    assert "June 2025 US labels" in history and "Differences from version 1" in history


def product_form(client, draft, code, **changes) -> dict:
    """What the product's form on the draft's page posts, with ``changes`` typed over it."""
    page = client.get(reverse("ruleset_detail", args=[draft.version])).content
    action = reverse("ruleset_product", args=[draft.version, code]) if code != "new" else reverse(
        "ruleset_product_add", args=[draft.version])
    return {**form_data(page, action), **changes}


def test_administrator_edits_a_product_of_the_draft(client):
    client.force_login(UserFactory(role="Administrator"))
    client.post(reverse("ruleset_list"))
    draft = RuleSet.objects.get(status="draft")
    url = reverse("ruleset_product", args=[draft.version, "tisagenlecleucel"])
    # Kymriah's entries as version 1 carries them: b_all (age at most 25), fl, lbcl.
    form = product_form(client, draft, "tisagenlecleucel", **{"tisagenlecleucel-e1-remove": "on"})
    assert form["tisagenlecleucel-e0-diagnosis"] == ["b_all"] and form["tisagenlecleucel-e0-max_age_years"] == ["25"]
    client.post(url, form)
    assert draft.products.get(code="tisagenlecleucel").diagnoses == ["b_all", "lbcl"]
    refused = client.post(url, product_form(client, draft, "tisagenlecleucel",
                                            **{"tisagenlecleucel-e0-max_age_years": "130"}), follow=True)
    assert "must be between 0 and 120 years" in refused.content.decode()
    assert draft.products.get(code="tisagenlecleucel").indications[0]["max_age_years"] == 25
    active = client.post(reverse("ruleset_product", args=[1, "tisagenlecleucel"]), form, follow=True)
    assert "read-only" in active.content.decode()
    assert RuleSet.objects.get(version=1).products.get(code="tisagenlecleucel").diagnoses == ["b_all", "fl", "lbcl"]


def test_a_pathway_and_an_indication_are_added_without_javascript_keeping_what_was_typed(client):
    client.force_login(UserFactory(role="Administrator"))
    client.post(reverse("ruleset_list"))
    draft = RuleSet.objects.get(status="draft")
    url = reverse("ruleset_product", args=[draft.version, "lisocabtagene_maraleucel"])
    typed = product_form(client, draft, "lisocabtagene_maraleucel", **{
        "lisocabtagene_maraleucel-e2-source": "FDA approval, 24 June 2022",
        "lisocabtagene_maraleucel-add": "e2"})  # lbcl: add a second pathway
    shown = client.post(url, typed)
    assert shown.status_code == 200 and draft.products.get(code="lisocabtagene_maraleucel").indications[2][
        "source"] == ""  # adding saves nothing
    form = form_data(shown.content, url)
    assert form["lisocabtagene_maraleucel-e2-source"] == ["FDA approval, 24 June 2022"]  # what was typed stays
    assert form["lisocabtagene_maraleucel-e2-pathways"] == ["2"]
    # Two pathways: each needs a name (5.4), refused beside the field in one pass with the other problem.
    form.update({"lisocabtagene_maraleucel-e2-p1-min_prior_lines": "1",
                 "lisocabtagene_maraleucel-e2-p1-first_line_response_in": ["refractory", "relapse_within_12_months"],
                 "lisocabtagene_maraleucel-e3-min_age_years": "30", "lisocabtagene_maraleucel-e3-max_age_years": "20"})
    refused = client.post(url, form)
    assert refused.status_code == 400
    page = refused.content.decode()
    assert "name each pathway when the indication has more than one" in page
    assert "must be at most the maximum age" in page
    again = form_data(page, url)
    assert again["lisocabtagene_maraleucel-e2-p1-first_line_response_in"] == ["refractory", "relapse_within_12_months"]
    again.update({"lisocabtagene_maraleucel-e2-p0-label": "at least 2 prior lines",
                  "lisocabtagene_maraleucel-e2-p1-label": "second line",
                  "lisocabtagene_maraleucel-e3-min_age_years": "20"})
    assert client.post(url, again).status_code == 302
    [lbcl] = [e for e in draft.products.get(code="lisocabtagene_maraleucel").indications if e["diagnosis"] == "lbcl"]
    assert [p["label"] for p in lbcl["pathways"]] == ["at least 2 prior lines", "second line"]
    assert lbcl["pathways"][1]["first_line_response_in"] == ["refractory", "relapse_within_12_months"]
    assert lbcl["source"] == "FDA approval, 24 June 2022"
    # A new indication (mzl) through "Add an indication", then saved.
    added = form_data(client.post(url, {**product_form(client, draft, "lisocabtagene_maraleucel"),
                                        "lisocabtagene_maraleucel-add": "entry"}).content, url)
    added.update({"lisocabtagene_maraleucel-e4-diagnosis": "mzl", "lisocabtagene_maraleucel-e4-p0-min_prior_lines": "2",
                  "lisocabtagene_maraleucel-e4-p0-required_drug_classes": ["btk_inhibitor"]})
    assert client.post(url, added).status_code == 302
    product = draft.products.get(code="lisocabtagene_maraleucel")
    assert product.diagnoses == ["cll", "fl", "lbcl", "mcl", "mzl"]
    detail = client.get(reverse("ruleset_detail", args=[draft.version]))
    [mzl] = [change for change in detail.context["differences"] if change.key.endswith(":mzl")]
    assert (mzl.label, mzl.before, mzl.after) == (
        "Breyanzi: indication for marginal zone lymphoma (MZL)", "none",
        "at least 2 prior lines, prior BTK inhibitor")


NEW = {"new-code": "example_product", "new-name": "Example product", "new-target": "CD22", "new-entries": "1",
       "new-e0-diagnosis": "b_all", "new-e0-pathways": "1"}


def test_administrator_adds_and_removes_a_product_of_the_draft(client):
    client.force_login(UserFactory(role="Administrator"))
    client.post(reverse("ruleset_list"))
    draft = RuleSet.objects.get(status="draft")
    refused = client.post(reverse("ruleset_product_add", args=[draft.version]),
                          {**NEW, "new-code": "Example Product", "new-e0-max_age_years": "130"})
    page = refused.content.decode()
    assert refused.status_code == 400
    assert "use lower-case letters" in page and "must be between 0 and 120 years" in page
    assert 'value="Example product"' in page  # what was typed stays in the form
    assert not draft.products.filter(name="Example product").exists()
    client.post(reverse("ruleset_product_add", args=[draft.version]), NEW)
    assert draft.products.get(code="example_product").diagnoses == ["b_all"]
    detail = client.get(reverse("ruleset_detail", args=[draft.version]))
    [added] = [change for change in detail.context["differences"] if change.key == "product:example_product"]
    assert added.before == "absent" and added.after.startswith("Example product, ")
    assert [row for row in elements(detail.content, tag="tr") if row.text == f"{added.label} absent {added.after}"]
    client.post(reverse("ruleset_product_remove", args=[draft.version, "tisagenlecleucel"]), confirmed(draft))
    assert not draft.products.filter(code="tisagenlecleucel").exists()
    # Active and retired versions stay as they are, also through crafted posts.
    removed = client.post(reverse("ruleset_product_remove", args=[1, "tisagenlecleucel"]), follow=True)
    added = client.post(reverse("ruleset_product_add", args=[1]), NEW, follow=True)
    assert "read-only" in removed.content.decode() and "read-only" in added.content.decode()
    assert RuleSet.objects.get(version=1).products.count() == 9


def test_a_refused_product_edit_keeps_the_typed_values_beside_their_errors(client):
    client.force_login(UserFactory(role="Administrator"))
    client.post(reverse("ruleset_list"))
    draft = RuleSet.objects.get(status="draft")
    response = client.post(reverse("ruleset_product", args=[draft.version, "tisagenlecleucel"]), product_form(
        client, draft, "tisagenlecleucel", **{"tisagenlecleucel-name": "Kymriah (renamed)",
                                              "tisagenlecleucel-e1-diagnosis": "b_all"}))
    page = response.content.decode()
    assert response.status_code == 400
    assert 'value="Kymriah (renamed)"' in page and "Select a valid choice" not in page
    error = element(page, id="id_tisagenlecleucel-e1-diagnosis_error")
    assert "one per diagnosis" in error.text  # beside the second entry's diagnosis
    assert draft.products.get(code="tisagenlecleucel").name == "Kymriah"


@pytest.mark.parametrize("role", ["Coordinator", "Physician"])
def test_only_administrators_change_the_catalogue(client, role):
    client.force_login(UserFactory(role="Administrator"))
    client.post(reverse("ruleset_list"))
    draft = RuleSet.objects.get(status="draft")
    client.force_login(UserFactory(role=role))
    assert client.post(reverse("ruleset_product_add", args=[draft.version]), NEW).status_code == 403
    assert client.post(reverse("ruleset_product_remove", args=[draft.version, "tisagenlecleucel"])).status_code == 403
    assert draft.products.count() == 9


def published_version_2(client) -> RuleSetReevaluation:
    client.force_login(UserFactory(role="Administrator"))
    client.post(reverse("ruleset_list"))
    publish(client, RuleSet.objects.get(status="draft"), "x")
    return RuleSetReevaluation.objects.get(ruleset__version=2)


@pytest.mark.parametrize("role", ["Coordinator", "Physician"])
def test_only_administrators_see_and_resume_a_reevaluation(client, role):
    record = published_version_2(client)
    record.status = "failed"
    record.save()
    client.force_login(UserFactory(role=role))
    assert client.get(reverse("ruleset_reevaluation", args=[2])).status_code == 403
    assert client.post(reverse("ruleset_reevaluation_resume", args=[2])).status_code == 403
    assert RuleSetReevaluation.objects.get().status == "failed"
    client.logout()
    anonymous = client.get(reverse("ruleset_reevaluation", args=[2]))
    assert anonymous.status_code == 302 and anonymous.url.startswith(reverse("login"))


def test_the_progress_endpoint_says_done_of_total_and_the_page_says_it_without_javascript(client):
    record = published_version_2(client)
    RuleSetReevaluation.objects.filter(pk=record.pk).update(status="running", total=200, done=50,
                                                           heartbeat_at=timezone.now())
    response = client.get(reverse("ruleset_reevaluation", args=[2]))
    assert response["Content-Type"] == "application/json" and "no-store" in response["Cache-Control"]
    state = response.json()
    assert {key: state[key] for key in ("status", "label", "done", "total", "percent", "finished", "resumable")} == {
        "status": "running", "label": "Running", "done": 50, "total": 200, "percent": 25, "finished": False,
        "resumable": False}
    assert state["text"] == "Re-evaluating: 50 of 200 open assessments done."
    page = client.get(reverse("ruleset_detail", args=[2]))
    section = element(page.content, id="reevaluation")
    assert "Re-evaluating: 50 of 200 open assessments done." in section.text
    progress = element(page.content, tag="progress")
    assert (progress.attrs["value"], progress.attrs["max"]) == ("50", "200")
    assert [link.attrs["href"] for link in elements(page.content, tag="a") if link.text == "Refresh"] == [
        "/rulesets/2/#reevaluation"]
    assert "hidden" in element(page.content, tag="form", data_resume=None).attrs  # no Resume while it runs
    assert 'src="/static/js/reevaluation-progress.js"' in page.content.decode()
    # A version without a re-evaluation (version 1, or a draft) has no progress.
    assert client.get(reverse("ruleset_reevaluation", args=[1])).status_code == 404
    assert "reevaluation-progress.js" not in client.get(reverse("ruleset_detail", args=[1])).content.decode()


def test_a_failed_reevaluation_says_what_to_do_and_offers_resume(client):
    record = published_version_2(client)
    RuleSetReevaluation.objects.filter(pk=record.pk).update(status="failed", total=10, done=4,
                                                           error="OperationalError")
    page = client.get(reverse("ruleset_detail", args=[2]))
    section = element(page.content, id="reevaluation")
    assert "Stopped by an error (OperationalError) after 4 of 10 open assessments. Resume it" in section.text
    assert "manage.py reevaluate_open_assessments" in section.text
    assert "hidden" not in element(page.content, tag="form", data_resume=None).attrs
    resumed = client.post(reverse("ruleset_reevaluation_resume", args=[2]), follow=True)
    assert "Resumed" in resumed.content.decode()
    assert RuleSetReevaluation.objects.get().status == "queued"


def _edit_rows(page) -> list[str]:
    """Rows of the table of edits: those starting with a time to the second (when, who, what, before, after)."""
    return [row.text for row in elements(page, tag="tr") if re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ", row.text)]


def test_every_edit_of_a_draft_is_recorded_with_who_and_when(client):
    first = UserFactory(role="Administrator", first_name="Ada", last_name="Admin")
    second = UserFactory(role="Administrator", first_name="Bo", last_name="Berg")
    client.force_login(first)
    client.post(reverse("ruleset_list"))
    draft = RuleSet.objects.get(status="draft")
    page = client.get(reverse("ruleset_detail", args=[draft.version]))
    assert page.context["edits"] == [] and _edit_rows(page.content) == []  # the copy is not an edit
    assert "Edits to this version" not in page.content.decode()  # nor an empty table of them
    client.post(reverse("ruleset_detail", args=[draft.version]), values(driving_restriction_weeks=2))
    client.force_login(second)
    client.post(reverse("ruleset_product_add", args=[draft.version]), NEW)
    client.post(reverse("ruleset_product_remove", args=[draft.version, "tisagenlecleucel"]), confirmed(draft))
    response = client.get(reverse("ruleset_detail", args=[draft.version]))
    assert len(response.context["edits"]) == len(_edit_rows(response.content)) == 3
    page = response.content.decode()
    assert re.search(r"<td>Ada Admin</td><td>No driving after infusion</td><td>8 weeks</td><td>2 weeks</td>",
                     page)
    assert re.search(r"<td>Bo Berg</td><td>Product Example product \(example_product\)</td><td>absent</td>", page)
    assert re.search(r"<td>Bo Berg</td><td>Product Kymriah \(tisagenlecleucel\)</td><td>present</td><td>removed", page)


def test_a_draft_can_be_discarded_but_no_published_version(client):
    client.force_login(UserFactory(role="Administrator"))
    client.post(reverse("ruleset_list"))
    draft = RuleSet.objects.get(status="draft")
    client.post(reverse("ruleset_detail", args=[draft.version]), values(driving_restriction_weeks=2))
    refused = client.post(reverse("ruleset_discard", args=[1]), follow=True)
    assert "read-only" in refused.content.decode() and RuleSet.objects.filter(version=1).exists()
    client.force_login(UserFactory(role="Coordinator"))
    assert client.post(reverse("ruleset_discard", args=[draft.version]), confirmed(draft)).status_code == 403
    client.force_login(UserFactory(role="Administrator"))
    response = client.post(reverse("ruleset_discard", args=[draft.version]), confirmed(draft), follow=True)
    assert response.redirect_chain == [(reverse("ruleset_list"), 302)]
    assert [alert.text for alert in elements(response.content, cls="alert-success")] == [
        f"Draft version {draft.version} discarded."]
    assert list(RuleSet.objects.values_list("version", "status")) == [(1, "active")]
    client.post(reverse("ruleset_list"))  # a new draft can be made again
    assert RuleSet.objects.get(status="draft").thresholds.get(key="driving_restriction_weeks").value == 8


def shown(form_values):
    """A form as a browser posts it: each value and, hidden, the value the page showed."""
    return {**form_values, **{f"initial-{key}": value for key, value in form_values.items()}}


def test_two_administrators_editing_one_draft_never_overwrite_each_other_unseen(client):
    ada, bo = UserFactory(role="Administrator"), UserFactory(role="Administrator")
    client.force_login(ada)
    client.post(reverse("ruleset_list"))
    draft = RuleSet.objects.get(status="draft")
    page = client.get(reverse("ruleset_detail", args=[draft.version])).content.decode()
    assert 'type="hidden" name="initial-driving_restriction_weeks" value="8' in page  # what the page carries
    assert 'name="initial-tisagenlecleucel-target" value="CD19"' in page
    page_ada_saw = shown(values())  # Ada opens the page ...
    client.force_login(bo)  # ... Bo changes the driving restriction meanwhile
    client.post(reverse("ruleset_detail", args=[draft.version]), {**shown(values()), "driving_restriction_weeks": "4"})
    assert draft.thresholds.get(key="driving_restriction_weeks").value == 4
    client.force_login(ada)
    # Ada changes only the fever threshold: saved, and Bo's change stays.
    client.post(reverse("ruleset_detail", args=[draft.version]), {**page_ada_saw, "fever_c": "38.5"})
    assert draft.thresholds.get(key="fever_c").value == Decimal("38.5")
    assert draft.thresholds.get(key="driving_restriction_weeks").value == 4
    # Ada changes the driving restriction from the 8 weeks she saw: refused, naming it and the new value.
    refused = client.post(reverse("ruleset_detail", args=[draft.version]),
                          {**page_ada_saw, "driving_restriction_weeks": "2"}).content.decode()
    assert "was changed by someone else since you opened this page (now 4)" in refused
    assert draft.thresholds.get(key="driving_restriction_weeks").value == 4


def test_a_product_edit_applies_only_what_this_administrator_changed(client):
    client.force_login(UserFactory(role="Administrator"))
    client.post(reverse("ruleset_list"))
    draft = RuleSet.objects.get(status="draft")
    url = reverse("ruleset_product", args=[draft.version, "tisagenlecleucel"])
    form = product_form(client, draft, "tisagenlecleucel")
    draft.products.filter(code="tisagenlecleucel").update(target="CD19 (meanwhile)")
    client.post(url, {**form, "tisagenlecleucel-e0-max_age_years": "26"})
    product = draft.products.get(code="tisagenlecleucel")
    assert (product.indications[0]["max_age_years"], product.target) == (26, "CD19 (meanwhile)")
    refused = client.post(url, {**form, "tisagenlecleucel-target": "CD22"}).content.decode()
    assert "was changed by someone else since you opened this page (now CD19 (meanwhile))" in refused
    assert draft.products.get(code="tisagenlecleucel").target == "CD19 (meanwhile)"
    # The entries as that page showed them were changed since (age 26): its edit of them is refused.
    stale = client.post(url, {**form, "tisagenlecleucel-target": "CD19 (meanwhile)",
                              "initial-tisagenlecleucel-target": "CD19 (meanwhile)",
                              "tisagenlecleucel-e0-max_age_years": "24"})
    assert stale.status_code == 400 and "changed by someone else" in stale.content.decode()
    assert draft.products.get(code="tisagenlecleucel").indications[0]["max_age_years"] == 26


def test_every_threshold_is_on_the_draft_page_under_its_rule_with_the_rules_sources(client):
    client.force_login(UserFactory(role="Administrator"))
    client.post(reverse("ruleset_list"))
    draft = RuleSet.objects.get(status="draft")
    page = client.get(reverse("ruleset_detail", args=[draft.version])).content.decode()
    for key in draft.thresholds.values_list("key", flat=True):
        assert f'name="{key}"' in page, key
    assert re.search(r"<legend[^>]*>24. Driving restriction counselled</legend>\s*<p[^>]*>Source: Baltaleucel-T drug "
                     r"overview - Do&#x27;s and Don&#x27;ts", page)
    assert 'name="markers_window_days" value="30"' in page  # whole numbers shown as such
    assert "Allowed 0 to 365, a whole number" in page


def test_change_note_has_a_stated_maximum_and_a_refused_note_is_kept(client):
    client.force_login(UserFactory(role="Administrator"))
    client.post(reverse("ruleset_list"))
    draft = RuleSet.objects.get(status="draft")
    page = client.get(reverse("ruleset_detail", args=[draft.version])).content.decode()
    assert "Required to publish. At most 20,000 characters." in page
    refused = describe(client, draft, change_note="n" * 20_001)
    assert refused.status_code == 400
    assert refused.context["description_form"].errors["change_note"] == [
        "Ensure this value has at most 20000 characters (it has 20001)."]
    assert element(refused.content, tag="textarea", name="change_note").text == "n" * 20_001  # still in the field
    assert RuleSet.objects.get(pk=draft.pk).change_note == ""
    accepted = publish(client, draft, "n" * 20_000)
    assert accepted.status_code == 302
    assert RuleSet.objects.get(pk=draft.pk).status == "active"
