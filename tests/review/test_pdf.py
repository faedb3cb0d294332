"""The signed checklist PDF read back (issue 12, item 3): who and what on every page, page x of y, the
time zone, decision times, a voided copy's VOID, title and file name."""

from __future__ import annotations

import datetime as dt
import io
import json
import re

import pytest
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from eligibility.models import Assessment, SignOff
from eligibility.patients import services
from eligibility.review import services as review
from tests.conftest import EXAMPLES_DIR
from tests.factories import PASSWORD, PatientFactory, UserFactory

pytestmark = pytest.mark.django_db
#: A full case at the infusion stage (every phase has values): a worked example of docs/examples.
FULL_CASE = json.loads((EXAMPLES_DIR / "03-deferred.json").read_text())["case"]


@pytest.fixture
def physician():
    return UserFactory(role="Physician", first_name="Robin", last_name="Lee")


@pytest.fixture
def coordinator():
    return UserFactory(role="Coordinator", first_name="Casey", last_name="Jones")


@pytest.fixture
def signed(coordinator, physician, settings):
    """A patient evaluated at the infusion stage, every item decided and signed at a known time."""
    settings.TIME_ZONE = "Europe/London"
    patient = PatientFactory(study_id="CART-002", initials="QX", by=coordinator)
    assessment = Assessment.objects.get(patient=patient)
    changes = {key: value for key, value in FULL_CASE.items() if key not in ("case_id", "stage")}
    evaluation = services.assessment_update(assessment=assessment, changes=changes, stage="pre_infusion",
                                            revision=assessment.revision, by=coordinator)
    for item in evaluation.checklist["items"]:
        if item["status"] == "flag":
            review.disposition_record(evaluation=evaluation, code=item["code"], kind="acknowledged", by=physician)
        elif item["status"] in ("defer", "exclude", "missing"):
            review.disposition_record(evaluation=evaluation, code=item["code"], kind="accepted", by=physician,
                                      reason_code="", justification="")
    signoff = review.signoff_create(evaluation=evaluation, password=PASSWORD, by=physician)
    # 1 July 2026 09:05 UTC is 10:05 in London (summer time): the file name and pages say 10:05.
    SignOff.objects.filter(pk=signoff.pk).update(signed_at=dt.datetime(2026, 7, 1, 9, 5, tzinfo=dt.UTC))
    signoff.refresh_from_db()
    return patient, evaluation, signoff


def pdf_pages(client, signoff) -> tuple[object, PdfReader, list[str]]:
    """The response, its PDF and the text of each page (white space made single spaces)."""
    response = client.get(reverse("signoff_pdf", args=[signoff.public_id]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(response.content))
    return response, reader, [" ".join(page.extract_text().split()) for page in reader.pages]


def test_every_page_names_the_patient_the_stage_the_version_and_its_number(signed, client, physician):
    patient, _, signoff = signed
    client.force_login(physician)
    _, _, pages = pdf_pages(client, signoff)
    assert len(pages) >= 5  # the signature, then one phase a page
    for number, text in enumerate(pages, 1):
        assert "Patient CART-002 (QX)" in text, number
        assert "Stage: Before infusion" in text, number
        assert "Episode 1" in text, number  # a re-treated patient's signed copies tell their episodes apart
        assert "Rule-set version 1" in text, number
        assert f"Page {number} of {len(pages)}" in text, number
        assert "Times are shown in Europe/London" in text, number
        assert "VOID" not in text, number


def test_the_title_file_name_time_zone_and_decision_times(signed, client, physician):
    patient, evaluation, signoff = signed
    client.force_login(physician)
    response, reader, pages = pdf_pages(client, signoff)
    assert response["Content-Disposition"] == 'attachment; filename="signed-checklist-CART-002-2026-07-01-1005.pdf"'
    assert reader.metadata.title == "CAR-T readiness checklist: signed"
    text = " ".join(pages)
    assert "CAR-T readiness checklist: signed" in pages[0]
    assert "Signed by Robin Lee on 2026-07-01 10:05:00." in text  # in the programme's zone, not UTC
    decided = [disposition.decided_at for disposition in signoff.evaluation.dispositions.all()]
    assert decided
    for when in decided:
        assert f"(decided {timezone.localtime(when):%Y-%m-%d %H:%M})" in text
    # The URL that fetched it names no patient.
    assert patient.study_id not in reverse("signoff_pdf", args=[signoff.public_id])


def test_the_pdf_speaks_in_clinical_language(signed, client, physician):
    _, _, signoff = signed
    client.force_login(physician)
    text = " ".join(pdf_pages(client, signoff)[2])
    for words in ("Product: Yescarta", "Diagnosis: large B-cell lymphoma (LBCL)",
                  "Absolute lymphocyte count: 0.6 ×10⁹/L", "Temperature: 101.2 °F",
                  "Planned lymphodepletion: fludarabine + cyclophosphamide",
                  "Infectious-disease markers drawn on: 2026-09-15", "HBV antiviral prophylaxis in place: no",
                  "Temperature 101.2 °F = 38.4 °C is at or above 38 °C"):
        assert words in text, words
    for code in ("infections.", "organ_function.", "axicabtagene", "flu cy", "x10^9", "lbcl:", "hbv_prophylaxis"):
        assert code not in text, code


def test_a_voided_copy_says_void_on_every_page_with_its_own_title_and_file_name(signed, client, physician,
                                                                                 coordinator):
    patient, _, signoff = signed
    assessment = Assessment.objects.get(patient=patient)
    services.assessment_update(assessment=assessment, changes={"ecog": 0}, stage="pre_infusion",
                               revision=assessment.revision, by=coordinator)
    signoff.refresh_from_db()
    assert signoff.is_void
    client.force_login(physician)
    response, reader, pages = pdf_pages(client, signoff)
    assert response["Content-Disposition"] == 'attachment; filename="voided-checklist-CART-002-2026-07-01-1005.pdf"'
    assert reader.metadata.title.startswith("Voided")
    assert pages[0].count("Voided CAR-T readiness checklist") >= 1
    for number, text in enumerate(pages, 1):
        assert "VOID" in text, number
        assert "Patient CART-002 (QX)" in text and f"Page {number} of {len(pages)}" in text, number
    # Why it was voided, by label: not a case key.
    assert "Data changed by Casey Jones: ECOG performance status." in " ".join(pages)


@pytest.mark.parametrize(("study_id", "name"), [("CART/7 b", "CART-7-b"), ("../x", "x"), ("ÉTUDE-1", "TUDE-1")])
def test_the_file_name_holds_only_safe_characters(signed, client, physician, study_id, name):
    patient, _, signoff = signed
    type(patient).objects.filter(pk=patient.pk).update(study_id=study_id)
    client.force_login(physician)
    response = client.get(reverse("signoff_pdf", args=[signoff.public_id]))
    assert re.fullmatch(r'attachment; filename="signed-checklist-[A-Za-z0-9._-]+-2026-07-01-1005\.pdf"',
                        response["Content-Disposition"])
    assert f"-{name}-2026" in response["Content-Disposition"]
