"""Forms repeated down a page: rendered once, given each item's code.

The checklist shows the same empty forms beside many of its 26 items (a note, a question, a
decision of one kind), differing in nothing but the prefix of their fields. Rendering each through
crispy-forms' templates was most of the page's time (cProfile); one rendering per kind with the
item's code put in its place gives the same HTML.
"""

from __future__ import annotations

from collections.abc import Callable

from crispy_forms.utils import render_crispy_form
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

#: Stands for an item's code in a form rendered once for every item of the page.
CODE = "__item_code__"


def per_item(make_form: Callable[[str], object]) -> Callable[[str], SafeString]:
    """``make_form(prefix)`` builds the empty form of one item; the result gives the HTML of that
    form for the item ``code`` (as ``make_form(code-prefix)`` would render), rendering once."""
    html = render_crispy_form(make_form(CODE))
    # Safe: rendered (and escaped) by the form's own templates; the code is escaped as it goes in.
    return lambda code: mark_safe(html.replace(CODE, escape(code)))  # noqa: S308
