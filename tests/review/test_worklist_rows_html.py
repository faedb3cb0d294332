"""The worklist's and queue's rows written in Python (``eligibility.review.worklist_rows``) are the
bytes the Jinja2 loops they replace wrote (``worklist_rows_reference.jinja``), in every state a row
shows, values needing escaping included; and the pages use them."""

from __future__ import annotations

import datetime
import itertools
import uuid
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from django.template import engines
from django.test.utils import override_script_prefix
from django.urls import reverse

from eligibility.review.worklist_rows import queue_rows, worklist_rows

REFERENCE = (Path(__file__).parent / "worklist_rows_reference.jinja").read_text()
WHEN = datetime.datetime(2026, 3, 9, 23, 30, tzinfo=ZoneInfo("UTC"))  # another day in some zones
ODD = "<b>O'Neil & \"Co\"</b>"  # every character escaping changes


def _reference(**context) -> str:
    return engines["jinja2"].env.from_string(REFERENCE).render(**context)


def _episode(number, kind="first", **more):
    episode = SimpleNamespace(number=number, kind=kind, **more)
    episode.get_kind_display = lambda: {"first": "First episode", "recollection": ODD}[kind]
    return episode


def _queue_row(index, number, marked, requested, text):
    patient = SimpleNamespace(public_id=uuid.UUID(int=index + 1), study_id=text or f"Q-{index}",
                              initials=text or "AB")
    return SimpleNamespace(
        assessment=_episode(number, "recollection" if text else "first", patient=patient),
        stage_label=text or "Screening", overall_label=text or "Deferred", undecided=index % 3,
        ready_marked_at=WHEN if marked else None, ready_marked_by=text or "Sam Carter",
        review_requested=requested, created_at=WHEN + datetime.timedelta(minutes=index))


def test_queue_rows_are_the_jinja_loops_bytes_in_every_state():
    rows = [_queue_row(index, *state) for index, state in enumerate(
        itertools.product((1, 2), (False, True), (False, True), ("", ODD)))]
    assert str(queue_rows(rows)) == _reference(part="queue", queue=rows)
    assert str(queue_rows([])) == ""


def _evaluation(overall, counts):
    return SimpleNamespace(overall=overall, overall_label=overall.replace("_", " ").capitalize(),
                           flag_count=counts[0], defer_count=counts[1], exclude_count=counts[2],
                           missing_count=counts[3])


def _worklist_row(index, state):
    (number, closed, evaluated, counts, requested, decision, marked, questions, dated, text, by) = state
    episode = _episode(number, "recollection" if text else "first", closed_at=WHEN if closed else None,
                       close_reason="replaced", stage_label=text or "Screening", updated_at=WHEN,
                       updated_by=by)
    episode.get_close_reason_display = lambda: "Replaced by a NEW episode"
    episode.current_evaluation = _evaluation(text or "deferred", counts) if evaluated else None
    expiries = [("Expires", SimpleNamespace(text=text or "Expires 10 March", short="10 Mar")),
                ("Expired", SimpleNamespace(text="Expired", short=text or "9 Mar"))] if dated else []
    due = [SimpleNamespace(when="today", label=text or "Leukapheresis", on=datetime.date(2026, 3, 9),
                           day="D-5" if index % 2 else "")] if dated else []
    return SimpleNamespace(public_id=uuid.UUID(int=1000 + index), study_id=text or f"W-{index}",
                           initials=text or "CD", assessment=episode, review_requested=requested,
                           signoff_decision=decision, ready_marked_at=WHEN if marked else None,
                           ready_marked_by=text or "Sam Carter", open_questions=questions,
                           expiries=expiries, due=due)


def test_worklist_rows_are_the_jinja_loops_bytes_in_every_state():
    user = SimpleNamespace(get_full_name=lambda: "Robin Lee", get_username=lambda: "rlee")
    nameless = SimpleNamespace(get_full_name=lambda: "", get_username=lambda: ODD)
    states = itertools.product(
        (1, 2), (False, True), (False, True), ((None, 0, 3, None), (1, 2, 0, 4)), (False, True),
        (None, "", "deferred", "not_eligible", "approved", "other"), (False, True), (0, 1, 2), (False, True),
        ("", ODD), (None, user, nameless))
    rows = [_worklist_row(index, state) for index, state in enumerate(states)]
    assert len(rows) > 5000
    assert str(worklist_rows(rows)) == _reference(part="worklist", rows=rows)
    assert str(worklist_rows([])) == ""


@pytest.mark.django_db
def test_the_rows_links_carry_the_script_prefix():
    row = _queue_row(0, 1, False, False, "")
    with override_script_prefix("/cart/"):
        html = str(queue_rows([row]))
        assert f'href="{reverse("checklist", args=[row.assessment.patient.public_id])}"' in html
    assert 'href="/cart/patients/' in html
    assert 'href="/patients/' in str(queue_rows([row]))
