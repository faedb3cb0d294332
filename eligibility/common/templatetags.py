"""The screen vocabulary for templates: ``{% load vocabulary %}``, then ``{{ user|display_name }}``
(a person's printed name), ``{{ spec.unit|unit }}`` (a stored unit as screens write it),
``{{ product.diagnoses|diagnoses }}`` (diagnosis codes in words), ``{{ value|measure:unit }}`` (a
number with its unit: ``1 year``, ``60%``, ``0.2 ×10⁹/L``), ``{{ product.code|generic_name }}`` (a
product's code as its generic name: ``axicabtagene ciloleucel``) and ``{{ value|number }}`` (a
number as people write it: ``800``, not ``8E+2`` or ``800.000``); ``{% programme_time_zone %}``
names the time zone every time is shown in (``settings.TIME_ZONE``, from ``PROGRAMME_TIME_ZONE``)."""

from __future__ import annotations

from django import template
from django.conf import settings

from accounts.backends import group_names

from ..rules import measure, plain
from .display import diagnoses_text, generic_name
from .people import display_name
from .vocabulary import unit_text

register = template.Library()
register.filter("display_name", display_name)
register.filter("unit", unit_text)
register.filter("diagnoses", diagnoses_text)
register.filter("number", plain)
register.filter("generic_name", generic_name)
register.filter("measure", measure)
register.filter("group_names", group_names)


@register.simple_tag
def programme_time_zone() -> str:
    """The programme's time zone, in which every page and the PDF show times."""
    return settings.TIME_ZONE


#: The roles that plan the programme's week (the "this week" page).
WEEK_ROLES = ("Coordinator", "Physician")


@register.filter
def plans_the_week(user) -> bool:
    """Whether ``user`` holds a role the "this week" page is for (coordinators and physicians)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return any(name in WEEK_ROLES for name in group_names(user))
