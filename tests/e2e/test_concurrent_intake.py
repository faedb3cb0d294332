"""Two coordinators on the same section in two browsers: the stale save is refused, the colleague's
value is shown beside the user's, and the re-save keeps it (issue 9, item 3). And the idle warning."""

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from eligibility.models import Assessment
from eligibility.patients import services
from tests.e2e.helpers import choose, field, sign_in, user


@pytest.fixture
def coordinators(db):
    return user("cora", "Coordinator", "Cora", "Ordinator"), user("casey", "Coordinator", "Casey", "Jones")


@pytest.mark.django_db(transaction=True)
def test_second_coordinator_sees_the_colleagues_value_and_the_resave_keeps_it(browser: Browser, live_server,
                                                                                coordinators):
    cora, casey = coordinators
    patient = services.patient_create(study_id="CART-E2E-CONC", initials="CC", by=cora)
    assessment = Assessment.objects.get(patient=patient)
    services.assessment_update(assessment=assessment, changes={"tocilizumab_doses_available": 1},
                               stage="pre_infusion", revision=assessment.revision, by=cora)
    base = live_server.url
    url = f"{base}/patients/{patient.public_id}/intake/pre_infusion/"
    first_context, second_context = browser.new_context(), browser.new_context()
    first, second = first_context.new_page(), second_context.new_page()
    try:
        sign_in(first, base, "cora")
        first.goto(url)
        sign_in(second, base, "casey")
        second.goto(url)
        expect(field(first, "Tocilizumab doses on site for this patient")).to_have_value("1")

        # The colleague saves meanwhile.
        field(second, "Tocilizumab doses on site for this patient").fill("2")
        second.get_by_role("button", name="Save before infusion").click()
        expect(second.get_by_text("Before infusion: saved")).to_be_visible()

        # The first coordinator, from the form opened before, records the caregiver.
        choose(first, "Full-time caregiver arranged", "Yes")
        first.get_by_role("button", name="Save before infusion").click()
        summary = first.locator("#problem-summary")
        expect(summary).to_be_visible()
        expect(summary).to_be_focused()
        expect(summary).to_contain_text("Not saved")
        expect(first.get_by_text(re.compile(r"Not saved: Casey Jones saved this assessment at"))).to_be_visible()
        note = first.locator("#id_tocilizumab_doses_available_saved")
        expect(note).to_contain_text(re.compile(r"Saved by Casey Jones at \d\d:\d\d on .*: 2 \(it was 1 when you"))
        expect(field(first, "Tocilizumab doses on site for this patient")).to_have_value("2")
        expect(field(first, "Full-time caregiver arranged")).to_have_value("true")
        first.screenshot(path="tests/e2e/concurrent-edit.png", full_page=True)

        # The summary's link takes the keyboard to the field.
        summary.get_by_role("link", name=re.compile("Tocilizumab doses")).click()
        expect(field(first, "Tocilizumab doses on site for this patient")).to_be_focused()

        first.get_by_role("button", name="Save before infusion").click()
        expect(first.get_by_text("Before infusion: saved")).to_be_visible()
    finally:
        first_context.close()
        second_context.close()
    data = Assessment.objects.get(patient=patient).data
    assert data == {"tocilizumab_doses_available": 2, "caregiver_confirmed": True}


@pytest.mark.django_db(transaction=True)
def test_idle_warning_offers_to_stay_signed_in(page: Page, live_server, coordinators, settings):
    settings.SESSION_IDLE_TIMEOUT, settings.SESSION_IDLE_WARNING = 30, 28
    sign_in(page, live_server.url, "cora")
    dialog = page.get_by_role("alertdialog", name="You will be signed out soon")
    expect(dialog).to_be_visible(timeout=10_000)
    expect(dialog).to_contain_text(re.compile(r"You will be signed out in \d+ seconds"))
    stay = dialog.get_by_role("button", name="Stay signed in")
    expect(stay).to_be_focused()
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    page.reload()
    expect(page.get_by_role("heading", name="Worklist")).to_be_visible()
