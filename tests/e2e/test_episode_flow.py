"""Treatment episodes in a real browser: a coordinator starts a re-collection from the patient's page
with the keyboard, records in the new episode, and reads the first one, closed and read-only."""

import re

import pytest
from playwright.sync_api import Page, expect

from eligibility.models import Assessment
from eligibility.patients import services
from tests.e2e.helpers import sign_in, user


@pytest.mark.django_db(transaction=True)
def test_a_coordinator_starts_a_recollection_and_the_first_episode_stays_readable(page: Page, live_server):
    coordinator = user("casey", "Coordinator", "Casey", "Jones")
    patient = services.patient_create(study_id="CART-EP-01", initials="AB", by=coordinator)
    services.assessment_update(assessment=patient.assessment, changes={"ecog": 1, "age_years": 61},
                               stage="screening", revision=0, by=coordinator)
    base = live_server.url
    sign_in(page, base, "casey")
    page.get_by_role("link", name="CART-EP-01").click()
    expect(page.get_by_text("Episode 1 · First work-up", exact=True)).to_be_visible()
    page.get_by_role("link", name="Start a new episode").click()
    expect(page.get_by_role("heading", name="Start a new episode (episode 2)")).to_be_visible()

    assert Assessment.objects.filter(patient=patient).count() == 1
    page.get_by_label("Re-collection (a new leukapheresis").focus()
    page.keyboard.press("Space")
    page.get_by_role("button", name="Start the new episode").press("Enter")

    expect(page.get_by_text("Episode 2 · Re-collection started")).to_be_visible()
    expect(page.get_by_text("Episode 2 · Re-collection").first).to_be_visible()
    expect(page.get_by_label("ECOG performance status")).to_have_value("1")  # started from episode 1's values

    page.get_by_role("link", name="Patient and history").click()
    expect(page.get_by_text("(current episode)")).to_be_visible()
    page.get_by_role("link", name="Episode 1 · First work-up").click()
    expect(page.get_by_role("heading", name=re.compile(
        r"Episode 1 · First work-up \(closed: replaced by a new episode\) — read only"))).to_be_visible()
    assert "CART-EP-01" not in page.url
