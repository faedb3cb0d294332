"""The intake of the criteria-v2 keys in a real browser (issue 13, item 6): measurements as fieldsets
named by their legend, the last dose shown only when a washout is stopped, "None of these" exclusive
of the drug classes, a unit without a value said beside the value; every section without a serious
axe violation, at desktop width and at 390 px without sideways scrolling."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from eligibility.models import Patient
from eligibility.patients import services
from eligibility.patients.fields import SECTIONS
from tests.e2e.helpers import choose, field, sign_in, user
from tests.e2e.test_accessibility import axe_violations


@pytest.fixture
def coordinator(db):
    return user("casey", "Coordinator", "Casey", "Coordinator")


@pytest.fixture
def patient(coordinator):
    return services.patient_create(study_id="CART-V2-01", initials="VT", by=coordinator)


@pytest.mark.django_db(transaction=True)
def test_a_coordinator_records_labs_a_washout_and_drug_classes(page: Page, live_server, coordinator, patient):
    base = live_server.url
    sign_in(page, base, "casey")
    yesterday = (timezone.localdate() - datetime.timedelta(days=1)).isoformat()

    page.goto(f"{base}{reverse('intake', args=[patient.public_id, 'screening'])}")
    classes = page.get_by_role("group", name="Drug classes received in prior lines")
    classes.get_by_label("BTK inhibitor").check()
    classes.get_by_label("None of these").check()
    expect(classes.get_by_label("BTK inhibitor")).not_to_be_checked()  # one or the other
    classes.get_by_label("BCL-2 inhibitor").check()
    expect(classes.get_by_label("None of these")).not_to_be_checked()
    expect(page.get_by_label("Anticonvulsant prophylaxis planned or in place")).to_be_hidden()
    choose(page, "Current CNS involvement", "Yes")
    expect(page.get_by_label("Anticonvulsant prophylaxis planned or in place")).to_be_visible()
    page.get_by_role("button", name="Save screening").click()
    expect(page.get_by_text("Screening: saved")).to_be_visible()

    page.goto(f"{base}{reverse('intake', args=[patient.public_id, 'pre_apheresis'])}")
    steroids = page.get_by_role("group", name="Systemic corticosteroids")
    expect(steroids.get_by_label("Last dose (date and time)")).to_be_hidden()
    choose(steroids, "Status", "stopped")
    expect(steroids.get_by_label("Last dose (date and time)")).to_be_visible()
    steroids.get_by_label("Last dose (date and time)").fill(f"{yesterday}T08:30")
    page.get_by_role("button", name="Save before leukapheresis").click()
    expect(page.get_by_text("Before leukapheresis: saved")).to_be_visible()

    page.goto(f"{base}{reverse('intake', args=[patient.public_id, 'pre_lymphodepletion'])}")
    crp = page.get_by_role("group", name="C-reactive protein (CRP)")
    choose(crp, "Unit", "mg/L")  # no value: said beside the value, the unit kept
    ast = page.get_by_role("group", name="AST")
    field(ast, "Value").fill("35")
    field(ast, "Upper limit of normal (U/L)").fill("40")
    field(ast, "Measured on").fill(yesterday)
    page.get_by_role("button", name="Save before lymphodepletion").click()
    summary = page.locator("[data-problem-summary]")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("Enter the value, or clear the unit.")
    expect(crp.get_by_label("Unit")).to_have_value("mg/L")
    expect(field(ast, "Value")).to_have_value("35")
    field(crp, "Value").fill("12")
    page.get_by_role("button", name="Save before lymphodepletion").click()
    expect(page.get_by_text("Before lymphodepletion: saved")).to_be_visible()

    data = Patient.objects.get(study_id="CART-V2-01").assessment.data
    assert data["prior_drug_classes"] == ["bcl2_inhibitor"]
    assert data["washout"] == {"systemic_corticosteroids": {"status": "stopped", "last_dose_at": f"{yesterday}T08:30"}}
    assert data["labs"] == {"ast": {"value": 35, "unit": "U/L", "uln": 40, "measured_on": yesterday},
                            # the date left as pre-filled (today) is kept with the value entered
                            "crp": {"value": 12, "unit": "mg/L", "measured_on": timezone.localdate().isoformat()}}


@pytest.mark.django_db(transaction=True)
def test_every_intake_section_has_no_serious_axe_violation_and_fits_a_phone(browser: Browser, live_server,
                                                                            coordinator, patient):
    found = {}
    for width in (1280, 390):
        page = browser.new_context(viewport={"width": width, "height": 900}).new_page()
        sign_in(page, live_server.url, "casey")
        for phase, _, _ in SECTIONS:
            page.goto(f"{live_server.url}{reverse('intake', args=[patient.public_id, phase])}")
            if violations := axe_violations(page):
                found[f"{phase} at {width} px"] = violations
            overflow = page.evaluate(
                "() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 0, f"{phase} scrolls sideways by {overflow} px at {width} px"
        page.context.close()
    assert found == {}


@pytest.mark.django_db(transaction=True)
def test_a_measurement_is_reached_and_filled_with_the_keyboard(page: Page, live_server, coordinator, patient):
    sign_in(page, live_server.url, "casey")
    page.goto(f"{live_server.url}{reverse('intake', args=[patient.public_id, 'pre_lymphodepletion'])}")
    bilirubin = page.get_by_role("group", name="Total bilirubin")
    field(bilirubin, "Value").focus()
    page.keyboard.type("0.8")
    page.keyboard.press("Tab")
    expect(field(bilirubin, "Unit")).to_be_focused()
    page.keyboard.type("m")  # type-ahead: "mg/dL"
    expect(field(bilirubin, "Unit")).to_have_value("mg/dL")
    page.keyboard.press("Tab")
    expect(field(bilirubin, "Measured on")).to_be_focused()
    page.keyboard.press("Enter")  # submits the form
    expect(page.get_by_text("Before lymphodepletion: saved")).to_be_visible()
    assert Patient.objects.get(pk=patient.pk).assessment.data["labs"] == {
        "bilirubin": {"value": 0.8, "unit": "mg/dL", "measured_on": timezone.localdate().isoformat()}}
