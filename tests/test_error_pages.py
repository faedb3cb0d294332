"""Error pages styled with the navigation, 403 logged on one line, read-only pages refuse POST
(issue 9, item 6)."""

from __future__ import annotations

import logging
import uuid

import pytest
from django.template.loader import render_to_string
from django.urls import reverse

from eligibility.rulesets import services as rulesets
from tests.factories import PatientFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.filterwarnings("ignore:No directory at:UserWarning")]


@pytest.fixture
def coordinator():
    return UserFactory(role="Coordinator", first_name="Cora", last_name="Ordinator")


def test_403_is_styled_with_navigation_and_says_what_to_do(client, coordinator):
    client.force_login(coordinator)
    response = client.get(reverse("ruleset_list"))
    assert response.status_code == 403
    page = response.content.decode()
    assert "This page is not open to your role" in page
    assert '<nav class="navbar' in page and 'href="/">Worklist</a>' in page
    assert "Cora Ordinator, Coordinator" in page


def test_404_is_styled_with_navigation(client, coordinator):
    client.force_login(coordinator)
    response = client.get("/patients/00000000-0000-0000-0000-000000000000/")
    assert response.status_code == 404
    page = response.content.decode()
    assert "Page not found" in page and '<nav class="navbar' in page and "Worklist</a>" in page


def test_500_renders_without_a_request_or_the_database(django_assert_num_queries):
    with django_assert_num_queries(0):
        page = render_to_string("500.html")
    assert "Something went wrong on our side" in page
    assert '<nav class="navbar' in page and 'href="/"' in page
    assert "may not have been saved" in page


def test_500_handler_answers_with_the_styled_page(client, coordinator, monkeypatch):
    from eligibility.review import views

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(views, "worklist_page", broken)
    client.force_login(coordinator)
    client.raise_request_exception = False
    response = client.get(reverse("worklist"))
    assert response.status_code == 500
    assert "Something went wrong on our side" in response.content.decode()


def test_csrf_failure_page_is_styled():
    page = render_to_string("403_csrf.html")
    assert "This form could not be accepted" in page and '<nav class="navbar' in page


def test_403_is_logged_on_one_line_without_a_traceback(client, coordinator, caplog):
    patient = PatientFactory(by=coordinator, study_id="LOGGED-403", initials="LG")
    physician = UserFactory(role="Physician")
    client.force_login(physician)
    url = reverse("intake", args=[patient.public_id, "screening"])
    with caplog.at_level(logging.WARNING, logger="django.request"):
        assert client.post(url, {"ecog": "1"}).status_code == 403
    records = [record for record in caplog.records if record.name == "django.request"]
    assert len(records) == 1
    record = records[0]
    assert record.getMessage() == f"Forbidden (Permission denied): {url}"
    assert record.exc_info is None
    handler = logging.getLogger().handlers[0]
    formatted = handler.format(record)
    assert "\n" not in formatted and "Traceback" not in formatted
    assert "LOGGED-403" not in formatted and "LG" not in formatted.split(": ", 1)[1]


def test_read_only_pages_answer_post_with_405(client, coordinator):
    administrator = UserFactory(role="Administrator", is_superuser=True)
    patient = PatientFactory(by=coordinator)
    evaluation = patient.assessment.current_evaluation
    draft = rulesets.ruleset_draft_create(by=administrator)
    client.force_login(administrator)
    for url in [reverse("patient_detail", args=[patient.public_id]), reverse("checklist", args=[patient.public_id]),
                reverse("evaluation_detail", args=[evaluation.public_id]),
                reverse("ruleset_preview", args=[draft.version])]:
        assert client.post(url).status_code == 405, url
        assert client.get(url).status_code == 200, url
    # The method is refused before the signature is looked up (its PDF is read-only too).
    pdf = reverse("signoff_pdf", args=[uuid.uuid4()])
    assert (client.post(pdf).status_code, client.get(pdf).status_code) == (405, 404)
