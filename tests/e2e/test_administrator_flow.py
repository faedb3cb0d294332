"""An administrator makes version 2 (2-week driving restriction), previews, publishes through the
confirmation page; with four eyes on, a second administrator approves first; a physician sees the
re-evaluated checklist, and answers a review request for a checklist signed earlier."""

import json
import re
from decimal import Decimal

import pytest
from playwright.sync_api import Browser, expect

from eligibility.patients import services
from eligibility.review import reevaluation
from eligibility.review import services as review
from eligibility.review.handoffs import services as handoffs
from eligibility.rulesets import services as rulesets
from tests.conftest import EXAMPLES_DIR
from tests.e2e.helpers import PASSWORD, field, sign_in, user
from tests.review.test_tasks import run_worker

CLEAN = json.loads((EXAMPLES_DIR / "01-clean.json").read_text())["case"]


@pytest.mark.django_db(transaction=True)
def test_administrator_publishes_a_2_week_driving_restriction_and_a_physician_sees_it(browser: Browser,
                                                                                       live_server, task_worker):
    coordinator = user("casey", "Coordinator", "Casey", "Jones")
    user("ada", "Administrator", "Ada", "Admin")
    user("robin", "Physician", "Robin", "Lee")
    patient = services.patient_create(study_id="CART-E2E-03", initials="EF", by=coordinator)
    data = {key: value for key, value in CLEAN.items() if key not in ("case_id", "stage")}
    services.assessment_update(assessment=patient.assessment, changes={**data, "travel_time_minutes": 90},
                               stage="pre_infusion", revision=patient.assessment.revision, by=coordinator)
    handoffs.ready_mark(assessment=patient.assessment, by=coordinator)  # in the physicians' queue

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
    # The preview is background work: asked for on its page, made by a task worker, followed in place.
    admin.get_by_role("button", name="Preview the impact on open assessments").click()
    preview = admin.locator("#preview-progress")
    expect(preview).to_contain_text("Waiting for a task worker")
    admin.evaluate("window.notReloaded = true")
    run_worker()
    expect(preview).to_contain_text("Finished on", timeout=30_000)
    expect(preview.get_by_text("1 of 1")).to_be_visible()
    assert admin.evaluate("window.notReloaded") is True
    preview.get_by_role("link", name="Show the results").click()
    # Counselled under 8 weeks: under 2 weeks the counselling must be confirmed (the record never says
    # the patient was told 2 weeks), so the patient goes from deferred (travel) to incomplete.
    expect(admin.get_by_text("1 deferred → incomplete")).to_be_visible()
    expect(admin.get_by_role("link", name="CART-E2E-03")).to_be_visible()
    admin.get_by_role("link", name="Back to the draft").click()
    field(admin, "Name of this version").fill("June 2025 US labels")
    field(admin, "Change note (why, and the source)").fill("June 2025 US labels: driving and stay 2 weeks")
    admin.get_by_role("button", name="Save the name and change note").click()
    admin.get_by_role("link", name="Publish version 2…").click()
    expect(admin.locator("#consequences")).to_contain_text("the result or an item changes for 1")
    admin.get_by_role("button", name="Publish version 2").click()
    # Published at once; the re-evaluation waits for a task worker, and the page says so.
    expect(admin.get_by_text(re.compile(r"Version 2 is active\. Its open assessments are re-evaluated in the "
                                        "background"))).to_be_visible()
    progress = admin.locator("#reevaluation")
    expect(progress).to_contain_text("Waiting for a task worker")
    admin.evaluate("window.notReloaded = true")
    task_worker()
    # The page follows it without reloading: the bar reaches done / total, then the outcome.
    expect(progress).to_contain_text("Finished on", timeout=30_000)
    expect(progress).to_contain_text("1 open assessment(s) re-evaluated; 0 signed checklist(s) marked")
    expect(progress.locator("progress")).to_have_js_property("value", 1)
    expect(progress.locator("progress")).to_have_js_property("max", 1)
    expect(progress.get_by_text("1 of 1")).to_be_visible()
    expect(progress.get_by_role("link", name="Refresh")).to_be_hidden()
    assert admin.evaluate("window.notReloaded") is True

    doctor = browser.new_context().new_page()
    sign_in(doctor, live_server.url, "robin")
    doctor.get_by_role("region", name="Awaiting your sign-off").get_by_role("link", name="CART-E2E-03").click()
    expect(doctor.get_by_text(re.compile("Re-evaluated under rule-set version 2"))).to_be_visible()
    expect(doctor.locator("#item-driving_counselled")).to_contain_text(
        "Counselled for 8 weeks when recorded; the restriction in force is 2 weeks")
    expect(doctor.locator("#item-proximity")).to_contain_text("Pass")
    expect(doctor.get_by_role("heading", name=re.compile("Overall:"))).to_contain_text("Incomplete")


@pytest.mark.django_db(transaction=True)
def test_with_four_eyes_a_second_administrator_approves_before_the_author_publishes(browser: Browser, live_server,
                                                                                     settings):
    settings.RULESET_PUBLISH_REQUIRES_APPROVAL = True  # the live server runs in this process
    user("ada", "Administrator", "Ada", "Admin")
    user("bo", "Administrator", "Bo", "Berg")

    ada = browser.new_context().new_page()
    sign_in(ada, live_server.url, "ada")
    ada.get_by_role("link", name="Rule sets").click()
    ada.get_by_role("button", name="New draft from the active version").click()
    field(ada, "No driving after infusion (weeks)").fill("2")
    ada.get_by_role("button", name="Save draft").click()
    expect(ada.locator("#departure-driving_restriction_weeks")).to_contain_text("source documents: 8 weeks")
    field(ada, "Name of this version").fill("Driving 2 weeks")
    field(ada, "Change note (why, and the source)").fill("June 2025 US labels")
    ada.get_by_role("button", name="Save the name and change note").click()
    expect(ada.get_by_text("You made or edited this draft: another administrator approves it.")).to_be_visible()
    ada.get_by_role("link", name="Publish version 2…").click()
    expect(ada.locator("#blockers")).to_contain_text("needs the approval of a second administrator")
    expect(ada.get_by_role("button", name="Publish version 2")).to_have_count(0)

    bo = browser.new_context().new_page()
    sign_in(bo, live_server.url, "bo")
    bo.get_by_role("link", name="Rule sets").click()
    bo.get_by_role("link", name=re.compile("Version 2: Driving 2 weeks")).click()
    bo.get_by_role("button", name="Approve draft version 2 as shown on this page").click()
    expect(bo.get_by_text("You approved draft version 2")).to_be_visible()

    ada.reload()
    expect(ada.locator("#what")).to_contain_text("Approved by Bo Berg")
    ada.get_by_role("button", name="Publish version 2").click()
    expect(ada.get_by_text(re.compile(r"Version 2 is active\."))).to_be_visible()
    # The publish lands on the version's page (its re-evaluation's progress at the top).
    expect(ada.get_by_role("heading", name=re.compile("Version 2: Driving 2 weeks"))).to_be_visible()
    events = ada.locator("#events")
    expect(events).to_contain_text("Bo Berg")
    expect(events).to_contain_text("Approved")
    expect(events).to_contain_text("Published")
    expect(ada.locator("#thresholds")).to_contain_text("2 weeks — source documents: 8 weeks")


@pytest.mark.django_db(transaction=True)
def test_a_physician_answers_a_review_request_for_a_signed_checklist(browser: Browser, live_server):
    coordinator = user("casey", "Coordinator", "Casey", "Jones")
    administrator = user("ada", "Administrator", "Ada", "Admin")
    physician = user("robin", "Physician", "Robin", "Lee")
    patient = services.patient_create(study_id="CART-E2E-05", initials="GH", by=coordinator)
    data = {key: value for key, value in CLEAN.items() if key not in ("case_id", "stage")}
    signed = services.assessment_update(
        assessment=patient.assessment, changes={**data, "alc": {"value": 150, "unit": "cells/uL"}},
        stage="pre_apheresis", revision=patient.assessment.revision, by=coordinator)
    review.disposition_record(evaluation=signed, code="alc", kind="acknowledged", by=physician)
    review.signoff_create(evaluation=signed, password=PASSWORD, by=physician)
    draft = rulesets.ruleset_draft_create(by=administrator)
    rulesets.ruleset_thresholds_update(draft=draft, values={"alc_min_1e9_per_l": Decimal("0.1")}, by=administrator)
    published = rulesets.ruleset_publish(draft=draft, note="test: a lower ALC minimum", by=administrator)
    reevaluation.reevaluate_open_assessments(ruleset=published, by=administrator)

    doctor = browser.new_context().new_page()
    sign_in(doctor, live_server.url, "robin")
    queue = doctor.get_by_role("region", name="Awaiting your sign-off or review")
    expect(queue).to_contain_text("review requested by a new rule-set version")
    queue.get_by_role("link", name="CART-E2E-05").click()
    expect(doctor.get_by_role("status").filter(has_text="Physician review requested")).to_contain_text(
        "Absolute lymphocyte count: flag → pass")
    expect(doctor.get_by_role("heading", name=re.compile("Overall:"))).to_contain_text("Cleared with flags")
    # Keyboard only: the justification field, then the button.
    field(doctor, "Why the signed checklist stands").focus()
    doctor.keyboard.type("Leukapheresis collected on the signed count; nothing to redo.")
    doctor.keyboard.press("Tab")
    doctor.keyboard.press("Enter")
    expect(doctor.get_by_text("The signed checklist stands; your decision is recorded.")).to_be_visible()
    expect(doctor.get_by_text(re.compile("Signed checklist kept by Robin Lee"))).to_be_visible()
    expect(doctor.get_by_text(re.compile("verified, unchanged since signing"))).to_be_visible()
    expect(doctor.get_by_role("button", name="Keep the signed checklist")).to_have_count(0)
