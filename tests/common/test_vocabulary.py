"""One vocabulary for screens: units in one spelling, stages and people named one way."""

from __future__ import annotations

from decimal import Decimal
from typing import get_args

import msgspec.inspect as schema
import pytest
from django.template import Context, Template
from django.urls import reverse

from eligibility.common.display import diagnoses_text, input_error_text, input_label, input_text, label_with_unit
from eligibility.common.vocabulary import NEXT_STEP, STAGE_LABELS, STAGE_WHERE, UNITS, unit_text
from eligibility.patients import services
from eligibility.patients.fields import FIELDS
from eligibility.rules import (
    CHOICES,
    DEFAULT_PRODUCTS,
    DIAGNOSIS,
    DRUG_CLASS,
    LABELS,
    MEASUREMENT_RANGES,
    PHASES,
    TEMPERATURE_RANGES,
    THRESHOLDS,
    AlcUnit,
    Case,
    Diagnosis,
    DrugClass,
    WashoutStatus,
    case_field_types,
    count,
    measure,
    unit_symbol,
)
from tests.factories import PatientFactory, UserFactory


def _measurement_units() -> set[str]:
    """The units of every measurement object of the case (criteria-v2 4.2): a ``unit`` member's values,
    or the tags of a union tagged by unit."""
    units: set[str] = set()

    def walk(info):
        if isinstance(info, schema.UnionType):
            for member in info.types:
                walk(member)
        elif isinstance(info, schema.StructType):
            if info.tag_field == "unit":
                units.add(info.tag)
            for field in info.fields:
                if field.name == "unit" and isinstance(field.type, schema.LiteralType):
                    units.update(field.type.values)
                else:
                    walk(field.type)

    walk(schema.type_info(Case))
    return units


#: Every unit a case or a threshold stores.
STORED_UNITS = sorted({*get_args(AlcUnit), *TEMPERATURE_RANGES, *(spec.unit for spec in THRESHOLDS if spec.unit),
                       *_measurement_units()})


def test_the_alc_is_written_one_way_whether_a_case_or_a_threshold_stores_it():
    assert unit_text("10^9/L") == unit_text("x10^9/L") == "×10⁹/L"
    assert unit_text("cells/uL") == "cells/µL"
    assert (unit_text("C"), unit_text("F")) == ("°C", "°F")


@pytest.mark.parametrize("code", STORED_UNITS)
def test_every_stored_unit_has_a_screen_spelling_without_plain_text_stand_ins(code):
    shown = unit_text(code)
    assert shown and "^" not in shown and "uL" not in shown and shown not in ("C", "F")


def test_the_units_of_criteria_v2_are_written_with_their_symbols():
    assert _measurement_units() >= {"umol/L", "mg/dL", "U/L", "mL/min", "10^9/L", "cells/uL", "10^3/uL", "g/dL",
                                    "g/L", "mg/L", "ng/mL", "ug/L", "%"}
    assert {code: unit_symbol(code) for code in ("umol/L", "10^3/uL", "ug/L", "xULN", "cells/uL", "%")} == {
        "umol/L": "µmol/L", "10^3/uL": "×10³/µL", "ug/L": "µg/L", "xULN": "×ULN", "cells/uL": "cells/µL", "%": "%"}
    assert {unit_symbol(unit) for unit in MEASUREMENT_RANGES["labs.bilirubin"]} == {"µmol/L", "mg/dL"}
    assert measure(34.2, "umol/L") == "34.2 µmol/L" and measure(55, "%") == "55%"


def test_the_new_choices_of_criteria_v2_in_words():
    assert DIAGNOSIS["mzl"] == "marginal zone lymphoma (MZL)"
    assert set(DRUG_CLASS) == set(get_args(DrugClass))
    assert DRUG_CLASS["btk_inhibitor"] == "BTK inhibitor" and DRUG_CLASS["imid"] == "immunomodulatory drug (IMiD)"
    assert CHOICES["prior_drug_classes"] is DRUG_CLASS
    for path in ("washout.systemic_corticosteroids.status", "washout.cytotoxic_chemotherapy.status"):
        assert set(CHOICES[path]) == set(get_args(WashoutStatus)) and path in LABELS


@pytest.mark.parametrize("path", ["as_of", "lymphodepletion_start_date", "infusion_date", "labs.bilirubin", "labs.ast",
                                  "labs.creatinine_clearance", "gvhd.acute_grade", "gvhd.chronic", "lvef",
                                  "spo2_room_air", "washout.systemic_corticosteroids", "infections.sars_cov_2",
                                  "prior_drug_classes", "relapse_number", "alc.measured_on", "temperature.measured_at",
                                  "labs.ast.uln", "washout.cytotoxic_chemotherapy.last_dose_on"])
def test_the_new_case_paths_have_clinical_labels(path):
    label = LABELS[path]
    assert label and "_" not in label and label[0].isupper()


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
    # The engine's reason writes the units by their symbols too.
    assert "ALC 150 cells/µL = 0.15 ×10⁹/L is below the recommended 0.2 ×10⁹/L" in page
    assert "10^9" not in page and "cells/uL" not in page


# --- A recorded value in words (eligibility/common/display.py) -------------------------------------

@pytest.mark.parametrize(("path", "value", "shown"), [
    ("alc", {"value": 0.6, "unit": "10^9/L"}, "0.6 ×10⁹/L"),
    ("alc", {"value": 150, "unit": "cells/uL"}, "150 cells/µL"),
    ("temperature", {"value": 38.2, "unit": "C"}, "38.2 °C"),
    ("temperature", {"value": 100.8, "unit": "F"}, "100.8 °F"),
    ("temperature", {"value": 38.0, "unit": "C"}, "38 °C"),  # a whole number without ".0"
])
def test_a_measurement_is_written_with_its_unit_symbol(path, value, shown):
    assert input_text(path, value) == shown


@pytest.mark.parametrize(("value", "shown"), [(19.0, "19"), (19, "19"), (19.5, "19.5"), (0.15, "0.15"), (0, "0")])
def test_a_number_is_written_as_people_write_it(value, shown):
    assert input_text("age_years", value) == shown


@pytest.mark.parametrize("path", ["product", "diagnosis", "age_years", "alc", "infections.markers_tested_on",
                                  "prior_bispecific", "organ_function.renal"])
def test_a_missing_value_is_not_recorded(path):
    assert input_text(path, None) == "not recorded"


@pytest.mark.parametrize("product", DEFAULT_PRODUCTS, ids=lambda product: product.code)
def test_every_product_by_its_name(product):
    assert input_text("product", product.code) == product.name
    assert input_text("product", product.code, {product.code: "Renamed"}) == "Renamed"  # the version's own name


def test_a_product_no_catalogue_knows_is_shown_as_recorded():
    assert input_text("product", "new_product", {}) == "new_product"


@pytest.mark.parametrize("code", get_args(Diagnosis))
def test_every_diagnosis_by_its_name(code):
    shown = input_text("diagnosis", code)
    assert shown == DIAGNOSIS[code] and "_" not in shown
    assert diagnoses_text([code]) == shown


def test_diagnoses_in_the_case_formats_order():
    assert diagnoses_text(["fl", "b_all", "lbcl"]) == "B-ALL, large B-cell lymphoma (LBCL), follicular lymphoma (FL)"
    assert diagnoses_text([]) == "none"


@pytest.mark.parametrize(("path", "value", "shown"), [
    ("lymphodepletion", "flu_cy", "fludarabine + cyclophosphamide"),
    ("infections.hbv", "not_tested", "not tested"),
    ("organ_function.renal", "not_done", "not done"),
    ("disease_status", "mrd_positive", "MRD-positive"),
    ("stage", "pre_apheresis", "Before leukapheresis"),
    ("infections.hbv_prophylaxis", True, "yes"),
    ("infections.hbv_prophylaxis", False, "no"),
    ("infections.markers_tested_on", "2026-09-05", "5 Sep 2026"),
    ("leukapheresis_date", "2026-11-02", "2 Nov 2026"),
])
def test_choices_yes_no_and_dates_in_words(path, value, shown):
    assert input_text(path, value) == shown


def test_every_case_path_has_a_label_and_every_choice_its_words():
    assert set(case_field_types()) <= set(LABELS)
    for path, info in case_field_types().items():
        if isinstance(info, schema.LiteralType):
            assert set(info.values) <= set(CHOICES[path]), path


@pytest.mark.parametrize(("path", "label"), [
    ("infections.hbv_prophylaxis", "HBV antiviral prophylaxis in place"),
    ("organ_function.renal", "Renal (kidney tests)"),
    ("driving_counselled_weeks", "Driving restriction explained (weeks)"),
    ("alc.unit", "Absolute lymphocyte count (unit)"),
    ("something_new", "Something new"),
])
def test_a_case_path_by_its_label(path, label):
    assert input_label(path) == label


def test_the_intake_form_labels_its_fields_with_the_same_words():
    assert all(entry.label == LABELS[entry.path] for entry in FIELDS)


def test_an_input_error_by_its_label_and_a_removed_product_in_words():
    assert input_error_text({"field": "temperature.value", "message": "must be between 77 and 113 F"}) == (
        "Temperature (value) must be between 77 and 113 F")
    assert input_error_text({"field": "product", "message": "must be one of 'a' or 'b'"}) == (
        "Product is not in this rule-set version's product catalogue")


@pytest.mark.parametrize(("number", "shown"), [(0, "0 weeks"), (1, "1 week"), (Decimal("1.000"), "1 week"),
                                               (1.5, "1.5 weeks"), (2, "2 weeks")])
def test_a_count_with_its_noun(number, shown):
    assert count(number, "week") == shown


def test_the_number_filter_writes_no_exponent():
    template = Template("{% load vocabulary %}{{ value|number }}")
    assert template.render(Context({"value": Decimal("800.000")})) == "800"
    assert template.render(Context({"value": Decimal("30.0")})) == "30"


@pytest.mark.django_db
@pytest.mark.parametrize("zone", ["Europe/London", "America/New_York"])
def test_every_page_states_the_programmes_time_zone_once(client, settings, zone):
    settings.TIME_ZONE = zone
    assert client.get(reverse("login")).content.decode().count(f"Times are shown in {zone}.") == 1
    client.force_login(UserFactory(role="Coordinator"))
    assert client.get(reverse("worklist")).content.decode().count(f"Times are shown in {zone}.") == 1


@pytest.mark.parametrize(("value", "unit", "text"), [
    (1, "years", "1 year"), (Decimal("1.0"), "lines", "1 line"), (2, "years", "2 years"),
    (Decimal("1.5"), "weeks", "1.5 weeks"), (0, "doses", "0 doses"), (60, "%", "60%"), (1, "%", "1%"),
])
def test_a_noun_unit_is_singular_for_exactly_one(value, unit, text):
    assert measure(value, unit) == text


def test_a_threshold_label_keeps_one_pair_of_brackets():
    assert label_with_unit("Infant age (flag below)", "years") == "Infant age (flag below; years)"
    assert label_with_unit("Minimum age", "years") == "Minimum age (years)"
    assert label_with_unit("ECOG performance status at most", "") == "ECOG performance status at most"
