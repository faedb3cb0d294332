"""A physician's review and sign-off in a real browser, and the voiding by a coordinator's edit."""

import pytest
from playwright.sync_api import Browser, expect

from eligibility.models import SignOff
from eligibility.patients import services
from eligibility.review.handoffs import services as handoffs
from tests.e2e.helpers import PASSWORD, field, sign_in, user
from tests.factories import SCREENING_TO_REVIEW


@pytest.mark.django_db(transaction=True)
def test_physician_overrides_acknowledges_signs_and_an_edit_voids_it(browser: Browser, live_server):
    coordinator = user("casey", "Coordinator", "Casey", "Jones")
    user("robin", "Physician", "Robin", "Lee")
    patient = services.patient_create(study_id="CART-E2E-02", initials="CD", by=coordinator)
    services.assessment_update(assessment=patient.assessment, changes=SCREENING_TO_REVIEW, stage="screening",
                               revision=patient.assessment.revision, by=coordinator)
    handoffs.ready_mark(assessment=patient.assessment, by=coordinator)

    doctor = browser.new_context().new_page()
    sign_in(doctor, live_server.url, "robin")
    queue = doctor.get_by_role("region", name="Awaiting your sign-off")
    expect(queue).to_contain_text("CART-E2E-02")
    queue.get_by_role("link", name="CART-E2E-02").click()

    viral = doctor.locator("#item-viral_infection")
    expect(viral).to_contain_text("Defer")
    viral.get_by_label("Override", exact=True).check()
    field(viral, "Reason for the override").select_option(label="Data verified elsewhere")
    field(viral, "Justification").fill("PCR negative on repeat, 12 Nov")
    viral.get_by_role("button", name="Record decision").click()
    expect(doctor.locator("#item-viral_infection")).to_contain_text(
        "Defer by rule; overridden by Robin Lee (Data verified elsewhere): PCR negative on repeat, 12 Nov")

    hbv = doctor.locator("#item-hbv")
    hbv.get_by_label("Acknowledge", exact=True).check()
    hbv.get_by_role("button", name="Record decision").click()
    expect(doctor.locator("#item-hbv")).to_contain_text("Acknowledged by Robin Lee")

    field(doctor, "Your password (to sign)").fill(PASSWORD)
    doctor.get_by_role("button", name="Sign", exact=True).click()
    expect(doctor.get_by_role("region", name="Physician sign-off")).to_contain_text(
        "Approved to proceed to leukapheresis by physician override of 1 criterion: Viral infection. "
        "Signed by Robin Lee")
    expect(doctor.get_by_text("verified, unchanged since signing")).to_be_visible()

    # The coordinator corrects a value afterwards.
    desk = browser.new_context().new_page()
    sign_in(desk, live_server.url, "casey")
    desk.get_by_role("link", name="CART-E2E-02").click()
    desk.get_by_role("link", name="Screening", exact=True).click()
    # Warned before saving: above the form and beside the save button.
    expect(desk.locator("#save-warning")).to_contain_text(
        "This checklist is signed by Robin Lee on ")
    expect(desk.locator("#save-warning")).to_contain_text("saving a change voids the signature")
    field(desk, "ECOG performance status").fill("0")
    desk.get_by_role("button", name="Save screening").click()
    expect(desk.get_by_text("Screening: saved")).to_be_visible()
    desk.get_by_role("button", name="Mark screening ready for review").click()

    doctor.reload()
    voided = doctor.locator(".voided")
    expect(voided).to_contain_text("Voided sign-off of the previous checklist")
    expect(voided).to_contain_text("Data changed by Casey Jones: ECOG performance status.")
    expect(doctor.get_by_role("button", name="Sign", exact=True)).to_be_visible()  # a new sign-off is asked for
    # The unchanged override carried over; marked ready again, the patient is back in the queue.
    expect(doctor.locator("#item-viral_infection")).to_contain_text("carried over")
    doctor.goto(f"{live_server.url}/")
    expect(doctor.get_by_role("region", name="Awaiting your sign-off")).to_contain_text("CART-E2E-02")
    assert SignOff.objects.get().is_void
