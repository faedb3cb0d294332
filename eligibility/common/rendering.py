"""Forms repeated down a page: rendered once, given each item's code; and a page's other empty forms.

The checklist shows the same empty forms beside many of its 26 items (a note, a question, a
decision of one kind), differing in nothing but the prefix of their fields. Rendering each through
crispy-forms' templates was most of the page's time (cProfile); one rendering per kind with the
item's code put in its place gives the same HTML. An empty form's HTML depends on its class and
arguments only (no request, no CSRF token: the page's ``<form>`` carries that), so it is kept for
the process under the caller's key (and forgotten when a test changes a setting).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from html import escape

from crispy_forms.utils import render_crispy_form
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.safestring import SafeString, mark_safe

from .kept import Kept

#: Stands for an item's code in a form rendered once for every item of the page.
CODE = "__item_code__"


_RENDERED: dict[Hashable, str] = {}
#: Each kind's HTML with each item's code in it (a few kinds, 40-odd codes), by kind then code.
_PER_CODE: dict[Hashable, Kept] = {}
_PER_CODE_KEPT = 1024  # codes of one kind at most


@receiver(setting_changed)
def _forget(**kwargs) -> None:
    _RENDERED.clear()
    _PER_CODE.clear()


def per_item(make_form: Callable[[str], object], *, key: Hashable) -> Callable[[str], SafeString]:
    """``make_form(code)`` builds the empty form of the item ``code``; the result gives that form's
    HTML for any item, rendered once per process under ``key`` (which names the form class and
    every argument but the code)."""
    if key not in _RENDERED:
        _RENDERED[key] = render_crispy_form(make_form(CODE))
        _PER_CODE.pop(key, None)
    html = _RENDERED[key]
    written = _PER_CODE.get(key)
    if written is None:
        written = _PER_CODE[key] = Kept(_PER_CODE_KEPT)

    def for_code(code: str) -> SafeString:
        # Kept by code too: a page asks for 26 items' note and question forms (each a copy of a few
        # kilobytes and Django's check for lazy text in ``mark_safe``: a tenth of the checklist's view).
        found = written.get(code)
        if found is None:
            # Safe: rendered (and escaped) by the form's own templates; the code is escaped as it goes
            # in (as Django's ``escape`` does it, without its check for lazy text).
            found = mark_safe(html.replace(CODE, escape(code)))  # noqa: S308
            written.put(code, found)
        return found

    return for_code


def empty_form_html(make_form: Callable[[], object], *, key: Hashable) -> SafeString:
    """The HTML of an empty form that appears once on a page (the sign-off's password, a bulk
    decision's note): ``make_form()`` builds it, rendered once per process under ``key`` (the form
    class and its arguments). A bound form (errors, what was typed) or one with initial values is
    rendered with the page instead: only an empty form's HTML depends on nothing but the code."""
    if key not in _RENDERED:
        # Marked safe once (rendered and escaped by the form's own templates): marking it on every
        # page copied the whole HTML each time (a tenth of the checklist's view for its bulk forms).
        _RENDERED[key] = mark_safe(render_crispy_form(make_form()))  # noqa: S308
    return _RENDERED[key]
