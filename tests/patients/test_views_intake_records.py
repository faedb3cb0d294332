"""Nothing typed is lost or silently reverted: stale forms, one-pass validation with a summary,
values that no longer apply, dates, lengths (issue 9, items 3, 4 and 6)."""

from __future__ import annotations

import datetime
import html
import re

import pytest
from django.core import signing
from django.core.exceptions import NON_FIELD_ERRORS
from django.urls import reverse
from django.utils import timezone

from eligibility.models import Assessment, Evaluation
from eligibility.patients import fields as intake_fields
from eligibility.patients import forms as intake_forms
from eligibility.patients import services
from eligibility.rules import Engine, default_ruleset
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
    return PatientFactory(by=cora, study_id="REC-001", initials="RC")


def _url(patient, phase):
    return reverse("intake", args=[patient.public_id, phase])


def _assessment(patient) -> Assessment:
    return Assessment.objects.get(patient=patient)


def _open(client, patient, phase) -> dict[str, str]:
    """What the browser holds after opening the form: every field's value (as it would post them)."""
    values = _form_values(client.get(_url(patient, phase)).content.decode())
    values.pop("csrfmiddlewaretoken", None)
    values.pop("save", None)
    return {name: value or "" for name, value in values.items()}


def _set(patient, by, stage=None, **changes):
    assessment = _assessment(patient)
    services.assessment_update(assessment=assessment, changes=changes, stage=stage or assessment.stage,
                               revision=assessment.revision, by=by)


def _note(page: str, name: str) -> str:
    match = re.search(rf'<p class="saved-meanwhile[^"]*" id="id_{name}_saved">(.*?)</p>', page, re.DOTALL)
    if not match:
        return ""
    text = re.sub(r'<span aria-hidden="true">.*?</span>', "", match.group(1))  # the icon
    return html.unescape(re.sub(r"<[^>]+>", "", text)).strip()


# --- A stale form never puts back a colleague's value ----------------------------------------------------


def test_stale_form_is_refused_shows_the_colleagues_value_and_the_resave_keeps_it(client, patient, cora, casey):
    _set(patient, cora, tocilizumab_doses_available=1)
    client.force_login(cora)
    mine = _open(client, patient, "pre_infusion")
    assert mine["tocilizumab_doses_available"] == "1"

    _set(patient, casey, tocilizumab_doses_available=2)  # the colleague, meanwhile
    evaluations = Evaluation.objects.count()

    mine["caregiver_confirmed"] = "true"
    refused = client.post(_url(patient, "pre_infusion"), mine)

    assert refused.status_code == 200
    page = html.unescape(refused.content.decode())
    assert "Not saved: Casey Jones saved this assessment at" in page
    assert _assessment(patient).data == {"tocilizumab_doses_available": 2}
    assert Evaluation.objects.count() == evaluations
    note = _note(refused.content.decode(), "tocilizumab_doses_available")
    assert note.startswith("Saved by Casey Jones at ") and ": 2 (it was 1 when you opened the form)" in note
    again = _form_values(refused.content.decode())
    assert again["tocilizumab_doses_available"] == "2"  # the field the user did not touch shows the saved value
    assert again["caregiver_confirmed"] == "true"  # what the user typed is kept
    assert again["revision"] == str(_assessment(patient).revision)
    assert _note(refused.content.decode(), "caregiver_confirmed") == ""  # nobody else changed it

    again = {name: value or "" for name, value in again.items() if name not in ("csrfmiddlewaretoken", "save")}
    saved = client.post(_url(patient, "pre_infusion"), again)

    assert saved.status_code == 302
    assert _assessment(patient).data == {"tocilizumab_doses_available": 2, "caregiver_confirmed": True}


def test_a_re_save_applies_only_what_the_user_changed_even_if_the_fields_still_hold_old_values(
        client, patient, cora, casey):
    """The service receives only the user's change, never the stale value of an untouched field."""
    _set(patient, cora, tocilizumab_doses_available=1, travel_time_minutes=30)
    client.force_login(cora)
    mine = _open(client, patient, "pre_infusion")
    _set(patient, casey, tocilizumab_doses_available=2)
    client.post(_url(patient, "pre_infusion"), {**mine, "travel_time_minutes": "45"})  # refused
    # A client that sends the new revision and snapshot but the OLD value of the untouched field:
    page = client.get(_url(patient, "pre_infusion")).content.decode()
    fresh = _form_values(page)
    posted = {**mine, "revision": fresh["revision"], "base": fresh["base"], "travel_time_minutes": "45",
              "tocilizumab_doses_available": "2"}
    assert client.post(_url(patient, "pre_infusion"), posted).status_code == 302
    assert _assessment(patient).data == {"tocilizumab_doses_available": 2, "travel_time_minutes": 45}


def test_both_changed_the_same_field_the_users_entry_is_kept_beside_the_colleagues(client, patient, cora, casey):
    _set(patient, cora, tocilizumab_doses_available=1)
    client.force_login(cora)
    mine = _open(client, patient, "pre_infusion")
    _set(patient, casey, tocilizumab_doses_available=2)

    refused = client.post(_url(patient, "pre_infusion"), {**mine, "tocilizumab_doses_available": "3"})

    page = refused.content.decode()
    assert _form_values(page)["tocilizumab_doses_available"] == "3"
    note = _note(page, "tocilizumab_doses_available")
    assert note.startswith("Saved by Casey Jones at ") and ": 2. Your entry is kept" in note
    summary = html.unescape(re.search(r'<div class="alert alert-danger problem-summary".*?</div>', page,
                                      re.DOTALL).group(0))
    assert 'href="#id_tocilizumab_doses_available"' in summary and "Saved by Casey Jones" in summary
    again = {name: value or "" for name, value in _form_values(page).items()
             if name not in ("csrfmiddlewaretoken", "save")}
    assert client.post(_url(patient, "pre_infusion"), again).status_code == 302
    assert _assessment(patient).data == {"tocilizumab_doses_available": 3}


def test_stage_changed_by_a_colleague_is_not_put_back(client, patient, cora, casey):
    client.force_login(cora)
    mine = _open(client, patient, "screening")
    assert mine["stage"] == "screening"
    _set(patient, casey, stage="pre_apheresis", ecog=1)

    refused = client.post(_url(patient, "screening"), {**mine, "age_years": "50"})
    again = _form_values(refused.content.decode())
    assert again["stage"] == "pre_apheresis"
    assert "Saved by Casey Jones" in _note(refused.content.decode(), "stage")
    again = {name: value or "" for name, value in again.items() if name not in ("csrfmiddlewaretoken", "save")}
    assert client.post(_url(patient, "screening"), again).status_code == 302
    assessment = _assessment(patient)
    assert (assessment.stage, assessment.data) == ("pre_apheresis", {"ecog": 1, "age_years": 50})


def test_changes_in_a_group_keep_the_colleagues_other_members(client, patient, cora, casey):
    """Infections are one group in the data: the user's HCV change must not undo the colleague's HIV."""
    client.force_login(cora)
    mine = _open(client, patient, "screening")
    _set(patient, casey, infections={"hiv": "negative"})
    client.post(_url(patient, "screening"), {**mine, "infections__hcv": "negative"})  # refused
    again = _open(client, patient, "screening") | {"infections__hcv": "negative"}
    assert client.post(_url(patient, "screening"), again).status_code == 302
    assert _assessment(patient).data == {"infections": {"hiv": "negative", "hcv": "negative"}}


# --- Hidden fields cannot be tampered with into a crash or a silent overwrite -----------------------------


@pytest.mark.parametrize(("name", "value"), [
    ("revision", "abc"), ("revision", "-1"), ("revision", "1e9999"), ("revision", "99999999999999999999999"),
    ("base", "garbage"), ("base", signing.dumps({"a": 0, "r": 0, "s": "screening", "v": {}},
                                                salt=intake_forms.BASE_SALT)),
    ("base", signing.dumps([1, 2], salt=intake_forms.BASE_SALT)),
])
def test_tampered_hidden_fields_are_a_form_error(client, patient, cora, name, value):
    client.force_login(cora)
    posted = {**_open(client, patient, "screening"), "ecog": "1", name: value}
    response = client.post(_url(patient, "screening"), posted)
    assert response.status_code == 200
    form = response.context["form"]
    assert form.has_error(NON_FIELD_ERRORS, code="tampered") and name not in form.errors
    # Said in words in the summary above the form: the browser never shows the hidden field.
    assert " ".join(form.HIDDEN_PROBLEM.split()) in element(response.content, id="problem-summary").text
    assert _assessment(patient).revision == 0
    assert _form_values(response.content.decode())["ecog"] == "1"  # the entry is kept


# --- Every problem in one pass, with a summary ------------------------------------------------------------


def test_type_and_range_errors_are_reported_together_with_a_linked_summary(client, patient, cora):
    client.force_login(cora)
    posted = {**_open(client, patient, "screening"), "ecog": "two", "karnofsky": "75", "age_years": "121"}

    response = client.post(_url(patient, "screening"), posted)

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert errors["ecog"] == ["Enter a whole number."]
    assert errors["karnofsky"] == ["must be a multiple of 10"]
    assert errors["age_years"] == ["must be at most 120"]
    page = response.content.decode()
    summary = re.search(r'<div class="alert alert-danger problem-summary"[^>]*>(.*?)</div>', page, re.DOTALL)
    assert summary, "no summary above the form"
    assert 'tabindex="-1" autofocus' in summary.group(0)
    links = re.findall(r'<a href="#(id_\w+)">([^<]*)</a>', summary.group(1))
    assert [anchor for anchor, _ in links] == ["id_age_years", "id_ecog", "id_karnofsky"]
    assert len(response.context["form"].problems()) == 3
    assert len(elements(summary.group(1), tag="li")) == 3
    for anchor, _ in links:
        assert f'id="{anchor}"' in page
    assert "must be a multiple of 10" in _error_beside(page, "karnofsky")
    assert _assessment(patient).revision == 0


def test_a_valid_form_has_no_summary(client, patient, cora):
    client.force_login(cora)
    response = client.get(_url(patient, "screening"))
    assert response.status_code == 200 and not response.context["form"].errors
    assert elements(response.content, cls="problem-summary") == []
    assert elements(response.content, id="problem-summary") == []


# --- Values of fields that no longer apply are removed, and the history shows it -------------------------


def test_prophylaxis_is_removed_when_hbv_turns_negative_and_the_history_shows_it(client, patient, cora):
    client.force_login(cora)
    form = _open(client, patient, "screening")
    client.post(_url(patient, "screening"), {**form, "infections__hbv": "positive",
                                             "infections__hbv_prophylaxis": "true"})
    drawn = form["infections__markers_tested_on"]  # the markers' date, pre-filled with today, kept with them
    assert _assessment(patient).data == {"infections": {"hbv": "positive", "hbv_prophylaxis": True,
                                                        "markers_tested_on": drawn}}

    form = _open(client, patient, "screening")
    assert form["infections__hbv_prophylaxis"] == "true"  # hidden by the script, still posted
    response = client.post(_url(patient, "screening"), {**form, "infections__hbv": "negative"})

    assert response.status_code == 302
    assert _assessment(patient).data == {"infections": {"hbv": "negative", "markers_tested_on": drawn}}
    message = html.unescape(client.get(response.url).content.decode())
    assert "Removed because they no longer apply: HBV antiviral prophylaxis in place (was Yes)" in message
    page = client.get(reverse("patient_detail", args=[patient.public_id])).content.decode()
    rows = [[html.unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in re.findall(r"<td>(.*?)</td>", row)]
            for row in re.findall(r"<tr>(.*?)</tr>", page, re.DOTALL)]
    assert ["Cora Ordinator", "HBV antiviral prophylaxis in place", "yes", "not recorded"] in [row[1:] for row in rows]


@pytest.mark.parametrize(("phase", "kept", "hidden", "value", "switch"), [
    ("pre_apheresis", {"starting_material": "cryopreserved"}, "cryopreserved_months", "4",
     {"starting_material": "fresh"}),
    ("screening", {"diagnosis": "b_all"}, "marrow_blasts_pct", "40", {"diagnosis": "lbcl"}),
    ("screening", {"prior_allo_hsct": "true"}, "on_immunosuppression", "true", {"prior_allo_hsct": "false"}),
])
def test_values_of_fields_that_no_longer_apply_are_removed(client, patient, cora, phase, kept, hidden, value, switch):
    client.force_login(cora)
    client.post(_url(patient, phase), {**_open(client, patient, phase), **kept, hidden: value})
    assert hidden in _assessment(patient).data
    response = client.post(_url(patient, phase), {**_open(client, patient, phase), **switch})
    assert response.status_code == 302
    assert hidden not in _assessment(patient).data


def test_a_value_typed_into_a_field_that_does_not_apply_is_not_saved_and_its_problem_not_shown(
        client, patient, cora):
    client.force_login(cora)
    posted = {**_open(client, patient, "pre_apheresis"), "starting_material": "fresh",
              "cryopreserved_months": "abc"}
    assert client.post(_url(patient, "pre_apheresis"), posted).status_code == 302
    assert _assessment(patient).data == {"starting_material": "fresh"}


def test_the_script_reads_the_servers_table_of_conditions(client, patient, cora):
    client.force_login(cora)
    shown = {}
    by_name = {name: entry.path for entry in intake_fields.FIELDS for name in entry.names}
    for phase, _, _ in intake_fields.SECTIONS:
        page = client.get(_url(patient, phase)).content.decode()
        for condition, names in re.findall(r'data-show-when="([^"]+)"[^>]*>.*?name="(\w+)"', page, re.DOTALL):
            shown[by_name[names]] = html.unescape(condition)
    assert shown == {
        "infections.hbv_prophylaxis": "infections__hbv=positive",
        "infections.hcv_prophylaxis": "infections__hcv=positive",
        "infections.hiv_prophylaxis": "infections__hiv=positive",
        "cryopreserved_months": "starting_material=cryopreserved",
        "marrow_blasts_pct": "diagnosis=b_all",
        "mrd": "diagnosis=b_all",
        "on_immunosuppression": "prior_allo_hsct=true",
        "antigen_retested_after_targeted_therapy": "prior_bispecific=true|prior_car_t=true",
        "gvhd.acute_grade": "prior_allo_hsct=true",
        "gvhd.chronic": "prior_allo_hsct=true",
        "anticonvulsant_prophylaxis": "cns_involvement=true",
        "infections.sars_cov_2_tested_on": "infections__sars_cov_2=negative|infections__sars_cov_2=positive",
        # A washout's last dose, inside its fieldset (the engine refuses it with another status).
        "washout.systemic_corticosteroids": "washout__systemic_corticosteroids__status=stopped",
        "washout.cytotoxic_chemotherapy": "washout__cytotoxic_chemotherapy__status=stopped",
    }
    assert shown == {**{entry.path: entry.show_when for entry in intake_fields.FIELDS if entry.when},
                     **{entry.path: f"{entry.names[0]}=stopped" for entry in intake_fields.FIELDS
                        if entry.kind == intake_fields.Kind.WASHOUT}}


# --- Dates -----------------------------------------------------------------------------------------------

TODAY = datetime.date(2026, 3, 2)


@pytest.fixture
def today(monkeypatch):
    monkeypatch.setattr(intake_forms.timezone, "localdate", lambda: TODAY)
    return TODAY


@pytest.mark.parametrize(("day", "accepted"), [
    (TODAY, True), (TODAY + datetime.timedelta(days=1), False),
    (datetime.date(1900, 1, 1), True), (datetime.date(1899, 12, 31), False),
])
def test_markers_drawn_on_today_at_the_latest_and_1900_at_the_earliest(client, patient, cora, today, day,
                                                                       accepted):
    client.force_login(cora)
    posted = {**_open(client, patient, "screening"), "infections__hbv": "negative",
              "infections__markers_tested_on": day.isoformat()}
    response = client.post(_url(patient, "screening"), posted)
    if accepted:
        assert response.status_code == 302
        assert _assessment(patient).data == {"infections": {"hbv": "negative", "markers_tested_on": day.isoformat()}}
    else:
        assert response.status_code == 200
        message = _error_beside(response.content.decode(), "infections__markers_tested_on")
        assert ("cannot be after today (02 Mar 2026)" in message if day > today
                else "cannot be before 1 January 1900" in message)
        assert _assessment(patient).revision == 0


@pytest.mark.parametrize(("offset", "accepted"), [(0, True), (365, True), (366, False), (-1, True)])
def test_leukapheresis_may_be_planned_up_to_365_days_ahead(client, patient, cora, today, offset, accepted):
    client.force_login(cora)
    day = today + datetime.timedelta(days=offset)
    response = client.post(_url(patient, "pre_apheresis"),
                           {**_open(client, patient, "pre_apheresis"), "leukapheresis_date": day.isoformat()})
    assert (response.status_code == 302) is accepted
    if not accepted:
        assert "cannot be more than 365 days ahead (latest 02 Mar 2027)" in _error_beside(
            response.content.decode(), "leukapheresis_date")


def test_before_1900_is_refused_for_planned_dates_too(client, patient, cora, today):
    client.force_login(cora)
    response = client.post(_url(patient, "pre_apheresis"),
                           {**_open(client, patient, "pre_apheresis"), "leukapheresis_date": "1900-01-01"})
    assert response.status_code == 302
    response = client.post(_url(patient, "pre_apheresis"),
                           {**_open(client, patient, "pre_apheresis"), "leukapheresis_date": "1899-12-31"})
    assert "cannot be before 1 January 1900" in _error_beside(response.content.decode(), "leukapheresis_date")


def test_the_date_limits_are_stated_and_given_to_the_browser(client, patient, cora, today):
    client.force_login(cora)
    page = client.get(_url(patient, "screening")).content.decode()
    assert re.search(r'name="infections__markers_tested_on"[^>]* min="1900-01-01" max="2026-03-02"', page)
    assert "today (02 Mar 2026) or earlier, not before 1900" in page
    page = client.get(_url(patient, "pre_apheresis")).content.decode()
    assert re.search(r'name="leukapheresis_date"[^>]* min="1900-01-01" max="2027-03-02"', page)
    assert "from 1900 up to 365 days ahead (by 02 Mar 2027)" in page


def test_today_is_the_programmes_day_not_the_servers(client, patient, cora, settings, monkeypatch):
    """11:30 UTC on 1 March is already 2 March in Auckland: a programme there may record the 2nd."""
    settings.TIME_ZONE = "Pacific/Auckland"
    instant = datetime.datetime(2026, 3, 1, 11, 30, tzinfo=datetime.UTC)
    monkeypatch.setattr(timezone, "now", lambda: instant)
    client.force_login(cora)
    form = _open(client, patient, "screening")
    assert client.post(_url(patient, "screening"),
                       {**form, "infections__markers_tested_on": "2026-03-02"}).status_code == 302
    response = client.post(_url(patient, "screening"), {**_open(client, patient, "screening"),
                                                            "infections__markers_tested_on": "2026-03-03"})
    assert "cannot be after today" in _error_beside(response.content.decode(), "infections__markers_tested_on")


def test_the_engine_keeps_its_own_date_rules():
    """The limits are the web form's: the command line (engine) takes what it took before."""
    case = Engine(default_ruleset()).parse({"infections": {"markers_tested_on": "2027-06-01"},
                                            "leukapheresis_date": "1899-01-01"})
    assert case.leukapheresis_date == datetime.date(1899, 1, 1)


# --- Free text has a stated maximum ----------------------------------------------------------------------


def test_the_patient_form_states_and_enforces_its_lengths(client, cora):
    client.force_login(cora)
    page = client.get(reverse("patient_create")).content.decode()
    assert "Up to 40 characters" in page
    assert "Up to four letters" in page
    response = client.post(reverse("patient_create"), {"study_id": "X" * 41, "initials": "ABCDE"})
    assert response.status_code == 200
    assert "at most 40 characters" in _error_beside(response.content.decode(), "study_id")
    assert "Up to four capital letters" in _error_beside(response.content.decode(), "initials")
    response = client.post(reverse("patient_create"), {"study_id": "X-1", "initials": "A" * 9})
    assert "at most 8 characters" in _error_beside(response.content.decode(), "initials")
    response = client.post(reverse("patient_create"), {"study_id": "X" * 200_000, "initials": "AB"})
    assert "at most 40 characters" in _error_beside(response.content.decode(), "study_id")


def test_the_intake_forms_have_no_free_text():
    """Every intake field is a number, a date or a choice: nothing to bound but what the engine bounds."""
    from django import forms

    for phase, _, _ in intake_fields.SECTIONS:
        form = intake_forms.SectionForm(phase=phase, engine=Engine(default_ruleset()),
                                        assessment=Assessment(pk=1, data={}, revision=0))
        free = [name for name, field in form.fields.items()
                if type(field) is forms.CharField and name != "base"]
        assert free == []


def test_counselling_recorded_under_another_restriction_is_confirmed_on_the_form(client):
    """Counselled under 8 weeks; version 2 says 2 weeks: the item asks, the form offers the box, and
    ticking it records 2 weeks (the item passes again); without the box nothing changes."""
    from decimal import Decimal

    from eligibility.models import Assessment
    from eligibility.review import reevaluation
    from eligibility.rulesets import services as rulesets
    from tests.factories import PatientFactory, UserFactory

    coordinator = UserFactory(role="Coordinator")
    administrator = UserFactory(role="Administrator")
    patient = PatientFactory(by=coordinator)
    assessment = Assessment.objects.get(patient=patient)
    services.assessment_update(assessment=assessment, changes={"driving_counselled": True}, stage="pre_infusion",
                               revision=assessment.revision, by=coordinator)
    assessment.refresh_from_db()
    assert assessment.data["driving_counselled_weeks"] == 8
    url = reverse("intake", args=[patient.public_id, "pre_infusion"])
    client.force_login(coordinator)
    assert "driving_counselled_confirm" not in client.get(url).context["form"].fields  # same restriction
    draft = rulesets.ruleset_draft_create(by=administrator)
    rulesets.ruleset_thresholds_update(draft=draft, values={"driving_restriction_weeks": Decimal(2)}, by=administrator)
    published = rulesets.ruleset_publish(draft=draft, note="2 weeks", by=administrator)
    reevaluation.reevaluate_open_assessments(ruleset=published, by=administrator)
    assessment.refresh_from_db()
    item = next(i for i in assessment.current_evaluation.checklist["items"] if i["code"] == "driving_counselled")
    assert item["status"] == "missing" and item["reason"].startswith("Counselled for 8 weeks when recorded")
    page = client.get(url)
    assert page.context["form"].fields["driving_counselled_confirm"].label.endswith("for 2 weeks after infusion")
    data = {name: value for name, value in _form_values(page.content.decode()).items()
            if value is not None and name != "driving_counselled_confirm"}
    client.post(url, data)  # saved as it was, box not ticked: the record keeps what was said
    assessment.refresh_from_db()
    assert assessment.data["driving_counselled_weeks"] == 8
    data = {name: value for name, value in _form_values(client.get(url).content.decode()).items()
            if value is not None}
    response = client.post(url, {**data, "driving_counselled_confirm": "on"})
    assert response.status_code == 302, response.context["form"].errors
    assessment.refresh_from_db()
    assert assessment.data["driving_counselled_weeks"] == 2
    item = next(i for i in assessment.current_evaluation.checklist["items"] if i["code"] == "driving_counselled")
    assert item["status"] == "pass"
