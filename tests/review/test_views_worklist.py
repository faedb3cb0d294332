"""Worklist and checklist pages: opaque URLs, constant query counts, pages and filters, accessible
statuses, rule-set version, and the content security policy."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from eligibility.common.display import STATUS_ICONS
from eligibility.models import Assessment, Patient, RuleSet
from eligibility.patients import services
from eligibility.rules import STATUS_LABELS, STATUSES
from tests.factories import PatientFactory, UserFactory
from tests.pages import elements

pytestmark = [pytest.mark.django_db, pytest.mark.filterwarnings("ignore:No directory at:UserWarning")]

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"


@pytest.fixture
def coordinator():
    return UserFactory(role="Coordinator", first_name="Cora", last_name="Ordinator")


@pytest.fixture
def signed_in(client, coordinator):
    client.force_login(coordinator)
    return client


def _update(patient: Patient, by, *, stage: str, **changes) -> None:
    assessment = Assessment.objects.get(patient=patient)
    services.assessment_update(assessment=assessment, changes=changes, stage=stage, revision=assessment.revision,
                               by=by)


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("href", "src", "action") and value is not None:
                self.urls.append(value)


def _urls_in(page: str) -> list[str]:
    parser = _Links()
    parser.feed(page)
    return parser.urls


def _row_ids(page: str) -> list[str]:
    """Study identifiers of the worklist rows, in order."""
    return [html.unescape(study_id) for study_id in
            re.findall(r'<th scope="row"[^>]*><a href="/patients/[0-9a-f-]{36}/">([^<]*)</a></th>', page)]


def _query_count(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


# --- Patient identifiers are never in a URL -----------------------------------------------------------


def test_created_patient_is_addressed_by_its_uuid_only(signed_in):
    response = signed_in.post(reverse("patient_create"), {"study_id": "SECRET-STUDY-77", "initials": "qzx"})

    patient = Patient.objects.get(study_id="SECRET-STUDY-77")
    assert patient.initials == "QZX"
    assert response.status_code == 302
    assert response.url == reverse("intake", args=[patient.public_id, "screening"])
    assert str(patient.public_id) in response.url
    assert "SECRET-STUDY-77" not in response.url and "QZX" not in response.url

    saved = signed_in.post(response.url, {"stage": "screening", "revision": 0, "ecog": 1})
    assert saved.status_code == 302
    assert saved.url == reverse("checklist", args=[patient.public_id])
    assert "SECRET-STUDY-77" not in saved.url

    for url in (reverse("worklist"), response.url, saved.url, reverse("patient_detail", args=[patient.public_id]),
                reverse("evaluation_detail", args=[patient.assessment.current_evaluation.public_id])):
        page = signed_in.get(url).content.decode()
        assert "SECRET-STUDY-77" in page  # shown on the page ...
        links = _urls_in(page)
        assert links
        assert not [link for link in links if "SECRET-STUDY-77" in link or "QZX" in link]  # ... never in a link


def test_duplicate_or_identifying_entries_are_form_errors(signed_in, coordinator):
    PatientFactory(by=coordinator, study_id="DUP-1")
    duplicate = signed_in.post(reverse("patient_create"), {"study_id": "DUP-1", "initials": "AB"})
    assert duplicate.status_code == 200
    assert "study_id" in duplicate.context["form"].errors
    name = signed_in.post(reverse("patient_create"), {"study_id": "DUP 2 John Smith", "initials": "JOHNS"})
    assert name.status_code == 200
    assert set(name.context["form"].errors) == {"study_id", "initials"}
    assert Patient.objects.count() == 1


def test_worklist_links_use_the_uuid(signed_in, coordinator):
    patients = [PatientFactory(by=coordinator, study_id=f"HIDDEN-{n}", initials="HX") for n in range(3)]
    page = signed_in.get(reverse("worklist")).content.decode()
    links = _urls_in(page)
    for patient in patients:
        assert reverse("patient_detail", args=[patient.public_id]) in links
        assert reverse("checklist", args=[patient.public_id]) in links
        assert not [link for link in links if patient.study_id in link]


# --- Query counts do not grow with the number of patients ----------------------------------------------


def test_worklist_query_count_does_not_grow(signed_in, coordinator):
    PatientFactory(by=coordinator)
    url = reverse("worklist")
    signed_in.get(url)  # warm the per-process caches (content types, engine)
    with_one = _query_count(signed_in, url)

    for _ in range(49):
        PatientFactory(by=coordinator)
    page = signed_in.get(url).content.decode()
    assert len(_row_ids(page)) == 25
    assert _query_count(signed_in, url) == with_one


def test_worklist_query_count_does_not_grow_with_other_editors(signed_in, coordinator):
    """Rows show who changed them last: one user or many, the same queries."""
    PatientFactory(by=coordinator)
    url = reverse("worklist")
    signed_in.get(url)
    with_one = _query_count(signed_in, url)
    for n in range(24):
        editor = UserFactory(role="Coordinator")
        _update(PatientFactory(by=editor), editor, stage="screening", ecog=n % 5)
    assert _query_count(signed_in, url) == with_one


@pytest.mark.parametrize("view", ["checklist", "patient_detail", "evaluation_detail"])
def test_patient_pages_query_count_does_not_grow(signed_in, coordinator, view):
    patient = PatientFactory(by=coordinator)
    _update(patient, coordinator, stage="pre_apheresis", ecog=1, alc={"value": 150, "unit": "cells/uL"})
    key = patient.assessment.current_evaluation.public_id if view == "evaluation_detail" else patient.public_id
    url = reverse(view, args=[key])
    signed_in.get(url)
    with_one = _query_count(signed_in, url)

    for _ in range(49):
        PatientFactory(by=coordinator)
    assert _query_count(signed_in, url) == with_one


# --- Pages, filters and search -----------------------------------------------------------------------


def test_thirty_patients_make_two_pages(signed_in, coordinator):
    for n in range(30):
        PatientFactory(by=coordinator, study_id=f"PAGE-{n:02d}")

    first_response = signed_in.get(reverse("worklist"))
    second_response = signed_in.get(reverse("worklist"), {"page": 2})
    first, second = first_response.content.decode(), second_response.content.decode()

    assert len(_row_ids(first)) == 25
    assert len(_row_ids(second)) == 5
    assert set(_row_ids(first)).isdisjoint(_row_ids(second))
    assert set(_row_ids(first)) | set(_row_ids(second)) == {f"PAGE-{n:02d}" for n in range(30)}
    assert first_response.context["page"].paginator.count == 30
    assert (second_response.context["page"].number, second_response.context["page"].paginator.num_pages) == (2, 2)
    assert [link.attrs["href"] for link in elements(first, cls="page-link", href=None)] == ["?page=2"]
    assert [link.attrs["href"] for link in elements(second, cls="page-link", href=None)] == ["?page=1"]


def test_page_links_keep_the_filters(signed_in, coordinator):
    for n in range(27):
        PatientFactory(by=coordinator, study_id=f"KEEP-{n:02d}")
    page = signed_in.get(reverse("worklist"), {"stage": "screening"}).content.decode()
    assert len(_row_ids(page)) == 25
    assert "?stage=screening&page=2" in html.unescape(page)


@pytest.fixture
def mixed_patients(coordinator):
    """Four patients at different stages with different results."""
    empty = PatientFactory(by=coordinator, study_id="ALPHA-1")
    excluded = PatientFactory(by=coordinator, study_id="ALPHA-2")
    _update(excluded, coordinator, stage="screening", ecog=4)
    febrile = PatientFactory(by=coordinator, study_id="BETA-1")
    _update(febrile, coordinator, stage="pre_infusion", temperature={"value": 39, "unit": "C"})
    excluded_later = PatientFactory(by=coordinator, study_id="BETA-12")
    _update(excluded_later, coordinator, stage="pre_apheresis", ecog=4)
    results = {patient.study_id: Assessment.objects.get(patient=patient).current_evaluation.overall
               for patient in (empty, excluded, febrile, excluded_later)}
    assert results == {"ALPHA-1": "incomplete", "ALPHA-2": "not_eligible", "BETA-1": "deferred",
                       "BETA-12": "not_eligible"}
    return results


@pytest.mark.parametrize(("query", "expected"), [
    ({}, {"ALPHA-1", "ALPHA-2", "BETA-1", "BETA-12"}),
    ({"result": "not_eligible"}, {"ALPHA-2", "BETA-12"}),
    ({"result": "deferred"}, {"BETA-1"}),
    ({"result": "cleared"}, set()),
    ({"stage": "pre_apheresis"}, {"BETA-12"}),
    ({"stage": "screening"}, {"ALPHA-1", "ALPHA-2"}),
    ({"result": "not_eligible", "stage": "screening"}, {"ALPHA-2"}),
    ({"search": "beta-1"}, {"BETA-1", "BETA-12"}),
    ({"search": " ALPHA-2 "}, {"ALPHA-2"}),
    ({"search": "GAMMA"}, set()),
    ({"search": "beta", "result": "deferred"}, {"BETA-1"}),
])
def test_worklist_filters_and_search(signed_in, mixed_patients, query, expected):
    query = dict(query)
    search = query.pop("search", None)
    if search is not None:  # the search is posted and kept in the session, never in the URL
        response = signed_in.post(reverse("worklist"), {"search": search, **query})
        assert response.status_code == 302
        assert search.strip().lower() not in response["Location"].lower()
    page = signed_in.get(reverse("worklist"), query).content.decode()
    assert set(_row_ids(page)) == expected
    if not expected:
        assert "No patients match." in page


def test_search_term_stays_out_of_every_url_on_the_page(signed_in, coordinator):
    for n in range(30):
        PatientFactory(by=coordinator, study_id=f"SECRET-{n:02d}")
    signed_in.post(reverse("worklist"), {"search": "SECRET"})
    page = html.unescape(signed_in.get(reverse("worklist")).content.decode())
    assert len(_row_ids(page)) == 25
    assert not re.search(r'href="[^"]*SECRET', page)
    signed_in.post(reverse("worklist"), {"search": ""})
    cleared = signed_in.get(reverse("worklist"))
    assert cleared.context["search"] == ""
    assert not elements(cleared.content, tag="input", name="search", value="")  # no "Clear the search" form
    assert len(_row_ids(cleared.content.decode())) == 25


def test_worklist_ignores_an_unknown_filter_value(signed_in, mixed_patients):
    response = signed_in.get(reverse("worklist"), {"result": "bogus"})
    assert response.status_code == 200
    assert set(_row_ids(response.content.decode())) == set(mixed_patients)


def test_worklist_newest_change_first(signed_in, coordinator):
    older = PatientFactory(by=coordinator, study_id="ORDER-OLD")
    PatientFactory(by=coordinator, study_id="ORDER-NEW")
    _update(older, coordinator, stage="screening", ecog=1)
    assert _row_ids(signed_in.get(reverse("worklist")).content.decode()) == ["ORDER-OLD", "ORDER-NEW"]


# --- The checklist page ------------------------------------------------------------------------------


def test_checklist_shows_a_word_and_an_icon_for_every_item(signed_in, coordinator):
    patient = PatientFactory(by=coordinator)
    _update(patient, coordinator, stage="pre_apheresis", ecog=4, age_years=50,
            alc={"value": 150, "unit": "cells/uL"}, infections={"bacterial": "active", "hbv": "negative"})
    evaluation = Assessment.objects.get(patient=patient).current_evaluation
    items = evaluation.checklist["items"]
    assert {item["status"] for item in items} == set(STATUSES)  # every status is on this page

    page = html.unescape(signed_in.get(reverse("checklist", args=[patient.public_id])).content.decode())

    icons = [STATUS_ICONS[status] for status in STATUSES]
    assert len(set(icons)) == len(icons) and all(icon.strip() for icon in icons)
    for item in items:
        row = re.search(rf'<tr class="item item-(\w+)" id="item-{item["code"]}">(.*?)</tr>', page, re.DOTALL)
        assert row, item["code"]
        status = item["status"]
        assert row.group(1) == status
        marker = (f'<span class="status status-{status}"><span class="status-icon" aria-hidden="true">'
                  f'{STATUS_ICONS[status]}</span> {STATUS_LABELS[status]}</span>')
        assert marker in row.group(2), item["code"]
        assert item["title"] in row.group(2)
    for status in STATUSES:  # the summary counts carry words too
        count = evaluation.checklist["counts"][status]
        icon, word = re.escape(STATUS_ICONS[status]), STATUS_LABELS[status]
        assert re.search(rf"{icon}</span> {word}</span>\s*: {count}\b", page), status


def test_checklist_names_the_rule_set_and_version(signed_in, coordinator):
    patient = PatientFactory(by=coordinator)
    ruleset = RuleSet.objects.get(status=RuleSet.Status.ACTIVE)
    assert patient.assessment.current_evaluation.ruleset == ruleset
    page = html.unescape(signed_in.get(reverse("checklist", args=[patient.public_id])).content.decode())
    assert f"Rule set: {ruleset.name}, version {ruleset.version}" in page


def test_past_evaluation_is_shown_as_it_was(signed_in, coordinator):
    patient = PatientFactory(by=coordinator)
    first = patient.assessment.current_evaluation
    _update(patient, coordinator, stage="screening", ecog=4)

    past = signed_in.get(reverse("evaluation_detail", args=[first.public_id]))
    current = signed_in.get(reverse("checklist", args=[patient.public_id]))

    assert (past.context["evaluation"], past.context["current"]) == (first, False)
    assert current.context["evaluation"] == Assessment.objects.get(patient=patient).current_evaluation != first
    assert current.context["current"] is True
    # The past page says so; the current page has no such notice.
    assert len(elements(past.content, cls="alert-warning", role="status")) == 1
    assert not elements(current.content, cls="alert-warning", role="status")
    assert [result.text for result in elements(past.content, cls="result-incomplete")] == ["Incomplete"]
    assert [result.text for result in elements(current.content, cls="result-not_eligible")] == ["Not eligible"]


# --- Security headers and templates ------------------------------------------------------------------


@pytest.mark.parametrize("view", ["login", "worklist", "checklist", "intake"])
def test_pages_carry_a_strict_content_security_policy(client, coordinator, view):
    if view != "login":
        client.force_login(coordinator)
    patient = PatientFactory(by=coordinator)
    args = {"login": [], "worklist": [], "checklist": [patient.public_id], "intake": [patient.public_id, "screening"]}
    response = client.get(reverse(view, args=args[view]))
    assert response.status_code == 200
    policy = response.headers["Content-Security-Policy"]
    directives = {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}
    assert directives["default-src"] == ["'self'"]
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    for directive in ("script-src", "style-src"):
        assert directives.get(directive, ["'self'"]) == ["'self'"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def _templates() -> list[Path]:
    """Every template of both engines: the shared Django templates, each package's, and the Jinja2
    templates of the hot pages and the layout (issue 15)."""
    root = TEMPLATES_DIR.parent
    found = sorted([*TEMPLATES_DIR.rglob("*.html"), *(root / "eligibility").glob("*/templates/**/*.html"),
                    *(root / "jinja2").rglob("*.jinja"), *(root / "eligibility").glob("*/jinja2/**/*.jinja")])
    assert len(found) >= 60 and any(path.name == "worklist.jinja" for path in found)
    return found


def test_templates_have_no_inline_script_or_handler():
    for template in _templates():
        text = template.read_text()
        for tag, body in re.findall(r"(<script\b[^>]*>)(.*?)</script>", text, re.DOTALL | re.IGNORECASE):
            assert re.search(r"\bsrc=", tag), f"{template.name}: inline <script> without src"
            assert not body.strip(), f"{template.name}: code inside <script>"
        assert not re.search(r"<script\b(?![^>]*\bsrc=)", text, re.IGNORECASE), template.name
        assert not re.search(r"\son[a-z]+\s*=", text, re.IGNORECASE), f"{template.name}: inline event handler"
        assert not re.search(r"<style\b", text, re.IGNORECASE), f"{template.name}: inline <style>"
        assert "javascript:" not in text.lower(), template.name


def test_templates_load_no_asset_from_elsewhere():
    for template in _templates():
        # An inline SVG names its XML namespace by a URL that is never fetched.
        text = re.sub(r'\sxmlns(:[a-z]+)?="http://www\.w3\.org/[^"]*"', "", template.read_text())
        assert not re.search(r"""(src|href|action)\s*=\s*["']?\s*(https?:)?//""", text, re.IGNORECASE), template.name
        assert not re.search(r"url\(\s*['\"]?(https?:)?//", text, re.IGNORECASE), template.name
        assert not re.search(r"https?://", text, re.IGNORECASE), template.name


@pytest.mark.parametrize("view", ["login", "worklist", "checklist", "intake", "patient_detail", "patient_create"])
def test_rendered_pages_have_no_inline_script(client, coordinator, view):
    """Also what third-party templates (crispy forms) add: the policy would block it in the browser."""
    patient = PatientFactory(by=coordinator)
    if view != "login":
        client.force_login(coordinator)
    args = {"intake": [patient.public_id, "screening"], "checklist": [patient.public_id],
            "patient_detail": [patient.public_id]}.get(view, [])
    page = client.get(reverse(view, args=args)).content.decode()
    scripts = re.findall(r"(<script\b[^>]*>)(.*?)</script>", page, re.DOTALL | re.IGNORECASE)
    assert scripts
    for tag, body in scripts:
        assert 'src="/static/' in tag and not body.strip()
    assert not re.search(r"\son[a-z]+\s*=", page, re.IGNORECASE)
    assert not [url for url in _urls_in(page) if re.match(r"(https?:)?//", url)]
