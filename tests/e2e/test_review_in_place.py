"""The physician's review in a real browser: what needs a decision first and the passes folded,
decisions saved in place without a page reload (static/js/review.js), a refused override kept
beside its field, the flags acknowledged at once, and the checklist at phone width."""

import pytest
from playwright.sync_api import Browser, expect

from eligibility.models import Disposition
from eligibility.patients import services
from tests.e2e.helpers import field, sign_in, user
from tests.factories import SCREENING_WITH_FLAGS_AND_GAPS as CASE

UNDECIDED = {"hbv", "prior_inotuzumab", "viral_infection", "performance_status", "life_expectancy"}


@pytest.fixture
def checklist_url(live_server):
    coordinator = user("casey", "Coordinator", "Casey", "Jones")
    user("robin", "Physician", "Robin", "Lee")
    patient = services.patient_create(study_id="CART-E2E-12", initials="KL", by=coordinator)
    evaluation = services.assessment_update(assessment=patient.assessment, changes=CASE, stage="screening",
                                            revision=patient.assessment.revision, by=coordinator)
    assert {item["code"] for item in evaluation.checklist["items"]
            if item["status"] in ("flag", "defer", "missing", "exclude")} == UNDECIDED
    return f"{live_server.url}/patients/{patient.public_id}/checklist/"


@pytest.mark.django_db(transaction=True)
def test_decisions_are_saved_in_place_and_flags_acknowledged_at_once(browser: Browser, live_server, checklist_url):
    doctor = browser.new_context().new_page()
    sign_in(doctor, live_server.url, "robin")
    doctor.goto(checklist_url)
    # Set on this page: still there after each decision only if the page was not reloaded.
    doctor.evaluate("window.reviewMarker = 'same page'")

    needs = doctor.get_by_role("region", name="Needs your decision")
    expect(needs).to_contain_text("Needs your decision: 5")
    assert set(needs.locator("tr.item").evaluate_all("rows => rows.map(row => row.id.slice(5))")) == UNDECIDED
    # The passes are folded under their count; the sign-off block comes last.
    passes = doctor.locator("section.phase details.fold-passes").first
    expect(passes.locator(":scope > summary")).to_contain_text("criteria met")
    expect(passes.locator("tr.item").first).to_be_hidden()
    assert doctor.locator("main > section").last.get_attribute("id") == "sign-block"

    # The override's fields appear only when Override is chosen.
    viral = doctor.locator("#item-viral_infection")
    reason = field(viral, "Reason for the override")
    expect(reason).to_be_hidden()
    viral.get_by_label("Accept the finding", exact=True).check()
    expect(reason).to_be_hidden()
    viral.get_by_label("Override", exact=True).check()
    expect(reason).to_be_visible()
    reason.select_option(label="Data verified elsewhere")
    field(viral, "Justification").fill("PCR negative on repeat, 12 Nov")
    viral.get_by_role("button", name="Record decision").click()
    expect(doctor.locator("#item-viral_infection")).to_contain_text(
        "Defer by rule; overridden by Robin Lee (Data verified elsewhere): PCR negative on repeat, 12 Nov")
    expect(needs).to_contain_text("Needs your decision: 4")
    expect(doctor.locator("[data-review-live]")).to_have_text("Decision recorded: Viral infection.")
    sign = doctor.get_by_role("region", name="Physician sign-off")
    expect(sign).to_contain_text("4 items still need your decision")
    expect(sign.get_by_role("link", name="Viral infection")).to_have_count(0)
    # The focus went on to an item still needing a decision.
    assert doctor.evaluate("document.activeElement.closest('tr.item').id") in {f"item-{code}" for code in UNDECIDED}
    assert doctor.evaluate("window.reviewMarker") == "same page"

    # A refused override: the error beside the field, what was typed kept, nothing recorded.
    expectancy = doctor.locator("#item-life_expectancy")
    expectancy.get_by_label("Override", exact=True).check()
    field(expectancy, "Justification").fill("Estimated above 12 weeks by the referring team")
    expectancy.get_by_role("button", name="Record decision").click()
    expect(doctor.locator("#item-life_expectancy")).to_contain_text("An override needs a reason: choose one.")
    expect(field(doctor.locator("#item-life_expectancy"), "Justification")).to_have_value(
        "Estimated above 12 weeks by the referring team")
    expect(field(doctor.locator("#item-life_expectancy"), "Reason for the override")).to_be_focused()
    assert not Disposition.objects.filter(code="life_expectancy").exists()
    assert doctor.evaluate("window.reviewMarker") == "same page"

    # Both flags acknowledged at once, with one note.
    bulk = doctor.get_by_role("group", name="All 2 undecided flags")
    field(bulk, "Note (optional)").fill("Discussed at the CAR-T board")
    bulk.get_by_role("button", name="Acknowledge all flags").click()
    for code in ("hbv", "prior_inotuzumab"):
        expect(doctor.locator(f"#item-{code}")).to_contain_text(
            "Acknowledged by Robin Lee: Discussed at the CAR-T board")
    expect(needs).to_contain_text("Needs your decision: 2")
    expect(doctor.get_by_role("button", name="Acknowledge all flags")).to_have_count(0)
    expect(doctor.locator("[data-review-live]")).to_contain_text("Acknowledged 2 flags")
    assert doctor.evaluate("window.reviewMarker") == "same page"
    assert set(Disposition.objects.values_list("code", flat=True)) == {"viral_infection", "hbv", "prior_inotuzumab"}

    # To look at (docs/review.png in the README is a copy): the review half done.
    doctor.set_viewport_size({"width": 1280, "height": 1000})
    doctor.evaluate("window.scrollTo(0, 0)")
    doctor.screenshot(path="tests/e2e/review.png", full_page=True)

    # The rest by one click: the missing items accepted; the signature's meaning is shown.
    doctor.get_by_role("button", name="Accept all missing items").click()
    expect(sign).to_contain_text("With the decisions recorded, your signature will mean: Not approved: deferred "
                                 "at screening until resolved: Performance status; Life expectancy.")
    assert doctor.evaluate("window.reviewMarker") == "same page"


@pytest.mark.django_db(transaction=True)
def test_the_checklist_stacks_at_phone_width(browser: Browser, live_server, checklist_url):
    phone = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
    sign_in(phone, live_server.url, "robin")
    phone.goto(checklist_url)
    viral = phone.locator("#item-viral_infection")
    expect(viral).to_be_visible()
    phone.locator("details.fold-passes summary").first.click()  # a folded phase, opened, stacks too
    # Nothing of the checklist reaches past the screen's edge, and the page does not scroll sideways
    # (the navigation folds at this width too: templates/base.html).
    assert phone.locator("main *").evaluate_all(
        "nodes => nodes.filter(node => node.getBoundingClientRect().right > 390)"
        "  .map(node => node.outerHTML.slice(0, 80))"
    ) == []
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    # Each cell under the other, the whole width of the item.
    cells = viral.locator(":scope > td, :scope > th").evaluate_all(
        "cells => cells.map(cell => cell.getBoundingClientRect()).map(box => [box.left, box.top, box.width])")
    assert all(top_next > top for (_, top, _), (_, top_next, _) in zip(cells, cells[1:], strict=False))
    assert len({round(left) for left, _, _ in cells}) == 1
    # Keyboard: the arrow keys choose Override, its fields appear and Tab goes on to the reason.
    viral.get_by_label("Accept the finding", exact=True).focus()
    phone.keyboard.press("ArrowDown")
    expect(viral.get_by_label("Override", exact=True)).to_be_checked()
    phone.keyboard.press("Tab")
    expect(field(viral, "Reason for the override")).to_be_focused()
    # To look at (docs/review-phone.png in the README is a copy of its top).
    phone.screenshot(path="tests/e2e/checklist-390.png", full_page=True)
    # Printed, the folded passes are shown in full (the script opens them before printing; the
    # print style sheet shows them even without it) and the decision forms are not.
    phone.reload()
    phone.emulate_media(media="print")
    expect(phone.locator("details.fold-passes tr.item").first).to_be_visible()
    expect(phone.locator("details.decision").first).to_be_hidden()
