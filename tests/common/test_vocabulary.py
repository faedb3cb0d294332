"""One vocabulary for screens: units in one spelling, stages and people named one way."""

from __future__ import annotations

from typing import get_args

import pytest
from django.template import Context, Template
from django.urls import reverse

from eligibility.common.vocabulary import NEXT_STEP, STAGE_LABELS, STAGE_WHERE, UNITS, unit_text
from eligibility.patients import services
from eligibility.rules import PHASES, TEMPERATURE_RANGES, THRESHOLDS, AlcUnit
from tests.factories import PatientFactory, UserFactory

#: Every unit a case or a threshold stores.
STORED_UNITS = sorted({*get_args(AlcUnit), *TEMPERATURE_RANGES, *(spec.unit for spec in THRESHOLDS if spec.unit)})


def test_the_alc_is_written_one_way_whether_a_case_or_a_threshold_stores_it():
    assert unit_text("10^9/L") == unit_text("x10^9/L") == "×10⁹/L"
    assert unit_text("cells/uL") == "cells/µL"
    assert (unit_text("C"), unit_text("F")) == ("°C", "°F")


@pytest.mark.parametrize("code", STORED_UNITS)
def test_every_stored_unit_has_a_screen_spelling_without_plain_text_stand_ins(code):
    shown = unit_text(code)
    assert shown and "^" not in shown and "uL" not in shown and shown not in ("C", "F")


def test_units_without_a_screen_spelling_are_shown_as_stored():
    assert unit_text("weeks") == "weeks" and "weeks" not in UNITS
    assert unit_text("") == "" and unit_text(None) == ""


def test_every_stage_has_its_words():
    assert list(STAGE_LABELS) == list(PHASES) == list(STAGE_WHERE) == list(NEXT_STEP)
    assert STAGE_WHERE == {"screening": "at screening", "pre_apheresis": "before leukapheresis",
                           "pre_lymphodepletion": "before lymphodepletion", "pre_infusion": "before infusion"}


@pytest.mark.django_db
@pytest.mark.parametrize(("first", "last", "shown"), [
    ("Cora", "Ordinator", "Cora Ordinator"),
    ("", "", "casey"),  # no name recorded: the user name
])
def test_the_template_filter_prints_a_persons_name(first, last, shown):
    user = UserFactory(username="casey", first_name=first, last_name=last)
    template = Template("{% load vocabulary %}[{{ person|display_name }}]")
    assert template.render(Context({"person": user})) == f"[{shown}]"


def test_the_template_filter_says_system_for_no_person():
    assert Template("{% load vocabulary %}{{ person|display_name }}").render(Context({"person": None})) == "system"


@pytest.mark.django_db
def test_the_rule_set_pages_write_the_alc_threshold_in_the_screen_spelling(client):
    client.force_login(UserFactory(role="Administrator"))
    active = client.get(reverse("ruleset_detail", args=[1])).content.decode()
    assert "<td>Minimum ALC before leukapheresis</td><td>0.2 ×10⁹/L</td>" in active
    client.post(reverse("ruleset_list"))  # a draft: its thresholds are a form
    draft = client.get(reverse("ruleset_detail", args=[2])).content.decode()
    assert "Minimum ALC before leukapheresis (×10⁹/L)" in draft
    assert "10^9" not in active + draft


@pytest.mark.django_db
def test_the_checklist_shows_the_recorded_alc_and_its_threshold_in_the_screen_spelling(client):
    patient = PatientFactory()
    services.assessment_update(assessment=patient.assessment, changes={"alc": {"value": 150, "unit": "cells/uL"}},
                               stage="pre_apheresis", revision=patient.assessment.revision, by=patient.created_by)
    client.force_login(UserFactory(role="Physician"))
    page = client.get(reverse("checklist", args=[patient.public_id])).content.decode()
    assert "150 cells/µL" in page  # the recorded value
    assert "0.2 ×10⁹/L" in page  # the threshold the item was judged by
    # The engine's reason is a record: quoted as it was written.
    assert "ALC 150 cells/uL = 0.15 x10^9/L is below the recommended 0.2 x10^9/L" in page
