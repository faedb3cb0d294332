"""A coordinator's whole intake flow in a real browser (Debian's Chromium, driven by Playwright)."""

import re

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from eligibility.models import Patient
from tests.e2e.helpers import choose, field, sign_in, user


@pytest.fixture
def coordinator(db):
    return user("casey", "Coordinator", "Casey", "Coordinator")


@pytest.mark.django_db(transaction=True)
def test_coordinator_records_intake_in_two_sittings_and_sees_the_flagged_checklist(page: Page, live_server,
                                                                                    coordinator):
    base = live_server.url
    sign_in(page, base, "casey")

    # First sitting: a new patient and the screening data.
    page.get_by_role("link", name="New patient").first.click()
    page.get_by_label("Study identifier").fill("CART-E2E-01")
    page.get_by_label("Initials").fill("ab")
    page.get_by_role("button", name="Create patient").click()
    expect(page.get_by_role("heading", name=re.compile("CART-E2E-01"))).to_be_visible()
    assert "CART-E2E-01" not in page.url  # opaque identifiers only
    choose(page, "Diagnosis", "B-ALL")
    choose(page, "Disease status", "relapsed")
    page.get_by_label("Prior systemic lines of therapy").fill("2")
    choose(page, "Product", "Tecartus (CD19)")
    choose(page, "Target antigen on the tumour (CD19, BCMA or EBV)", "positive")
    page.get_by_label("Age (years)").fill("33")
    page.get_by_label("Weight (kg)").fill("72")
    # Shown only for B-ALL: the script reveals it once the diagnosis is chosen.
    expect(page.get_by_label("Bone-marrow blasts (%)")).to_be_visible()
    page.get_by_label("Bone-marrow blasts (%)").fill("42")
    # Prophylaxis is hidden until the marker is positive.
    expect(page.get_by_label("HBV antiviral prophylaxis in place")).to_be_hidden()
    choose(page, "Hepatitis B", "negative")
    page.get_by_label("ECOG performance status").fill("1")
    page.get_by_role("button", name="Save screening").click()
    expect(page.get_by_text("Screening: saved")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()

    # Second sitting: the lab values, in the units the lab sent.
    sign_in(page, base, "casey")
    page.get_by_role("link", name="CART-E2E-01").click()
    page.get_by_role("link", name="Before leukapheresis").click()
    alc = page.get_by_role("group", name="Absolute lymphocyte count")  # a fieldset: Value, Unit, Measured on
    field(alc, "Value").fill("150")
    choose(alc, "Unit", "cells/µL")
    page.get_by_role("button", name="Save before leukapheresis").click()
    page.get_by_role("link", name="Before infusion").click()
    choose(page, "Checklist for the stage", "Before infusion")
    temperature = page.get_by_role("group", name="Temperature")
    field(temperature, "Value").fill("101.2")
    choose(temperature, "Unit", "°F")
    page.get_by_role("button", name="Save before infusion").click()

    # The flagged checklist with its reasons.
    expect(page.get_by_role("heading", name=re.compile("Overall:"))).to_be_visible()
    alc = page.locator("#item-alc")
    expect(alc).to_contain_text("Flag")
    expect(alc).to_contain_text("150 cells/µL = 0.15 ×10⁹/L")
    fever = page.locator("#item-fever")
    expect(fever).to_contain_text("Defer")
    expect(fever).to_contain_text("101.2 °F = 38.4 °C")
    expect(page.locator("#item-disease_burden")).to_contain_text("42%")
    expect(page.get_by_text("Rule set: Default (source documents), version 1")).to_be_visible()
    # To look at (docs/checklist.png in the README is a copy of the second).
    page.screenshot(path="tests/e2e/checklist-full.png", full_page=True)
    page.screenshot(path="tests/e2e/checklist.png", clip={"x": 0, "y": 0, "width": 1280, "height": 1000})

    assessment = Patient.objects.get(study_id="CART-E2E-01").assessment
    # The dates were left as pre-filled (issue 14): today, the temperature's time now.
    today = timezone.localdate().isoformat()
    assert assessment.data["alc"] == {"value": 150, "unit": "cells/uL", "measured_on": today}
    temperature = assessment.data["temperature"]
    assert (temperature["value"], temperature["unit"]) == (101.2, "F")
    assert temperature["measured_at"].startswith(f"{today}T")
