"""The Jinja2 environment of the hot pages and the layout every page shares (issue 15), named by
settings.TEMPLATES. It gathers the vocabulary of every package, as the Django templates'
``{% load vocabulary dates %}`` libraries do, so that a page reads the same in either engine: this
module sits above the packages (``eligibility.common.jinja`` holds the common part; a package may
not import one above it).

Filters: ``display_name``, ``unit``, ``diagnoses``, ``number``, ``generic_name``, ``measure``,
``day_number``, ``with_day`` (as the Django libraries), ``date(format)``,
``pluralize``, ``linebreaksbr``, ``group_names`` (a user's roles, read with their
permissions: ``accounts.backends``). Globals: ``url``, ``static``,
``programme_time_zone``, ``week_roles`` (the roles the "this week" page is for), ``crispy``,
``patient_handoffs(patient, user)`` (the patient page's hand-off, from the review package),
``free_text_max``, ``free_text_help``, ``queue_rows`` and ``worklist_rows`` (the worklist's tables'
rows, from the review package). See
``eligibility.common.jinja`` for each."""

from __future__ import annotations

from django.template.defaultfilters import linebreaksbr, pluralize

from accounts.backends import group_names
from eligibility.common.display import diagnoses_text, generic_name
from eligibility.common.jinja import crispy, date, programme_time_zone, static, url
from eligibility.common.people import display_name
from eligibility.common.templatetags import WEEK_ROLES
from eligibility.common.text import FREE_TEXT_MAX
from eligibility.common.vocabulary import unit_text
from eligibility.patients.presenters import history_rows_html
from eligibility.patients.templatetags import day_number, with_day
from eligibility.review.checklist_rows import checklist_row
from eligibility.review.handoffs.presenters import patient_handoffs
from eligibility.review.worklist_rows import queue_rows, worklist_rows
from eligibility.rules import measure, plain
from jinja2 import Environment


def environment(**options) -> Environment:
    options.pop("autoescape", None)  # always on, whatever the options say (Django's backend sets it too)
    env = Environment(autoescape=True, **options)
    env.filters.update({
        "display_name": display_name, "unit": unit_text, "diagnoses": diagnoses_text, "number": plain,
        "generic_name": generic_name, "measure": measure,
        "day_number": day_number, "with_day": with_day, "date": date, "pluralize": pluralize,
        "linebreaksbr": linebreaksbr, "group_names": group_names,
    })
    env.globals.update({"url": url, "static": static, "programme_time_zone": programme_time_zone,
                        "week_roles": WEEK_ROLES,
                        "crispy": crispy, "patient_handoffs": patient_handoffs, "free_text_max": FREE_TEXT_MAX,
                        "free_text_help": f"At most {FREE_TEXT_MAX:,} characters.",
                        "queue_rows": queue_rows, "worklist_rows": worklist_rows, "checklist_row": checklist_row,
                        "history_rows_html": history_rows_html})
    return env
