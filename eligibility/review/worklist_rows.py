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

import re
from collections.abc import Iterable

from django.template.defaultfilters import pluralize
from django.urls import get_script_prefix
from markupsafe import Markup, escape

from ..common.jinja import date, reversed_url
from ..common.people import display_name

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
    """The queue's rows (``selectors.queue_page``), as worklist.jinja's queue table had them."""
    prefix = get_script_prefix()
    parts = []
    for evaluation in rows:
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
        parts.append(
            '\n      <tr role="row"><th scope="row" role="rowheader"><a href="'
            f'{_esc(reversed_url(prefix, "checklist", patient.public_id))}">{_esc(patient.study_id)}</a> '
            f'<span class="initials text-body-secondary">{_esc(patient.initials)}</span></th>\n'
            f'        <td role="cell" data-label="Stage">{"".join(stage)}</td>\n'
            f'        <td role="cell" data-label="Overall result">{_esc(evaluation.overall_label)}</td>\n'
            f'        <td role="cell" data-label="Items needing a decision">{_esc(evaluation.undecided)}</td>\n'
            f'        <td role="cell" data-label="Evaluated">{_esc(date(evaluation.created_at, "Y-m-d H:i"))}'
            "</td></tr>\n    ")
    return Markup("".join(parts))  # noqa: S704 (every value in it escaped above)


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


def worklist_rows(rows: Iterable) -> Markup:
    """The worklist's rows (``selectors.worklist_page``, with ``week.with_expiries``' expiries and
    dates due), as worklist.jinja's patients table had them."""
    prefix = get_script_prefix()
    parts = []
    for patient in rows:
        assessment = patient.assessment
        evaluation = assessment.current_evaluation
        stage = [_esc(assessment.stage_label)]
        if assessment.number > 1 or assessment.closed_at:
            closed = (f", closed ({_esc(assessment.get_close_reason_display().lower())})"
                      if assessment.closed_at else "")
            stage.append(_episode_line(assessment, closed))
        for what, expiry in patient.expiries:
            icon = "◷" if what == "Expires" else "⚠"
            stage.append(f'<br><span class="small expiry" title="{_esc(expiry.text)}"><span aria-hidden="true">'
                         f"{icon}</span> {_esc(what)}: {_esc(expiry.short)}</span>")
        for due in patient.due:
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
        parts.append(
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
    return Markup("".join(parts))  # noqa: S704 (every value in it escaped above)
