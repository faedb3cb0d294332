"""A checklist row written once and kept: the row macro's own HTML (review/_checklist_item.jinja),
kept with its item for the rows whose HTML depends only on the item and the page's forms.

The checklist page writes 26 rows through a Jinja2 macro, most of the page's rendering. A row with
no decision, no question and no note (most rows of a checklist under review) says only what its
stored item says (``presenters._shown``: the same for every page of its checklist), the empty forms
beside it (the same HTML for every page, ``common.rendering.per_item``) and the page's CSRF token.
Such a row is written by the macro the first time, kept with the item with the token taken out,
and given back with each later page's token put in: the same bytes the macro writes (the token is
64 random characters, found nowhere else in a row). Any other row (a decision, a question, a note,
a refused or changed decision form) is written by the macro on every page.
"""

from __future__ import annotations

from collections.abc import Callable

from django.urls import get_script_prefix
from markupsafe import Markup

#: Where the page's CSRF token was in a kept row.
PLACE = "\x00csrf\x00"
#: Kinds of one row kept at most (by script prefix and forms: a few).
KEPT_KINDS = 8


def checklist_row(item: dict, row: Callable[[dict], Markup], csrf_input) -> Markup:
    """``row(item)`` (the row macro), or the same HTML kept from an earlier page (see above)."""
    kept = item.get("kept")
    if (kept is None or item["disposition"] is not None or item["questions"] or item["notes"]
            or (item["form"] is not None and not item["form_html"])):
        return row(item)
    key = (get_script_prefix(), item["form_html"], item["question_form"], item["note_form"], item["needs_decision"],
           item["decided"])
    # The token only for a row with a form (a page without one asks for none: no CSRF cookie set).
    token = str(csrf_input) if item["form_html"] or item["question_form"] or item["note_form"] else None
    html = kept.get(key)
    if html is not None:
        return Markup(html if token is None else html.replace(PLACE, token))  # noqa: S704 (the macro's own HTML)
    written = str(row(item))
    kept.put(key, written if token is None else written.replace(token, PLACE))
    return Markup(written)  # noqa: S704 (the macro's own HTML, escaped by it)
