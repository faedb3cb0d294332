"""The review the issue asks for, end to end in Chromium: a checklist with 3 problems (three flags)
and 23 passes; problems first, passes folded; one decision in place, the other flags acknowledged at
once; a question to the coordinator, answered from the worklist; the signature; the signed PDF read
back with pypdf, with the patient's identifier and initials on every page."""

import io
import json

import pytest
from playwright.sync_api import Browser, expect
from pypdf import PdfReader

from eligibility.patients import services
from eligibility.review.handoffs import services as handoffs
from tests.conftest import EXAMPLES_DIR
from tests.e2e.helpers import PASSWORD, field, sign_in, user

FLAGS = json.loads((EXAMPLES_DIR / "02-flags.json").read_text())["case"]
PROBLEMS = {"prior_targeted_therapy", "disease_burden", "alc"}


@pytest.mark.django_db(transaction=True)
def test_a_physician_reviews_asks_and_signs_in_few_steps(browser: Browser, live_server):
    coordinator = user("casey", "Coordinator", "Casey", "Jones")
    user("robin", "Physician", "Robin", "Lee")
    patient = services.patient_create(study_id="CART-E2E-20", initials="MN", by=coordinator)
    data = {key: value for key, value in FLAGS.items() if key not in ("case_id", "stage")}
    evaluation = services.assessment_update(assessment=patient.assessment, changes=data, stage="pre_infusion",
                                            revision=patient.assessment.revision, by=coordinator)
    statuses = [item["status"] for item in evaluation.checklist["items"]]
    assert {item["code"] for item in evaluation.checklist["items"] if item["status"] != "pass"} == PROBLEMS
    assert statuses.count("pass") == 23
    handoffs.ready_mark(assessment=patient.assessment, by=coordinator)

    doctor = browser.new_context().new_page()
    sign_in(doctor, live_server.url, "robin")
    doctor.get_by_role("region", name="Awaiting your sign-off").get_by_role("link", name="CART-E2E-20").click()
    expect(doctor).to_have_title("CART-E2E-20 · Checklist · CAR-T readiness")
    doctor.evaluate("window.reviewMarker = 'same page'")

    # Problems first; every pass folded under its phase's count.
    needs = doctor.get_by_role("region", name="Needs your decision")
    expect(needs).to_contain_text("Needs your decision: 3")
    assert set(needs.locator("tr.item").evaluate_all("rows => rows.map(row => row.id.slice(5))")) == PROBLEMS
    folds = doctor.locator("section.phase details.fold-passes > summary")
    counts = [int(text.split()[-3]) for text in folds.all_inner_texts()]  # "✓ 10 criteria met"
    assert sum(counts) == 23
    expect(doctor.locator("section.phase details.fold-passes tr.item").first).to_be_hidden()

    # One flag decided in place, with a note; the page is not reloaded.
    alc = doctor.locator("#item-alc")
    alc.get_by_label("Acknowledge", exact=True).check()
    field(alc, "Note (optional)").fill("ALC low as expected after bridging")
    alc.get_by_role("button", name="Record decision").click()
    expect(doctor.locator("#item-alc")).to_contain_text("Acknowledged by Robin Lee: ALC low as expected after bridging")
    expect(needs).to_contain_text("Needs your decision: 2")
    assert doctor.evaluate("window.reviewMarker") == "same page"

    # A question to the coordinator about the disease burden.
    burden = doctor.locator("#item-disease_burden")
    burden.get_by_text("Ask the coordinator about this item").click()
    burden.get_by_label("Your question to the coordinator").fill("Marrow from which date?")
    burden.get_by_role("button", name="Ask the coordinator").click()
    expect(doctor.locator("#item-disease_burden")).to_contain_text("Question open: awaiting the coordinator")

    # The coordinator answers from the worklist.
    desk = browser.new_context().new_page()
    sign_in(desk, live_server.url, "casey")
    card = desk.get_by_role("region", name="Open questions").get_by_role("article")
    expect(card).to_contain_text("Marrow from which date?")
    card.get_by_label("Your answer").fill("Bone marrow biopsy of 28 Oct")
    card.get_by_role("button", name="Send the answer").click()
    expect(desk.get_by_role("region", name="Open questions")).to_contain_text("Question answered: awaiting Robin Lee")

    # The physician reads the answer, acknowledges the remaining flags at once, and signs.
    doctor.reload()
    expect(doctor.locator("#item-disease_burden")).to_contain_text("Bone marrow biopsy of 28 Oct")
    doctor.evaluate("window.reviewMarker = 'same page'")
    bulk = doctor.get_by_role("group", name="All 2 undecided flags")
    field(bulk, "Note (optional)").fill("Discussed at the CAR-T board")
    bulk.get_by_role("button", name="Acknowledge all flags").click()
    expect(needs.locator("[data-undecided-count]")).to_have_text("0")
    sign = doctor.get_by_role("region", name="Physician sign-off")
    expect(sign).to_contain_text("your signature will mean: Reviewed and approved to proceed to infusion")
    assert doctor.evaluate("window.reviewMarker") == "same page"
    field(doctor, "Your password (to sign)").fill(PASSWORD)
    doctor.get_by_role("button", name="Sign", exact=True).click()
    expect(sign).to_contain_text("Signed by Robin Lee")

    # The signed PDF: the identifier and initials on every page, page x of y.
    href = sign.get_by_role("link", name="Download the signed checklist (PDF)").get_attribute("href")
    response = doctor.request.get(f"{live_server.url}{href}")
    assert response.ok and response.headers["content-type"] == "application/pdf"
    assert "CART-E2E-20" in response.headers["content-disposition"]
    pages = [page.extract_text() for page in PdfReader(io.BytesIO(response.body())).pages]
    assert len(pages) >= 2
    for number, text in enumerate(pages, start=1):
        assert "CART-E2E-20" in text and "MN" in text, number
        assert f"Page {number} of {len(pages)}" in text, number
