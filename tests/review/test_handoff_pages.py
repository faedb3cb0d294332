"""Hand-off pages: who may do what (checked on the server for every role, crafted posts included),
the checklist with its questions beside the items and their count at the top, the worklist's open
questions answered from there, the patient page, the intake form's warning before a save that voids
a signature, refusals beside the field with the text kept, and no patient identifier in a URL."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from eligibility.common.text import FREE_TEXT_MAX
from eligibility.models import Assessment, Note, Question, QuestionEntry, ReadyMark
from eligibility.patients import services
from eligibility.review import services as review
from eligibility.review.handoffs import services as handoffs
from tests.factories import PASSWORD, SCREENING_TO_REVIEW, PatientFactory, UserFactory
from tests.pages import element, elements
from tests.patients.test_views_intake import _save as save_section

pytestmark = [pytest.mark.django_db, pytest.mark.filterwarnings("ignore:No directory at:UserWarning")]

ANONYMOUS = "anonymous"
ROLES = [ANONYMOUS, "Coordinator", "Physician", "Administrator"]


@pytest.fixture
def coordinator():
    return UserFactory(role="Coordinator", first_name="Casey", last_name="Jones")


@pytest.fixture
def physician():
    return UserFactory(role="Physician", first_name="Robin", last_name="Lee")


@pytest.fixture
def patient(coordinator):
    patient = PatientFactory(by=coordinator, study_id="PAGE-007", initials="PG")
    services.assessment_update(assessment=patient.assessment, changes=SCREENING_TO_REVIEW, stage="screening",
                               revision=0, by=coordinator)
    return patient


def current(patient):
    return Assessment.objects.get(patient=patient).current_evaluation


def state() -> dict:
    """What any hand-off write would change."""
    return {"marks": list(ReadyMark.objects.values_list("pk", "cleared_at")), "notes": Note.objects.count(),
            "questions": list(Question.objects.values_list("pk", "state")), "steps": QuestionEntry.objects.count()}


# --- Permissions: every new view, every role ---------------------------------------------------

#: view -> the roles whose request succeeds (a redirect after the step; 200 for the question page).
ALLOWED = {
    "ready_mark": {"Coordinator"},
    "ready_mark_withdraw": {"Coordinator"},
    "patient_note": {"Coordinator", "Physician"},
    "item_note": {"Coordinator", "Physician"},
    "question_ask": {"Physician"},
    "question_detail": {"Coordinator", "Physician", "Administrator"},
    "question_answer": {"Coordinator"},
    "question_follow_up": {"Physician"},
    "question_close": {"Physician"},
}


def _request(client, view, patient, physician, coordinator):
    """A valid request of ``view`` (a crafted POST for the roles the page offers no form to)."""
    evaluation = current(patient)
    question = handoffs.question_ask(evaluation=evaluation, code="hbv", text="Since when?", by=physician)
    if view == "ready_mark_withdraw":
        handoffs.ready_mark(assessment=patient.assessment, by=coordinator)
    if view == "question_follow_up":
        handoffs.question_answer(question=question, text="May", by=coordinator)
    before = state()
    if view in ("ready_mark", "ready_mark_withdraw", "patient_note"):
        url = reverse(view, args=[patient.public_id])
    elif view in ("item_note", "question_ask"):
        url = reverse(view, args=[evaluation.public_id, "hbv"])
    else:
        url = reverse(view, args=[question.public_id])
    data = {"note-text": "A note", "note-hbv-text": "A note", "ask-hbv-text": "Dose?",
            f"answer-{question.public_id}-text": "An answer", f"followup-{question.public_id}-text": "And?"}
    response = client.get(url) if view == "question_detail" else client.post(url, data)
    return response, before


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("view", list(ALLOWED))
def test_each_role_may_do_only_its_part(client, patient, physician, coordinator, role, view):
    if role != ANONYMOUS:
        client.force_login(UserFactory(role=role))
    response, before = _request(client, view, patient, physician, coordinator)
    if role == ANONYMOUS:
        assert response.status_code == 302 and reverse("login") in response["Location"]
        assert state() == before
    elif role in ALLOWED[view]:
        assert response.status_code == (200 if view == "question_detail" else 302)
        assert view == "question_detail" or state() != before
    else:
        assert response.status_code == 403
        assert state() == before


def test_administrators_read_hand_offs_but_write_none():
    from django.contrib.auth.models import Group

    codenames = set(Group.objects.get(name="Administrator").permissions.values_list("codename", flat=True))
    assert {"view_readymark", "view_note", "view_question", "view_questionentry"} <= codenames
    assert not codenames & {"mark_ready", "add_note", "ask_question", "answer_question", "close_question"}


# --- The checklist -----------------------------------------------------------------------------


def test_an_open_question_shows_beside_its_item_with_a_count_at_the_top(client, patient, physician, coordinator):
    question = handoffs.question_ask(evaluation=current(patient), code="hbv", text="Which drug?", by=physician)
    client.force_login(coordinator)
    page = client.get(reverse("checklist", args=[patient.public_id])).content
    item = element(page, id="item-hbv")
    thread = element(page, id=f"question-{question.public_id}")
    assert "Question open: awaiting the coordinator" in thread.text and "Which drug?" in thread.text
    assert "Asked by Robin Lee" in thread.text
    assert not elements(page, id="item-viral_infection", cls="question")
    assert "1 open (awaiting the coordinator), 0 answered" in element(page, cls="question-counts").text
    assert "Which drug?" in item.text  # the question is inside its item's row
    answer_forms = [form.attrs["action"] for form in elements(page, tag="form", cls="question-answer")]
    assert answer_forms == [reverse("question_answer", args=[question.public_id])]
    # The physician sees the close button, not the answer form; no count without questions.
    client.force_login(physician)
    page = client.get(reverse("checklist", args=[patient.public_id])).content
    assert not elements(page, tag="form", cls="question-answer")
    actions = [form.attrs["action"] for form in elements(page, tag="form")]
    assert reverse("question_close", args=[question.public_id]) in actions
    handoffs.question_close(question=question, by=physician)
    page = client.get(reverse("checklist", args=[patient.public_id])).content
    assert not elements(page, cls="question-counts")
    assert "Question closed" in element(page, id=f"question-{question.public_id}").text


def test_a_physician_asks_and_a_coordinator_answers_from_the_worklist(client, patient, physician, coordinator):
    client.force_login(physician)
    evaluation = current(patient)
    response = client.post(reverse("question_ask", args=[evaluation.public_id, "hbv"]),
                           {"ask-hbv-text": "Since when on entecavir?", "ask-hbv-return_to": "checklist"})
    assert response.status_code == 302
    assert response["Location"] == reverse("checklist", args=[patient.public_id]) + "#item-hbv"
    question = Question.objects.get()
    client.force_login(coordinator)
    worklist = client.get(reverse("worklist")).content
    section = element(worklist, id="open-questions")
    assert section.text == "Open questions"
    cards = elements(worklist, tag="article", cls="question")
    assert len(cards) == 1 and "PAGE-007" in cards[0].text and "Since when on entecavir?" in cards[0].text
    assert "1 open question" in element(worklist, cls="handoff-questions").text
    response = client.post(reverse("question_answer", args=[question.public_id]),
                           {f"answer-{question.public_id}-text": "Since 2 May",
                            f"answer-{question.public_id}-return_to": "worklist"})
    assert response.status_code == 302 and response["Location"] == reverse("worklist") + "#open-questions"
    question.refresh_from_db()
    assert question.state == "answered"
    assert not elements(client.get(reverse("worklist")).content, cls="handoff-questions")  # none open now


def test_a_refused_answer_comes_back_beside_the_field_with_the_text_kept(client, patient, physician, coordinator):
    question = handoffs.question_ask(evaluation=current(patient), code="hbv", text="?", by=physician)
    client.force_login(coordinator)
    typed = "x" * (FREE_TEXT_MAX + 1)
    response = client.post(reverse("question_answer", args=[question.public_id]),
                           {f"answer-{question.public_id}-text": typed})
    assert response.status_code == 400
    field = element(response.content, tag="textarea", name=f"answer-{question.public_id}-text")
    assert field.text == typed
    assert "at most 2000 characters" in response.content.decode().lower()
    assert Question.objects.get().state == "open"


def test_an_answer_after_the_close_says_what_happened(client, patient, physician, coordinator):
    question = handoffs.question_ask(evaluation=current(patient), code="hbv", text="?", by=physician)
    handoffs.question_close(question=question, by=physician)
    client.force_login(coordinator)
    response = client.post(reverse("question_answer", args=[question.public_id]),
                           {f"answer-{question.public_id}-text": "late"}, follow=True)
    assert "It is closed now (closed by Robin Lee" in response.content.decode()
    assert QuestionEntry.objects.count() == 2


def test_the_coordinator_marks_the_stage_ready_on_the_checklist(client, patient, coordinator):
    client.force_login(coordinator)
    page = client.get(reverse("checklist", args=[patient.public_id])).content
    assert "Not marked ready for review" in element(page, cls="ready-state").text
    response = client.post(reverse("ready_mark", args=[patient.public_id]), {"return_to": "checklist"})
    assert response["Location"] == reverse("checklist", args=[patient.public_id])
    page = client.get(reverse("checklist", args=[patient.public_id])).content
    assert "Ready for review : Screening marked by Casey Jones on" in element(page, cls="ready-state").text
    assert "Ready for review: marked by Casey Jones" in element(
        client.get(reverse("worklist")).content, cls="handoff-ready").text


def test_the_checklist_reads_the_open_mark_with_the_patient(client, patient, coordinator):
    """The open ready mark is read with the patient and its checklist (no query of its own); a
    withdrawn mark is not the open one; the mark's other columns are read if asked for."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from eligibility.review.selectors import patient_with_checklist

    handoffs.ready_mark(assessment=patient.assessment, by=coordinator)
    handoffs.ready_mark_withdraw(assessment=Assessment.objects.get(pk=patient.assessment.pk), by=coordinator)
    client.force_login(coordinator)
    url = reverse("checklist", args=[patient.public_id])
    assert "Not marked ready for review" in element(client.get(url).content, cls="ready-state").text
    assert patient_with_checklist(patient.public_id)[2] is None

    later = UserFactory(role="Coordinator", first_name="Dana", last_name="Wu")
    handoffs.ready_mark(assessment=Assessment.objects.get(pk=patient.assessment.pk), by=later)
    with CaptureQueriesContext(connection) as queries:
        page = client.get(url).content
    assert "Screening marked by Dana Wu on" in element(page, cls="ready-state").text
    assert not [query for query in queries if query["sql"].startswith('SELECT "eligibility_readymark"')]
    mark, stored = patient_with_checklist(patient.public_id)[2], ReadyMark.objects.get(cleared_at__isnull=True)
    assert (mark.pk, mark.assessment_id, mark.stage, mark.marked_by_name, mark.marked_at) == (
        stored.pk, stored.assessment_id, stored.stage, stored.marked_by_name, stored.marked_at)
    assert mark.public_id == stored.public_id and mark.marked_by == later  # deferred: read when asked for


def test_the_physicians_queue_on_the_worklist_lists_marked_patients_only(client, patient, coordinator, physician):
    other = PatientFactory(by=coordinator, study_id="PAGE-008")
    client.force_login(physician)
    assert [e.assessment.patient for e in client.get(reverse("worklist")).context["queue"]] == []
    handoffs.ready_mark(assessment=other.assessment, by=coordinator)
    page = client.get(reverse("worklist"))
    assert [e.assessment.patient.public_id for e in page.context["queue"]] == [other.public_id]
    assert "ready for review: marked by Casey Jones" in page.content.decode()


# --- The patient page and the intake form ------------------------------------------------------


def test_the_patient_page_shows_the_mark_the_notes_and_the_history(client, patient, coordinator):
    client.force_login(coordinator)
    response = client.post(reverse("patient_note", args=[patient.public_id]), {"note-text": "Prefers mornings"})
    assert response["Location"] == reverse("patient_detail", args=[patient.public_id]) + "#notes"
    handoffs.ready_mark(assessment=patient.assessment, by=coordinator)
    page = client.get(reverse("patient_detail", args=[patient.public_id])).content
    assert "Prefers mornings" in element(page, tag="ul", cls="patient-notes").text
    assert "Screening marked by Casey Jones" in element(page, cls="ready-state").text
    assert "Withdraw ready for review" in page.decode()
    assert "Screening marked ready for review" in page.decode()  # a row of the history


def test_the_patient_pages_hand_off_is_what_its_history_read(client, patient, coordinator):
    """A withdrawn mark, then an open one; a note on the patient and one on an item: the hand-off
    shows the open mark and the patient's note only, from the rows the history read (no query of
    its own for either)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    handoffs.ready_mark(assessment=patient.assessment, by=coordinator)
    handoffs.ready_mark_withdraw(assessment=Assessment.objects.get(pk=patient.assessment.pk), by=coordinator)
    handoffs.note_add(patient=patient, text="Prefers mornings", by=coordinator)
    handoffs.note_add(patient=patient, evaluation=current(patient), code="hbv", text="HBV DNA sent", by=coordinator)
    later = UserFactory(role="Coordinator", first_name="Dana", last_name="Wu")
    handoffs.ready_mark(assessment=Assessment.objects.get(pk=patient.assessment.pk), by=later)
    client.force_login(coordinator)
    url = reverse("patient_detail", args=[patient.public_id])
    client.get(url)
    with CaptureQueriesContext(connection) as queries:
        page = client.get(url).content
    assert "Screening marked by Dana Wu" in element(page, cls="ready-state").text
    notes = element(page, tag="ul", cls="patient-notes").text
    assert "Prefers mornings" in notes and "HBV DNA sent" not in notes
    assert "HBV DNA sent" in page.decode()  # in the history
    # Read once each (the page's first query asks only whether there are any: EXISTS).
    assert len([query for query in queries if query["sql"].startswith('SELECT "eligibility_readymark"')]) == 1
    assert len([query for query in queries if query["sql"].startswith('SELECT "eligibility_note"')]) == 1


def test_an_empty_note_is_refused_beside_the_field(client, patient, physician):
    client.force_login(physician)
    response = client.post(reverse("item_note", args=[current(patient).public_id, "hbv"]), {"note-hbv-text": "  "})
    assert response.status_code == 400 and "The note is empty: write it, then add it." in response.content.decode()
    assert not Note.objects.exists()


def test_an_empty_answer_is_refused_beside_the_field_in_words(client, patient, physician, coordinator):
    question = handoffs.question_ask(evaluation=current(patient), code="hbv", text="?", by=physician)
    client.force_login(coordinator)
    response = client.post(reverse("question_answer", args=[question.public_id]),
                           {f"answer-{question.public_id}-text": " "})
    assert response.status_code == 400
    assert "The answer is empty: write it, then send it." in response.content.decode()
    assert "This field is required." not in response.content.decode()
    assert Question.objects.get().state == "open"


def test_the_intake_form_warns_before_a_save_that_voids_a_signature(client, patient, coordinator, physician):
    client.force_login(coordinator)
    url = reverse("intake", args=[patient.public_id, "screening"])
    assert not elements(client.get(url).content, cls="signature-warning")
    evaluation = current(patient)
    review.disposition_record(evaluation=evaluation, code="viral_infection", kind="accepted", by=physician)
    review.disposition_record(evaluation=evaluation, code="hbv", kind="acknowledged", by=physician)
    signoff = review.signoff_create(evaluation=evaluation, password=PASSWORD, by=physician)
    page = client.get(url).content
    warnings = elements(page, cls="signature-warning")
    assert len(warnings) == 2  # above the form and beside the save button
    assert warnings[1].attrs["id"] == "save-warning"
    for warning in warnings:
        assert warning.text.startswith("⚠ This checklist is signed by Robin Lee on ")
        assert "saving a change voids the signature and the checklist needs signing again" in warning.text
    response = save_section(client, patient, "screening", ecog=0)
    assert response.status_code == 302
    signoff.refresh_from_db()
    assert signoff.is_void  # the save still works as before
    # ... and says what it did.
    [said] = [str(message) for message in get_messages(response.wsgi_request)]
    assert said.startswith("Screening: saved; the checklist was re-evaluated.")
    assert said.endswith(" The signature by Robin Lee (not approved: deferred) is void: the checklist needs signing "
                         "again; mark the stage ready for review when the data are complete.")
    # The next save voids nothing: nothing said of a signature voided before it.
    response = save_section(client, patient, "screening", ecog=1)
    said = [str(message) for message in get_messages(response.wsgi_request)][-1]  # the first one not shown yet
    assert said.startswith("Screening: saved") and "signature" not in said


def test_no_patient_identifier_in_a_hand_off_url(patient, physician):
    question = handoffs.question_ask(evaluation=current(patient), code="hbv", text="?", by=physician)
    urls = [reverse(name, args=[patient.public_id]) for name in ("ready_mark", "ready_mark_withdraw", "patient_note")]
    urls += [reverse(name, args=[current(patient).public_id, "hbv"]) for name in ("item_note", "question_ask")]
    urls += [reverse(name, args=[question.public_id]) for name in
             ("question_detail", "question_answer", "question_follow_up", "question_close")]
    assert not [url for url in urls if "PAGE-007" in url or "PG" in url]


def _question_reads(client) -> tuple[bytes, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        page = client.get(reverse("worklist")).content
    return page, [query["sql"] for query in queries if query["sql"].startswith('SELECT "eligibility_question".')]


def test_the_worklist_asks_for_open_questions_only_when_its_statement_found_one(client, patient, physician,
                                                                                coordinator):
    # The page's statement says whether any question is not closed: with none, the section says so
    # without another statement; the first question asked shows on the next page, and a closed one
    # goes with it.
    client.force_login(coordinator)
    client.get(reverse("worklist"))
    page, reads = _question_reads(client)
    assert "No open questions." in element(page, tag="section", cls="open-questions").text and reads == []
    question = handoffs.question_ask(evaluation=current(patient), code="hbv", text="Since when?", by=physician)
    page, reads = _question_reads(client)
    cards = elements(page, tag="article", cls="question")
    assert len(cards) == 1 and "Since when?" in cards[0].text and len(reads) == 1
    handoffs.question_close(question=question, by=physician)
    page, reads = _question_reads(client)
    assert "No open questions." in element(page, tag="section", cls="open-questions").text and reads == []
