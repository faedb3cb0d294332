"""An administrator makes a draft from the "US labels (June 2025)" preset, enters the value it
leaves to be entered, enables rule 31 and enters the test window it needs, previews the impact on
the open assessments, publishes through the confirmation page, and follows the re-evaluation; a
coordinator then records bilirubin in mg/dL with its date and sees the hepatic item evaluated."""

import datetime
import json
import re

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Browser, expect

from eligibility.models import RuleSet
from eligibility.patients import services
from tests.conftest import EXAMPLES_DIR
from tests.e2e.helpers import choose, field, sign_in, user
from tests.review.test_tasks import run_worker

CLEAN = json.loads((EXAMPLES_DIR / "01-clean.json").read_text())["case"]
ALC_WINDOW = re.compile("ALC counts when measured at most this long before leukapheresis")
TEST_WINDOW = re.compile("Tests count when measured at most this long before lymphodepletion starts")


@pytest.mark.django_db(transaction=True)
def test_an_administrator_publishes_a_draft_made_from_the_us_labels_preset(browser: Browser, live_server,
                                                                            task_worker):
    coordinator = user("casey", "Coordinator", "Casey", "Jones")
    user("ada", "Administrator", "Ada", "Admin")
    patient = services.patient_create(study_id="CART-E2E-31", initials="PR", by=coordinator)
    data = {key: value for key, value in CLEAN.items() if key not in ("case_id", "stage")}
    services.assessment_update(assessment=patient.assessment, changes=data, stage="pre_infusion",
                               revision=patient.assessment.revision, by=coordinator)

    admin = browser.new_context().new_page()
    sign_in(admin, live_server.url, "ada")
    admin.get_by_role("link", name="Rule sets").click()
    preset = admin.get_by_role("article", name="US labels (June 2025)")
    expect(preset).to_contain_text("To be entered")
    expect(preset).to_contain_text(ALC_WINDOW)
    expect(preset.get_by_role("row", name=re.compile("No driving after infusion"))).to_contain_text("8 weeks")
    preset.get_by_role("button", name="Create a draft from “US labels (June 2025)”").click()

    expect(admin.get_by_role("heading", name="Version 2: US labels (June 2025) (from version 1)")).to_be_visible()
    expect(admin.locator("#to-be-entered")).to_contain_text(ALC_WINDOW)
    expect(admin.locator("#events")).to_contain_text("Created from a preset")
    # Not previewable while a value is to be entered: the page says which.
    admin.get_by_role("link", name="Preview the impact on open assessments").click()
    expect(admin.get_by_text(re.compile("No preview.*ALC counts when measured"))).to_be_visible()

    admin.get_by_label(ALC_WINDOW).fill("14")
    admin.get_by_role("button", name="Save draft").click()
    expect(admin.get_by_text("Draft saved.")).to_be_visible()
    expect(admin.locator("#to-be-entered")).to_have_count(0)

    admin.get_by_role("button", name="Enable rule 31, Hepatic function (laboratory values)").click()
    expect(admin.locator("#rule-31")).to_contain_text("Enabled")
    expect(admin.locator("#to-be-entered")).to_contain_text(TEST_WINDOW)
    admin.get_by_label(TEST_WINDOW).fill("7")
    admin.get_by_role("button", name="Save draft").click()
    expect(admin.get_by_text("Draft saved.")).to_be_visible()
    expect(admin.locator("#to-be-entered")).to_have_count(0)

    admin.get_by_role("link", name="Preview the impact on open assessments").click()
    admin.get_by_role("button", name="Preview the impact on open assessments").click()
    run_worker()
    admin.locator("#preview-progress").get_by_role("link", name="Show the results").click()
    # The patient's ALC carries no date (dated ALC: missing) and no bilirubin was recorded (rule 31).
    expect(admin.get_by_role("link", name="CART-E2E-31")).to_be_visible()
    expect(admin.get_by_text(re.compile(r"1 \w[\w ]* → incomplete"))).to_be_visible()
    admin.get_by_role("link", name="Back to the draft").click()

    note = admin.get_by_label(re.compile("Change note"))
    expect(note).to_have_value(re.compile('^Drafted from the preset "US labels \\(June 2025\\)"'))
    note.press("Control+End")
    note.type("\nLocal decisions: ALC within 14 days of leukapheresis; hepatic tests within 7 days.")
    admin.get_by_role("button", name="Save the name and change note").click()
    expect(admin.get_by_text("Name and change note saved.")).to_be_visible()

    admin.get_by_role("link", name="Publish version 2…").click()
    expect(admin.locator("#consequences")).to_contain_text("the result or an item changes for 1")
    admin.get_by_role("button", name="Publish version 2").click()
    expect(admin.get_by_text(re.compile(r"Version 2 is active\."))).to_be_visible()
    progress = admin.locator("#reevaluation")
    task_worker()
    expect(progress).to_contain_text("Finished on", timeout=30_000)
    expect(progress).to_contain_text("1 open assessment(s) re-evaluated")

    published = RuleSet.objects.get(version=2)
    assert published.status == "active"
    assert published.change_note.endswith("hepatic tests within 7 days.")
    assert dict(published.thresholds.filter(key__in=["alc_max_age_days", "pre_lymphodepletion_tests_max_days"])
                .values_list("key", "value")) == {"alc_max_age_days": 14, "pre_lymphodepletion_tests_max_days": 7}

    # The coordinator records the liver tests in the units the lab sends, with their dates.
    today = timezone.localdate()
    yesterday = (today - datetime.timedelta(days=1)).isoformat()
    desk = browser.new_context().new_page()
    sign_in(desk, live_server.url, "casey")
    desk.goto(f"{live_server.url}{reverse('intake', args=[patient.public_id, 'pre_lymphodepletion'])}")
    field(desk, "Lymphodepletion start date (planned or done)").fill((today + datetime.timedelta(days=2)).isoformat())
    bilirubin = desk.get_by_role("group", name="Total bilirubin")
    field(bilirubin, "Value").fill("2.0")
    choose(bilirubin, "Unit", "mg/dL")
    field(bilirubin, "Measured on").fill(yesterday)
    choose(desk, "Gilbert's syndrome", "No")
    for name, value in (("AST", "35"), ("ALT", "30")):
        group = desk.get_by_role("group", name=name)
        field(group, "Value").fill(value)
        field(group, "Upper limit of normal (U/L)").fill("40")
        field(group, "Measured on").fill(yesterday)
    desk.get_by_role("button", name="Save before lymphodepletion").click()
    expect(desk.get_by_text("Before lymphodepletion: saved")).to_be_visible()

    desk.goto(f"{live_server.url}{reverse('checklist', args=[patient.public_id])}")
    hepatic = desk.locator("#item-hepatic_function")
    expect(hepatic).to_contain_text("Hepatic function (laboratory values)")
    # 2.0 mg/dL is 34.2 µmol/L: at or above the 34 of the rule set, without Gilbert's syndrome: flagged.
    expect(hepatic).to_contain_text("Flag")
    expect(hepatic).to_contain_text("34.2")
    evaluation = patient.assessment.__class__.objects.get(pk=patient.assessment.pk).current_evaluation
    [item] = [item for item in evaluation.checklist["items"] if item["code"] == "hepatic_function"]
    assert (evaluation.ruleset.version, item["status"], item["derived"]["bilirubin_umol_l"]) == (2, "flag", 34.2)
