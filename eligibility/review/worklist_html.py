"""The worklist's search and filter forms as HTML, rendered by crispy-forms once per process for each
set of filters and sort (issue 15: the two forms were a quarter of the page's rendering time).

What the two forms show depends on the filters and the sort alone (a whitelist of choices: at most
540 combinations, the defaults first), on the code and on the settings: never on a patient or on
the request. The search form posts, so its HTML carries a CSRF token: it is rendered with a
placeholder that each request replaces with its own token. A search term is the user's input (a
study identifier or initials): a search form showing one is rendered for its request alone, as is
anything else that is not the empty form. The HTML is forgotten when a test changes a setting.
"""

from __future__ import annotations

from functools import lru_cache

from crispy_forms.utils import render_crispy_form
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.middleware.csrf import get_token
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from .forms import FilterForm, SearchForm
from .presenters import worklist_columns

#: Stands for the request's CSRF token in a form rendered once (letters only: escaping keeps it).
CSRF_PLACEHOLDER = "csrftokenplaceholderoftheworklist"


#: Filters and sort combinations kept (540 exist; each is a few kilobytes of HTML).
_KEPT = 600


@lru_cache(maxsize=_KEPT)
def _filters(criteria: tuple[tuple[str, str], ...]) -> str:
    return render_crispy_form(FilterForm(initial=dict(criteria)))


@lru_cache(maxsize=_KEPT)
def _empty_search(criteria: tuple[tuple[str, str], ...]) -> str:
    html = render_crispy_form(SearchForm(criteria=dict(criteria)), context={"csrf_token": CSRF_PLACEHOLDER})
    if html.count(CSRF_PLACEHOLDER) != 1:  # the form's template changed: the token would be lost
        raise RuntimeError("the worklist's search form no longer renders one CSRF token")
    return html


@lru_cache(maxsize=_KEPT)
def _columns(criteria: tuple[tuple[str, str], ...]) -> tuple[dict, ...]:
    return tuple(worklist_columns(dict(criteria)))


@receiver(setting_changed)
def _forget(**kwargs) -> None:
    _filters.cache_clear()
    _empty_search.cache_clear()
    _columns.cache_clear()


def _key(criteria: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(criteria.items())  # in worklist_criteria's order: result, stage, sort, dir


def filters_html(criteria: dict[str, str]) -> SafeString:
    """The filter form (GET) showing ``criteria`` (``forms.worklist_criteria``: valid values only)."""
    return mark_safe(_filters(_key(criteria)))  # noqa: S308 (crispy-forms' escaped output)


def search_form_html(request, criteria: dict[str, str], search: str) -> SafeString:
    """The search form (POST, with the request's CSRF token) keeping ``criteria`` as hidden fields,
    showing ``search``."""
    if search:
        return mark_safe(render_crispy_form(  # noqa: S308 (crispy-forms' escaped output)
            SearchForm(initial={"search": search}, criteria=criteria), context={"csrf_token": get_token(request)}))
    html = _empty_search(_key(criteria)).replace(CSRF_PLACEHOLDER, escape(get_token(request)))
    return mark_safe(html)  # noqa: S308 (crispy-forms' escaped output; the token escaped as it goes in)


def columns(criteria: dict[str, str]) -> tuple[dict, ...]:
    """``worklist_columns(criteria)``, computed once per filters and sort (read-only: shared)."""
    return _columns(_key(criteria))
