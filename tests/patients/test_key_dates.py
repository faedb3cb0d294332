"""The key-dates page of the current episode (issue 14, item 2): one form, one save through the
intake's save path; the episode's own dates and done flags with it, under one lock and revision."""

from __future__ import annotations

import datetime
import html
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from eligibility.models import Assessment, Evaluation
from eligibility.patients import services
from tests.factories import PatientFactory, UserFactory
from tests.patients.test_views_intake import _error_beside, _form_values

pytestmark = [pytest.mark.django_db, pytest.mark.filterwarnings("ignore:No directory at:UserWarning")]


@pytest.fixture
def cora():
    return UserFactory(role="Coordinator", first_name="Cora", last_name="Ordinator")


@pytest.fixture
def patient(cora):
    return PatientFactory(by=cora, study_id="KD-001", initials="KD")


@pytest.fixture
def signed_in(client, cora):
    client.force_login(cora)
    return client


def _url(patient) -> str:
    return reverse("key_dates", args=[patient.public_id])


def _episode(patient) -> Assessment:
    return Assessment.objects.get(patient=patient)


def _open(client, patient) -> dict[str, str]:
    values = _form_values(client.get(_url(patient)).content.decode())
    for name in ("csrfmiddlewaretoken", "save"):
        values.pop(name, None)
    return {name: value or "" for name, value in values.items() if value is not None}


def _day(offset: int) -> str:
    return (timezone.localdate() + datetime.timedelta(days=offset)).isoformat()


def _text(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def test_every_key_date_is_saved_in_one_save(signed_in, patient):
    evaluations = Evaluation.objects.count()
    form = {**_open(signed_in, patient), "consent_on": _day(-20), "screening_on": _day(-15),
            "leukapheresis_date": _day(-3), "leukapheresis_done": "on", "product_received_on": _day(0),
            "lymphodepletion_start_date": _day(2), "infusion_date": _day(7)}
    response = signed_in.post(_url(patient), form)
    assert response.status_code == 302
    episode = _episode(patient)
    assert {key: episode.data[key] for key in ("leukapheresis_date", "product_received_on",
                                               "lymphodepletion_start_date", "infusion_date")} == {
        "leukapheresis_date": _day(-3), "product_received_on": _day(0), "lymphodepletion_start_date": _day(2),
        "infusion_date": _day(7)}
    assert (episode.consent_on.isoformat(), episode.screening_on.isoformat()) == (_day(-20), _day(-15))
    assert (episode.leukapheresis_done, episode.lymphodepletion_done, episode.infusion_done) == (True, False, False)
    assert episode.revision == 1
    assert Evaluation.objects.count() == evaluations + 1  # the engine reads the treatment dates: re-evaluated
    page = _text(signed_in.get(response.url).content.decode())
    assert "Key dates saved. The checklist was re-evaluated." in page
    # Day numbers once the infusion is planned; status in words and icons.
    assert f"Leukapheresis (collection) {_day(-3)} (day −10) ✓ done" in page
    assert f"Infusion (day 0) {_day(7)} (day 0) … planned" in page
    assert f"Lymphodepletion starts {_day(2)} (day −5) … planned" in page


def test_an_episode_only_change_makes_no_evaluation_but_a_revision_and_a_history_row(signed_in, patient):
    episode = _episode(patient)
    standing = episode.current_evaluation_id
    evaluations = Evaluation.objects.count()
    response = signed_in.post(_url(patient), {**_open(signed_in, patient), "consent_on": _day(-1)})
    assert response.status_code == 302
    episode = _episode(patient)
    assert episode.consent_on.isoformat() == _day(-1) and episode.revision == 1
    assert episode.current_evaluation_id == standing and Evaluation.objects.count() == evaluations
    history = _text(signed_in.get(reverse("patient_detail", args=[patient.public_id])).content.decode())
    assert f"Cora Ordinator Consent signed not recorded {_day(-1)}" in history
    # Saving the same again changes nothing: no revision.
    signed_in.post(_url(patient), _open(signed_in, patient))
    assert _episode(patient).revision == 1


def test_the_service_keeps_a_signature_on_an_episode_only_change(patient, cora):
    episode = _episode(patient)
    evaluation = services.assessment_update(assessment=episode, changes={}, stage=episode.stage, revision=0,
                                            by=cora, episode_fields={"screening_on": datetime.date(2026, 1, 5)})
    assert evaluation.pk == episode.current_evaluation_id
    with pytest.raises(ValueError, match="not episode fields"):
        services.assessment_update(assessment=_episode(patient), changes={}, stage=episode.stage, revision=1, by=cora,
                                   episode_fields={"number": 2})


@pytest.mark.parametrize(("offset", "accepted"), [(0, True), (1, False), (-1, True)])
def test_a_done_date_may_be_today_but_not_tomorrow(signed_in, patient, offset, accepted):
    form = {**_open(signed_in, patient), "leukapheresis_date": _day(offset), "leukapheresis_done": "on"}
    response = signed_in.post(_url(patient), form)
    if accepted:
        assert response.status_code == 302
        assert _episode(patient).leukapheresis_done is True
    else:
        assert response.status_code == 200
        page = response.content.decode()
        assert "is marked done: it cannot be after today" in _error_beside(page, "leukapheresis_date")
        values = _form_values(page)
        assert values["leukapheresis_date"] == _day(offset) and values["leukapheresis_done"] is not None
        assert _episode(patient).revision == 0


def test_a_planned_date_may_be_ahead_and_done_needs_a_date(signed_in, patient):
    assert signed_in.post(_url(patient), {**_open(signed_in, patient), "infusion_date": _day(30)}).status_code == 302
    response = signed_in.post(_url(patient), {**_open(signed_in, patient), "infusion_date": "",
                                              "infusion_done": "on"})
    assert "Enter the date, or untick “Infusion given”." in _error_beside(response.content.decode(), "infusion_date")


def test_dates_out_of_order_are_refused_by_the_engine_beside_the_later_date_in_one_pass(signed_in, patient):
    form = {**_open(signed_in, patient), "lymphodepletion_start_date": _day(10), "infusion_date": _day(5),
            "consent_on": _day(3), "product_received_on": _day(1)}
    response = signed_in.post(_url(patient), form)
    assert response.status_code == 200
    page = response.content.decode()
    assert "must not be before the lymphodepletion start date" in _error_beside(page, "infusion_date")
    assert "cannot be after today" in _error_beside(page, "consent_on")
    assert "cannot be after today" in _error_beside(page, "product_received_on")
    values = _form_values(page)
    assert (values["lymphodepletion_start_date"], values["infusion_date"]) == (_day(10), _day(5))
    assert _episode(patient).revision == 0


def test_linked_from_the_patient_page_and_the_intake(signed_in, patient):
    url = _url(patient)
    assert f'href="{url}"' in signed_in.get(reverse("patient_detail", args=[patient.public_id])).content.decode()
    assert f'href="{url}"' in signed_in.get(reverse("intake", args=[patient.public_id, "screening"])).content.decode()


def test_a_physician_reads_the_page_but_cannot_save(client, patient):
    client.force_login(UserFactory(role="Physician"))
    page = client.get(_url(patient)).content.decode()
    assert "Save the key dates" not in page and "coordinators record them" in page
    assert client.post(_url(patient), {"consent_on": _day(0), "revision": "0"}).status_code == 403
    assert _episode(patient).consent_on is None


def test_signed_out_users_are_sent_to_sign_in(client, patient):
    response = client.get(_url(patient))
    assert response.status_code == 302 and "login" in response.url
    assert "KD-001" not in response.url


def test_the_patient_page_shows_the_key_dates_with_day_numbers(signed_in, patient):
    signed_in.post(_url(patient), {**_open(signed_in, patient), "leukapheresis_date": _day(-1),
                                   "infusion_date": _day(0)})
    page = _text(signed_in.get(reverse("patient_detail", args=[patient.public_id])).content.decode())
    assert f"Leukapheresis (collection): {_day(-1)} (day −1) … planned" in page
    assert f"Infusion (day 0): {_day(0)} (day 0) … planned" in page


def test_a_stale_page_is_refused_with_the_entries_kept_and_the_colleagues_value_shown(signed_in, patient, cora):
    mine = {**_open(signed_in, patient), "consent_on": _day(-2)}
    casey = UserFactory(role="Coordinator", first_name="Casey", last_name="Jones")
    services.assessment_update(assessment=_episode(patient), changes={"infusion_date": _day(9)}, stage="screening",
                               revision=0, by=casey)
    response = signed_in.post(_url(patient), mine)
    assert response.status_code == 200
    page = response.content.decode()
    text = _text(page)
    assert "Not saved: Casey Jones saved this episode" in text
    values = _form_values(page)
    assert values["consent_on"] == _day(-2)  # mine, kept
    assert values["infusion_date"] == _day(9)  # theirs, shown: I did not touch it
    assert "Saved by a colleague: " + _day(9) in text
    assert signed_in.post(_url(patient), {k: v or "" for k, v in values.items()
                                          if k not in ("csrfmiddlewaretoken", "save") and v is not None}
                          ).status_code == 302
    episode = _episode(patient)
    assert episode.consent_on.isoformat() == _day(-2) and episode.data["infusion_date"] == _day(9)


def test_day_number_filters():
    from eligibility.patients.templatetags import day_number, with_day

    zero = datetime.date(2026, 12, 1)
    assert [day_number(datetime.date(2026, 11, 30), zero), day_number("2026-12-01", zero),
            day_number(datetime.date(2026, 12, 2), zero)] == ["day −1", "day 0", "day +1"]
    assert with_day("2026-11-26", zero) == "2026-11-26 (day −5)"
    assert with_day(datetime.date(2026, 11, 26), None) == "2026-11-26"  # no day 0: the date alone
    assert day_number(datetime.date(2026, 11, 26), None) == ""


def test_the_checklist_shows_a_dated_value_with_its_distance_and_day_number(signed_in, patient, cora):
    services.assessment_update(
        assessment=_episode(patient), stage="pre_apheresis", revision=0, by=cora,
        changes={"alc": {"value": 0.35, "unit": "10^9/L", "measured_on": _day(-3)}, "leukapheresis_date": _day(0),
                 "infusion_date": _day(10)})
    page = _text(signed_in.get(reverse("checklist", args=[patient.public_id])).content.decode())
    assert f"Absolute lymphocyte count: 0.35 ×10⁹/L, measured {_day(-3)} (day −13), 3 days before collection" in page


def test_an_episode_only_change_keeps_the_signature_and_a_treatment_date_voids_it(signed_in, patient, cora):
    from eligibility.review import services as review
    from eligibility.review.models import SignOff
    from tests.factories import PASSWORD

    physician = UserFactory(role="Physician", first_name="Robin", last_name="Lee")
    evaluation = _episode(patient).current_evaluation
    for item in evaluation.checklist["items"]:
        if item["status"] == "flag":
            review.disposition_record(evaluation=evaluation, code=item["code"], kind="acknowledged", by=physician)
        elif item["status"] in ("defer", "exclude", "missing"):
            review.disposition_record(evaluation=evaluation, code=item["code"], kind="accepted", by=physician,
                                      reason_code="", justification="")
    signoff = review.signoff_create(evaluation=evaluation, password=PASSWORD, by=physician)
    page = _text(signed_in.get(_url(patient)).content.decode())
    assert "This checklist is signed by Robin Lee" in page and "Changing only consent, screening" in page
    signed_in.post(_url(patient), {**_open(signed_in, patient), "consent_on": _day(0), "screening_on": _day(3)})
    assert SignOff.objects.standing().filter(pk=signoff.pk).exists()
    response = signed_in.post(_url(patient), {**_open(signed_in, patient), "leukapheresis_date": _day(4)})
    assert not SignOff.objects.standing().filter(pk=signoff.pk).exists()
    assert "signature" in _text(signed_in.get(response.url).content.decode()).lower()


def test_a_save_refused_because_the_episode_was_closed_meanwhile_keeps_what_was_typed(signed_in, patient, cora):
    from eligibility.patients import episodes_services

    form = {**_open(signed_in, patient), "lymphodepletion_start_date": _day(9), "consent_on": _day(-2)}
    episodes_services.episode_close(assessment=_episode(patient), reason="stopped", note="Moved abroad", by=cora)
    response = signed_in.post(_url(patient), form)
    page = response.content.decode()
    assert response.status_code == 200
    assert "Not saved: Episode 1 is closed" in _text(page) and "What you typed is kept below." in _text(page)
    values = _form_values(page)
    assert values["lymphodepletion_start_date"] == _day(9) and values["consent_on"] == _day(-2)
    assert "lymphodepletion_start_date" not in _episode(patient).data  # nothing saved
