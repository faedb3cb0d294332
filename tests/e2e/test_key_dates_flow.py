"""Key dates and dated values in a real browser (issue 14, item 2): a coordinator plans the dates of
the episode, records a count whose date is pre-filled with today, and reads on the checklist the
value with its date, its distance to the collection and its day number."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Page, expect

from eligibility.models import Patient
from eligibility.patients import services
from tests.e2e.helpers import choose, field, sign_in, user


@pytest.fixture
def coordinator(db):
    return user("casey", "Coordinator", "Casey", "Coordinator")


@pytest.fixture
def patient(coordinator):
    return services.patient_create(study_id="CART-KD-01", initials="KD", by=coordinator)


def _day(offset: int) -> str:
    return (timezone.localdate() + datetime.timedelta(days=offset)).isoformat()


@pytest.mark.django_db(transaction=True)
def test_a_coordinator_plans_the_dates_and_records_a_dated_count(page: Page, live_server, coordinator, patient):
    base = live_server.url
    sign_in(page, base, "casey")
    page.goto(f"{base}{reverse('patient_detail', args=[patient.public_id])}")
    page.get_by_role("navigation", name="Patient").get_by_role("link", name="Key dates").click()
    expect(page).to_have_title("CART-KD-01 · Key dates · CAR-T readiness")
    page.get_by_label("Consent signed").fill(_day(-7))
    page.get_by_label("Leukapheresis (collection)").fill(_day(2))
    page.get_by_label("Infusion (day 0)").fill(_day(1))  # before the collection: refused beside it
    page.get_by_role("button", name="Save the key dates").click()
    summary = page.locator("[data-problem-summary]")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("must not be before the leukapheresis date")
    expect(page.get_by_label("Consent signed")).to_have_value(_day(-7))  # nothing typed lost
    page.get_by_label("Infusion (day 0)").fill(_day(12))
    page.get_by_role("button", name="Save the key dates").click()
    expect(page.get_by_text("Key dates saved.")).to_be_visible()
    table = page.locator("table.key-dates")
    expect(table).to_contain_text(f"{_day(2)} (day −10)")
    expect(table).to_contain_text(f"{_day(-7)} (day −19)")

    page.get_by_role("link", name="Before leukapheresis").click()
    choose(page, "Checklist for the stage", "Before leukapheresis")
    alc = page.get_by_role("group", name="Absolute lymphocyte count")
    expect(field(alc, "Measured on")).to_have_value(_day(0))  # pre-filled with today
    field(alc, "Value").fill("0.35")
    choose(alc, "Unit", "×10⁹/L")
    page.get_by_role("button", name="Save before leukapheresis").click()
    expect(page.locator("#item-alc")).to_contain_text(
        f"0.35 ×10⁹/L, measured {_day(0)} (day −12), 2 days before collection")

    episode = Patient.objects.get(pk=patient.pk).assessment
    assert episode.consent_on.isoformat() == _day(-7)
    assert episode.data["alc"] == {"value": 0.35, "unit": "10^9/L", "measured_on": _day(0)}
