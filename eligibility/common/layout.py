"""The layout every page shares, for Django templates: ``{% load layout %}{% layout_part "nav" %}``
renders the Jinja2 part ``layout/<part>.jinja`` (jinja2/layout/) with the page's context, so that
Django's ``templates/base.html`` and Jinja2's ``jinja2/base.jinja`` are one layout (issue 15: the
hot pages are Jinja2 templates; every other page stays a Django template)."""

from __future__ import annotations

from django import template
from django.template import engines
from django.template.backends.utils import csrf_input
from django.utils.safestring import mark_safe

register = template.Library()

PARTS = ("start", "nav", "end")


@register.simple_tag(takes_context=True)
def layout_part(context, part: str) -> str:
    if part not in PARTS:
        raise template.TemplateSyntaxError(f"layout_part: no part {part!r} (one of {', '.join(PARTS)})")
    request = context.get("request")
    values = {name: context.get(name) for name in ("user", "perms", "messages", "session_idle", "csrf_token")}
    # The values the Django context already holds (its context processors ran once), with what
    # Django's Jinja2 backend would add (see _for_jinja).
    page = engines["jinja2"].env.get_template(f"layout/{part}.jinja")
    values["request"] = request
    return mark_safe(page.render(_for_jinja(values)))  # noqa: S308 (an auto-escaping Jinja2 template's output)


def _for_jinja(values: dict) -> dict:
    """What Django's Jinja2 backend adds to a page's context (``csrf_input``), and no ``messages``
    where a page was rendered without the context processors (the 500 page)."""
    values["messages"] = values.get("messages") or ()
    request = values.get("request")
    if request is not None:
        values["csrf_input"] = csrf_input(request)  # the backend's own
    return values


@register.simple_tag(takes_context=True)
def jinja(context, name: str, **values) -> str:
    """``{% jinja "patients/_episode_name.jinja" episode=assessment %}``: a Jinja2 partial in a Django
    template, with the page's context (flattened) and ``values``; so that a partial of the Jinja2
    pages is written once and the Django pages that show the same thing include it."""
    flat = context.flatten()
    flat.update(values)
    return mark_safe(engines["jinja2"].env.get_template(name).render(_for_jinja(flat)))  # noqa: S308 (auto-escaping Jinja2 output)
