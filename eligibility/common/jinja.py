"""What the Jinja2 environment of the hot pages and the shared layout (issue 15) takes from this
package: the same vocabulary as the Django templates' ``{% load vocabulary %}`` library, as filters
and globals, so that a page reads the same in either engine. The environment itself is
``config/jinja.py`` (it adds what the packages above give: day numbers, the patient's hand-off).

Filters: ``display_name``, ``unit``, ``diagnoses``, ``number``, ``generic_name``, ``measure``,
``day_number``, ``with_day`` (as the Django libraries), ``date(format)`` (as
Django's ``date`` filter: an aware date-time in the programme's time zone first; ``""`` for
``None``), ``pluralize`` (Django's),
``linebreaksbr`` (Django's: escaped, line breaks as ``<br>``).
Globals: ``url(name, *args)`` (``reverse``), ``static(path)`` (the static file's URL, hashed in
production), ``programme_time_zone()``, ``crispy(form)`` (``{% crispy form %}`` of a form whose
helper has no ``<form>`` tag), ``patient_handoffs(patient, user)`` (the patient page's
hand-off), ``free_text_max``, ``free_text_help`` (the free-text limit as a number and in words,
as ``{% free_text_max %}`` and ``{% free_text_help %}``). Django's backend adds ``request``,
``csrf_input`` and ``csrf_token``; the context processors of settings.TEMPLATES add ``user``,
``perms``, ``messages`` and ``session_idle`` (and ``csrf_once``: ``csrf_input`` worked out once a
page; ``url_once``: ``url`` with the page's script prefix looked up once). Auto-escaping is on (as
in Django templates): mark pre-rendered HTML with ``markupsafe.Markup`` (or Django's ``mark_safe``,
which Jinja2 honours through ``__html__``)."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from functools import lru_cache, partial

from crispy_forms.utils import render_crispy_form
from django.conf import settings
from django.contrib.staticfiles.storage import staticfiles_storage
from django.template.backends.utils import csrf_input
from django.urls import get_script_prefix, reverse
from django.utils import dateformat, timezone

#: The Jinja2 engine's name in ``settings.TEMPLATES``: pages pass it as ``using=`` (``render``,
#: ``render_to_string``). Looked up without it, a Jinja2 template is first asked of the Django
#: engine, whose ``TemplateDoesNotExist`` keeps a traceback: its frames hold the page's context, which
#: then lives on in a reference cycle (a page's rows freed by the garbage collector, not at once).
JINJA = "jinja2"


def date(value, format_string: str = "Y-m-d") -> str:
    """Django's ``date`` filter: a date or date-time in ``format_string`` (Django's format
    characters), an aware date-time converted to the programme's time zone first."""
    if value is None or value == "":
        return ""
    if isinstance(value, datetime.datetime) and value.utcoffset() is not None:
        # The programme's zone (settings.TIME_ZONE; the application never activates another):
        # ``timezone.localtime`` would look the current zone up in a thread-and-task local for each
        # date, 130 on a physician's worklist (a tenth of its rendering, cProfile).
        value = value.astimezone(timezone.get_default_timezone())
    # The formats of the lists (a date, a date and a time on every row), written directly: Django's
    # formatter parses the format and builds a formatter object each time (most of a worklist's
    # rendering). The same characters as dateformat's Y, m, d, H, i: ISO 8601's first 16 (or 10),
    # the year in four digits (written by the datetime module, faster than formatting each part).
    if format_string == "Y-m-d H:i" and isinstance(value, datetime.datetime):
        return value.isoformat(" ", "minutes")[:16]
    if format_string == "Y-m-d H:i:s" and isinstance(value, datetime.datetime):  # a history's lines
        return value.isoformat(" ", "seconds")[:19]
    if format_string == "Y-m-d" and isinstance(value, datetime.date):
        return value.isoformat()[:10]
    return dateformat.format(value, format_string)


@lru_cache(maxsize=16384, typed=True)  # typed: 1 and True, 1 and "1" apart
def reversed_url(prefix: str, name: str, *args) -> str:
    """``reverse(name, args=args)`` under script prefix ``prefix`` (the one ``reverse`` reads itself:
    the caller's), kept per process."""
    return reverse(name, args=args)


def url(name: str, *args) -> str:
    """``{% url name arg ... %}``: reversed once per process for each name, arguments and script
    prefix (the URL configuration does not change while a process runs)."""
    return reversed_url(get_script_prefix(), name, *args)


def url_once(request) -> dict:
    """Context processor of the Jinja2 pages: ``url`` with the request's script prefix looked up once
    a page, not at each link (a thread-and-task local: half of each of a worklist's 75 links' cost,
    timeit). Macros imported from another template use the global :func:`url`, the same links."""
    return {"url": partial(reversed_url, get_script_prefix())}


@lru_cache(maxsize=256)
def static(path: str) -> str:
    """``{% static path %}``: the static file's URL (its hashed name in production), looked up once."""
    return staticfiles_storage.url(path)


def programme_time_zone() -> str:
    return settings.TIME_ZONE


def csrf_once(request) -> dict:
    """Context processor of the Jinja2 pages: ``csrf_input`` worked out once a page. Django's Jinja2
    backend gives a lazy value that masks the token anew at each use (32 random characters and a
    string join): the checklist uses it in every row's forms, 60 times a page. Still lazy (a page
    without a form does not ask for the token, so it sets no CSRF cookie); the backend sets it
    before the context processors run, which replace it."""
    return {"csrf_input": OnceHTML(lambda: csrf_input(request))}


class OnceHTML:
    """HTML made when first shown, then kept: what Jinja2 asks of a value it writes (``__html__``:
    written as it is, not escaped), and its text (``str``). Django's ``SimpleLazyObject`` did the
    same through a proxy of every attribute (the look-up of ``__html__`` alone was 5 % of a
    checklist page)."""

    __slots__ = ("_make", "_html")

    def __init__(self, make: Callable[[], str]):
        self._make, self._html = make, None

    def __html__(self) -> str:
        if self._html is None:
            self._html = str(self._make())
        return self._html

    __str__ = __html__


def crispy(form):
    """``{% crispy form %}`` for a form whose helper renders no ``<form>`` tag (so no CSRF token:
    the page's own ``<form>`` carries it); its HTML is crispy-forms' (escaped, marked safe)."""
    return render_crispy_form(form)
