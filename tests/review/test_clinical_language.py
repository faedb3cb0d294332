"""Every screen speaks in clinical language (issue 12, item 2): for full synthetic cases, the
checklist, the patient's history and the rule-set impact preview show labels and words, never a
case key, a choice's code, a product code, a plain-text unit or a whole number with ".0"."""

from __future__ import annotations

import html
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from eligibility.models import Assessment
from eligibility.patients import services
from eligibility.rules import CHOICES, DEFAULT_PRODUCTS, LABELS, synthetic_cases
from eligibility.rulesets import services as rulesets
from tests.factories import PatientFactory, UserFactory
from tests.rulesets.previews import previewed

pytestmark = pytest.mark.django_db

#: What must never reach a page: case paths and choice codes written with "_" or ".", the case keys
#: whose words are not English (``ecog``, ``alc``, ``mrd``), product codes, plain-text units.
CODES = sorted({*(path for path in LABELS if "_" in path or "." in path),
                *(code for words in CHOICES.values() for code in words if "_" in code),
                *(product.code for product in DEFAULT_PRODUCTS), "ecog", "alc", "mrd"})
PLAIN_UNITS = ("x10^9/L", "10^9/L", "cells/uL")
WHOLE_WITH_POINT_ZERO = re.compile(r"(?<![\d.])\d+\.0(?![\d])")
#: Several synthetic cases, each recorded up to the infusion stage (every phase has values).
CASES = [{key: value for key, value in case.items() if key not in ("case_id", "stage")}
         for case in synthetic_cases(4, seed=12)]


def visible_text(page: bytes) -> str:
    """What a person reads: the page without its tags, scripts and attributes."""
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", page.decode(), flags=re.DOTALL)
    return html.unescape(" ".join(re.sub(r"<[^>]+>", " ", text).split()))


def assert_clinical(text: str, allowed: frozenset[str] = frozenset()) -> None:
    found = [code for code in CODES if code not in allowed
             and re.search(rf"(?<![\w.-]){re.escape(code)}(?![\w-])", text)]
    assert not found, f"codes on the page: {found}"
    assert not [unit for unit in PLAIN_UNITS if unit in text]
    assert not WHOLE_WITH_POINT_ZERO.findall(text), WHOLE_WITH_POINT_ZERO.findall(text)
    assert "(s)" not in text


def test_the_check_sees_a_case_key_a_code_and_a_point_zero():
    for bad in ("infections.hbv_prophylaxis: yes", "Regimen flu_cy", "Weight 19.0 kg", "ALC 1 x10^9/L",
                "Product tisagenlecleucel", "ecog: 1", "2 prior line(s)"):
        with pytest.raises(AssertionError):
            assert_clinical(bad)
    assert_clinical("HBV antiviral prophylaxis in place: yes. Weight 19 kg, 19.05 kg. ECOG 1. Kymriah.")


@pytest.fixture
def recorded():
    """One patient per synthetic case, recorded at the infusion stage."""
    coordinator = UserFactory(role="Coordinator")
    patients = []
    for index, case in enumerate(CASES):
        patient = PatientFactory(study_id=f"SYN-{index}", by=coordinator)
        assessment = Assessment.objects.get(patient=patient)
        services.assessment_update(assessment=assessment, changes=case, stage="pre_infusion",
                                   revision=assessment.revision, by=coordinator)
        patients.append(patient)
    return patients


def test_the_cases_cover_every_kind_of_value():
    recorded = {path for case in CASES for path in case}
    assert {"alc", "temperature", "product", "lymphodepletion", "infections", "organ_function"} <= recorded
    assert any(isinstance(case.get("weight_kg"), float) for case in CASES)


def test_the_checklist_and_the_history_show_labels_and_words(recorded, client):
    client.force_login(UserFactory(role="Physician"))
    for patient in recorded:
        checklist = client.get(reverse("checklist", args=[patient.public_id]))
        assert checklist.status_code == 200
        text = visible_text(checklist.content)
        assert_clinical(text)
        assert "Planned lymphodepletion:" in text and "Absolute lymphocyte count:" in text
        history = visible_text(client.get(reverse("patient_detail", args=[patient.public_id])).content)
        assert_clinical(history)
        assert "Renal (kidney tests)" in history


def test_the_impact_preview_shows_labels_and_words(recorded, client):
    administrator = UserFactory(role="Administrator")
    draft = rulesets.ruleset_draft_create(by=administrator)
    values = dict(draft.thresholds.values_list("key", "value"))
    rulesets.ruleset_thresholds_update(draft=draft, values={**values, "alc_min_1e9_per_l": Decimal("5"),
                                                            "fever_c": Decimal("36")}, by=administrator)
    client.force_login(administrator)
    page = previewed(client, draft)
    assert page.status_code == 200
    text = visible_text(page.content)
    assert "Absolute lymphocyte count" in text  # an item that changes, by its title
    assert_clinical(text)
    # The draft's page: administrators edit the catalogue by product code (how cases name a product).
    detail = visible_text(client.get(reverse("ruleset_detail", args=[draft.version])).content)
    assert_clinical(detail, allowed=frozenset(product.code for product in DEFAULT_PRODUCTS))
    assert "B-ALL, large B-cell lymphoma (LBCL), follicular lymphoma (FL)" in detail  # Kymriah's diagnoses
