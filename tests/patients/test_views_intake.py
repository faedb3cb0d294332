"""Intake forms: saving re-evaluates, the engine's messages beside the fields, units, history, concurrent edits."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import pytest
from django.urls import reverse

from eligibility.models import Assessment, Evaluation
from eligibility.patients import fields as intake_fields
from eligibility.patients import services
from eligibility.rules import CaseValidationError, Engine, default_ruleset
from tests.factories import PatientFactory, UserFactory
from tests.pages import element, elements

pytestmark = [pytest.mark.django_db, pytest.mark.filterwarnings("ignore:No directory at:UserWarning")]


@pytest.fixture
def coordinator():
    return UserFactory(role="Coordinator", first_name="Cora", last_name="Ordinator")


@pytest.fixture
def patient(coordinator):
    return PatientFactory(by=coordinator, study_id="INTAKE-001", initials="IN")


@pytest.fixture
def signed_in(client, coordinator):
    client.force_login(coordinator)
    return client


def _intake_url(patient, phase: str) -> str:
    return reverse("intake", args=[patient.public_id, phase])


def _save(client, patient, phase: str, *, stage: str | None = None, revision: int | None = None, **fields):
    """POST one section as the browser sends it (every value a string; the stage and revision always)."""
    assessment = Assessment.objects.get(patient=patient)
    data = {"stage": stage or assessment.stage, "revision": assessment.revision if revision is None else revision}
    data.update({name: "" if value is None else str(value) for name, value in fields.items()})
    return client.post(_intake_url(patient, phase), data)


def _assessment(patient) -> Assessment:
    return Assessment.objects.get(patient=patient)


def _engine_message(**case) -> dict[str, str]:
    """What the engine's own validation says about ``case``: {field path: message}."""
    with pytest.raises(CaseValidationError) as raised:
        Engine(default_ruleset()).parse({"stage": "pre_infusion", **case})
    return {error["field"]: error["message"] for error in raised.value.errors}


def _error_beside(page: str, name: str) -> str:
    """The error block rendered right under the input ``name`` (empty when there is none)."""
    match = re.search(rf'<div id="id_{name}_error"[^>]*>(.*?)</div>', page, re.DOTALL)
    return html.unescape(re.sub(r"<[^>]+>", " ", match.group(1))) if match else ""


class _Inputs(HTMLParser):
    """Every <input>, <select> (with its selected option) of a page, by name, as a browser would post
    them: a group of boxes as the list of those ticked (none ticked: not sent)."""

    def __init__(self):
        super().__init__()
        self.values: dict[str, str | list[str] | None] = {}
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "input" and attrs.get("type") == "checkbox" and "name" in attrs:
            if "checked" in attrs:
                self.values.setdefault(attrs["name"], []).append(attrs.get("value"))
        elif tag == "input" and "name" in attrs:
            self.values[attrs["name"]] = attrs.get("value")
        elif tag == "select":
            self._select = attrs.get("name")
            self.values.setdefault(self._select, None)
        elif tag == "option" and self._select and "selected" in attrs:
            self.values[self._select] = attrs.get("value")

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None


def _form_values(page: str) -> dict[str, str | None]:
    parser = _Inputs()
    parser.feed(page)
    return parser.values


def _checklist_row(page: str, code: str) -> str:
    match = re.search(rf'<tr class="item item-\w+" id="item-{code}">(.*?)</tr>', page, re.DOTALL)
    assert match, f"no checklist row for {code}"
    return html.unescape(match.group(0))


# --- Saving re-evaluates ------------------------------------------------------------------------------


def test_saving_screening_data_re_evaluates(signed_in, patient):
    first = _assessment(patient).current_evaluation
    assert first is not None
    evaluations = Evaluation.objects.count()

    response = _save(signed_in, patient, "screening", stage="screening", ecog=4, age_years=60)

    assert response.status_code == 302
    assert response.url == reverse("checklist", args=[patient.public_id])
    assessment = _assessment(patient)
    assert Evaluation.objects.count() == evaluations + 1
    assert assessment.current_evaluation_id != first.pk
    assert assessment.revision == 1
    assert assessment.data == {"ecog": 4, "age_years": 60}
    current = assessment.current_evaluation
    assert current.inputs["ecog"] == 4
    assert (first.overall, current.overall) == ("incomplete", "not_eligible")  # ECOG 4 excludes
    performance = next(item for item in current.checklist["items"] if item["code"] == "performance_status")
    assert (performance["status"], performance["inputs"]) == ("exclude", {"ecog": 4})

    page = signed_in.get(response.url).content.decode()
    overall = element(page, id="overall")
    assert [result.classes for result in elements(page, cls="result")] == [{"result", "result-not_eligible"}]
    assert overall.text.endswith("Not eligible")  # the label, not the code
    row = _checklist_row(page, "performance_status")
    assert "<li>ECOG performance status: 4</li>" in row  # the label, not the case key
    assert "<code>" not in row
    assert 'class="item item-exclude" id="item-performance_status"' in row
    assert "Exclude" in row


def test_success_message_after_save(signed_in, patient):
    response = _save(signed_in, patient, "screening", ecog=1)
    page = signed_in.get(response.url).content.decode()
    assert "Screening: saved; the checklist was re-evaluated." in page


# --- The engine's messages beside the field -----------------------------------------------------------


def test_karnofsky_not_multiple_of_ten_is_shown_and_nothing_saved(signed_in, patient):
    before = _assessment(patient)
    evaluations = Evaluation.objects.count()

    response = _save(signed_in, patient, "screening", karnofsky=75, ecog=1)

    assert response.status_code == 200
    page = response.content.decode()
    assert "must be a multiple of 10" in _error_beside(page, "karnofsky")
    assert response.context["form"].errors["karnofsky"] == ["must be a multiple of 10"]
    after = _assessment(patient)
    assert after.revision == before.revision
    assert after.data == before.data == {}
    assert Evaluation.objects.count() == evaluations
    assert after.current_evaluation_id == before.current_evaluation_id


#: (section, form values, the engine case with the same value, the field the message belongs beside)
OUT_OF_RANGE = [
    ("screening", {"age_years": 121}, {"age_years": 121}, "age_years"),
    ("screening", {"weight_kg": 0}, {"weight_kg": 0}, "weight_kg"),
    ("screening", {"prior_lines": 21}, {"prior_lines": 21}, "prior_lines"),
    ("screening", {"ecog": 6}, {"ecog": 6}, "ecog"),
    # Marrow blasts apply to B-ALL only (for another diagnosis the value is removed on save).
    ("screening", {"diagnosis": "b_all", "marrow_blasts_pct": 101}, {"marrow_blasts_pct": 101}, "marrow_blasts_pct"),
    ("screening", {"life_expectancy_weeks": -1}, {"life_expectancy_weeks": -1}, "life_expectancy_weeks"),
    ("pre_infusion", {"temperature__value": 46, "temperature__unit": "C"},
     {"temperature": {"value": 46, "unit": "C"}}, "temperature__value"),
    ("pre_infusion", {"temperature__value": 50, "temperature__unit": "F"},
     {"temperature": {"value": 50, "unit": "F"}}, "temperature__value"),
    ("pre_apheresis", {"alc__value": -1, "alc__unit": "cells/uL"},
     {"alc": {"value": -1, "unit": "cells/uL"}}, "alc__value"),
    ("pre_infusion", {"tocilizumab_doses_available": -2}, {"tocilizumab_doses_available": -2},
     "tocilizumab_doses_available"),
]


@pytest.mark.parametrize(("phase", "posted", "case", "field"), OUT_OF_RANGE,
                         ids=[f"{row[3]}-{list(row[1].values())[-1]}" for row in OUT_OF_RANGE])
def test_out_of_range_value_shows_the_engine_message(signed_in, patient, phase, posted, case, field):
    engine_messages = _engine_message(**case)
    path = field.replace("__", ".")
    assert list(engine_messages) == [path]
    expected = engine_messages[path]
    before = _assessment(patient)

    response = _save(signed_in, patient, phase, stage="pre_infusion", **posted)

    assert response.status_code == 200
    assert response.context["form"].errors[field] == [expected]
    assert expected in _error_beside(response.content.decode(), field)
    after = _assessment(patient)
    assert (after.revision, after.data) == (before.revision, before.data)


def test_messages_name_the_engine_ranges():
    """Sanity: the messages the form must show are the engine's, with its limits (criteria.md section 3)."""
    assert _engine_message(age_years=121) == {"age_years": "must be at most 120"}
    assert _engine_message(temperature={"value": 46, "unit": "C"}) == {
        "temperature.value": "must be between 25 and 45 C"}
    assert _engine_message(temperature={"value": 50, "unit": "F"}) == {
        "temperature.value": "must be between 77 and 113 F"}


def test_html_limits_are_copied_from_the_engine_schema(signed_in, patient):
    page = signed_in.get(_intake_url(patient, "screening")).content.decode()
    assert re.search(r'<input type="number" name="age_years"[^>]* min="0" max="120"', page)
    assert re.search(r'<input type="number" name="karnofsky"[^>]* max="100" step="10"', page)


def test_non_numeric_text_is_a_field_error_not_a_crash(signed_in, patient):
    response = _save(signed_in, patient, "screening", ecog="two", weight_kg="heavy")
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "ecog" in errors and "weight_kg" in errors
    assert _error_beside(response.content.decode(), "ecog").strip()
    assert _assessment(patient).revision == 0


# --- Units --------------------------------------------------------------------------------------------


def test_alc_in_cells_per_ul_is_saved_with_its_unit_and_converted_on_the_checklist(signed_in, patient):
    response = _save(signed_in, patient, "pre_apheresis", stage="pre_apheresis", alc__value=150,
                     alc__unit="cells/uL")
    assert response.status_code == 302
    assert _assessment(patient).data == {"alc": {"value": 150, "unit": "cells/uL"}}

    row = _checklist_row(signed_in.get(response.url).content.decode(), "alc")
    assert "0.15" in row
    assert 'class="item item-flag"' in row
    assert "Flag" in row


@pytest.mark.parametrize("stage", ["pre_lymphodepletion", "pre_infusion"])
def test_alc_is_flagged_at_later_stages_too(signed_in, patient, stage):
    _save(signed_in, patient, "pre_apheresis", stage=stage, alc__value=150, alc__unit="cells/uL")
    row = _checklist_row(signed_in.get(reverse("checklist", args=[patient.public_id])).content.decode(), "alc")
    assert 'class="item item-flag"' in row and "0.15" in row


def test_temperature_in_fahrenheit_is_saved_with_its_unit_and_defers(signed_in, patient):
    response = _save(signed_in, patient, "pre_infusion", stage="pre_infusion", temperature__value="101.2",
                     temperature__unit="F")
    assert response.status_code == 302
    assert _assessment(patient).data == {"temperature": {"value": 101.2, "unit": "F"}}

    row = _checklist_row(signed_in.get(response.url).content.decode(), "fever")
    assert "101.2 °F = 38.4 °C" in row and "Temperature: 101.2 °F" in row
    assert 'class="item item-defer"' in row
    assert "Defer" in row


def test_alc_value_without_unit_asks_for_the_unit(signed_in, patient):
    """The engine says a missing unit 'is required'; the form must say the same beside the unit."""
    response = _save(signed_in, patient, "pre_apheresis", stage="pre_apheresis", alc__value=150)
    assert response.status_code == 200
    assert _engine_message(alc={"value": 150}) == {"alc.unit": "is required"}
    assert response.context["form"].errors.get("alc__unit") == ["is required"]
    assert "is required" in _error_beside(response.content.decode(), "alc__unit")
    assert _assessment(patient).revision == 0


def test_temperature_value_without_unit_asks_for_the_unit(signed_in, patient):
    response = _save(signed_in, patient, "pre_infusion", stage="pre_infusion", temperature__value=37)
    assert response.status_code == 200
    assert response.context["form"].errors.get("temperature__unit") == ["is required"]
    assert _assessment(patient).revision == 0


def test_saved_measurement_is_shown_back_in_the_form(signed_in, patient):
    _save(signed_in, patient, "pre_apheresis", stage="pre_apheresis", alc__value=0.5, alc__unit="10^9/L")
    values = _form_values(signed_in.get(_intake_url(patient, "pre_apheresis")).content.decode())
    assert values["alc__value"] == "0.5"
    assert values["alc__unit"] == "10^9/L"
    assert values["revision"] == "1"


# --- Sections keep each other's data; clearing removes ------------------------------------------------


def test_saving_one_section_keeps_the_others(signed_in, patient):
    _save(signed_in, patient, "screening", stage="screening", ecog=1, diagnosis="lbcl", infections__hbv="negative",
          infections__markers_tested_on="2025-01-10")
    _save(signed_in, patient, "pre_apheresis", stage="pre_apheresis", alc__value=0.8, alc__unit="10^9/L")
    _save(signed_in, patient, "pre_lymphodepletion", stage="pre_lymphodepletion", organ_function__cardiac="normal")

    assert _assessment(patient).data == {
        "ecog": 1, "diagnosis": "lbcl",
        "infections": {"hbv": "negative", "markers_tested_on": "2025-01-10"},
        "alc": {"value": 0.8, "unit": "10^9/L"},
        "organ_function": {"cardiac": "normal"},
    }
    assert _assessment(patient).stage == "pre_lymphodepletion"


def test_clearing_a_field_removes_it(signed_in, patient):
    _save(signed_in, patient, "screening", ecog=1, age_years=40, infections__hbv="negative")
    assert _assessment(patient).data == {"ecog": 1, "age_years": 40, "infections": {"hbv": "negative"}}

    response = _save(signed_in, patient, "screening", ecog="", age_years=40, infections__hbv="")

    assert response.status_code == 302
    assert _assessment(patient).data == {"age_years": 40}


def test_clearing_a_measurement_removes_it(signed_in, patient):
    _save(signed_in, patient, "pre_infusion", stage="pre_infusion", temperature__value=37, temperature__unit="C")
    _save(signed_in, patient, "pre_infusion", stage="pre_infusion", temperature__value="", temperature__unit="")
    assert "temperature" not in _assessment(patient).data


# --- History ------------------------------------------------------------------------------------------


def test_history_lists_who_changed_which_value(client, patient, coordinator):
    second = UserFactory(role="Coordinator", first_name="Sam", last_name="Second")
    client.force_login(coordinator)
    _save(client, patient, "screening", ecog=1)
    client.force_login(second)
    _save(client, patient, "screening", ecog=2)

    assessment = _assessment(patient)
    assert assessment.history.count() == 3  # created, then two saves
    assert [record.history_user for record in assessment.history.order_by("history_date", "history_id")] == [
        coordinator, coordinator, second]

    page = client.get(reverse("patient_detail", args=[patient.public_id])).content.decode()
    rows = [[html.unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in re.findall(r"<td>(.*?)</td>", row)]
            for row in re.findall(r"<tr>(.*?)</tr>", page, re.DOTALL)]
    ecog_rows = [row[1:] for row in rows if len(row) == 5 and row[2] == "ECOG performance status"]
    assert ["Sam Second", "ECOG performance status", "1", "2"] in ecog_rows
    assert ["Cora Ordinator", "ECOG performance status", "not recorded", "1"] in ecog_rows
    assert ecog_rows.index(["Sam Second", "ECOG performance status", "1", "2"]) == 0  # newest first


# --- Two people editing at once -----------------------------------------------------------------------


def test_second_save_of_the_same_revision_is_refused_and_keeps_the_entries(client, patient, coordinator):
    second = UserFactory(role="Coordinator", first_name="Sam", last_name="Second")
    client.force_login(coordinator)
    form_a = _form_values(client.get(_intake_url(patient, "screening")).content.decode())
    client.force_login(second)
    form_b = _form_values(client.get(_intake_url(patient, "screening")).content.decode())
    assert form_a["revision"] == form_b["revision"] == "0"

    client.force_login(coordinator)
    assert _save(client, patient, "screening", revision=0, ecog=1, age_years=55).status_code == 302
    saved = _assessment(patient)
    evaluations = Evaluation.objects.count()

    client.force_login(second)
    response = _save(client, patient, "screening", revision=0, ecog=3, age_years=70)

    assert response.status_code == 200
    page = response.content.decode()
    # Refused with the summary above the form, and who saved meanwhile beside each field changed.
    assert element(page, id="problem-summary")
    assert set(response.context["form"].notes) == {"ecog", "age_years"}
    for name in ("ecog", "age_years"):
        assert coordinator.get_full_name() in element(page, id=f"id_{name}_saved").text
    after = _assessment(patient)
    assert after.data == {"ecog": 1, "age_years": 55}
    assert after.revision == saved.revision == 1
    assert after.updated_by == coordinator
    assert Evaluation.objects.count() == evaluations
    values = _form_values(page)
    assert values["ecog"] == "3"
    assert values["age_years"] == "70"
    assert values["revision"] == "1"  # saving again now overwrites knowingly

    again = client.post(_intake_url(patient, "screening"),
                        {"stage": "screening", "revision": values["revision"], "ecog": "3", "age_years": "70"})
    assert again.status_code == 302
    assert _assessment(patient).data == {"ecog": 3, "age_years": 70}


def test_service_refuses_a_stale_revision(patient, coordinator):
    assessment = _assessment(patient)
    services.assessment_update(assessment=assessment, changes={"ecog": 1}, stage="screening", revision=0,
                               by=coordinator)
    stale = Assessment.objects.get(pk=assessment.pk)
    stale.revision = 0
    evaluations = Evaluation.objects.count()

    with pytest.raises(services.ConcurrentEdit) as raised:
        services.assessment_update(assessment=stale, changes={"ecog": 4}, stage="screening", revision=0,
                                   by=coordinator)

    assert raised.value.assessment.revision == 1
    fresh = _assessment(patient)
    assert fresh.data == {"ecog": 1}
    assert fresh.revision == 1
    assert Evaluation.objects.count() == evaluations


def test_service_refuses_invalid_data_and_writes_nothing(patient, coordinator):
    assessment = _assessment(patient)
    with pytest.raises(CaseValidationError):
        services.assessment_update(assessment=assessment, changes={"karnofsky": 75}, stage="screening",
                                   revision=0, by=coordinator)
    assert (_assessment(patient).revision, _assessment(patient).data) == (0, {})


# --- Every case key in exactly one section ------------------------------------------------------------


def test_every_case_key_is_in_exactly_one_section():
    import msgspec.inspect as schema

    from eligibility.common.display import CASE_GROUPS
    from eligibility.rules import Case

    expected = []
    for field in schema.type_info(Case).fields:
        if field.name in ("case_id", "stage", "driving_counselled_weeks"):
            continue  # set by the application, not typed in (the weeks with a "yes" to driving counselling)
        if field.name == "as_of":
            continue  # not an intake field: the web application evaluates as of today in the programme's zone
        if field.name in CASE_GROUPS:  # infections, organ_function, labs, gvhd, washout: member by member
            group = next(member for member in field.type.types if isinstance(member, schema.StructType))
            expected += [f"{field.name}.{sub.name}" for sub in group.fields]
        else:
            expected.append(field.name)
    in_sections = [path for _, _, paths in intake_fields.SECTIONS for path in paths]
    duplicates = sorted({path for path in in_sections if in_sections.count(path) > 1})
    assert duplicates == []
    assert sorted(in_sections) == sorted(expected)


@pytest.mark.parametrize("phase", [phase for phase, _, _ in intake_fields.SECTIONS])
def test_every_section_renders_every_field(signed_in, patient, phase):
    page = signed_in.get(_intake_url(patient, phase)).content.decode()
    names = set(re.findall(r'\bname="([^"]+)"', page))  # boxes not ticked too
    for entry in intake_fields.section_fields(phase):
        assert set(entry.names) <= names
    assert {"alc__value", "alc__unit", "temperature__value", "temperature__unit"} & names == {
        "pre_apheresis": {"alc__value", "alc__unit"}, "pre_infusion": {"temperature__value", "temperature__unit"},
    }.get(phase, set())  # a value with its unit: two fields
    assert {"stage", "revision"} <= names
