"""The Jinja2 environment of the hot pages says things as the Django templates do, and the layout
both engines share is one page."""

from __future__ import annotations

import datetime
import uuid
from zoneinfo import ZoneInfo

import pytest
from django.template import Context, Template, engines
from django.test import RequestFactory, override_settings
from django.test.utils import override_script_prefix

from eligibility.common.jinja import date, url
from tests.factories import UserFactory


def render(source: str, **context) -> str:
    return engines["jinja2"].from_string(source).render(context)


def test_autoescape_is_on_whatever_the_options():
    assert render("{{ text }}", text="<b>x</b>") == "&lt;b&gt;x&lt;/b&gt;"
    assert engines["jinja2"].env.autoescape is True


@override_settings(TIME_ZONE="Europe/London")
def test_date_of_an_aware_time_is_in_the_programme_time_zone_as_in_django_templates():
    # 23:30 UTC on 31 July is 00:30 on 1 August in London (summer time): the day changes.
    moment = datetime.datetime(2026, 7, 31, 23, 30, tzinfo=datetime.UTC)
    django = Template('{{ moment|date:"Y-m-d H:i" }}').render(Context({"moment": moment}))
    assert date(moment, "Y-m-d H:i") == django == "2026-08-01 00:30"
    # A minute before midnight in London stays on its day.
    before = datetime.datetime(2026, 7, 31, 22, 59, tzinfo=datetime.UTC)
    assert date(before, "Y-m-d H:i") == "2026-07-31 23:59"


@pytest.mark.parametrize("zone, shown", [("America/New_York", "2026-07-31 19:30"), ("Asia/Tokyo", "2026-08-01 08:30")])
def test_date_follows_the_programme_time_zone_setting(zone, shown):
    moment = datetime.datetime(2026, 7, 31, 23, 30, tzinfo=datetime.UTC)
    with override_settings(TIME_ZONE=zone):
        assert date(moment, "Y-m-d H:i") == shown
        assert Template('{{ moment|date:"Y-m-d H:i" }}').render(Context({"moment": moment})) == shown
    assert date(datetime.datetime(2026, 7, 31, 23, 30), "Y-m-d H:i") == "2026-07-31 23:30"  # naive: as it is


@override_settings(TIME_ZONE="Europe/London")
def test_date_is_in_the_programme_time_zone_the_footer_names_whatever_zone_is_active():
    """Every page says "Times are shown in <the programme's zone>": its dates are, even under an
    activated zone (the application activates none; a library or a later change might)."""
    from django.utils import timezone

    moment = datetime.datetime(2026, 7, 31, 23, 30, tzinfo=datetime.UTC)
    with timezone.override("Asia/Tokyo"):
        assert date(moment, "Y-m-d H:i") == "2026-08-01 00:30"
        assert "Times are shown in Europe/London." in render('{% include "layout/end.jinja" %}', user=None,
                                                             messages=[])


def test_date_of_a_plain_date_and_of_nothing():
    assert render('{{ on|date("Y-m-d") }}', on=datetime.date(2026, 3, 9)) == "2026-03-09"
    assert date(None) == "" and date("") == ""
    assert date(datetime.datetime(2026, 3, 9, 8, 5, tzinfo=ZoneInfo("Europe/London")), "H:i") == "08:05"


@override_settings(TIME_ZONE="Europe/London")
@pytest.mark.parametrize("value", [
    datetime.datetime(2026, 3, 9, 8, 5, 59, 999999, tzinfo=datetime.UTC),  # seconds dropped, not rounded
    datetime.datetime(2026, 3, 29, 0, 59, tzinfo=datetime.UTC),  # a minute before London's clocks go forward
    datetime.datetime(2026, 3, 29, 1, 0, tzinfo=datetime.UTC),  # the hour they go forward
    datetime.datetime(999, 12, 31, 23, 59, tzinfo=datetime.UTC),  # a year of three digits: written with four
    datetime.datetime(2026, 12, 31, 23, 59, 30),  # naive: as it is
    datetime.date(2026, 1, 2),
    datetime.date(5, 6, 7),
])
def test_date_writes_the_lists_three_formats_as_djangos_date_filter(value):
    for format_string in ("Y-m-d", "Y-m-d H:i", "Y-m-d H:i:s"):
        if format_string != "Y-m-d" and not isinstance(value, datetime.datetime):
            continue
        django = Template("{{ value|date:format }}").render(Context({"value": value, "format": format_string}))
        assert date(value, format_string) == django, (value, format_string)


def test_url_with_arguments_and_without():
    assert url("worklist") == "/"
    first = url("checklist", "2b6c1c1e-0000-4000-8000-000000000001")
    assert first == "/patients/2b6c1c1e-0000-4000-8000-000000000001/checklist/"
    assert url("checklist", "2b6c1c1e-0000-4000-8000-000000000002") != first


def test_url_of_a_key_and_of_its_text_is_the_same_link():
    key = uuid.UUID("2b6c1c1e-0000-4000-8000-000000000003")
    assert url("checklist", key) == url("checklist", str(key)) == f"/patients/{key}/checklist/"


@pytest.mark.django_db
def test_a_jinja_pages_links_follow_the_script_prefix_it_is_served_under(client):
    """Served under a path (a proxy's SCRIPT_NAME), a page's links and its layout's carry it; the
    same page served at the root right after does not (the prefix is part of what is kept)."""
    from tests.factories import PatientFactory

    coordinator = UserFactory(role="Coordinator")
    patient = PatientFactory(by=coordinator)
    client.force_login(coordinator)
    link = f"/patients/{patient.public_id}/"
    with override_script_prefix("/cart/"):  # as the WSGI handler sets it from SCRIPT_NAME
        under = client.get("/").content.decode()
    at_root = client.get("/").content.decode()
    assert f'href="/cart{link}"' in under and f'href="{link}"' not in under
    assert 'href="/cart/this-week/"' in under  # the layout's menu (a template of its own)
    assert f'href="{link}"' in at_root and f'href="/cart{link}"' not in at_root
    assert 'href="/this-week/"' in at_root


@pytest.mark.django_db
def test_the_layout_of_both_engines_is_one_page(settings):
    """A Django page and a Jinja2 page with the same title and content are the same HTML (CSRF
    tokens aside: masked anew each time)."""
    import re

    user = UserFactory(role="Coordinator")
    request = RequestFactory().get("/")
    request.user = user
    from django.contrib.messages.storage.fallback import FallbackStorage
    from django.contrib.sessions.backends.db import SessionStore

    request.session = SessionStore()
    request._messages = FallbackStorage(request)
    django_page = engines["django"].from_string(
        '{% extends "base.html" %}{% block title %}T{% endblock %}{% block content %}<p>x</p>{% endblock %}'
    ).render({}, request)
    jinja_page = engines["jinja2"].from_string(
        '{% extends "base.jinja" %}{% block title %}T{% endblock %}{% block content %}<p>x</p>{% endblock %}'
    ).render({}, request)

    def unmasked(page):
        return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", page).rstrip("\n")

    assert unmasked(django_page) == unmasked(jinja_page)
    assert "<title>T · CAR-T readiness</title>" in django_page
    assert "This week" in django_page and "Coordinator" in django_page  # the role, and the page it plans
    assert 'name="csrfmiddlewaretoken"' in django_page  # the sign-out form


def test_csrf_input_is_made_once_when_first_written_and_written_as_it_is():
    from eligibility.common.jinja import csrf_once

    request = RequestFactory().get("/")
    shown = csrf_once(request)["csrf_input"]
    assert "CSRF_COOKIE" not in request.META  # not asked for yet: a page without a form sets no cookie
    page = engines["jinja2"].from_string("{{ csrf_input }}|{{ csrf_input }}").render({"csrf_input": shown})
    first, second = page.split("|")
    assert first == second and first.startswith('<input type="hidden" name="csrfmiddlewaretoken" value="')
    assert str(shown) == first and request.META.get("CSRF_COOKIE")  # asked for once written
