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

#: Stands for an item's code in a form rendered once for every item of the page.
CODE = "__item_code__"


_RENDERED: dict[Hashable, str] = {}


@receiver(setting_changed)
def _forget(**kwargs) -> None:
    _RENDERED.clear()


def per_item(make_form: Callable[[str], object], *, key: Hashable) -> Callable[[str], SafeString]:
    """``make_form(code)`` builds the empty form of the item ``code``; the result gives that form's
    HTML for any item, rendered once per process under ``key`` (which names the form class and
    every argument but the code)."""
    if key not in _RENDERED:
        _RENDERED[key] = render_crispy_form(make_form(CODE))
    html = _RENDERED[key]
    # Safe: rendered (and escaped) by the form's own templates; the code is escaped as it goes in
    # (as Django's ``escape`` does it, without its check for lazy text: 55 calls a checklist page).
    return lambda code: mark_safe(html.replace(CODE, escape(code)))  # noqa: S308


def empty_form_html(make_form: Callable[[], object], *, key: Hashable) -> SafeString:
    """The HTML of an empty form that appears once on a page (the sign-off's password, a bulk
    decision's note): ``make_form()`` builds it, rendered once per process under ``key`` (the form
    class and its arguments). A bound form (errors, what was typed) or one with initial values is
    rendered with the page instead: only an empty form's HTML depends on nothing but the code."""
    if key not in _RENDERED:
        _RENDERED[key] = render_crispy_form(make_form())
    return mark_safe(_RENDERED[key])  # noqa: S308 (rendered and escaped by the form's own templates)
