"""Day numbers in templates (issue 14): ``{% load dates %}``, then ``{{ on|with_day:day0 }}`` (a date
``YYYY-MM-DD`` with its day number once an infusion date is recorded: ``2026-11-27 (day −5)``; the date
alone without day 0) and ``{{ on|day_number:day0 }}`` (``day −5``, or nothing without day 0). Dates may
be ``date`` objects or ``YYYY-MM-DD`` text; the numbers are ``episodes.day_text``'s."""

from __future__ import annotations

import datetime

from django import template

from .episodes import day_text

register = template.Library()


def _date(value) -> datetime.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    try:
        return datetime.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


@register.filter
def day_number(value, zero) -> str:
    """``day −5`` for a date counted from day 0 (``""`` without either)."""
    return day_text(_date(value), _date(zero))


@register.filter
def with_day(value, zero) -> str:
    """A date ``YYYY-MM-DD`` followed by its day number in brackets once day 0 is known."""
    on = _date(value)
    if on is None:
        return "" if value in (None, "") else str(value)
    number = day_text(on, _date(zero))
    return f"{on.isoformat()} ({number})" if number else on.isoformat()
