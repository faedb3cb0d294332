"""Every page's title (the browser tab, the history, what a screen reader announces first) names the
patient, where there is one, and the page: "CART-002 · Checklist · CAR-T readiness"."""

from __future__ import annotations

import html
import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from eligibility.patients import services
from eligibility.patients.fields import SECTIONS
from eligibility.rulesets import services as rulesets
from tests.factories import PatientFactory, UserFactory
from tests.rulesets.previews import previewed

pytestmark = [pytest.mark.django_db, pytest.mark.filterwarnings("ignore:No directory at:UserWarning")]

ROOT = Path(__file__).resolve().parent.parent
SUFFIX = " · CAR-T readiness"


def _title(response) -> str:
    assert response.status_code == 200, response.status_code
    found = re.findall(r"<title>(.*?)</title>", response.content.decode(), re.DOTALL)
    assert len(found) == 1
    return html.unescape(" ".join(found[0].split()))


@pytest.fixture
def people():
    return {role: UserFactory(role=role) for role in ("Coordinator", "Physician", "Administrator")}


@pytest.fixture
def patient(people):
    patient = PatientFactory(by=people["Coordinator"], study_id="CART-002", initials="JD")
    assessment = patient.assessment
    services.assessment_update(assessment=assessment, changes={"ecog": 4}, stage="screening",
                               revision=assessment.revision, by=people["Coordinator"])
    return patient


def test_every_page_type_names_the_patient_and_the_page(client, people, patient):
    first = patient.assessment.evaluations.order_by("pk").first()
    pages = [
        ("Coordinator", reverse("worklist"), "Worklist"),
        ("Coordinator", reverse("patient_create"), "New patient"),
        ("Coordinator", reverse("this_week"), "This week"),
        ("Physician", reverse("this_week"), "This week"),
        ("Coordinator", reverse("patient_detail", args=[patient.public_id]), "CART-002 · Patient and history"),
        ("Coordinator", reverse("checklist", args=[patient.public_id]), "CART-002 · Checklist"),
        ("Physician", reverse("checklist", args=[patient.public_id]), "CART-002 · Checklist"),
        ("Coordinator", reverse("evaluation_detail", args=[first.public_id]),
         f"CART-002 · Past checklist of {timezone.localtime(first.created_at):%Y-%m-%d %H:%M}"),
        ("Coordinator", reverse("patient_identity", args=[patient.public_id]), "CART-002 · Correct identifier"),
        ("Coordinator", reverse("key_dates", args=[patient.public_id]), "CART-002 · Key dates"),
        ("Physician", reverse("key_dates", args=[patient.public_id]), "CART-002 · Key dates"),
        ("Coordinator", reverse("patient_withdraw", args=[patient.public_id]), "CART-002 · Withdraw"),
        ("Coordinator", reverse("episode_start", args=[patient.public_id]), "CART-002 · New episode"),
        ("Physician", reverse("episode_close", args=[patient.assessment.public_id]), "CART-002 · Close episode"),
        ("Administrator", reverse("episode_detail", args=[patient.assessment.public_id]), "CART-002 · Episode 1"),
        ("Administrator", reverse("withdrawn_patients"), "Withdrawn patients"),
        ("Administrator", reverse("ruleset_list"), "Rule sets"),
        ("Administrator", reverse("ruleset_detail", args=[1]), "Rule set version 1"),
        ("Administrator", reverse("user_list"), "Users"),
        ("Administrator", reverse("audit_export"), "Audit export"),
        ("Administrator", reverse("locks"), "Sign-in locks"),
        ("Coordinator", reverse("password_change"), "Change your password"),
        ("Coordinator", reverse("otp_overview"), "Two-factor sign-in"),
        ("Physician", reverse("episode_timeline", args=[patient.assessment.public_id]), "CART-002 · Timeline"),
        # The card is handed to the patient: no identifier, not even in the title a browser prints.
        ("Coordinator", reverse("episode_card", args=[patient.assessment.public_id]), "Patient card"),
    ]
    intake = {"screening": "Intake: screening", "pre_apheresis": "Intake: before leukapheresis",
              "pre_lymphodepletion": "Intake: before lymphodepletion", "pre_infusion": "Intake: before infusion"}
    assert set(intake) == {code for code, _, _ in SECTIONS}
    pages += [("Coordinator", reverse("intake", args=[patient.public_id, code]), f"CART-002 · {title}")
              for code, title in intake.items()]
    for role, url, title in pages:
        client.force_login(people[role])
        assert _title(client.get(url)) == title + SUFFIX, url


def test_rule_set_preview_and_user_titles(client, people):
    administrator = people["Administrator"]
    draft = rulesets.ruleset_draft_create(by=administrator)
    rulesets.ruleset_thresholds_update(draft=draft, values={"alc_min_1e9_per_l": Decimal("0.1")}, by=administrator)
    client.force_login(administrator)
    assert _title(previewed(client, draft)) == (
        f"Rule set version {draft.version} · Preview" + SUFFIX)
    assert _title(client.get(reverse("ruleset_detail", args=[draft.version]))) == (
        f"Rule set version {draft.version}" + SUFFIX)
    subject = people["Coordinator"]
    assert _title(client.get(reverse("user_detail", args=[subject.pk]))) == f"User {subject.username}" + SUFFIX


def test_a_refused_identifier_correction_keeps_the_saved_identifier_in_the_title(client, people, patient):
    PatientFactory(by=people["Coordinator"], study_id="CART-003")
    client.force_login(people["Coordinator"])
    response = client.post(reverse("patient_identity", args=[patient.public_id]),
                           {"study_id": "CART-003", "initials": "JD"})
    assert _title(response) == "CART-002 · Correct identifier" + SUFFIX


def test_sign_in_and_error_pages_have_their_own_title(client, people):
    assert _title(client.get(reverse("login"))) == "Sign in" + SUFFIX
    client.force_login(people["Coordinator"])
    response = client.get("/patients/00000000-0000-0000-0000-000000000000/")
    assert response.status_code == 404
    assert re.search(r"<title>Not found · CAR-T readiness</title>", response.content.decode())


def test_every_page_template_has_a_title_of_its_own():
    """A template that extends the base layout without a title block would read "CAR-T readiness
    · CAR-T readiness" in every tab."""
    templates = [path for folder in ("templates", "eligibility", "accounts")
                 for path in (ROOT / folder).rglob("*.html")]
    pages = [path for path in templates if '{% extends "base.html" %}' in path.read_text()]
    assert len(pages) >= 25
    for path in pages:
        block = re.search(r"{% block title %}(.*?){% endblock %}", path.read_text(), re.DOTALL)
        assert block and block.group(1).strip(), path
