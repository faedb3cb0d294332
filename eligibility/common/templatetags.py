"""The screen vocabulary for templates: ``{% load vocabulary %}``, then ``{{ user|display_name }}``
(a person's printed name) and ``{{ spec.unit|unit }}`` (a stored unit as screens write it)."""

from __future__ import annotations

from django import template

from .people import display_name
from .vocabulary import unit_text

register = template.Library()
register.filter("display_name", display_name)
register.filter("unit", unit_text)
