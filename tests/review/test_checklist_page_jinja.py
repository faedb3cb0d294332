"""The checklist and patient pages as Jinja2 templates (issue 15): the decision in place answers the
page's own parts, one CSRF token a page, and the queries do not grow with what the page lists
(decisions, questions, notes)."""

from __future__ import annotations

import json
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from eligibility.models import Assessment, Evaluation
from eligibility.patients import services
from eligibility.review import services as review
from eligibility.review.handoffs import services as handoffs
from tests.factories import SCREENING_WITH_FLAGS_AND_GAPS, PatientFactory, UserFactory

pytestmark = pytest.mark.django_db

JSON = {"HTTP_ACCEPT": "application/json"}
TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@pytest.fixture
def physician():
    return UserFactory(role="Physician", first_name="Robin", last_name="Lee")


@pytest.fixture
def gaps(coordinator):
    """Two flags, a deferral and two missing items at screening, none decided."""
    patient = PatientFactory(by=coordinator)
    assessment = Assessment.objects.get(patient=patient)
    evaluation = services.assessment_update(assessment=assessment, changes=SCREENING_WITH_FLAGS_AND_GAPS,
                                            stage="screening", revision=assessment.revision, by=coordinator)
    return patient, evaluation


def _unmasked(html: str) -> str:
    """The page without its CSRF tokens' values (masked anew for every response)."""
    return TOKEN.sub('name="csrfmiddlewaretoken" value=""', html)


def _part(page: str, start_marker: str, end_marker: str) -> str:
    start = page.rindex("<", 0, page.index(start_marker))
    return page[start:page.index(end_marker, start) + len(end_marker)]


def test_the_decision_in_place_answers_the_pages_own_parts(client, gaps, physician):
    """The fragments the page's script swaps in are exactly the page's parts after the decision:
    the item's row, the bulk decisions and the sign-off block (one set of templates for both)."""
    patient, evaluation = gaps
    client.force_login(physician)
    response = client.post(reverse("disposition", args=[evaluation.public_id, "hbv"]),
                           {"hbv-kind": "acknowledged", "hbv-justification": "On entecavir"}, **JSON)
    assert response.status_code == 200
    data = json.loads(response.content)
    page = client.get(reverse("checklist", args=[patient.public_id])).content.decode()

    row = _part(page, 'id="item-hbv"', "</tr>")
    assert "Acknowledged by Robin Lee: On entecavir" in row
    assert _unmasked(data["items"]["hbv"]).strip() == _unmasked(row)
    assert data["bulk"].startswith('<div class="bulk-decisions"') and _unmasked(data["bulk"]) in _unmasked(page)
    assert _unmasked(data["sign"]).strip() == _unmasked(_part(page, 'id="sign-block"', "</section>"))


def test_a_refused_decision_in_place_is_the_pages_refused_row(client, gaps, physician):
    """A refused decision comes back as the row the whole page shows for the same refusal."""
    _, evaluation = gaps
    client.force_login(physician)
    posted = {"viral_infection-kind": "overridden", "viral_infection-justification": "PCR negative"}
    url = reverse("disposition", args=[evaluation.public_id, "viral_infection"])
    fragment = json.loads(client.post(url, posted, **JSON).content)["items"]["viral_infection"]
    page = client.post(url, posted)
    assert page.status_code == 400
    row = _part(page.content.decode(), 'id="item-viral_infection"', "</tr>")
    assert "An override needs a reason: choose one." in row
    # The whole page also puts the focus on the first field in error (the script does, in place).
    assert _unmasked(fragment).strip() == _unmasked(row).replace(" autofocus ", " ", 1)


def test_one_csrf_token_a_page(client, gaps, physician):
    """Every form of the page carries the same token, worked out once (not masked anew per form)."""
    patient, _ = gaps
    client.force_login(physician)
    page = client.get(reverse("checklist", args=[patient.public_id])).content.decode()
    tokens = TOKEN.findall(page)
    assert len(tokens) > 10  # decisions, notes, questions, bulk decisions, sign-off, sign-out
    assert len(set(tokens)) == 1


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def _item_codes(evaluation: Evaluation) -> list[str]:
    return [item["code"] for item in evaluation.checklist["items"]]


def test_the_checklist_makes_the_same_queries_with_more_decisions_questions_and_notes(
        client, gaps, physician, coordinator):
    """One question, note and decision, then four of each: the same queries (no query per
    question for its episode and patient, per note, per decision)."""
    patient, evaluation = gaps
    codes = _item_codes(evaluation)

    def hand_off(code):
        question = handoffs.question_ask(evaluation=evaluation, code=code, text=f"About {code}?", by=physician)
        handoffs.question_answer(question=question, text="Checked", by=coordinator)
        handoffs.note_add(patient=patient, evaluation=evaluation, code=code, text=f"Note on {code}", by=coordinator)

    client.force_login(physician)
    url = reverse("checklist", args=[patient.public_id])
    review.disposition_record(evaluation=evaluation, code="hbv", kind="acknowledged", by=physician)
    hand_off(codes[0])
    client.get(url)  # warm the per-process caches (content types, engine, rendered forms)
    with_one = _queries(client, url)

    review.disposition_record(evaluation=evaluation, code="prior_inotuzumab", kind="acknowledged", by=physician)
    for code in codes[1:4]:
        hand_off(code)
    page = client.get(url).content.decode()
    assert page.count('class="question border-start') == 4 and page.count('class="note"') == 4
    assert _queries(client, url) == with_one


def test_a_checklist_with_nothing_beside_it_reads_only_what_it_has_then_each_part_it_gains(
        client, gaps, physician, coordinator):
    """Its first query finds no decision, question or item note (``review.found``): none is read.
    Each one added is read (one more statement) and shown, the first of its kind included."""
    patient, evaluation = gaps
    code = _item_codes(evaluation)[0]
    client.force_login(physician)
    url = reverse("checklist", args=[patient.public_id])
    client.get(url)
    bare = _queries(client, url)

    review.disposition_record(evaluation=evaluation, code="hbv", kind="acknowledged", by=physician)
    page = client.get(url).content.decode()
    assert "Acknowledged" in page
    assert _queries(client, url) == bare + 1

    handoffs.question_ask(evaluation=evaluation, code=code, text="About the first item?", by=physician)
    assert "About the first item?" in client.get(url).content.decode()
    assert _queries(client, url) == bare + 3  # the questions, and their steps

    handoffs.note_add(patient=patient, evaluation=evaluation, code=code, text="A note on the item", by=coordinator)
    assert "A note on the item" in client.get(url).content.decode()
    assert _queries(client, url) == bare + 4

    handoffs.note_add(patient=patient, text="A note on the patient", by=coordinator)  # not on an item: not read here
    assert _queries(client, url) == bare + 4


def test_a_patient_page_reads_only_the_hand_off_parts_it_has_then_each_it_gains(client, gaps, coordinator,
                                                                              physician):
    """Its first query finds no ready mark, note, question or signature (``PAGE_PARTS``): none is
    read. Each one added is read (one more statement) and shown."""
    patient, evaluation = gaps
    client.force_login(coordinator)
    url = reverse("patient_detail", args=[patient.public_id])
    client.get(url)
    bare = _queries(client, url)

    handoffs.note_add(patient=patient, text="Prefers mornings", by=coordinator)
    assert "Prefers mornings" in client.get(url).content.decode()
    assert _queries(client, url) == bare + 1

    handoffs.ready_mark(assessment=Assessment.objects.get(pk=patient.assessment.pk), by=coordinator)
    assert "marked by" in client.get(url).content.decode()
    assert _queries(client, url) == bare + 2

    handoffs.question_ask(evaluation=evaluation, code=_item_codes(evaluation)[0], text="Which lab?", by=physician)
    assert "Which lab?" in client.get(url).content.decode()  # in the history
    assert _queries(client, url) == bare + 3


def test_the_patient_page_makes_the_same_queries_with_more_notes_and_history(client, gaps, coordinator):
    patient, evaluation = gaps
    handoffs.note_add(patient=patient, text="First note", by=coordinator)  # notes read from here on
    client.force_login(coordinator)
    url = reverse("patient_detail", args=[patient.public_id])
    client.get(url)
    before = _queries(client, url)
    for number in range(5):
        handoffs.note_add(patient=patient, text=f"Note {number}", by=coordinator)
        handoffs.note_add(patient=patient, evaluation=evaluation, code=_item_codes(evaluation)[number],
                          text=f"Item note {number}", by=coordinator)
    page = client.get(url).content.decode()
    assert "Note 4" in page
    assert _queries(client, url) == before


def _rows(page: str) -> list[str]:
    return re.findall(r'<tr class="item item-.*?</tr>', page, flags=re.DOTALL)


def test_a_kept_row_is_the_bytes_the_macro_writes_with_the_pages_own_token(client, gaps, physician, coordinator):
    # review/checklist_rows.py: a row with no decision, question or note is written by the macro on
    # the first page and kept; the next pages get the same bytes with their own CSRF token.
    from eligibility.review.presenters import checklist_view_model

    patient, evaluation = gaps
    url = reverse("checklist", args=[patient.public_id])
    kept = [row["kept"] for row in checklist_view_model(evaluation)["all_items"]]
    for user in (physician, coordinator):
        for shown in kept:
            shown.clear()  # written by the macro on this user's first page
        client.force_login(user)
        first = client.get(url).content.decode()
        assert any(kept)
        second = client.get(url).content.decode()
        tokens = set(TOKEN.findall(second))
        assert len(tokens) == 1 and tokens != set(TOKEN.findall(first))  # one token a page, the page's own
        assert all(len(token) == 64 and token.isalnum() for token in tokens)
        assert _unmasked(second) == _unmasked(first)
        assert len(_rows(second)) == len(_rows(first)) >= 20
    # A decision, a question, a note: written by the macro, on the next page at once.
    client.force_login(physician)
    review.disposition_record(evaluation=evaluation, code="hbv", kind="acknowledged", by=physician)
    handoffs.question_ask(evaluation=evaluation, code="performance_status", text="Which scale?", by=physician)
    handoffs.note_add(patient=patient, evaluation=evaluation, code="viral_infection", text="PCR pending.", by=physician)
    page = client.get(url).content.decode()
    assert "Acknowledged by Robin Lee" in _part(page, 'id="item-hbv"', "</tr>")
    assert "Which scale?" in _part(page, 'id="item-performance_status"', "</tr>")
    assert "PCR pending." in _part(page, 'id="item-viral_infection"', "</tr>")
