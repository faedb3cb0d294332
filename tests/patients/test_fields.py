"""The intake form's field table: one entry per case path, each kind of field handled one way."""

from __future__ import annotations

import datetime

import pytest
from django import forms

from eligibility.patients.fields import (
    FIELDS,
    FIELDS_BY_PATH,
    SECTIONS,
    IntakeField,
    Kind,
    field_of,
    section_fields,
)


def test_one_entry_per_case_path_in_its_sections_order():
    assert len({entry.path for entry in FIELDS}) == len(FIELDS)
    assert [entry.path for phase, _, _ in SECTIONS for entry in section_fields(phase)] == [
        entry.path for entry in FIELDS]
    assert all(entry.phase for entry in FIELDS)


@pytest.mark.parametrize("entry", FIELDS, ids=lambda entry: entry.path)
def test_every_entrys_kind_fits_the_engines_case_schema(entry):
    made = entry.form_fields({"kymriah": "Kymriah (CD19)"})
    assert list(made) == list(entry.names)
    # Named in full outside a fieldset (the problem summary): the main field by the entry's label.
    assert made[entry.main_name].summary_label == entry.label
    assert all(field.summary_label and not field.required for field in made.values())


def test_a_kind_the_schema_does_not_have_is_refused():
    with pytest.raises(TypeError, match="ecog"):
        IntakeField("ecog", "ECOG", Kind.DATE).form_fields({})
    with pytest.raises(TypeError, match="prior_car_t"):
        IntakeField("prior_car_t", "Prior CAR-T", Kind.CHOICE).form_fields({})


@pytest.mark.parametrize("entry", [entry for entry in FIELDS if entry.when], ids=lambda entry: entry.path)
def test_conditions_name_a_field_of_the_same_section_and_a_value_it_sends(entry):
    for path, value in entry.when:
        condition = FIELDS_BY_PATH[path]
        assert condition.phase == entry.phase  # the server reads it from the same save
        assert value in dict(condition.choices({}))


def test_a_value_with_its_unit_is_one_kind_of_field_with_the_schemas_units():
    measurements = {entry.path: entry for entry in FIELDS if entry.kind == Kind.MEASUREMENT}
    assert set(measurements) == {"alc", "temperature", "lvef", "spo2_room_air"} | {
        f"labs.{name}" for name in ("bilirubin", "ast", "alt", "creatinine", "creatinine_clearance", "anc",
                                    "haemoglobin", "platelets", "crp", "ferritin", "ldh")}
    assert measurements["alc"].choices({}) == [("10^9/L", "×10⁹/L"), ("cells/uL", "cells/µL")]
    assert measurements["temperature"].choices({}) == [("C", "°C"), ("F", "°F")]
    assert measurements["labs.platelets"].choices({}) == [("10^9/L", "×10⁹/L"), ("10^3/uL", "×10³/µL")]
    alc = measurements["alc"]
    assert alc.names == ("alc__value", "alc__unit", "alc__measured_on") and alc.main_name == "alc__value"
    assert alc.initial({"value": 150, "unit": "cells/uL"}) == {"alc__value": 150, "alc__unit": "cells/uL",
                                                              "alc__measured_on": None}
    assert alc.posted({"alc__value": 150.0, "alc__unit": "cells/uL"}) == {"value": 150.0, "unit": "cells/uL"}
    assert alc.posted({"alc__value": None, "alc__unit": ""}) is None
    assert alc.text({"value": 150, "unit": "cells/uL"}, {}) == "150 cells/µL"
    ast = measurements["labs.ast"]
    assert ast.names == ("labs__ast__value", "labs__ast__unit", "labs__ast__uln", "labs__ast__measured_on")
    assert ast.posted({"labs__ast__value": 35.0, "labs__ast__unit": "U/L", "labs__ast__uln": 40.0,
                       "labs__ast__measured_on": datetime.date(2026, 3, 9)}) == {
        "value": 35.0, "unit": "U/L", "uln": 40.0, "measured_on": "2026-03-09"}
    assert ast.text({"value": 35, "unit": "U/L", "uln": 40, "measured_on": "2026-03-09"}, {}) == (
        "35 U/L (upper limit of normal 40 U/L), measured on 9 Mar 2026")
    assert measurements["temperature"].names[-1] == "temperature__measured_at"


def test_a_measurement_is_sent_only_with_its_value_and_a_part_without_it_is_said():
    crp = FIELDS_BY_PATH["labs.crp"]
    assert crp.posted({"labs__crp__unit": "mg/L", "labs__crp__measured_on": datetime.date(2026, 3, 9)}) is None
    assert crp.incomplete({"labs__crp__unit": "mg/L"}) == "Enter the value, or clear the unit."
    assert crp.incomplete({"labs__crp__value": 0.0, "labs__crp__unit": "mg/L"}) is None  # 0 is a value
    assert crp.incomplete({}) is None
    ldh = FIELDS_BY_PATH["labs.ldh"]  # one unit: always shown and sent, never "without the value"
    assert ldh.incomplete({"labs__ldh__unit": "U/L"}) is None


def test_a_list_of_choices_none_of_these_is_empty_and_nothing_ticked_is_not_recorded():
    classes = FIELDS_BY_PATH["prior_drug_classes"]
    assert classes.posted({"prior_drug_classes": []}) is None
    assert classes.posted({"prior_drug_classes": ["none_of_these"]}) == []
    assert classes.posted({"prior_drug_classes": ["imid", "btk_inhibitor"]}) == ["btk_inhibitor", "imid"]
    assert classes.initial(None) == {"prior_drug_classes": []}
    assert classes.initial([]) == {"prior_drug_classes": ["none_of_these"]}
    assert classes.incomplete({"prior_drug_classes": ["imid", "none_of_these"]})
    assert classes.text([], {}) == "none" and classes.text(["imid"], {}) == "immunomodulatory drug (IMiD)"


def test_a_washout_is_its_status_and_last_dose():
    steroids = FIELDS_BY_PATH["washout.systemic_corticosteroids"]
    assert steroids.names == ("washout__systemic_corticosteroids__status",
                              "washout__systemic_corticosteroids__last_dose_at")
    assert steroids.posted({"washout__systemic_corticosteroids__status": "stopped",
                            "washout__systemic_corticosteroids__last_dose_at": "2026-01-30T08:00"}) == {
        "status": "stopped", "last_dose_at": "2026-01-30T08:00"}
    assert steroids.posted({"washout__systemic_corticosteroids__status": ""}) is None
    assert steroids.text({"status": "stopped", "last_dose_at": "2026-01-30T08:00"}, {}) == (
        "stopped, last dose 30 Jan 2026 08:00")


def test_dates_are_one_kind_done_or_planned():
    dates = {entry.path: entry.planned for entry in FIELDS if entry.kind == Kind.DATE}
    assert dates == {"infections.markers_tested_on": False, "leukapheresis_date": True,
                     "lymphodepletion_start_date": True, "infusion_date": True, "product_received_on": False,
                     "infections.sars_cov_2_tested_on": False, "weight_measured_on": False}
    made = FIELDS_BY_PATH["leukapheresis_date"].form_fields({})["leukapheresis_date"]
    assert isinstance(made, forms.DateField) and made.help_text.startswith("Done or planned")


def test_applies_reads_the_alternatives_of_a_condition():
    hbv = FIELDS_BY_PATH["infections.hbv_prophylaxis"]
    assert hbv.applies({"infections": {"hbv": "positive"}})
    assert not hbv.applies({"infections": {"hbv": "negative"}})
    assert not hbv.applies({})
    retested = FIELDS_BY_PATH["antigen_retested_after_targeted_therapy"]
    assert retested.applies({"prior_car_t": True}) and retested.applies({"prior_bispecific": True})
    assert not retested.applies({"prior_car_t": False, "prior_bispecific": False})
    assert FIELDS_BY_PATH["ecog"].applies({})  # no condition: always


def test_a_value_in_words_as_the_form_offers_it():
    assert FIELDS_BY_PATH["infections.hbv"].text("positive", {}) == "positive (latent/chronic)"
    assert FIELDS_BY_PATH["prior_car_t"].text(True, {}) == "Yes"
    assert FIELDS_BY_PATH["weight_kg"].text(70.0, {}) == "70"
    assert FIELDS_BY_PATH["product"].text("kymriah", {"kymriah": "Kymriah (CD19)"}) == "Kymriah (CD19)"
    assert FIELDS_BY_PATH["ecog"].text(None, {}) == "not recorded"


def test_an_engine_path_finds_the_field_that_records_it():
    assert field_of("alc.unit") is FIELDS_BY_PATH["alc"]
    assert field_of("infections.hbv") is FIELDS_BY_PATH["infections.hbv"]
    assert field_of("infections") is None and field_of("case_id") is None
