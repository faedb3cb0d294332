"""No page or file that can show patient data is kept in a browser's or a proxy's cache."""

from __future__ import annotations

import pytest
from django.urls import reverse

from eligibility.models import Assessment, RuleSet
from eligibility.patients import services
from eligibility.review import services as review
from eligibility.rules import PHASES
from eligibility.rulesets import services as rulesets
from tests.factories import PASSWORD, SCREENING_TO_REVIEW, PatientFactory, UserFactory

pytestmark = pytest.mark.django_db


def assert_not_stored(response):
    directives = {part.strip() for part in response["Cache-Control"].split(",")}
    assert {"no-store", "no-cache", "private", "max-age=0", "must-revalidate"} <= directives, response["Cache-Control"]
    assert response["Pragma"] == "no-cache"
    assert "Expires" in response


@pytest.fixture
def signed():
    """A patient at screening whose checklist a physician has signed: every kind of patient page."""
    coordinator = UserFactory(role="Coordinator")
    physician = UserFactory(role="Physician")
    patient = PatientFactory(by=coordinator)
    assessment = Assessment.objects.get(patient=patient)
    evaluation = services.assessment_update(assessment=assessment, changes=SCREENING_TO_REVIEW, stage="screening",
                                            revision=assessment.revision, by=coordinator)
    review.disposition_record(evaluation=evaluation, code="viral_infection", kind="accepted", by=physician)
    review.disposition_record(evaluation=evaluation, code="hbv", kind="acknowledged", by=physician)
    signoff = review.signoff_create(evaluation=evaluation, password=PASSWORD, by=physician)
    return patient, evaluation, signoff, coordinator, physician


def test_every_patient_page_and_the_signed_pdf_say_no_store(client, signed):
    patient, evaluation, signoff, coordinator, physician = signed
    urls = [
        reverse("worklist"),
        reverse("patient_detail", args=[patient.public_id]),
        *(reverse("intake", args=[patient.public_id, phase]) for phase in PHASES),
        reverse("checklist", args=[patient.public_id]),
        reverse("evaluation_detail", args=[evaluation.public_id]),
        reverse("signoff_pdf", args=[signoff.public_id]),
    ]
    client.force_login(coordinator)
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        assert_not_stored(response)
    assert response["Content-Type"] == "application/pdf"
    client.force_login(physician)  # the physician's worklist (with the queue) and checklist (with controls)
    for url in (reverse("worklist"), reverse("checklist", args=[patient.public_id])):
        assert_not_stored(client.get(url))


def test_a_saved_form_and_its_redirect_say_no_store(client, signed):
    patient, _, _, coordinator, _ = signed
    client.force_login(coordinator)
    response = client.post(reverse("patient_create"), {"study_id": "CC-0001", "initials": "XY"})
    assert response.status_code == 302
    assert_not_stored(response)
    refused = client.post(reverse("patient_create"), {"study_id": "", "initials": "XY"})  # typed values shown again
    assert refused.status_code == 200
    assert_not_stored(refused)


def test_rule_set_pages_say_no_store(client):
    administrator = UserFactory(role="Administrator")
    draft = rulesets.ruleset_draft_create(by=administrator)
    client.force_login(administrator)
    for url in (reverse("ruleset_list"), reverse("ruleset_detail", args=[1]),
                reverse("ruleset_detail", args=[draft.version]), reverse("ruleset_preview", args=[draft.version])):
        response = client.get(url)
        assert response.status_code == 200, url
        assert_not_stored(response)
    assert RuleSet.objects.count() == 2


def test_the_login_page_and_refusals_say_no_store(client):
    assert_not_stored(client.get(reverse("login")))
    assert_not_stored(client.get(reverse("worklist")))  # the redirect to sign in
    client.force_login(UserFactory(role="Coordinator"))
    assert_not_stored(client.get(reverse("ruleset_list")))  # 403


def test_static_files_stay_cacheable(client):
    """The rule is for the application's responses: WhiteNoise answers static files before it."""
    response = client.get("/static/css/app.css")
    assert response.status_code == 200
    assert "no-store" not in response.get("Cache-Control", "")
    assert "Pragma" not in response
