"""Who may do what on the web pages: checked on the server for every request, whatever the page shows."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse

from eligibility.models import Assessment, Evaluation, Patient
from tests.factories import PatientFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.filterwarnings("ignore:No directory at:UserWarning")]

ANONYMOUS, NO_ROLE = "anonymous", "no role"
ROLES = [ANONYMOUS, NO_ROLE, "Coordinator", "Physician", "Administrator"]
#: (view, method, writes): every page of the application, reading or writing.
VIEWS = [
    ("worklist", "get", False),
    ("patient_create", "get", True),
    ("patient_create", "post", True),
    ("patient_detail", "get", False),
    ("intake", "get", True),
    ("intake", "post", True),
    ("checklist", "get", False),
    ("evaluation_detail", "get", False),
]


@pytest.fixture
def patient():
    return PatientFactory(study_id="PERM-001", initials="PM")


def _url(view: str, patient: Patient) -> str:
    if view in ("worklist", "patient_create"):
        return reverse(view)
    if view == "intake":
        return reverse(view, args=[patient.public_id, "screening"])
    if view == "evaluation_detail":
        return reverse(view, args=[patient.assessment.current_evaluation.public_id])
    return reverse(view, args=[patient.public_id])


def _payload(view: str) -> dict:
    """A valid submission, as a Coordinator's browser would send it (a crafted POST for the others)."""
    if view == "patient_create":
        return {"study_id": "PERM-NEW-9", "initials": "NW"}
    return {"stage": "screening", "revision": 0, "ecog": 2, "age_years": 50}


def _database_state(patient: Patient) -> dict:
    assessment = Assessment.objects.get(pk=patient.assessment.pk)
    return {
        "patients": sorted(Patient.objects.values_list("study_id", flat=True)),
        "evaluations": Evaluation.objects.count(),
        "revision": assessment.revision,
        "data": assessment.data,
        "stage": assessment.stage,
        "current_evaluation": assessment.current_evaluation_id,
        "history": assessment.history.count(),
    }


def _login(client, role: str):
    if role == ANONYMOUS:
        return None
    user = UserFactory(role=None if role == NO_ROLE else role)
    client.force_login(user)
    return user


def _expected(role: str, method: str, writes: bool) -> int:
    if role == ANONYMOUS:
        return 302
    if role == NO_ROLE:
        return 403
    if role in ("Physician", "Administrator"):
        return 403 if writes else 200
    return 302 if method == "post" else 200  # Coordinator: a successful save redirects


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("view", "method", "writes"), VIEWS, ids=[f"{v}-{m}" for v, m, _ in VIEWS])
def test_permission_matrix(client, patient, role, view, method, writes):
    _login(client, role)
    url = _url(view, patient)
    before = _database_state(patient)

    response = getattr(client, method)(url, _payload(view)) if method == "post" else client.get(url)

    assert response.status_code == _expected(role, method, writes)
    if role == ANONYMOUS:
        location = urlsplit(response.url)
        assert location.path == reverse("login")
        assert parse_qs(location.query)["next"] == [url]
    if role != "Coordinator" and method == "post":
        # Refused: not a row, not a revision, not an evaluation, not a history record.
        assert _database_state(patient) == before
    if role == "Coordinator" and method == "post":
        after = _database_state(patient)
        if view == "patient_create":
            assert after["patients"] == sorted([*before["patients"], "PERM-NEW-9"])
        else:
            assert after["revision"] == before["revision"] + 1
            assert after["data"] == {"ecog": 2, "age_years": 50}


@pytest.mark.parametrize("role", ["Physician", "Administrator", NO_ROLE])
def test_crafted_intake_post_changes_nothing(client, patient, role):
    """A POST crafted outside the page (the page shows no form) is refused and writes nothing."""
    _login(client, role)
    before = _database_state(patient)
    response = client.post(_url("intake", patient),
                           {"stage": "pre_infusion", "revision": 0, "ecog": 4, "karnofsky": 40})
    assert response.status_code == 403
    assert _database_state(patient) == before
    response = client.post(reverse("patient_create"), {"study_id": "CRAFTED-1", "initials": "CR"})
    assert response.status_code == 403
    assert not Patient.objects.filter(study_id="CRAFTED-1").exists()


@pytest.mark.parametrize("role", ["Physician", "Administrator"])
def test_readers_see_no_write_links(client, patient, role):
    """The pages of a reader offer no link to the pages that would refuse them."""
    _login(client, role)
    html = client.get(reverse("patient_detail", args=[patient.public_id])).content.decode()
    assert reverse("patient_create") not in html
    assert reverse("intake", args=[patient.public_id, "screening"]) not in html


def test_login_page_is_reachable_anonymously(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert 'name="password"' in response.content.decode()


def test_unknown_intake_phase_is_not_found(client, patient):
    _login(client, "Coordinator")
    assert client.get(reverse("intake", args=[patient.public_id, "no_such_phase"])).status_code == 404


@pytest.mark.parametrize("role", ["Coordinator", "Physician"])
def test_admin_site_is_refused(client, role):
    user = _login(client, role)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert urlsplit(response.url).path == reverse("admin:login")
    page = client.get(response.url)
    assert f"You are authenticated as {user.username}, but are not authorized" in page.content.decode()
    assert client.get(reverse("admin:auth_user_changelist")).status_code == 302
