"""Every measured value with its date (issue 14, item 2): the date beside the value, pre-filled with
today (the temperature with now, in the programme's time zone) while the value is not recorded; a
pre-filled date left with no value records nothing; a value entered keeps its default date."""

from __future__ import annotations

import datetime
import re

import pytest
from django.utils import timezone

from eligibility.models import Assessment
from tests.factories import PatientFactory, UserFactory
from tests.patients.test_views_intake import _error_beside, _form_values
from tests.patients.test_views_intake_records import _open, _url

pytestmark = [pytest.mark.django_db, pytest.mark.filterwarnings("ignore:No directory at:UserWarning")]

#: 23:30 UTC on 1 March is 2 March, 10:30 in Auckland: the programme's day and time.
INSTANT = datetime.datetime(2026, 3, 1, 21, 30, tzinfo=datetime.UTC)
TODAY = datetime.date(2026, 3, 2)


@pytest.fixture
def clock(settings, monkeypatch):
    settings.TIME_ZONE = "Pacific/Auckland"
    monkeypatch.setattr(timezone, "now", lambda: INSTANT)
    return INSTANT


@pytest.fixture
def cora():
    return UserFactory(role="Coordinator", first_name="Cora", last_name="Ordinator")


@pytest.fixture
def patient(cora):
    return PatientFactory(by=cora, study_id="DATES-001", initials="DT")


@pytest.fixture
def signed_in(client, cora):
    client.force_login(cora)
    return client


def _data(patient) -> dict:
    return Assessment.objects.get(patient=patient).data


def _revision(patient) -> int:
    return Assessment.objects.get(patient=patient).revision


@pytest.mark.parametrize(("phase", "name", "default"), [
    ("screening", "weight_measured_on", "2026-03-02"),
    ("screening", "infections__markers_tested_on", "2026-03-02"),
    ("pre_apheresis", "alc__measured_on", "2026-03-02"),
    ("pre_lymphodepletion", "labs__platelets__measured_on", "2026-03-02"),
    ("pre_lymphodepletion", "lvef__measured_on", "2026-03-02"),
    ("pre_lymphodepletion", "spo2_room_air__measured_on", "2026-03-02"),
    ("pre_lymphodepletion", "infections__sars_cov_2_tested_on", "2026-03-02"),
    ("pre_infusion", "temperature__measured_at", "2026-03-02T10:30"),
])
def test_the_date_of_a_value_not_recorded_is_prefilled_with_the_programmes_today(signed_in, patient, clock, phase,
                                                                                 name, default):
    assert _open(signed_in, patient, phase)[name] == default


def test_the_weight_has_its_date_beside_it(signed_in, patient, clock):
    page = signed_in.get(_url(patient, "screening")).content.decode()
    assert page.index('name="weight_kg"') < page.index('name="weight_measured_on"') < page.index('name="ecog"')
    assert re.search(r'<label[^>]*for="id_weight_measured_on"[^>]*>\s*Weight measured on', page)


def test_a_prefilled_date_left_without_a_value_records_nothing(signed_in, patient, clock):
    for phase in ("screening", "pre_apheresis", "pre_lymphodepletion", "pre_infusion"):
        response = signed_in.post(_url(patient, phase), _open(signed_in, patient, phase))
        assert response.status_code == 302, phase
    assert _data(patient) == {}
    assert _revision(patient) == 0  # nothing changed: nothing written


def test_a_value_entered_keeps_its_default_date(signed_in, patient, clock):
    form = _open(signed_in, patient, "screening")
    assert signed_in.post(_url(patient, "screening"), {**form, "weight_kg": "71.5"}).status_code == 302
    form = _open(signed_in, patient, "pre_infusion")
    assert signed_in.post(_url(patient, "pre_infusion"), {**form, "temperature__value": "37.2",
                                                          "temperature__unit": "C"}).status_code == 302
    form = _open(signed_in, patient, "pre_apheresis")
    assert signed_in.post(_url(patient, "pre_apheresis"), {**form, "alc__value": "0.35",
                                                           "alc__unit": "10^9/L"}).status_code == 302
    data = _data(patient)
    assert data["weight_kg"] == 71.5 and data["weight_measured_on"] == "2026-03-02"
    assert data["temperature"] == {"value": 37.2, "unit": "C", "measured_at": "2026-03-02T10:30"}
    assert data["alc"] == {"value": 0.35, "unit": "10^9/L", "measured_on": "2026-03-02"}


def test_a_recorded_value_shows_its_own_date_or_none_never_a_default(signed_in, patient, clock):
    form = _open(signed_in, patient, "screening")
    signed_in.post(_url(patient, "screening"), {**form, "weight_kg": "70", "weight_measured_on": ""})
    assert _data(patient) == {"weight_kg": 70}
    assert _open(signed_in, patient, "screening")["weight_measured_on"] == ""  # recorded without a date: no default
    form = _open(signed_in, patient, "pre_apheresis")
    signed_in.post(_url(patient, "pre_apheresis"), {**form, "alc__value": "0.5", "alc__unit": "10^9/L",
                                                    "alc__measured_on": "2026-02-20"})
    assert _open(signed_in, patient, "pre_apheresis")["alc__measured_on"] == "2026-02-20"


@pytest.mark.parametrize(("day", "accepted"), [("2026-03-02", True), ("2026-03-03", False), ("2026-03-01", True)])
def test_the_weights_date_today_is_accepted_and_tomorrow_refused_beside_it(signed_in, patient, clock, day,
                                                                           accepted):
    form = _open(signed_in, patient, "screening")
    response = signed_in.post(_url(patient, "screening"), {**form, "weight_kg": "70", "weight_measured_on": day})
    if accepted:
        assert response.status_code == 302
        assert _data(patient) == {"weight_kg": 70, "weight_measured_on": day}
    else:
        assert response.status_code == 200
        page = response.content.decode()
        assert "cannot be after today (02 Mar 2026)" in _error_beside(page, "weight_measured_on")
        assert _form_values(page)["weight_kg"] == "70"  # what was typed is kept
        assert _revision(patient) == 0


def test_the_engine_refuses_a_weight_date_after_today_beside_the_date(signed_in, patient, clock):
    """The form's own limit aside, the engine's check (an observed date, not after as_of) names the field."""
    from eligibility.patients import forms as intake_forms

    message = intake_forms.engine_message_words("must not be after as_of (2026-03-02)")
    assert message == "must not be after today (2 Mar 2026)."


def test_a_changed_date_without_its_value_is_refused_beside_the_value_and_kept(signed_in, patient, clock):
    form = _open(signed_in, patient, "pre_lymphodepletion")
    response = signed_in.post(_url(patient, "pre_lymphodepletion"),
                              {**form, "labs__platelets__measured_on": "2026-02-27"})
    assert response.status_code == 200
    page = response.content.decode()
    assert _error_beside(page, "labs__platelets__value").strip() == "Enter the value, or clear the date."
    assert _form_values(page)["labs__platelets__measured_on"] == "2026-02-27"
    assert _revision(patient) == 0


def test_a_default_kept_over_midnight_is_still_the_default_the_form_was_shown_with(signed_in, patient, clock,
                                                                                   monkeypatch):
    """The form remembers (signed) when its defaults were taken: left unchanged and saved the next day,
    the pre-filled date still records nothing."""
    form = _open(signed_in, patient, "pre_apheresis")
    monkeypatch.setattr(timezone, "now", lambda: INSTANT + datetime.timedelta(days=1))
    assert signed_in.post(_url(patient, "pre_apheresis"), form).status_code == 302
    assert _data(patient) == {}


def test_a_refused_save_keeps_the_defaults_it_was_shown_with_so_the_second_save_goes_through(
        signed_in, patient, clock, monkeypatch):
    """A colleague saves while the form is open and the clock moves on: the refused form, saved again,
    does not take its pre-filled temperature time for a date entered without a value."""
    from eligibility.patients import services

    form = _open(signed_in, patient, "pre_infusion")
    casey = UserFactory(role="Coordinator", first_name="Casey", last_name="Jones")
    services.assessment_update(assessment=Assessment.objects.get(patient=patient), by=casey, revision=0,
                               stage="screening", changes={"tocilizumab_doses_available": 2})
    monkeypatch.setattr(timezone, "now", lambda: INSTANT + datetime.timedelta(minutes=7))
    refused = signed_in.post(_url(patient, "pre_infusion"), {**form, "caregiver_confirmed": "true"})
    assert refused.status_code == 200 and "Not saved: Casey Jones saved" in refused.content.decode()
    again = {name: value or "" for name, value in _form_values(refused.content.decode()).items()
             if name not in ("csrfmiddlewaretoken", "save")}
    assert again["temperature__measured_at"] == "2026-03-02T10:30"
    assert signed_in.post(_url(patient, "pre_infusion"), again).status_code == 302
    assert _data(patient) == {"tocilizumab_doses_available": 2, "caregiver_confirmed": True}


def test_a_time_taken_today_is_not_later_than_now(clock):
    """10:30 in Auckland: a temperature taken at 10:30 is accepted, at 10:31 refused beside it;
    yesterday late in the evening is fine."""
    from django.core.exceptions import ValidationError

    from eligibility.patients.fields import LocalDateTimeField

    field = LocalDateTimeField(label="Taken at")
    assert field.clean("2026-03-02T10:30") == "2026-03-02T10:30"
    assert field.clean("2026-03-01T23:59") == "2026-03-01T23:59"
    with pytest.raises(ValidationError, match=r"cannot be later than now \(10:30 today\)"):
        field.clean("2026-03-02T10:31")
