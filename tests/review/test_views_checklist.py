"""The physician's checklist page: what needs a decision first, the rest by phase with the passes
folded under their count, the sign-off block last; decisions and bulk decisions answered as page
fragments for the page's script (static/js/review.js) or as a whole page without it."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from eligibility.common.text import FREE_TEXT_MAX
from eligibility.models import Assessment, Disposition, Evaluation
from eligibility.patients import services
from eligibility.review import services as review
from tests.factories import PASSWORD, SCREENING_TO_REVIEW, SCREENING_WITH_FLAGS_AND_GAPS, PatientFactory, UserFactory
from tests.pages import element, elements

pytestmark = pytest.mark.django_db

JSON = {"HTTP_ACCEPT": "application/json"}


@pytest.fixture
def physician():
    return UserFactory(role="Physician", first_name="Robin", last_name="Lee")


def save(patient, by, stage="screening", **changes) -> Evaluation:
    assessment = Assessment.objects.get(patient=patient)
    return services.assessment_update(assessment=assessment, changes=changes, stage=stage,
                                      revision=assessment.revision, by=by)


@pytest.fixture
def gaps(coordinator):
    """Two flags, a deferral and two missing items at screening, none decided."""
    patient = PatientFactory(by=coordinator)
    return patient, save(patient, coordinator, **SCREENING_WITH_FLAGS_AND_GAPS)


@pytest.fixture
def signed_in(client, physician):
    client.force_login(physician)
    return client


def _page(client, patient) -> str:
    response = client.get(reverse("checklist", args=[patient.public_id]))
    assert response.status_code == 200
    return response.content.decode()


def _row_ids(page_or_element) -> list[str]:
    return [row.attrs["id"].removeprefix("item-") for row in elements(page_or_element, tag="tr", cls="item")]


def _section_html(page: str, section_id: str) -> str:
    """The markup of one top-level section of the page (sections are not nested)."""
    start = page.index(f'id="{section_id}"')
    return page[start:page.index("</section>", start)]


def _phase_html(page: str, phase: str) -> str:
    start = page.index(f'<section class="mb-4 phase" aria-labelledby="phase-{phase}"')
    return page[start:page.index("</section>", start)]


def _fold_summary(html: str, fold: str):
    """The summary of the fold ``fold`` (the items inside have summaries of their own: notes, questions)."""
    return elements(html[html.index(f'class="fold {fold}'):], tag="summary")[0]


def _row_html(page: str, code: str) -> str:
    start = page.rindex("<tr ", 0, page.index(f'id="item-{code}"'))
    return page[start:page.index("</tr>", start) + len("</tr>")]


def _undecided(evaluation) -> list[str]:
    return [item["code"] for item in evaluation.checklist["items"] if item["status"] in review.NEEDS_DISPOSITION]


# --- The order of the page ---------------------------------------------------------------------------


def test_items_needing_a_decision_come_first_then_the_phases_then_the_sign_off_block(signed_in, gaps):
    patient, evaluation = gaps
    page = _page(signed_in, patient)
    sections = [section.attrs.get("id") or section.attrs["aria-labelledby"]
                for section in elements(page, tag="section")]
    assert sections == ["handoffs-heading", "overall", "needs-decision", "phase-screening", "phase-pre_apheresis",
                        "phase-pre_lymphodepletion", "phase-pre_infusion", "sign-block"]
    needs = _section_html(page, "needs-decision")
    assert _row_ids(needs) == _undecided(evaluation) and len(_undecided(evaluation)) == 5
    assert element(needs, tag="span", data_undecided_count=None).text == "5"
    # No item is listed twice: the undecided ones are not repeated in their phase.
    assert sorted(_row_ids(page)) == sorted(item["code"] for item in evaluation.checklist["items"])


def test_the_passes_of_each_phase_are_folded_under_their_count(signed_in, gaps):
    patient, evaluation = gaps
    page = _page(signed_in, patient)
    screening = _phase_html(page, "screening")
    passes = [item["code"] for item in evaluation.checklist["items"]
              if item["phase"] == "screening" and item["status"] == "pass"]
    [fold] = elements(screening, tag="details", cls="fold-passes")
    assert "open" not in fold.attrs
    assert _fold_summary(screening, "fold-passes").text.endswith(f"{len(passes)} criteria met")
    assert _row_ids(screening) == passes  # the undecided items of screening are above, not here
    # The later phases' checks are not due at screening: folded too, under their own count.
    later = _phase_html(page, "pre_infusion")
    pending = [item["code"] for item in evaluation.checklist["items"] if item["phase"] == "pre_infusion"]
    assert _fold_summary(later, "fold-pending").text.endswith(f"{len(pending)} pending: checked at a later stage")
    assert not elements(later, tag="details", cls="fold-passes")


def test_one_pass_is_one_criterion_met(signed_in, coordinator):
    patient = PatientFactory(by=coordinator)
    evaluation = save(patient, coordinator, stage="pre_apheresis", alc={"value": 1.2, "unit": "10^9/L"})
    statuses = {item["code"]: item["status"] for item in evaluation.checklist["items"]
                if item["phase"] == "pre_apheresis"}
    assert list(statuses.values()).count("pass") == 1, statuses
    summary = _fold_summary(_phase_html(_page(signed_in, patient), "pre_apheresis"), "fold-passes")
    assert summary.text.endswith("1 criterion met")


def test_the_sign_off_block_counts_and_links_what_still_needs_a_decision(signed_in, gaps, physician):
    patient, evaluation = gaps
    block = _section_html(_page(signed_in, patient), "sign-block")
    undecided = element(block, tag="p", cls="signature-undecided")
    assert undecided.text.startswith("? Not ready to sign: 5 items still need your decision")
    assert [a.attrs["href"] for a in elements(block, tag="a")] == [f"#item-{code}" for code in _undecided(evaluation)]
    for code in _undecided(evaluation)[1:]:
        kind = "acknowledged" if code in ("hbv", "prior_inotuzumab") else "accepted"
        review.disposition_record(evaluation=evaluation, code=code, kind=kind, by=physician)
    block = _section_html(_page(signed_in, patient), "sign-block")
    assert element(block, tag="p", cls="signature-undecided").text.startswith(
        "? Not ready to sign: 1 item still needs your decision")
    assert [a.attrs["href"] for a in elements(block, tag="a")] == ["#item-prior_inotuzumab"]
    review.disposition_record(evaluation=evaluation, code="prior_inotuzumab", kind="acknowledged", by=physician)
    page = _page(signed_in, patient)
    assert not elements(page, id="needs-decision")  # nothing left to decide: no such section
    assert element(page, tag="strong", cls="signature-meaning").text == (
        "Not approved: deferred at screening until resolved: Performance status; Life expectancy; Viral infection. "
        "Back to the coordinator.")


def test_a_decided_item_shows_its_decision_in_its_phase(signed_in, gaps, physician):
    patient, evaluation = gaps
    review.disposition_record(evaluation=evaluation, code="hbv", kind="acknowledged", justification="On entecavir",
                              by=physician)
    page = _page(signed_in, patient)
    assert "hbv" not in _row_ids(_section_html(page, "needs-decision"))
    screening = _phase_html(page, "screening")
    assert _row_ids(screening)[0] == "hbv"  # before the folded passes
    row = element(screening, tag="tr", id="item-hbv")
    assert "✓ Decided" in row.text and "Acknowledged by Robin Lee: On entecavir" in row.text
    [change] = elements(screening, tag="details", cls="decision")
    assert "open" not in change.attrs  # to change it, unfold "Change your decision"


def test_values_are_shown_as_plain_text_not_code(signed_in, gaps):
    patient, _ = gaps
    row = _row_html(_page(signed_in, patient), "prior_inotuzumab")
    assert element(row, tag="td", data_label="Values and thresholds used")
    assert not elements(row, tag="code")
    values = [li.text for li in elements(row, tag="li")]
    assert len(values) == 1 and values[0].endswith(": yes")  # label: value, the value in words


def test_override_fields_are_said_to_be_for_an_override_only(signed_in, gaps):
    patient, _ = gaps
    page = _page(signed_in, patient)
    viral = _row_html(page, "viral_infection")
    fieldset = element(viral, tag="fieldset", data_override_fields=None)
    assert "Only for an override" in [legend.text for legend in elements(viral, tag="legend")]
    assert {e.attrs["name"] for e in elements(viral, tag="select")} == {"viral_infection-reason_code"}
    assert "override-fields" in fieldset.classes
    hbv = _row_html(page, "hbv")  # a flag takes no override
    assert not elements(hbv, tag="fieldset", data_override_fields=None)


def test_a_coordinator_sees_what_awaits_a_physician_without_forms(client, gaps, coordinator):
    patient, evaluation = gaps
    client.force_login(coordinator)
    page = _page(client, patient)
    heading = element(page, tag="h2", id="needs-decision-heading")
    assert heading.text == "Awaiting a physician's decision: 5"
    assert not elements(page, tag="form", data_review_form=None)


# --- One decision, with and without the script -------------------------------------------------------


def test_a_decision_without_the_script_comes_back_to_its_item(signed_in, gaps):
    patient, evaluation = gaps
    response = signed_in.post(reverse("disposition", args=[evaluation.public_id, "hbv"]), {"hbv-kind": "acknowledged"})
    assert response.status_code == 302
    assert response.url == f"{reverse('checklist', args=[patient.public_id])}#item-hbv"


def test_a_decision_asked_as_fragments_answers_the_item_and_the_sign_off_block(signed_in, gaps):
    patient, evaluation = gaps
    response = signed_in.post(reverse("disposition", args=[evaluation.public_id, "hbv"]),
                              {"hbv-kind": "acknowledged", "hbv-justification": "On entecavir"}, **JSON)
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    data = json.loads(response.content)
    assert (data["ok"], data["undecided"], data["message"]) == (True, 4, "Decision recorded: Hepatitis B.")
    assert list(data["items"]) == ["hbv"]
    row = element(data["items"]["hbv"], tag="tr", id="item-hbv")
    assert "Acknowledged by Robin Lee: On entecavir" in row.text and "✓ Decided" in row.text
    block = element(data["sign"], tag="section", id="sign-block")
    assert "4 items still need your decision" in block.text
    assert "#item-hbv" not in [a.attrs["href"] for a in elements(data["sign"], tag="a")]
    # One flag left: the bulk acknowledgement now counts one.
    assert [legend.text for legend in elements(data["bulk"], tag="legend")] == [
        "All 1 undecided flag", "All 2 undecided missing items"]
    assert Disposition.objects.get(code="hbv").justification == "On entecavir"


def test_a_refused_decision_as_fragments_keeps_what_was_typed_beside_the_field(signed_in, gaps):
    _, evaluation = gaps
    typed = "PCR negative on 12 Nov, repeat pending"
    response = signed_in.post(reverse("disposition", args=[evaluation.public_id, "viral_infection"]),
                              {"viral_infection-kind": "overridden", "viral_infection-justification": typed}, **JSON)
    assert response.status_code == 400
    data = json.loads(response.content)
    assert data["ok"] is False and data["undecided"] == 5
    assert data["message"] == "Viral infection: not recorded; see the message beside the decision."
    item = data["items"]["viral_infection"]
    assert element(item, tag="textarea", name="viral_infection-justification").text == typed
    select = element(item, tag="select", name="viral_infection-reason_code")
    assert "is-invalid" in select.classes
    assert "An override needs a reason: choose one." in element(item, tag="details", cls="decision").text
    assert not Disposition.objects.exists()


def test_a_decision_on_a_replaced_checklist_says_so_not_a_server_error(signed_in, gaps, coordinator):
    patient, evaluation = gaps
    save(patient, coordinator, weight_kg=73)  # the coordinator saved meanwhile: a new checklist
    url = reverse("disposition", args=[evaluation.public_id, "hbv"])
    response = signed_in.post(url, {"hbv-kind": "acknowledged"}, **JSON)
    assert response.status_code == 409
    data = json.loads(response.content)
    assert data["stale"] is True and data["reload"] == reverse("checklist", args=[patient.public_id])
    assert data["message"].startswith("Hepatitis B: not recorded. This checklist has been re-evaluated since")
    # Without the script: back to the current checklist, the refusal said at the top.
    response = signed_in.post(url, {"hbv-kind": "acknowledged"}, follow=True)
    assert response.redirect_chain == [(reverse("checklist", args=[patient.public_id]), 302)]
    [alert] = elements(response.content, cls="alert-danger")
    assert "re-evaluated since" in alert.text and "See the current checklist." in alert.text
    assert not Disposition.objects.exists()


# --- Decisions on several items at once ----------------------------------------------------------------


def _bulk(evaluation, action):
    return reverse("dispositions_bulk", args=[evaluation.public_id, action])


def test_the_bulk_decisions_are_offered_with_their_counts(signed_in, gaps):
    patient, evaluation = gaps
    needs = _section_html(_page(signed_in, patient), "needs-decision")
    forms = elements(needs, tag="form")
    assert [form.attrs["action"] for form in forms if "/decisions/" in form.attrs["action"]] == [
        _bulk(evaluation, "acknowledge-flags"), _bulk(evaluation, "accept-missing")]
    assert [legend.text for legend in elements(needs, tag="legend") if legend.text.startswith("All")] == [
        "All 2 undecided flags", "All 2 undecided missing items"]


def test_acknowledging_all_flags_without_the_script(signed_in, gaps):
    patient, evaluation = gaps
    response = signed_in.post(_bulk(evaluation, "acknowledge-flags"),
                              {"acknowledge-flags-note": "Discussed at the board"})
    assert response.status_code == 302
    assert response.url == f"{reverse('checklist', args=[patient.public_id])}#needs-decision"
    assert {d.code: (d.kind, d.justification) for d in Disposition.objects.all()} == {
        "hbv": ("acknowledged", "Discussed at the board"),
        "prior_inotuzumab": ("acknowledged", "Discussed at the board")}
    page = signed_in.get(response.url)
    assert [str(m) for m in page.context["messages"]] == [
        "Acknowledged 2 flags: Prior inotuzumab ozogamicin; Hepatitis B."]
    assert not [entry for entry in page.context["bulk"] if entry["action"] == "acknowledge-flags"]


def test_accepting_all_missing_items_as_fragments_answers_each_item(signed_in, gaps):
    _, evaluation = gaps
    response = signed_in.post(_bulk(evaluation, "accept-missing"), {"accept-missing-note": ""}, **JSON)
    assert response.status_code == 200
    data = json.loads(response.content)
    assert sorted(data["items"]) == ["life_expectancy", "performance_status"]
    assert data["message"] == "Accepted 2 missing items: Performance status; Life expectancy."
    assert data["undecided"] == 3
    assert "Finding accepted by Robin Lee" in element(data["items"]["life_expectancy"], tag="tr").text
    assert [legend.text for legend in elements(data["bulk"], tag="legend")] == ["All 2 undecided flags"]


def test_a_bulk_decision_with_nothing_left_to_decide_records_nothing(signed_in, gaps, physician):
    _, evaluation = gaps
    for code in ("hbv", "prior_inotuzumab"):
        review.disposition_record(evaluation=evaluation, code=code, kind="acknowledged", justification="Mine",
                                  by=physician)
    response = signed_in.post(_bulk(evaluation, "acknowledge-flags"), {"acknowledge-flags-note": "Board"}, **JSON)
    data = json.loads(response.content)
    assert data["items"] == {} and data["message"] == "Nothing recorded: every such item has a decision already."
    assert set(Disposition.objects.values_list("justification", flat=True)) == {"Mine"}


def test_a_too_long_bulk_note_is_refused_beside_it_and_kept(signed_in, gaps):
    patient, evaluation = gaps
    note = "x" * (FREE_TEXT_MAX + 1)
    response = signed_in.post(_bulk(evaluation, "acknowledge-flags"), {"acknowledge-flags-note": note})
    assert response.status_code == 400
    assert element(response.content, tag="textarea", name="acknowledge-flags-note").text == note
    assert response.context["bulk"][0]["form"].errors["note"]
    fragments = signed_in.post(_bulk(evaluation, "acknowledge-flags"), {"acknowledge-flags-note": note}, **JSON)
    assert fragments.status_code == 400
    assert element(json.loads(fragments.content)["bulk"], tag="textarea", name="acknowledge-flags-note").text == note
    assert not Disposition.objects.exists()


def test_a_bulk_decision_on_a_replaced_checklist_is_refused_whole(signed_in, gaps, coordinator):
    patient, evaluation = gaps
    newer = save(patient, coordinator, weight_kg=73)
    response = signed_in.post(_bulk(evaluation, "acknowledge-flags"), {"acknowledge-flags-note": ""}, **JSON)
    assert response.status_code == 409 and json.loads(response.content)["stale"] is True
    response = signed_in.post(_bulk(evaluation, "accept-missing"), {"accept-missing-note": ""})
    assert response.status_code == 302 and response.url == reverse("checklist", args=[patient.public_id])
    assert not Disposition.objects.filter(evaluation__in=[evaluation, newer]).exists()


@pytest.mark.parametrize("role", ["Coordinator", "Administrator"])
def test_only_physicians_make_bulk_decisions_also_on_crafted_posts(client, gaps, role):
    _, evaluation = gaps
    client.force_login(UserFactory(role=role))
    for action in ("acknowledge-flags", "accept-missing"):
        assert client.post(_bulk(evaluation, action), {f"{action}-note": ""}).status_code == 403
        assert client.post(_bulk(evaluation, action), {f"{action}-note": ""}, **JSON).status_code == 403
    assert not Disposition.objects.exists()


def test_an_unknown_bulk_decision_is_not_found_and_a_get_goes_to_the_items(signed_in, gaps):
    patient, evaluation = gaps
    assert signed_in.post(_bulk(evaluation, "accept-flags"), {}).status_code == 404
    response = signed_in.get(_bulk(evaluation, "accept-missing"))
    assert response.status_code == 302
    assert response.url == f"{reverse('checklist', args=[patient.public_id])}#needs-decision"
    assert not Disposition.objects.exists()


def test_a_signed_checklist_offers_no_bulk_decision(signed_in, coordinator, physician):
    patient = PatientFactory(by=coordinator)
    evaluation = save(patient, coordinator, **SCREENING_TO_REVIEW)
    review.disposition_record(evaluation=evaluation, code="hbv", kind="acknowledged", by=physician)
    review.disposition_record(evaluation=evaluation, code="viral_infection", kind="accepted", by=physician)
    review.signoff_create(evaluation=evaluation, password=PASSWORD, by=physician)
    page = signed_in.get(reverse("checklist", args=[patient.public_id]))
    assert "bulk" not in page.context and not elements(page.content, id="needs-decision")


def test_no_checklist_page_for_an_unknown_patient_or_one_not_evaluated_yet(signed_in, gaps):
    patient, _ = gaps
    assert signed_in.get(reverse("checklist", args=["0f0f0f0f-0000-4000-8000-000000000000"])).status_code == 404
    Assessment.objects.filter(patient=patient).update(current_evaluation=None)
    assert signed_in.get(reverse("checklist", args=[patient.public_id])).status_code == 404
