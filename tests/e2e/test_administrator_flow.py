"""An administrator makes version 2 (2-week driving restriction), previews, publishes; a physician
sees the re-evaluated checklist."""

import json
import re

import pytest
from playwright.sync_api import Browser, expect

from eligibility import services
from tests.conftest import EXAMPLES_DIR
from tests.e2e.helpers import field, sign_in, user

CLEAN = json.loads((EXAMPLES_DIR / "01-clean.json").read_text())["case"]


@pytest.mark.django_db(transaction=True)
def test_administrator_publishes_a_2_week_driving_restriction_and_a_physician_sees_it(browser: Browser,
                                                                                       live_server):
    coordinator = user("casey", "Coordinator", "Casey", "Jones")
    user("ada", "Administrator", "Ada", "Admin")
    user("robin", "Physician", "Robin", "Lee")
    patient = services.patient_create(study_id="CART-E2E-03", initials="EF", by=coordinator)
    data = {key: value for key, value in CLEAN.items() if key not in ("case_id", "stage")}
    services.assessment_update(assessment=patient.assessment, changes={**data, "travel_time_minutes": 90},
                               stage="pre_infusion", revision=patient.assessment.revision, by=coordinator)

    admin = browser.new_context().new_page()
    sign_in(admin, live_server.url, "ada")
    admin.get_by_role("link", name="Rule sets").click()
    admin.get_by_role("button", name="New draft from the active version").click()
    expect(admin.get_by_role("heading", name=re.compile("Version 2"))).to_be_visible()
    field(admin, "No driving after infusion (weeks)").fill("2")
    field(admin, "Stay near the centre after infusion (weeks)").fill("2")
    field(admin, "Maximum travel time to the centre (minutes)").fill("120")
    admin.get_by_role("button", name="Save draft").click()
    expect(admin.get_by_text("Draft saved.")).to_be_visible()
    admin.get_by_role("link", name="Preview the impact on open assessments").click()
    expect(admin.get_by_text("1 deferred → cleared")).to_be_visible()
    expect(admin.get_by_role("link", name="CART-E2E-03")).to_be_visible()
    admin.get_by_role("link", name="Back to the draft").click()
    field(admin, "Change note (why, and the source)").fill("June 2025 US labels: driving and stay 2 weeks")
    admin.get_by_role("button", name="Publish version 2").click()
    expect(admin.get_by_text(re.compile(r"Version 2 is active\. Re-evaluated 1 open assessment"))).to_be_visible()

    doctor = browser.new_context().new_page()
    sign_in(doctor, live_server.url, "robin")
    doctor.get_by_role("link", name="CART-E2E-03").first.click()
    expect(doctor.get_by_text(re.compile("Re-evaluated under rule-set version 2"))).to_be_visible()
    expect(doctor.locator("#item-driving_counselled")).to_contain_text("2 weeks")
    expect(doctor.locator("#item-proximity")).to_contain_text("Pass")
    expect(doctor.get_by_role("heading", name=re.compile("Overall:"))).to_contain_text("Cleared")
