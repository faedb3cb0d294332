"""The criteria-v2 values in words on every screen that shows a recorded value (the checklist's values
used, the history, the audit export): measurements with their unit symbol and date, AST/ALT with the
upper limit of normal, washouts, drug classes, date-times, and the values rules 31, 32, 36 and 37
compute (``derived``), built by hand in the shapes of criteria-v2 6.2 and 6.3."""

from __future__ import annotations

import pytest

from eligibility.common.display import derived_text, input_label, input_text, inputs_text
from eligibility.patients.exports import assessment_field_words


@pytest.mark.parametrize(("path", "value", "shown"), [
    ("labs.bilirubin", {"value": 0.8, "unit": "mg/dL", "measured_on": "2026-03-09"},
     "0.8 mg/dL, measured on 9 Mar 2026"),
    ("labs.ast", {"value": 35, "unit": "U/L", "uln": 40, "measured_on": "2026-03-09"},
     "35 U/L (upper limit of normal 40 U/L), measured on 9 Mar 2026"),
    ("labs.platelets", {"value": 60, "unit": "10^9/L"}, "60 ×10⁹/L"),
    ("labs.anc", {"value": 1500, "unit": "cells/uL", "measured_on": "2026-03-09"},
     "1500 cells/µL, measured on 9 Mar 2026"),
    ("labs.ferritin", {"value": 500, "unit": "ug/L"}, "500 µg/L"),
    ("lvef", {"value": 55, "unit": "%", "measured_on": "2026-03-01"}, "55%, measured on 1 Mar 2026"),
    ("alc", {"value": 450, "unit": "cells/uL", "measured_on": "2026-02-09"}, "450 cells/µL, measured on 9 Feb 2026"),
    ("alc", {"value": 0.6, "unit": "10^9/L"}, "0.6 ×10⁹/L"),  # version 1's value: as before
    ("temperature", {"value": 101.2, "unit": "F", "measured_at": "2026-03-17T07:45"},
     "101.2 °F, taken 17 Mar 2026 07:45"),
    ("washout.systemic_corticosteroids", {"status": "stopped", "last_dose_at": "2026-01-30T08:00"},
     "stopped, last dose 30 Jan 2026 08:00"),
    ("washout.cytotoxic_chemotherapy", {"status": "stopped", "last_dose_on": "2026-02-18"},
     "stopped, last dose 18 Feb 2026"),
    ("washout.cytotoxic_chemotherapy", {"status": "never"}, "never received"),
    ("prior_drug_classes", ["btk_inhibitor", "bcl2_inhibitor"], "BTK inhibitor, BCL-2 inhibitor"),
    ("prior_drug_classes", [], "none"),
    ("first_line_response", "relapse_within_12_months", "relapse within 12 months of first-line therapy"),
    ("gvhd.chronic", "extensive", "extensive"),
    ("infections.sars_cov_2_tested_on", "2026-03-08", "8 Mar 2026"),
    ("lymphodepletion_start_date", "2026-03-12", "12 Mar 2026"),
    ("product_manufacture_confirmed", True, "yes"),
])
def test_a_new_value_in_words(path, value, shown):
    assert input_text(path, value) == shown


@pytest.mark.parametrize(("field", "value", "words"), [
    ("data.labs.bilirubin.measured_on", "2026-03-09", ("Total bilirubin measured on", "9 Mar 2026")),
    ("data.labs.anc.unit", "10^9/L", ("Absolute neutrophil count (unit)", "×10⁹/L")),
    ("data.labs.ast.uln", 40, ("AST upper limit of normal (U/L)", "40")),
    ("data.temperature.measured_at", "2026-03-17T07:45", ("Temperature taken at", "17 Mar 2026 07:45")),
    ("data.washout.systemic_corticosteroids.last_dose_at", "2026-01-30T08:00:30",
     ("Last dose of systemic corticosteroids (date and time)", "30 Jan 2026 08:00:30")),
    ("data.washout.cytotoxic_chemotherapy.status", "ongoing", ("Cytotoxic chemotherapy", "ongoing")),
    ("data.prior_drug_classes", ["imid", "anti_cd38"],
     ("Drug classes received in prior lines", "immunomodulatory drug (IMiD), anti-CD38 antibody")),
])
def test_the_audit_export_names_each_member_in_words(field, value, words):
    """The audit trail flattens objects to their members (``data.labs.bilirubin.measured_on``)."""
    assert assessment_field_words(field, value) == words


def test_a_member_path_has_a_label():
    assert input_label("labs.platelets.measured_on") == "Platelets measured on"
    assert input_label("alc.measured_on") == "Absolute lymphocyte count measured on"


def test_version_1_items_read_as_before():
    assert derived_text(None) == []
    assert inputs_text({"alc": {"value": 0.15, "unit": "10^9/L"}}) == [("Absolute lymphocyte count", "0.15 ×10⁹/L")]


HEMATOTOX = {
    "code": "car_hematotox", "phase": "pre_lymphodepletion", "title": "CAR-HEMATOTOX score", "status": "flag",
    "reason": "CAR-HEMATOTOX 3 of 7 (high risk, 2 or more): ...", "source": "Rejeski et al., Blood 2021",
    "inputs": {
        "lymphodepletion_start_date": "2026-03-12",
        "labs.platelets": {"value": 60, "unit": "10^9/L", "measured_on": "2026-03-09"},
        "labs.anc": {"value": 1500, "unit": "cells/uL", "measured_on": "2026-03-09"},
        "labs.haemoglobin": {"value": 10.2, "unit": "g/dL", "measured_on": "2026-03-09"},
        "labs.crp": {"value": 4.1, "unit": "mg/dL", "measured_on": "2026-03-09"},
        "labs.ferritin": None,
    },
    "derived": {"score": 3, "risk": "high", "points": {"platelets": 2, "anc": 0, "haemoglobin": 0, "crp": 1,
                                                       "ferritin": 0}, "partial_score": 3},
}


@pytest.mark.django_db
def test_the_checklist_shows_inputs_under_their_path_and_derived_values_in_words(client):
    """An item of rule 36 as criteria-v2 6.3 shows it (built by hand: the rule is written elsewhere),
    stored in a patient's checklist: the page lists its inputs and computed values in words."""
    from django.urls import reverse

    from eligibility.models import Assessment
    from eligibility.patients import services
    from eligibility.review.presenters import checklist_view_model
    from tests.factories import PatientFactory, UserFactory

    coordinator = UserFactory(role="Coordinator")
    patient = PatientFactory(by=coordinator)
    assessment = Assessment.objects.get(patient=patient)
    services.assessment_update(assessment=assessment, changes={"ecog": 1}, stage="pre_lymphodepletion",
                               revision=0, by=coordinator)
    evaluation = Assessment.objects.get(patient=patient).current_evaluation
    evaluation.checklist = {**evaluation.checklist, "items": [*evaluation.checklist["items"], HEMATOTOX]}
    evaluation.save(update_fields=["checklist"])

    row = next(row for row in checklist_view_model(evaluation)["all_items"] if row["code"] == "car_hematotox")
    shown = dict(row["inputs_text"])
    # Dates YYYY-MM-DD; a dated value with its distance to its rule's anchor (issue 14).
    assert shown["Lymphodepletion start date (planned or done)"] == "2026-03-12"
    assert shown["Platelets"] == "60 ×10⁹/L, measured 2026-03-09, 3 days before lymphodepletion"
    assert shown["Absolute neutrophil count"] == "1500 cells/µL, measured 2026-03-09, 3 days before lymphodepletion"
    assert shown["Ferritin"] == "not recorded"
    assert shown["CAR-HEMATOTOX score"] == "3 of 7, high risk"
    assert shown["CAR-HEMATOTOX points"] == "platelets 2, ANC 0, haemoglobin 0, CRP 1, ferritin 0"
    client.force_login(coordinator)
    page = client.get(reverse("checklist", args=[patient.public_id])).content.decode()
    assert "CAR-HEMATOTOX score: 3 of 7, high risk" in page
    assert "C-reactive protein (CRP): 4.1 mg/dL, measured 2026-03-09, 3 days before lymphodepletion" in page


@pytest.mark.parametrize(("derived", "rows"), [
    ({"score": None, "risk": None, "points": {"platelets": 2, "anc": None, "haemoglobin": 0, "crp": None,
                                              "ferritin": 2}, "partial_score": 4},
     [("CAR-HEMATOTOX score", "not computed (partial score 4 from the values current)"),
      ("CAR-HEMATOTOX points", "platelets 2, ANC not current, haemoglobin 0, CRP not current, ferritin 2")]),
    ({"bilirubin_umol_l": 34.2, "ast_x_uln": 4.0, "alt_x_uln": None},
     [("Total bilirubin, as compared", "34.2 µmol/L"), ("AST, multiple of the upper limit of normal", "4.00 ×ULN"),
      ("ALT, multiple of the upper limit of normal", "not computed")]),
    ({"crcl_ml_min": 78, "crcl_source": "cockcroft_gault"},
     [("Creatinine clearance used", "78 mL/min (Cockcroft-Gault estimate)")]),
    ({"crcl_ml_min": 64, "crcl_source": "recorded"}, [("Creatinine clearance used", "64 mL/min (measured)")]),
    ({"crcl_ml_min": None, "crcl_source": None}, [("Creatinine clearance used", "not computed")]),
    ({"easix": 2.35, "log2_easix": 1.23, "m_easix": None},
     [("EASIX", "2.35"), ("log2(EASIX)", "1.23"), ("m-EASIX", "not computed")]),
])
def test_derived_values_in_words(derived, rows):
    assert derived_text(derived) == rows
