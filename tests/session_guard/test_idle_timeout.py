"""Idle sign-out with a warning, and a form posted after the session ended given back to the same
user after signing in (issue 10 item 2, issue 9 item 3). Time is moved by writing the session's
last-activity stamp, never by sleeping."""

from __future__ import annotations

import html
import re
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client
from django.urls import reverse

from eligibility.models import Assessment
from session_guard.middleware import LAST_ACTIVITY
from session_guard.restore import RESTORED_MESSAGE, STASH
from tests.factories import PASSWORD, PatientFactory, UserFactory
from tests.patients.test_views_intake import _form_values

pytestmark = pytest.mark.django_db


@pytest.fixture
def cora():
    return UserFactory(role="Coordinator", username="cora", first_name="Cora", last_name="Ordinator")


@pytest.fixture
def patient(cora):
    return PatientFactory(by=cora, study_id="IDLE-001", initials="ID")


def _idle_for(client, seconds: float) -> None:
    session = client.session
    session[LAST_ACTIVITY] = time.time() - seconds
    session.save()


def _signed_in(client, user) -> Client:
    client.post(reverse("login"), {"username": user.username, "password": PASSWORD})
    assert client.get(reverse("worklist")).status_code == 200
    return client


def _intake(patient) -> str:
    return reverse("intake", args=[patient.public_id, "screening"])


# --- The timeout ----------------------------------------------------------------------------------------


def test_idle_for_15_minutes_signs_out(client, cora):
    _signed_in(client, cora)
    _idle_for(client, 15 * 60)
    response = client.get(reverse("worklist"))
    assert response.status_code == 302
    assert urlsplit(response.url).path == reverse("login")
    assert SESSION_KEY not in client.session


def test_idle_for_14_minutes_59_seconds_stays_signed_in_and_counts_as_activity(client, cora):
    _signed_in(client, cora)
    _idle_for(client, 15 * 60 - 1)
    assert client.get(reverse("worklist")).status_code == 200
    assert time.time() - client.session[LAST_ACTIVITY] < 5  # the request was activity


def test_the_timeout_is_configurable(client, cora, settings):
    settings.SESSION_IDLE_TIMEOUT = 60
    _signed_in(client, cora)
    _idle_for(client, 59)
    assert client.get(reverse("worklist")).status_code == 200
    _idle_for(client, 60)
    assert client.get(reverse("worklist")).status_code == 302


def test_the_default_is_15_minutes_with_a_2_minute_warning_from_the_environment():
    from django.conf import settings

    assert (settings.SESSION_IDLE_TIMEOUT, settings.SESSION_IDLE_WARNING) == (900, 120)
    source = (settings.BASE_DIR / "config" / "settings" / "base.py").read_text()
    assert 'env.int("DJANGO_SESSION_IDLE_TIMEOUT", default=15 * 60)' in source


def test_status_tells_the_time_left_without_counting_as_activity(client, cora):
    _signed_in(client, cora)
    _idle_for(client, 14 * 60)
    stamp = client.session[LAST_ACTIVITY]
    body = client.get(reverse("session_status")).json()
    assert 55 <= body["remaining"] <= 60
    assert client.session[LAST_ACTIVITY] == stamp


def test_stay_signed_in_pings_and_restarts_the_clock(client, cora):
    _signed_in(client, cora)
    _idle_for(client, 14 * 60)
    body = client.post(reverse("session_ping")).json()
    assert body["remaining"] >= 15 * 60 - 5
    _idle_for(client, 0)
    assert client.get(reverse("worklist")).status_code == 200


def test_status_and_ping_after_the_timeout_say_signed_out(client, cora):
    _signed_in(client, cora)
    _idle_for(client, 16 * 60)
    assert client.post(reverse("session_ping")).json() == {"remaining": 0}
    assert client.get(reverse("session_status")).json() == {"remaining": 0}
    assert client.get(reverse("worklist")).status_code == 302


def test_every_signed_in_page_carries_the_accessible_warning(client, cora, settings):
    settings.SESSION_IDLE_TIMEOUT, settings.SESSION_IDLE_WARNING = 600, 90
    page = _signed_in(client, cora).get(reverse("worklist")).content.decode()
    box = re.search(r'<div id="session-warning"[^>]*>', page).group(0)
    assert 'role="alertdialog"' in box and "hidden" in box
    assert 'data-timeout="600"' in box and 'data-warning="90"' in box
    assert 'aria-labelledby="session-warning-title"' in box
    assert '<button type="button" class="btn btn-primary btn-sm" data-stay>Stay signed in</button>' in page
    assert '<script src="/static/js/session-timeout.js"></script>' in page
    assert "session-warning" not in Client().get(reverse("login")).content.decode()


# --- A form posted after the session ended --------------------------------------------------------------


def _post_after_timeout(client, patient, **values):
    form = {name: value or "" for name, value in _form_values(client.get(_intake(patient)).content.decode()).items()}
    form.pop("csrfmiddlewaretoken", None)
    _idle_for(client, 20 * 60)
    return client.post(_intake(patient), {**form, **values})


def test_entries_posted_after_the_timeout_come_back_to_the_same_user_unsaved(client, cora, patient):
    _signed_in(client, cora)
    response = _post_after_timeout(client, patient, ecog="2", age_years="61")

    assert response.status_code == 302
    login = urlsplit(response.url)
    assert login.path == reverse("login")
    assert parse_qs(login.query) == {"next": [_intake(patient)]}  # no patient data in the URL
    assert Assessment.objects.get(patient=patient).revision == 0  # nothing saved

    signed_in = client.post(reverse("login"), {"username": "cora", "password": PASSWORD,
                                               "next": _intake(patient)})
    assert signed_in.url == _intake(patient)
    page = client.get(signed_in.url)
    values = _form_values(page.content.decode())
    assert (values["ecog"], values["age_years"]) == ("2", "61")
    assert RESTORED_MESSAGE in html.unescape(page.content.decode())
    assert Assessment.objects.get(patient=patient).revision == 0  # shown, not saved
    # Once: a second visit shows the saved values.
    assert _form_values(client.get(_intake(patient)).content.decode())["ecog"] in ("", None)

    saved = client.post(_intake(patient), {name: value or "" for name, value in values.items()
                                            if name != "csrfmiddlewaretoken"})
    assert saved.status_code == 302
    assert Assessment.objects.get(patient=patient).data == {"ecog": 2, "age_years": 61}


def test_another_user_signing_in_never_gets_the_entries(client, cora, patient):
    sam = UserFactory(role="Coordinator", username="sam")
    _signed_in(client, cora)
    _post_after_timeout(client, patient, ecog="2")
    assert STASH in client.session

    client.post(reverse("login"), {"username": "sam", "password": PASSWORD})
    assert client.session[SESSION_KEY] == str(sam.pk)
    page = client.get(_intake(patient)).content.decode()
    assert _form_values(page)["ecog"] in ("", None)
    assert RESTORED_MESSAGE not in html.unescape(page)
    assert STASH not in client.session  # forgotten when sam signed in

    client.post(reverse("logout"))
    client.post(reverse("login"), {"username": "cora", "password": PASSWORD})
    assert _form_values(client.get(_intake(patient)).content.decode())["ecog"] in ("", None)


def test_entries_posted_after_a_sign_out_in_another_tab_come_back_too(client, cora, patient):
    """The session ended otherwise (signed out in another tab): the browser still says whose it was."""
    _signed_in(client, cora)
    form = {name: value or "" for name, value in _form_values(client.get(_intake(patient)).content.decode()).items()}
    client.post(reverse("logout"))
    response = client.post(_intake(patient), {**form, "ecog": "3"})
    assert urlsplit(response.url).path == reverse("login")
    client.post(reverse("login"), {"username": "cora", "password": PASSWORD})
    assert _form_values(client.get(_intake(patient)).content.decode())["ecog"] == "3"


def test_neither_the_csrf_token_nor_a_password_is_kept(client, cora, patient):
    _signed_in(client, cora)
    _post_after_timeout(client, patient, ecog="2", password="secret-typed")
    kept = client.session[STASH][_intake(patient)]["data"]
    assert "csrfmiddlewaretoken" not in kept and "password" not in kept
    assert kept["ecog"] == ["2"]


def test_a_forged_post_is_refused_before_anything_is_kept(cora, patient):
    client = Client(enforce_csrf_checks=True)
    client.force_login(cora)
    client.get(reverse("worklist"))
    _idle_for(client, 20 * 60)
    response = client.post(_intake(patient), {"ecog": "5"})  # no CSRF token
    assert response.status_code == 403
    assert STASH not in client.session


def test_the_new_patient_form_comes_back_too(client, cora):
    _signed_in(client, cora)
    _idle_for(client, 20 * 60)
    client.post(reverse("patient_create"), {"study_id": "NEW-9", "initials": "NP"})
    client.post(reverse("login"), {"username": "cora", "password": PASSWORD})
    values = _form_values(client.get(reverse("patient_create")).content.decode())
    assert (values["study_id"], values["initials"]) == ("NEW-9", "NP")


def test_a_form_that_cannot_be_shown_again_returns_to_its_page_after_signing_in(client, cora, patient):
    _signed_in(client, cora)
    _idle_for(client, 20 * 60)
    checklist = reverse("checklist", args=[patient.public_id])
    response = client.post(reverse("worklist"), {"search": "x"}, HTTP_REFERER=f"http://testserver{checklist}")
    assert parse_qs(urlsplit(response.url).query) == {"next": [checklist]}


def test_a_decision_posted_after_the_timeout_comes_back_on_the_checklist_unsaved(client):
    """A physician's justification typed while the session ran out is given back after signing in."""
    from eligibility.models import Disposition
    from eligibility.patients import services
    from tests.factories import SCREENING_TO_REVIEW

    robin = UserFactory(username="robin", role="Physician")
    patient = PatientFactory(by=UserFactory(role="Coordinator"))
    evaluation = services.assessment_update(assessment=patient.assessment, changes=SCREENING_TO_REVIEW,
                                            stage="screening", revision=0, by=robin)
    _signed_in(client, robin)
    url = reverse("disposition", args=[evaluation.public_id, "viral_infection"])
    typed = "PCR negative on 12 Nov; repeat on 19 Nov also negative"
    _idle_for(client, 20 * 60)
    response = client.post(url, {"viral_infection-kind": "overridden", "viral_infection-reason_code": "other",
                                 "viral_infection-justification": typed})
    assert response.status_code == 302 and urlsplit(response.url).path == reverse("login")
    assert not Disposition.objects.exists()
    signed_in = client.post(reverse("login"), {"username": "robin", "password": PASSWORD, "next": url})
    page = client.get(signed_in.url)
    assert page.status_code == 200
    assert typed in html.unescape(page.content.decode()) and RESTORED_MESSAGE in html.unescape(page.content.decode())
    assert not Disposition.objects.exists()  # shown, not saved
    # Without kept entries, the address goes to the item on the checklist.
    assert client.get(url).url.endswith("#item-viral_infection")
