"""Intake of the case keys of criteria-v2 4.1 (issue 13, item 6): every new field with its label and
units, measurements with their date, AST/ALT with the upper limit of normal, washouts, the list of
drug classes (none differs from not recorded), a date and time; what cannot be sent as typed is said
beside the field and kept; section 9's date errors beside the field they name."""

from __future__ import annotations

import datetime
import html
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from eligibility.models import Assessment
from eligibility.patients import fields as intake_fields
from eligibility.patients import services
from tests.factories import PatientFactory, UserFactory
from tests.pages import element, elements
from tests.patients.test_views_intake import _error_beside, _form_values

pytestmark = [pytest.mark.django_db, pytest.mark.filterwarnings("ignore:No directory at:UserWarning")]


@pytest.fixture
def cora():
    return UserFactory(role="Coordinator", first_name="Cora", last_name="Ordinator")


@pytest.fixture
def casey():
    return UserFactory(role="Coordinator", first_name="Casey", last_name="Jones")


@pytest.fixture
def patient(cora):
    return PatientFactory(by=cora, study_id="V2-001", initials="VT")


@pytest.fixture
def signed_in(client, cora):
    client.force_login(cora)
    return client


def _url(patient, phase):
    return reverse("intake", args=[patient.public_id, phase])


def _assessment(patient) -> Assessment:
    return Assessment.objects.get(patient=patient)


def _open(client, patient, phase) -> dict:
    """What the browser holds after opening the form, as it would post it."""
    values = _form_values(client.get(_url(patient, phase)).content.decode())
    values.pop("csrfmiddlewaretoken", None)
    values.pop("save", None)
    return {name: "" if value is None else value for name, value in values.items()}


def _post(client, patient, phase, **fields):
    """The opened form with ``fields`` changed, posted (a list posts several values)."""
    data = _open(client, patient, phase)
    data.update({name: "" if value is None else value for name, value in fields.items()})
    data = {name: value for name, value in data.items() if value != []}
    return client.post(_url(patient, phase), data)


def _days_ago(days: int) -> str:
    return (timezone.localdate() - datetime.timedelta(days=days)).isoformat()


def _days_ahead(days: int) -> str:
    return (timezone.localdate() + datetime.timedelta(days=days)).isoformat()


def _fieldset(page: str, legend: str) -> str:
    """The HTML inside the fieldset whose legend is ``legend`` (fails when there is none)."""
    for match in re.finditer(r"<legend[^>]*>(.*?)</legend>", page, re.DOTALL):
        if html.unescape(re.sub(r"<[^>]+>", "", match.group(1))).strip() == legend:
            return page[match.end():page.index("</fieldset>", match.end())]
    raise AssertionError(f"no fieldset named {legend!r}")


def _labels(fragment: str) -> dict[str, str]:
    """Every <label for> of ``fragment``: {input id: its text}."""
    return {node.attrs["for"]: node.text for node in elements(fragment, tag="label") if "for" in node.attrs}


NEW_PATHS = {
    "screening": ["prior_drug_classes", "first_line_response", "relapse_number", "lenalidomide_refractory",
                  "transplant_eligible", "sex", "gvhd.acute_grade", "gvhd.chronic", "cns_involvement",
                  "anticonvulsant_prophylaxis"],
    "pre_apheresis": ["washout.systemic_corticosteroids", "washout.cytotoxic_chemotherapy"],
    "pre_lymphodepletion": ["lymphodepletion_start_date", "product_received_on", "product_manufacture_confirmed",
                            "infections.sars_cov_2", "infections.sars_cov_2_tested_on", "labs.bilirubin",
                            "gilbert_syndrome", "labs.ast", "labs.alt", "labs.creatinine",
                            "labs.creatinine_clearance", "labs.anc", "labs.haemoglobin", "labs.platelets",
                            "labs.crp", "labs.ferritin", "labs.ldh", "lvef", "spo2_room_air"],
    "pre_infusion": ["infusion_date"],
}

#: Each measurement's units as the form offers them, in clinical typography.
UNITS_SHOWN = {
    "labs.bilirubin": ["µmol/L", "mg/dL"],
    "labs.ast": ["U/L"],
    "labs.alt": ["U/L"],
    "labs.creatinine": ["µmol/L", "mg/dL"],
    "labs.creatinine_clearance": ["mL/min"],
    "labs.anc": ["×10⁹/L", "cells/µL"],
    "labs.haemoglobin": ["g/dL", "g/L"],
    "labs.platelets": ["×10⁹/L", "×10³/µL"],
    "labs.crp": ["mg/dL", "mg/L"],
    "labs.ferritin": ["ng/mL", "µg/L"],
    "labs.ldh": ["U/L"],
    "lvef": ["%"],
    "spo2_room_air": ["%"],
    "alc": ["×10⁹/L", "cells/µL"],
    "temperature": ["°C", "°F"],
}


# --- Every new field, in its section, with its label and units --------------------------------------------


@pytest.mark.parametrize("phase", list(NEW_PATHS))
def test_every_new_key_is_in_its_section(phase):
    assert set(NEW_PATHS[phase]) <= {entry.path for entry in intake_fields.section_fields(phase)}
    assert "as_of" not in intake_fields.FIELDS_BY_PATH  # the web application evaluates as of today


@pytest.mark.parametrize("path", list(UNITS_SHOWN))
def test_a_measurement_is_a_fieldset_with_value_unit_and_date_labelled_inside_it(signed_in, patient, path):
    entry = intake_fields.FIELDS_BY_PATH[path]
    page = signed_in.get(_url(patient, entry.phase)).content.decode()
    name = intake_fields.field_name(path)
    labels = _labels(_fieldset(page, entry.label))
    assert labels[f"id_{name}__value"] == "Value"
    assert labels[f"id_{name}__unit"] == "Unit"
    date = "measured_at" if path == "temperature" else "measured_on"
    assert labels[f"id_{name}__{date}"] == ("Taken at (date and time)" if path == "temperature" else "Measured on")
    unit = re.search(rf'<select name="{name}__unit".*?</select>', page, re.DOTALL).group(0)
    shown = [option.text for option in elements(unit, tag="option") if option.attrs.get("value")]
    assert shown == UNITS_SHOWN[path]
    date_input = element(page, id=f"id_{name}__{date}")
    assert date_input.attrs["type"] == ("datetime-local" if path == "temperature" else "date")
    assert date_input.attrs["max"].startswith(timezone.localdate().isoformat())  # not after today


@pytest.mark.parametrize("path", ["labs.ast", "labs.alt"])
def test_transaminases_have_the_upper_limit_of_normal(signed_in, patient, path):
    page = signed_in.get(_url(patient, "pre_lymphodepletion")).content.decode()
    name = intake_fields.field_name(path)
    uln = element(page, id=f"id_{name}__uln")
    assert _labels(page)[f"id_{name}__uln"] == "Upper limit of normal (U/L)"
    assert (uln.attrs["min"], uln.attrs["max"]) == ("0", "1000")  # the schema's limits, as browser hints


def test_drug_classes_are_boxes_in_a_fieldset_with_none_of_these(signed_in, patient):
    page = signed_in.get(_url(patient, "screening")).content.decode()
    group = _fieldset(page, "Drug classes received in prior lines")
    boxes = elements(group, tag="input", type="checkbox")
    labels = [node.text for node in elements(group, tag="label")]
    assert [box.attrs["value"] for box in boxes] == ["btk_inhibitor", "bcl2_inhibitor", "imid",
                                                     "proteasome_inhibitor", "anti_cd38", "none_of_these"]
    assert labels == ["BTK inhibitor", "BCL-2 inhibitor", "immunomodulatory drug (IMiD)", "proteasome inhibitor",
                      "anti-CD38 antibody", "None of these"]


def test_a_washout_is_a_fieldset_whose_last_dose_shows_when_stopped(signed_in, patient):
    page = signed_in.get(_url(patient, "pre_apheresis")).content.decode()
    steroid = element(page, id="id_washout__systemic_corticosteroids__last_dose_at")
    assert steroid.attrs["type"] == "datetime-local"
    chemo = element(page, id="id_washout__cytotoxic_chemotherapy__last_dose_on")
    assert chemo.attrs["type"] == "date"
    conditions = [node.attrs["data-show-when"] for node in elements(page, data_show_when=None)]
    assert "washout__systemic_corticosteroids__status=stopped" in conditions
    assert "washout__cytotoxic_chemotherapy__status=stopped" in conditions
    assert "Status" in _labels(_fieldset(page, "Systemic corticosteroids")).values()
    status = re.search(r'<select name="washout__systemic_corticosteroids__status".*?</select>', page, re.DOTALL)
    assert [option.text for option in elements(status.group(0), tag="option")] == [
        "Not recorded", "never received", "ongoing", "stopped"]


# --- Saving and loading each kind -----------------------------------------------------------------------------


def test_a_measurement_with_its_date_is_saved_and_shown_back(signed_in, patient):
    day = _days_ago(1)
    response = _post(signed_in, patient, "pre_lymphodepletion", labs__bilirubin__value="0.8",
                     labs__bilirubin__unit="mg/dL", labs__bilirubin__measured_on=day)
    assert response.status_code == 302, response.context["form"].errors
    assert _assessment(patient).data["labs"] == {"bilirubin": {"value": 0.8, "unit": "mg/dL", "measured_on": day}}
    values = _open(signed_in, patient, "pre_lymphodepletion")
    assert (values["labs__bilirubin__value"], values["labs__bilirubin__unit"],
            values["labs__bilirubin__measured_on"]) == ("0.8", "mg/dL", day)


def test_ast_with_its_upper_limit_of_normal_and_a_one_unit_measurement_without_choosing_it(signed_in, patient):
    day = _days_ago(2)
    response = _post(signed_in, patient, "pre_lymphodepletion", labs__ast__value="35", labs__ast__uln="40",
                     labs__ast__measured_on=day, lvef__value="55")
    assert response.status_code == 302, response.context["form"].errors
    data = _assessment(patient).data
    assert data["labs"] == {"ast": {"value": 35, "unit": "U/L", "uln": 40, "measured_on": day}}
    # the only unit is always shown and sent; the date left as pre-filled (today) is kept with the value
    assert data["lvef"] == {"value": 55, "unit": "%", "measured_on": timezone.localdate().isoformat()}
    assert _open(signed_in, patient, "pre_lymphodepletion")["labs__ast__uln"] == "40.0" or \
        _open(signed_in, patient, "pre_lymphodepletion")["labs__ast__uln"] == "40"


def test_ast_without_its_upper_limit_is_refused_beside_the_limit(signed_in, patient):
    response = _post(signed_in, patient, "pre_lymphodepletion", labs__ast__value="35")
    assert response.status_code == 200
    assert "is required" in _error_beside(response.content.decode(), "labs__ast__uln")
    assert _form_values(response.content.decode())["labs__ast__value"] == "35"
    assert _assessment(patient).revision == 0


def test_washouts_are_saved_with_the_last_dose_when_stopped(signed_in, patient):
    response = _post(signed_in, patient, "pre_apheresis",
                     washout__systemic_corticosteroids__status="stopped",
                     washout__systemic_corticosteroids__last_dose_at=f"{_days_ago(3)}T08:00",
                     washout__cytotoxic_chemotherapy__status="never")
    assert response.status_code == 302, response.context["form"].errors
    assert _assessment(patient).data["washout"] == {
        "systemic_corticosteroids": {"status": "stopped", "last_dose_at": f"{_days_ago(3)}T08:00"},
        "cytotoxic_chemotherapy": {"status": "never"}}
    values = _open(signed_in, patient, "pre_apheresis")
    assert values["washout__systemic_corticosteroids__last_dose_at"] == f"{_days_ago(3)}T08:00"
    assert values["washout__cytotoxic_chemotherapy__status"] == "never"


def test_a_last_dose_with_a_status_other_than_stopped_is_refused_beside_it_and_kept(signed_in, patient):
    typed = _days_ago(5)
    response = _post(signed_in, patient, "pre_apheresis", washout__cytotoxic_chemotherapy__status="ongoing",
                     washout__cytotoxic_chemotherapy__last_dose_on=typed)
    assert response.status_code == 200
    beside = _error_beside(response.content.decode(), "washout__cytotoxic_chemotherapy__last_dose_on")
    assert "only when the status is “stopped”" in beside
    assert _form_values(response.content.decode())["washout__cytotoxic_chemotherapy__last_dose_on"] == typed
    assert "washout" not in _assessment(patient).data


@pytest.mark.parametrize(("ticked", "stored"), [
    (["imid", "btk_inhibitor"], ["btk_inhibitor", "imid"]),
    (["none_of_these"], []),
])
def test_drug_classes_none_of_these_is_an_empty_list_not_nothing(signed_in, patient, ticked, stored):
    response = _post(signed_in, patient, "screening", prior_drug_classes=ticked)
    assert response.status_code == 302, response.context["form"].errors
    assert _assessment(patient).data["prior_drug_classes"] == stored
    assert sorted(_open(signed_in, patient, "screening")["prior_drug_classes"]) == sorted(ticked)
    cleared = _post(signed_in, patient, "screening", prior_drug_classes=[])
    assert cleared.status_code == 302
    assert "prior_drug_classes" not in _assessment(patient).data  # no box ticked: not recorded


def test_none_of_these_with_a_class_is_refused_beside_the_boxes(signed_in, patient):
    response = _post(signed_in, patient, "screening", prior_drug_classes=["imid", "none_of_these"], ecog="9")
    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors["prior_drug_classes"] == ["Tick the classes received, or “None of these”, not both."]
    assert "ecog" in form.errors  # the same pass
    assert sorted(_form_values(response.content.decode())["prior_drug_classes"]) == ["imid", "none_of_these"]
    assert _assessment(patient).revision == 0


def test_a_temperature_with_its_date_and_time(signed_in, patient):
    # An hour ago, to the minute: never later than now, whatever the time the suite runs at.
    taken = (timezone.localtime() - datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    response = _post(signed_in, patient, "pre_infusion", temperature__value="37.2", temperature__unit="C",
                     temperature__measured_at=taken)
    assert response.status_code == 302, response.context["form"].errors
    assert _assessment(patient).data["temperature"] == {"value": 37.2, "unit": "C", "measured_at": taken}
    assert _open(signed_in, patient, "pre_infusion")["temperature__measured_at"] == taken


@pytest.mark.parametrize("typed", ["tomorrow", "2026-13-01T08:00", "yesterday 8am"])
def test_a_date_time_in_the_future_or_not_a_date_time_is_refused_beside_it(signed_in, patient, typed):
    if typed == "tomorrow":
        typed = f"{_days_ahead(1)}T08:00"
    response = _post(signed_in, patient, "pre_infusion", temperature__value="37.2", temperature__unit="C",
                     temperature__measured_at=typed)
    assert response.status_code == 200
    assert _error_beside(response.content.decode(), "temperature__measured_at")
    assert _form_values(response.content.decode())["temperature__measured_at"] == typed


def test_the_new_yes_no_choices_and_numbers_are_saved(signed_in, patient):
    response = _post(signed_in, patient, "screening", sex="female", first_line_response="relapse_within_12_months",
                     relapse_number="2", lenalidomide_refractory="true", transplant_eligible="false",
                     prior_allo_hsct="true", gvhd__acute_grade="1", gvhd__chronic="limited",
                     cns_involvement="true", anticonvulsant_prophylaxis="true")
    assert response.status_code == 302, response.context["form"].errors
    data = _assessment(patient).data
    assert {key: data[key] for key in ("sex", "first_line_response", "relapse_number", "lenalidomide_refractory",
                                       "transplant_eligible", "cns_involvement", "anticonvulsant_prophylaxis",
                                       "gvhd")} == {
        "sex": "female", "first_line_response": "relapse_within_12_months", "relapse_number": 2,
        "lenalidomide_refractory": True, "transplant_eligible": False, "cns_involvement": True,
        "anticonvulsant_prophylaxis": True, "gvhd": {"acute_grade": 1, "chronic": "limited"}}


def test_gvhd_is_removed_when_there_was_no_allogeneic_transplant(signed_in, patient):
    _post(signed_in, patient, "screening", prior_allo_hsct="true", gvhd__acute_grade="2")
    response = _post(signed_in, patient, "screening", prior_allo_hsct="false")
    assert response.status_code == 302
    assert "gvhd" not in _assessment(patient).data


# --- What cannot be sent as typed: said beside the field, kept ------------------------------------------------


@pytest.mark.parametrize(("typed", "message"), [
    ({"labs__crp__unit": "mg/L"}, "Enter the value, or clear the unit."),
    ({"labs__crp__measured_on": "yesterday"}, "Enter the value, or clear the date."),
    ({"labs__crp__unit": "mg/L", "labs__crp__measured_on": "yesterday"},
     "Enter the value, or clear the unit and the date."),
])
def test_a_unit_or_date_without_a_value_is_said_beside_the_value_and_kept(signed_in, patient, typed, message):
    typed = {name: _days_ago(1) if value == "yesterday" else value for name, value in typed.items()}
    response = _post(signed_in, patient, "pre_lymphodepletion", labs__platelets__value="5001",
                     labs__platelets__unit="10^9/L", **typed)
    assert response.status_code == 200
    page = response.content.decode()
    assert _error_beside(page, "labs__crp__value").strip() == message
    assert "must be at most 5000" in _error_beside(page, "labs__platelets__value")  # the same pass
    values = _form_values(page)
    assert all(values[name] == value for name, value in typed.items())
    assert _assessment(patient).revision == 0


def test_the_upper_limit_without_a_value_is_said_too(signed_in, patient):
    response = _post(signed_in, patient, "pre_lymphodepletion", labs__alt__uln="40")
    assert response.context["form"].errors["labs__alt__value"] == [
        "Enter the value, or clear the upper limit of normal."]


def test_a_one_unit_measurement_left_empty_is_not_recorded(signed_in, patient):
    response = _post(signed_in, patient, "pre_lymphodepletion", lymphodepletion="flu_cy")
    assert response.status_code == 302, response.context["form"].errors
    assert _assessment(patient).data == {"lymphodepletion": "flu_cy"}


def test_clearing_a_measurement_clears_its_date_too(signed_in, patient):
    _post(signed_in, patient, "pre_lymphodepletion", labs__ldh__value="250", labs__ldh__measured_on=_days_ago(1))
    response = _post(signed_in, patient, "pre_lymphodepletion", labs__ldh__value="", labs__ldh__measured_on="")
    assert response.status_code == 302
    assert "labs" not in _assessment(patient).data


# --- Section 9's errors beside the field they name ------------------------------------------------------------


def test_an_infusion_date_before_the_lymphodepletion_start_is_refused_beside_it(signed_in, patient):
    _post(signed_in, patient, "pre_lymphodepletion", lymphodepletion_start_date=_days_ahead(10))
    response = _post(signed_in, patient, "pre_infusion", infusion_date=_days_ahead(9), travel_time_minutes="-1")
    assert response.status_code == 200
    page = response.content.decode()
    assert "must not be before the lymphodepletion start date (planned or done)" in _error_beside(
        page, "infusion_date")
    assert _error_beside(page, "travel_time_minutes")  # the same pass
    assert _form_values(page)["infusion_date"] == _days_ahead(9)
    assert "infusion_date" not in _assessment(patient).data
    boundary = _post(signed_in, patient, "pre_infusion", infusion_date=_days_ahead(10))  # the same day: in order
    assert boundary.status_code == 302


def test_the_lymphodepletion_start_before_the_leukapheresis_is_refused(signed_in, patient):
    _post(signed_in, patient, "pre_apheresis", leukapheresis_date=_days_ahead(5))
    response = _post(signed_in, patient, "pre_lymphodepletion", lymphodepletion_start_date=_days_ahead(4))
    assert "must not be before the leukapheresis date (planned or done)" in _error_beside(
        response.content.decode(), "lymphodepletion_start_date")


def test_observed_dates_after_today_are_refused_and_planned_dates_up_to_the_horizon_accepted(signed_in, patient):
    response = _post(signed_in, patient, "pre_lymphodepletion", product_received_on=_days_ahead(1),
                     labs__anc__value="1.2", labs__anc__unit="10^9/L", labs__anc__measured_on=_days_ahead(1),
                     lymphodepletion_start_date=_days_ahead(intake_fields.PLANNED_DATE_HORIZON_DAYS))
    errors = response.context["form"].errors
    assert set(errors) == {"product_received_on", "labs__anc__measured_on"}
    accepted = _post(signed_in, patient, "pre_lymphodepletion", product_received_on=timezone.localdate().isoformat(),
                     labs__anc__value="1.2", labs__anc__unit="10^9/L",
                     labs__anc__measured_on=timezone.localdate().isoformat())
    assert accepted.status_code == 302, accepted.context["form"].errors


def test_engine_errors_of_members_and_list_elements_find_their_field():
    assert intake_fields.field_of("labs.ast.uln").path == "labs.ast"
    assert intake_fields.field_of("washout.systemic_corticosteroids.last_dose_at").path == (
        "washout.systemic_corticosteroids")
    assert intake_fields.field_of("prior_drug_classes[1]").path == "prior_drug_classes"
    assert intake_fields.field_of("labs") is None


def test_engine_errors_of_members_and_list_elements_are_shown_beside_their_field(patient):
    from eligibility.patients.forms import SectionForm
    from eligibility.rulesets.selectors import active_engine

    form = SectionForm({"stage": "screening", "revision": "0"}, phase="pre_lymphodepletion",
                       engine=active_engine()[1], assessment=_assessment(patient))
    assert form.is_valid()
    form.add_case_error("labs.ast.uln", "must be greater than 0")
    form.add_case_error("labs.bilirubin.unit", "must be one of 'umol/L' or 'mg/dL'")
    form.add_case_error("labs.crp", "must be an object")
    assert form.errors == {"labs__ast__uln": ["must be greater than 0"],
                           "labs__bilirubin__unit": ["must be one of 'umol/L' or 'mg/dL'"],
                           "labs__crp__value": ["must be an object"]}
    screening = SectionForm({"stage": "screening", "revision": "0"}, phase="screening", engine=active_engine()[1],
                            assessment=_assessment(patient))
    assert screening.is_valid()
    screening.add_case_error("prior_drug_classes[1]", "must be one of 'btk_inhibitor', 'imid'")
    assert list(screening.errors) == ["prior_drug_classes"]
    assert screening.problems()[0]["anchor"] == "id_prior_drug_classes_0"  # the summary links to the first box


# --- Values recorded before this change ----------------------------------------------------------------------


def test_values_recorded_before_load_unchanged_and_survive_a_save(signed_in, patient, cora):
    before = {"alc": {"value": 150, "unit": "cells/uL"}, "temperature": {"value": 101.2, "unit": "F"},
              "infections": {"hbv": "negative", "markers_tested_on": "2025-01-10"},
              "organ_function": {"cardiac": "normal"}, "ecog": 1}
    assessment = _assessment(patient)
    services.assessment_update(assessment=assessment, changes=before, stage="screening", revision=0, by=cora)
    values = _open(signed_in, patient, "pre_apheresis")
    assert (values["alc__value"], values["alc__unit"], values["alc__measured_on"]) == ("150", "cells/uL", "")
    assert _post(signed_in, patient, "pre_apheresis", starting_material="fresh").status_code == 302
    assert _post(signed_in, patient, "pre_infusion", caregiver_confirmed="true").status_code == 302
    data = _assessment(patient).data
    assert {key: data[key] for key in before} == before


# --- History and the checklist in words ------------------------------------------------------------------------


def test_the_history_writes_the_new_values_in_words(signed_in, patient):
    day = _days_ago(1)
    _post(signed_in, patient, "pre_lymphodepletion", labs__bilirubin__value="0.8", labs__bilirubin__unit="mg/dL",
          labs__bilirubin__measured_on=day)
    _post(signed_in, patient, "screening", prior_drug_classes=["btk_inhibitor", "bcl2_inhibitor"])
    _post(signed_in, patient, "pre_apheresis", washout__systemic_corticosteroids__status="stopped",
          washout__systemic_corticosteroids__last_dose_at=f"{day}T08:00")
    page = signed_in.get(reverse("patient_detail", args=[patient.public_id])).content.decode()
    text = " ".join(element(page, tag="body").text.split())  # the table's cells, spaced
    shown = datetime.date.fromisoformat(day)
    words = f"{shown.day} {shown:%b %Y}"
    assert f"Total bilirubin not recorded 0.8 mg/dL, measured on {words}" in text
    assert "Drug classes received in prior lines not recorded BTK inhibitor, BCL-2 inhibitor" in text
    assert f"Systemic corticosteroids not recorded stopped, last dose {words} 08:00" in text


@pytest.mark.parametrize(("message", "words"), [
    ("must not be before lymphodepletion_start_date",
     "must not be before the lymphodepletion start date (planned or done)."),
    ("must not be before leukapheresis_date", "must not be before the leukapheresis date (planned or done)."),
    ("must not be after as_of (2026-03-10)", "must not be after today (10 Mar 2026)."),
    ("only with status stopped", "only when the status is “stopped”: clear it, or choose “stopped”."),
    ("must be between 0 and 60 mg/dL", "must be between 0 and 60 mg/dL"),
])
def test_the_engines_date_messages_in_the_forms_words(message, words):
    from eligibility.patients.forms import engine_message_words

    assert engine_message_words(message) == words


# --- A colleague's composite values are never put back by a stale form -------------------------------------


def test_a_colleagues_lab_is_shown_and_kept_and_mine_applied_on_the_second_save(signed_in, patient, casey):
    mine = _open(signed_in, patient, "pre_lymphodepletion")
    day = _days_ago(1)
    assessment = _assessment(patient)
    services.assessment_update(assessment=assessment, stage=assessment.stage, revision=assessment.revision, by=casey,
                               changes={"labs": {"platelets": {"value": 120, "unit": "10^9/L", "measured_on": day}}})
    refused = signed_in.post(_url(patient, "pre_lymphodepletion"), {
        **mine, "labs__bilirubin__value": "0.8", "labs__bilirubin__unit": "mg/dL"})
    assert refused.status_code == 200
    page = refused.content.decode()
    note = element(page, id="id_labs__platelets__value_saved").text
    assert "Saved by Casey Jones" in note and "120 ×10⁹/L, measured on" in note
    again = {name: "" if value is None else value for name, value in _form_values(page).items()
             if name not in ("csrfmiddlewaretoken", "save")}
    assert (again["labs__platelets__value"], again["labs__platelets__unit"]) == ("120", "10^9/L")
    assert again["labs__bilirubin__value"] == "0.8"  # what I typed, kept
    assert signed_in.post(_url(patient, "pre_lymphodepletion"), again).status_code == 302
    assert _assessment(patient).data["labs"] == {
        "platelets": {"value": 120, "unit": "10^9/L", "measured_on": day},
        "bilirubin": {"value": 0.8, "unit": "mg/dL", "measured_on": timezone.localdate().isoformat()}}


def test_a_colleagues_drug_classes_are_ticked_on_the_refused_form(signed_in, patient, casey):
    mine = _open(signed_in, patient, "screening")
    assessment = _assessment(patient)
    services.assessment_update(assessment=assessment, changes={"prior_drug_classes": []}, stage=assessment.stage,
                               revision=assessment.revision, by=casey)
    refused = signed_in.post(_url(patient, "screening"), {**mine, "ecog": "1"})
    page = refused.content.decode()
    note = element(page, id="id_prior_drug_classes_saved").text
    assert "Saved by Casey Jones" in note and ": none (it was not recorded when you opened the form)" in note
    again = {name: "" if value is None else value for name, value in _form_values(page).items()
             if name not in ("csrfmiddlewaretoken", "save")}
    assert again["prior_drug_classes"] == ["none_of_these"]
    assert signed_in.post(_url(patient, "screening"), again).status_code == 302
    data = _assessment(patient).data
    assert (data["prior_drug_classes"], data["ecog"]) == ([], 1)
