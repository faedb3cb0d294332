"""What the checklist page shows beside an item: the thresholds it was judged by."""

from __future__ import annotations

import pytest

from eligibility.patients import services
from eligibility.review.presenters import checklist_view_model
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db


def indication_thresholds(**data):
    patient = PatientFactory()
    evaluation = services.assessment_update(assessment=patient.assessment, changes=data, stage="screening",
                                            revision=patient.assessment.revision, by=patient.created_by)
    item = next(item for item in checklist_view_model(evaluation)["all_items"] if item["code"] == "indication")
    return [(threshold["label"], threshold["value"]) for threshold in item["thresholds"]]


def test_the_indication_shows_the_minimum_prior_lines_of_the_patients_diagnosis_only():
    assert indication_thresholds(diagnosis="lbcl") == [("Minimum prior lines, LBCL", "2")]
    assert indication_thresholds(diagnosis="mm") == [("Minimum prior lines, MM", "1")]
    assert indication_thresholds(diagnosis="b_all") == []  # no minimum for B-ALL


def test_without_a_diagnosis_every_minimum_is_shown():
    assert [label for label, _ in indication_thresholds(age_years=40)] == [
        "Minimum prior lines, LBCL", "Minimum prior lines, FL", "Minimum prior lines, MCL",
        "Minimum prior lines, CLL", "Minimum prior lines, MM"]
