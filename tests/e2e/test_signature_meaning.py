"""What a signature means, in a real browser: acknowledgements alone cannot approve a deferred
checklist; the physician signs "not approved: deferred", the coordinator resolves the item, and the
physician approves the new checklist."""

import pytest
from playwright.sync_api import Browser, expect

from eligibility.models import SignOff
from eligibility.patients import services
from eligibility.review.handoffs import services as handoffs
from tests.e2e.helpers import PASSWORD, choose, field, sign_in, user
from tests.factories import SCREENING_TO_REVIEW


@pytest.mark.django_db(transaction=True)
def test_a_deferred_checklist_is_signed_deferred_then_approved_once_resolved(browser: Browser, live_server):
    coordinator = user("casey", "Coordinator", "Casey", "Jones")
    user("robin", "Physician", "Robin", "Lee")
    patient = services.patient_create(study_id="CART-E2E-09", initials="IJ", by=coordinator)
    services.assessment_update(assessment=patient.assessment, changes=SCREENING_TO_REVIEW, stage="screening",
                               revision=patient.assessment.revision, by=coordinator)
    handoffs.ready_mark(assessment=patient.assessment, by=coordinator)

    doctor = browser.new_context().new_page()
    sign_in(doctor, live_server.url, "robin")
    doctor.get_by_role("region", name="Awaiting your sign-off").get_by_role("link", name="CART-E2E-09").click()
    viral = doctor.locator("#item-viral_infection")
    # A blocking item offers no "Acknowledge": only accepting the finding or overriding it.
    expect(viral.get_by_label("Acknowledge", exact=True)).to_have_count(0)
    hbv = doctor.locator("#item-hbv")
    hbv.get_by_label("Acknowledge", exact=True).check()
    hbv.get_by_role("button", name="Record decision").click()
    sign = doctor.get_by_role("region", name="Physician sign-off")
    expect(sign).to_contain_text("1 item still needs your decision: Viral infection")
    # Signing now is refused, and says why beside the form.
    field(doctor, "Your password (to sign)").fill(PASSWORD)
    doctor.get_by_role("button", name="Sign", exact=True).click()
    expect(doctor.get_by_role("region", name="Physician sign-off")).to_contain_text(
        "Record a decision for every item first; still open: Viral infection.")
    assert not SignOff.objects.exists()

    viral = doctor.locator("#item-viral_infection")
    viral.get_by_label("Accept the finding", exact=False).check()
    viral.get_by_role("button", name="Record decision").click()
    expect(doctor.locator("#item-viral_infection")).to_contain_text("Finding accepted by Robin Lee")
    sign = doctor.get_by_role("region", name="Physician sign-off")
    expect(sign).to_contain_text("your signature will mean: Not approved: deferred at screening until resolved: "
                                 "Viral infection")
    field(doctor, "Your password (to sign)").fill(PASSWORD)
    doctor.get_by_role("button", name="Sign", exact=True).click()
    expect(doctor.get_by_role("region", name="Physician sign-off")).to_contain_text(
        "Not approved: deferred at screening until resolved: Viral infection. Back to the coordinator.")
    assert SignOff.objects.get().decision == "deferred"

    # The coordinator resolves the infection.
    desk = browser.new_context().new_page()
    sign_in(desk, live_server.url, "casey")
    expect(desk.get_by_role("row", name="CART-E2E-09")).to_contain_text("Deferred by physician")
    desk.get_by_role("link", name="CART-E2E-09").click()
    desk.get_by_role("link", name="Screening", exact=True).click()
    choose(desk, "Viral infection", "none")
    desk.get_by_role("button", name="Save screening").click()
    expect(desk.get_by_text("Screening: saved")).to_be_visible()
    # The signature ended the hand-off: the coordinator hands the resolved stage back.
    desk.get_by_role("button", name="Mark screening ready for review").click()
    expect(desk.get_by_text("Screening: marked ready for review")).to_be_visible()

    # The physician approves the new checklist.
    doctor.goto(f"{live_server.url}/")
    doctor.get_by_role("region", name="Awaiting your sign-off").get_by_role("link", name="CART-E2E-09").click()
    expect(doctor.locator("#item-viral_infection")).to_contain_text("Pass")
    expect(doctor.get_by_role("region", name="Physician sign-off")).to_contain_text(
        "your signature will mean: Reviewed and approved to proceed to leukapheresis")
    field(doctor, "Your password (to sign)").fill(PASSWORD)
    doctor.get_by_role("button", name="Sign", exact=True).click()
    expect(doctor.get_by_role("region", name="Physician sign-off")).to_contain_text(
        "Reviewed and approved to proceed to leukapheresis. Signed by Robin Lee")
    decisions = list(SignOff.objects.order_by("signed_at").values_list("decision", "voided_at"))
    assert [decision for decision, _ in decisions] == ["deferred", "approved"]
    assert decisions[0][1] is not None and decisions[1][1] is None
