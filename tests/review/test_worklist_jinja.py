"""The worklist as a Jinja2 page (issue 15) says what it said as a Django template: its forms
rendered once per process are the HTML crispy-forms renders for the request (with the request's
own CSRF token, never a search term kept), the dates of its rows are Django's date filter, the
episode name is one partial for both engines, and the page's queries stay flat in the number of
patients for a coordinator too."""

from __future__ import annotations

import datetime
import re
from zoneinfo import ZoneInfo

import pytest
from crispy_forms.utils import render_crispy_form
from django.db import connection
from django.middleware.csrf import _unmask_cipher_token, get_token
from django.template import Context, Template, engines
from django.test import RequestFactory, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from eligibility.common.jinja import date
from eligibility.models import Assessment
from eligibility.review import worklist_html
from eligibility.review.forms import FilterForm, SearchForm
from eligibility.review.presenters import worklist_columns
from tests.factories import PatientFactory, UserFactory

pytestmark = [pytest.mark.filterwarnings("ignore:No directory at:UserWarning")]

CRITERIA = [
    {"result": "", "stage": "", "sort": "updated", "dir": "desc"},
    {"result": "deferred", "stage": "screening", "sort": "flag", "dir": "asc"},
    {"result": "", "stage": "pre_infusion", "sort": "study_id", "dir": "asc"},
]
TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]*)"')


def _request():
    request = RequestFactory().get("/")
    get_token(request)
    return request


def _tokens_of(request, html: str) -> list[bool]:
    """For each CSRF input of ``html``: whether its (masked) token is the request's secret."""
    return [_unmask_cipher_token(token) == request.META["CSRF_COOKIE"] for token in TOKEN.findall(html)]


def _no_token(html: str) -> str:
    return TOKEN.sub('name="csrfmiddlewaretoken" value=""', html)


@pytest.mark.parametrize("criteria", CRITERIA)
def test_the_kept_forms_are_what_crispy_renders_for_the_request(criteria):
    request = _request()
    for _ in range(2):  # rendered, then kept
        assert worklist_html.filters_html(criteria) == render_crispy_form(FilterForm(initial=criteria))
        expected = render_crispy_form(SearchForm(initial={"search": ""}, criteria=criteria),
                                      context={"csrf_token": get_token(request)})
        kept = worklist_html.search_form_html(request, criteria, "")
        assert _no_token(kept) == _no_token(expected) and _tokens_of(request, kept) == [True]
        assert list(worklist_html.columns(criteria)) == worklist_columns(criteria)


def test_each_request_gets_its_own_csrf_token_and_no_placeholder():
    criteria = CRITERIA[0]
    first, second = _request(), _request()
    html_first = worklist_html.search_form_html(first, criteria, "")
    html_second = worklist_html.search_form_html(second, criteria, "")
    assert _tokens_of(first, html_first) == [True] and _tokens_of(second, html_second) == [True]
    assert first.META["CSRF_COOKIE"] != second.META["CSRF_COOKIE"]
    assert worklist_html.CSRF_PLACEHOLDER not in html_first + html_second


def test_a_search_term_is_shown_for_its_request_and_never_kept():
    criteria = CRITERIA[1]
    request = _request()
    # The term holds characters a CSRF token never has (letters and digits only): a token that
    # happens to contain the term's letters cannot be taken for the term.
    shown = worklist_html.search_form_html(request, criteria, "XQ~<7>")
    assert 'value="XQ~&lt;7&gt;"' in shown and _tokens_of(request, shown) == [True]
    assert "XQ~" not in worklist_html.search_form_html(_request(), criteria, "")
    # Whatever the filters and sort, the form another request gets keeps nothing of the search.
    assert not any("XQ~" in worklist_html.search_form_html(_request(), other, "") for other in CRITERIA)


@pytest.mark.parametrize("moment", [
    datetime.datetime(2026, 7, 31, 23, 30, tzinfo=datetime.UTC),  # the next day in London
    datetime.datetime(2026, 3, 29, 0, 59, tzinfo=datetime.UTC),  # the minute before summer time
    datetime.datetime(2026, 3, 29, 1, 0, tzinfo=datetime.UTC),
    datetime.datetime(2026, 1, 5, 0, 0, tzinfo=ZoneInfo("Europe/London")),
    datetime.datetime(999, 12, 31, 12, 5, tzinfo=datetime.UTC),  # years padded to four digits
    datetime.datetime(2026, 10, 25, 9, 7),  # naive: as it is
])
@override_settings(TIME_ZONE="Europe/London")
def test_the_lists_dates_are_djangos_date_filter(moment):
    for fmt in ("Y-m-d H:i", "Y-m-d"):
        django = Template(f'{{{{ moment|date:"{fmt}" }}}}').render(Context({"moment": moment}))
        assert date(moment, fmt) == django
    on = moment.date()
    assert date(on, "Y-m-d") == Template('{{ on|date:"Y-m-d" }}').render(Context({"on": on}))


@pytest.mark.django_db
def test_the_episode_name_is_one_partial_for_both_engines():
    coordinator = UserFactory(role="Coordinator")
    episode = PatientFactory(by=coordinator).assessment
    episode.number, episode.kind = 3, Assessment.Kind.RECOLLECTION
    django = Template('{% include "patients/_episode_name.html" %}').render(Context({"episode": episode}))
    macro = engines["jinja2"].from_string(
        '{% from "patients/_episode_name.jinja" import episode_name %}{{ episode_name(episode) }}')
    assert django == macro.render({"episode": episode}) == "Episode 3 · Re-collection"


@pytest.mark.django_db
def test_the_coordinators_worklist_is_the_jinja2_page_with_the_same_queries_at_5_and_40_patients(client):
    coordinator = UserFactory(role="Coordinator")
    for number in range(5):
        PatientFactory(by=coordinator, study_id=f"FLAT-{number:02d}")
    client.force_login(coordinator)
    url = reverse("worklist")
    response = client.get(url)  # the kept forms rendered
    assert "review/worklist.jinja" in [template.name for template in response.templates]
    with CaptureQueriesContext(connection) as five:
        assert client.get(url).status_code == 200
    for number in range(5, 40):
        PatientFactory(by=coordinator, study_id=f"FLAT-{number:02d}")
    with CaptureQueriesContext(connection) as forty:
        page = client.get(url).content.decode()
    assert len(forty) == len(five)
    assert page.count('data-label="Initials"') == 25 and "40 patients;" in page
