"""The query loop in a real browser: the coordinator marks the stage ready for review, the physician
asks a question on an item, the coordinator sees it on the worklist and answers it there, the
physician reads the answer beside the item and closes the question."""

import pytest
from playwright.sync_api import Browser, expect

from eligibility.models import Question
from eligibility.patients import services
from tests.e2e.helpers import sign_in, user
from tests.factories import SCREENING_TO_REVIEW


@pytest.mark.django_db(transaction=True)
def test_a_question_goes_to_the_coordinator_and_its_answer_back_to_the_physician(browser: Browser, live_server):
    coordinator = user("casey", "Coordinator", "Casey", "Jones")
    user("robin", "Physician", "Robin", "Lee")
    patient = services.patient_create(study_id="CART-E2E-12", initials="QA", by=coordinator)
    services.assessment_update(assessment=patient.assessment, changes=SCREENING_TO_REVIEW, stage="screening",
                               revision=patient.assessment.revision, by=coordinator)

    # The coordinator hands the stage over.
    desk = browser.new_context().new_page()
    sign_in(desk, live_server.url, "casey")
    desk.get_by_role("row", name="CART-E2E-12").get_by_role("link", name="Deferred").click()
    desk.get_by_role("button", name="Mark screening ready for review").click()
    expect(desk.get_by_text("Screening: marked ready for review")).to_be_visible()

    # The physician asks about the HBV item.
    doctor = browser.new_context().new_page()
    sign_in(doctor, live_server.url, "robin")
    queue = doctor.get_by_role("region", name="Awaiting your sign-off")
    expect(queue).to_contain_text("ready for review: marked by Casey Jones")
    queue.get_by_role("link", name="CART-E2E-12").click()
    hbv = doctor.locator("#item-hbv")
    hbv.get_by_text("Ask the coordinator about this item").click()
    hbv.get_by_label("Your question to the coordinator").fill("Which prophylaxis, and since when?")
    hbv.get_by_role("button", name="Ask the coordinator").click()
    expect(doctor.get_by_text("Question sent to the coordinators: Hepatitis B.")).to_be_visible()
    expect(doctor.locator("#item-hbv")).to_contain_text("Question open: awaiting the coordinator")
    expect(doctor.locator(".question-counts")).to_contain_text("1 open (awaiting the coordinator)")

    # The coordinator answers from the worklist.
    desk.goto(f"{live_server.url}/")
    questions = desk.get_by_role("region", name="Open questions")
    card = questions.get_by_role("article", name="Question on Hepatitis B, CART-E2E-12")
    expect(card).to_contain_text("Which prophylaxis, and since when?")
    expect(card).to_contain_text("Asked by Robin Lee")
    card.get_by_label("Your answer").fill("Entecavir 0.5 mg daily since 2 May")
    card.get_by_role("button", name="Send the answer").click()
    expect(desk.get_by_text("Answer sent: Hepatitis B.")).to_be_visible()
    expect(desk.get_by_role("region", name="Open questions")).to_contain_text("Question answered: awaiting Robin Lee")

    # The physician reads the answer beside the item and closes the question.
    doctor.reload()
    hbv = doctor.locator("#item-hbv")
    expect(hbv).to_contain_text("Answered by Casey Jones")
    expect(hbv).to_contain_text("Entecavir 0.5 mg daily since 2 May")
    hbv.get_by_role("button", name="Close the question").click()
    expect(doctor.get_by_text("Question closed: Hepatitis B.")).to_be_visible()
    expect(doctor.locator("#item-hbv")).to_contain_text("Question closed")
    expect(doctor.locator(".question-counts")).to_have_count(0)
    question = Question.objects.get()
    assert question.state == "closed"
    assert list(question.entries.order_by("at", "id").values_list("kind", "by_name")) == [
        ("asked", "Robin Lee"), ("answered", "Casey Jones"), ("closed", "Robin Lee")]

    desk.goto(f"{live_server.url}/")
    expect(desk.get_by_role("region", name="Open questions")).to_contain_text("No open questions.")
