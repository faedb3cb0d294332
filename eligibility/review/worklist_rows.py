"""The rows of the worklist and of the physicians' queue as HTML, written in Python (issue 15).

Rendered by Jinja2, a physician's worklist spent a quarter of its time on its rows: 34 µs each of the
queue's 50 and 58 µs each of the worklist's 25 (each value escaped and each attribute read through
the template engine's generic look-up, a macro call per row; measured apart from the rest of the
page). Written here they are the same bytes (``tests/review/test_worklist_rows_html.py`` renders
both ways in every state a row has), in a fraction of that.

Every value is escaped as Jinja2 escapes it (``markupsafe.escape``: ``&``, ``<``, ``>``, ``"``, ``'``);
dates as the ``date`` filter writes them; links through the same ``url`` as the templates, with the
request's script prefix. A state a row can show is one branch below and one in the test's template.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable

from django.conf import settings
from django.template.defaultfilters import pluralize
from django.urls import get_script_prefix
from markupsafe import Markup, escape

from ..common.jinja import date, reversed_url
from ..common.people import display_name
from .selectors import QueueRow, WorklistRow
from .week import expiries_and_due, page_rulesets

_SIGNOFF_NOTES = {
    "deferred": '<br><span class="small signoff-deferred"><span aria-hidden="true">‖</span> '
                "Deferred by physician: resolve the accepted items</span>",
    "not_eligible": '<br><span class="small signoff-not_eligible"><span aria-hidden="true">✕</span> '
                    "Not eligible (signed): work-up closed</span>",
    "approved": '<br><span class="small signoff-approved"><span aria-hidden="true">✓</span> '
                "Approved by physician</span>",
}
_NO_COUNTS = ('<td role="cell" data-label="Flag" class="count">0</td>\n'
              '      <td role="cell" data-label="Defer" class="count">0</td>\n'
              '      <td role="cell" data-label="Exclude" class="count">0</td>\n'
              '      <td role="cell" data-label="Missing" class="count">0</td>')


_SPECIAL = re.compile(r"[&<>\"']")


def _esc(value) -> str:
    """``value`` as ``markupsafe.escape`` writes it (``&``, ``<``, ``>``, ``"``, ``'``; HTML as is), as
    plain text: most values here have none of the five (numbers, dates, labels, names), and a search
    for them is a third of ``escape``'s cost (its check for HTML and its ``Markup``, 900 a worklist)."""
    if type(value) is not str:
        if hasattr(value, "__html__"):
            return value.__html__()
        value = str(value)
    return value if _SPECIAL.search(value) is None else str(escape(value))


def _episode_line(episode, after: str = "") -> str:
    """A row's line naming its episode, as the ``episode_name`` macro names it
    (``patients/_episode_name.jinja``), with ``after`` (HTML, escaped) at its end."""
    return ('<br><span class="small episode-name"><span aria-hidden="true">◆</span> '
            f"Episode {_esc(episode.number)} · {_esc(episode.get_kind_display())}{after}</span>")


def queue_rows(rows: Iterable) -> Markup:
    """The queue's rows (``selectors.queue_page``), as worklist.jinja's queue table had them. A
    row made by ``queue_page`` (a :class:`~eligibility.review.selectors.QueueRow`, shared by every
    request that reads the same database row, never changed) keeps its HTML for the script prefix
    and time zone it was written for: written once, not on every page."""
    prefix = get_script_prefix()
    written_for = (prefix, settings.TIME_ZONE)
    parts = []
    for evaluation in rows:
        kept = evaluation.__dict__.get("written") if type(evaluation) is QueueRow else None
        if kept is not None and kept[0] == written_for:
            parts.append(kept[1])
            continue
        html = _queue_row(evaluation, prefix)
        if type(evaluation) is QueueRow:
            evaluation.written = (written_for, html)  # one assignment: a reader sees the old pair or the new
        parts.append(html)
    return Markup("".join(parts))  # noqa: S704 (every value in it escaped below)


def _queue_row(evaluation, prefix: str) -> str:
    episode = evaluation.assessment
    patient = episode.patient
    stage = [_esc(evaluation.stage_label)]
    if episode.number > 1:
        stage.append(_episode_line(episode))
    if evaluation.ready_marked_at:
        stage.append('<br><span class="small"><span aria-hidden="true">➜</span> ready for review: marked by '
                     f'{_esc(evaluation.ready_marked_by)} on '
                     f'{_esc(date(evaluation.ready_marked_at, "Y-m-d H:i"))}</span>')
    if evaluation.review_requested:
        stage.append('<br><span class="small"><span aria-hidden="true">⚠</span> signed; review requested by '
                     "a new rule-set version</span>")
    return (
        '\n      <tr role="row"><th scope="row" role="rowheader"><a href="'
        f'{_esc(reversed_url(prefix, "checklist", patient.public_id))}">{_esc(patient.study_id)}</a> '
        f'<span class="initials text-body-secondary">{_esc(patient.initials)}</span></th>\n'
        f'        <td role="cell" data-label="Stage">{"".join(stage)}</td>\n'
        f'        <td role="cell" data-label="Overall result">{_esc(evaluation.overall_label)}</td>\n'
        f'        <td role="cell" data-label="Items needing a decision">{_esc(evaluation.undecided)}</td>\n'
        f'        <td role="cell" data-label="Evaluated">{_esc(date(evaluation.created_at, "Y-m-d H:i"))}'
        "</td></tr>\n    ")


def _handoff_state(patient) -> str:
    """A row's hand-off state: marked ready (by whom, when), or neither signed nor marked; its open
    questions (as the ``handoff_state`` macro it replaces wrote it)."""
    shown = ""
    if patient.ready_marked_at:
        shown = ('<br><span class="small handoff-ready"><span aria-hidden="true">➜</span> Ready for review: '
                 f'marked by {_esc(patient.ready_marked_by)} on '
                 f'{_esc(date(patient.ready_marked_at, "Y-m-d H:i"))}</span>')
    elif not patient.signoff_decision:
        shown = ('<br><span class="small handoff-none"><span aria-hidden="true">…</span> Not signed; not marked '
                 "ready for review</span>")
    if patient.open_questions:
        shown += ('<br><a class="small handoff-questions" href="#open-questions"><span aria-hidden="true">?</span> '
                  f"{_esc(patient.open_questions)} open question{_esc(pluralize(patient.open_questions))}</a>")
    return shown


def worklist_rows(rows: Iterable, today: datetime.date | None = None) -> Markup:
    """The worklist's rows (``selectors.worklist_page``) with their expiries and dates due
    (``week.expiries_and_due`` as of ``today``; None: each row's own ``expiries`` and ``due``, as
    ``week.with_expiries`` sets them), as worklist.jinja's patients table had them. With ``today``,
    a row made by ``worklist_page`` (a :class:`~eligibility.review.selectors.WorklistRow`, shared by
    every request that reads the same database row, never changed) keeps its HTML for the day, the
    rule-set version, the script prefix and the time zone it was written for: written once a day,
    not on every page."""
    prefix = get_script_prefix()
    rulesets = page_rulesets(rows) if today is not None else None
    parts = []
    for patient in rows:
        if today is None:
            parts.append(_worklist_row(patient, prefix, patient.expiries, patient.due))
            continue
        evaluation = patient.assessment.current_evaluation
        ruleset = rulesets.get(evaluation.ruleset_id) if evaluation is not None else None
        kept = patient.__dict__.get("written") if type(patient) is WorklistRow else None
        if kept is not None:
            day, version, written_prefix, zone, html = kept
            # The same rule-set version: the same object (a published version's, kept for the process;
            # a draft's is read again, another object each page).
            if day == today and version is ruleset and written_prefix == prefix and zone == settings.TIME_ZONE:
                parts.append(html)
                continue
        html = _worklist_row(patient, prefix, *expiries_and_due(patient.assessment, rulesets, today=today))
        if type(patient) is WorklistRow:
            # One assignment: a reader sees the old tuple or the new, never half of each.
            patient.written = (today, ruleset, prefix, settings.TIME_ZONE, html)
        parts.append(html)
    return Markup("".join(parts))  # noqa: S704 (every value in it escaped below)


def _worklist_row(patient, prefix: str, expiries: list, dues: list) -> str:
    assessment = patient.assessment
    evaluation = assessment.current_evaluation
    stage = [_esc(assessment.stage_label)]
    if assessment.number > 1 or assessment.closed_at:
        closed = (f", closed ({_esc(assessment.get_close_reason_display().lower())})"
                  if assessment.closed_at else "")
        stage.append(_episode_line(assessment, closed))
    for what, expiry in expiries:
        icon = "◷" if what == "Expires" else "⚠"
        stage.append(f'<br><span class="small expiry" title="{_esc(expiry.text)}"><span aria-hidden="true">'
                     f"{icon}</span> {_esc(what)}: {_esc(expiry.short)}</span>")
    for due in dues:
        day = f" ({_esc(due.day)})" if due.day else ""
        stage.append(f'<br><span class="small due"><span aria-hidden="true">▸</span> Due {_esc(due.when)}: '
                     f'{_esc(due.label)}, {_esc(date(due.on, "Y-m-d"))}{day}</span>')
    if evaluation:
        result = (f'<a href="{_esc(reversed_url(prefix, "checklist", patient.public_id))}" class="result result-'
                  f'{_esc(evaluation.overall)}">{_esc(evaluation.overall_label)}</a>')
    else:
        result = "Not evaluated"
    if patient.review_requested:
        result += ('<br><span class="small"><span aria-hidden="true">⚠</span> '
                   + ("signed; review requested by a new rule-set version" if patient.signoff_decision else
                      "the new rule-set version cannot evaluate these data: correct them (see the checklist)")
                   + "</span>")
    result += _SIGNOFF_NOTES.get(patient.signoff_decision, "") + _handoff_state(patient)
    if evaluation:
        counts = (f'<td role="cell" data-label="Flag" class="count">{_esc(evaluation.flag_count or 0)}</td>\n'
                  f'      <td role="cell" data-label="Defer" class="count">{_esc(evaluation.defer_count or 0)}'
                  "</td>\n"
                  f'      <td role="cell" data-label="Exclude" class="count">'
                  f"{_esc(evaluation.exclude_count or 0)}</td>\n"
                  f'      <td role="cell" data-label="Missing" class="count">'
                  f"{_esc(evaluation.missing_count or 0)}</td>")
    else:
        counts = _NO_COUNTS
    return (
        '\n    <tr role="row">\n'
        '      <th scope="row" role="rowheader"><a href="'
        f'{_esc(reversed_url(prefix, "patient_detail", patient.public_id))}">'
        f"{_esc(patient.study_id)}</a></th>\n"
        f'      <td role="cell" data-label="Initials" class="initials">{_esc(patient.initials)}</td>\n'
        f'      <td role="cell" data-label="Stage">{"".join(stage)}</td>\n'
        f'      <td role="cell" data-label="Overall result">{result}</td>\n'
        f"      {counts}\n"
        f'      <td role="cell" data-label="Last updated">{_esc(date(assessment.updated_at, "Y-m-d H:i"))} by '
        f"{_esc(display_name(assessment.updated_by))}</td>\n"
        "    </tr>\n  ")
