"""An episode's timeline page, its drawn timeline, the periods after day 0, the patient's card and
the calendar file (issue 14, items 4-6)."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from icalendar import Calendar

from eligibility.models import Assessment, Patient
from eligibility.patients import services
from eligibility.review import reevaluation
from eligibility.review import services as review
from eligibility.review.handoffs import services as handoffs
from eligibility.review.timeline import calendar as ics
from eligibility.review.timeline.drawing import drawing
from eligibility.review.timeline.selectors import episode_timeline
from eligibility.rules import PRESETS
from eligibility.rulesets import services as rulesets
from tests.factories import PASSWORD, SCREENING_TO_REVIEW, PatientFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.filterwarnings("ignore:No directory at:UserWarning")]

TODAY = datetime.date(2026, 12, 2)
DAY0 = datetime.date(2026, 12, 20)


@pytest.fixture
def people():
    return {role: UserFactory(role=role, first_name=role, last_name="Person")
            for role in ("Coordinator", "Physician", "Administrator")}


def _update(patient: Patient, by, *, stage: str = "screening", **changes) -> None:
    assessment = Assessment.objects.get(pk=patient.assessment_id)
    services.assessment_update(assessment=assessment, changes=changes, stage=stage, revision=assessment.revision,
                               by=by)


def _planned(patient: Patient, by, *, infusion: datetime.date | None = DAY0) -> Assessment:
    """A patient screened, collected on day -30 (done), lymphodepletion from day -5 and infusion on
    ``infusion`` planned, with dated values."""
    _update(patient, by, **SCREENING_TO_REVIEW)
    changes = {
        "leukapheresis_date": "2026-11-20",
        "alc": {"value": 350, "unit": "cells/uL", "measured_on": "2026-11-18"},
        "infections": {**SCREENING_TO_REVIEW["infections"], "markers_tested_on": "2026-11-01"},
        "temperature": {"value": 37.1, "unit": "C", "measured_at": "2026-11-30T08:15"},
    }
    if infusion is not None:
        changes.update(lymphodepletion_start_date=(infusion - datetime.timedelta(days=5)).isoformat(),
                       infusion_date=infusion.isoformat())
    _update(patient, by, **changes)
    Assessment.objects.filter(pk=patient.assessment_id).update(consent_on=datetime.date(2026, 10, 30),
                                                                screening_on=datetime.date(2026, 11, 2),
                                                                leukapheresis_done=True)
    return Assessment.objects.get(pk=patient.assessment_id)


@pytest.fixture
def patient(people):
    patient = PatientFactory(by=people["Coordinator"], study_id="CART-TL-7", initials="QZ")
    _planned(patient, people["Coordinator"])
    patient.refresh_from_db()
    return patient


def _flagged(evaluation) -> str:
    return next(item["code"] for item in evaluation.checklist["items"] if item["status"] == "flag")


def _page(client, user, name, episode):
    client.force_login(user)
    return client.get(reverse(name, args=[episode.public_id]))


def _text(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


# --- the timeline's rows ---

def test_rows_are_in_order_newest_last_with_day_numbers(people, patient):
    episode = patient.assessment
    timeline = episode_timeline(episode, today=TODAY)
    keys = [(row.on, row.at is not None, row.at or datetime.time.min) for row in timeline.rows]
    assert keys == sorted(keys)
    whats = [row.what for row in timeline.rows]
    order = ["Consent signed", "Infectious-disease markers drawn", "Screening visit",
             "Absolute lymphocyte count: 350 cells/µL", "Leukapheresis (collection)", "Temperature: 37.1 °C",
             "Lymphodepletion starts", "Infusion (day 0)"]
    positions = [next(i for i, what in enumerate(whats) if what.startswith(start)) for start in order]
    assert positions == sorted(positions)
    by_what = {row.what.split(":")[0]: row for row in timeline.rows}
    assert by_what["Lymphodepletion starts"].day == "day −5"
    assert by_what["Infusion (day 0)"].day == "day 0"
    assert by_what["Leukapheresis (collection)"].day == "day −30"
    assert by_what["Leukapheresis (collection)"].state == "done"  # done flag set
    assert by_what["Infusion (day 0)"].state == "planned"
    assert by_what["Temperature"].at == datetime.time(8, 15)
    assert "Hepatitis B positive" in by_what["Infectious-disease markers drawn"].what


def test_evaluations_decisions_signatures_voids_and_questions_are_rows_with_who(people, patient):
    physician, coordinator = people["Physician"], people["Coordinator"]
    episode = patient.assessment
    evaluation = episode.current_evaluation
    handoffs.question_ask(evaluation=evaluation, code=_flagged(evaluation), text="Which antiviral?", by=physician)
    review.dispositions_record_bulk(evaluation=evaluation, action="acknowledge-flags", by=physician)
    for item in evaluation.checklist["items"]:
        if item["status"] in ("defer", "missing", "exclude"):
            review.disposition_record(evaluation=evaluation, code=item["code"], kind="overridden",
                                      reason_code="clinical_judgement", justification="Seen", by=physician)
    review.signoff_create(evaluation=evaluation, password=PASSWORD, by=physician)
    _update(patient, coordinator, ecog=0)  # voids the signature
    episode.refresh_from_db()
    rows = episode_timeline(episode, today=TODAY).rows
    kinds = [row.kind for row in rows]
    assert kinds.count("evaluation") == episode.evaluations.count()
    signature = next(row for row in rows if row.kind == "signature")
    void = next(row for row in rows if row.kind == "void")
    assert signature.who == physician.get_full_name() and signature.url.endswith("/pdf/")
    assert void.who == coordinator.get_full_name() and "ECOG" in void.what
    assert rows.index(signature) < rows.index(void)
    question = next(row for row in rows if row.kind == "question")
    assert question.what.startswith("Asked on") and "Which antiviral?" in question.what
    assert question.who == physician.get_full_name()
    decisions = [row for row in rows if row.kind == "decision"]
    assert decisions and all(row.who == physician.get_full_name() for row in decisions)
    assert any("Overridden (Clinical judgement)" in row.what for row in decisions)


def test_a_publish_that_re_evaluated_the_episode_is_a_row(people, patient):
    administrator = people["Administrator"]
    draft = rulesets.ruleset_draft_create(by=administrator)
    rulesets.ruleset_thresholds_update(draft=draft, values={"alc_min_1e9_per_l": Decimal("0.5")}, by=administrator)
    published = rulesets.ruleset_publish(draft=draft, note="Higher ALC", by=administrator)
    reevaluation.reevaluate_open_assessments(ruleset=published, by=administrator)
    episode = Assessment.objects.get(pk=patient.assessment_id)
    rows = episode_timeline(episode, today=TODAY).rows
    publish = [row for row in rows if row.kind == "publish"]
    assert len(publish) == 1 and f"Rule-set version {published.version}" in publish[0].what
    assert publish[0].url == ""  # rule-set pages are the administrators'
    linked = [row for row in episode_timeline(episode, can_see_rulesets=True).rows if row.kind == "publish"]
    assert [row.url for row in linked] == [reverse("ruleset_detail", args=[published.version])]
    reevaluated = next(row for row in rows if row.kind == "evaluation" and "Re-evaluated" in row.what)
    assert rows.index(publish[0]) < rows.index(reevaluated)


def test_the_timeline_page_takes_a_constant_number_of_queries(client, people, patient):
    physician = people["Physician"]
    url = reverse("episode_timeline", args=[patient.assessment.public_id])
    client.force_login(physician)
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    evaluation = Assessment.objects.get(pk=patient.assessment_id).current_evaluation
    for number in range(3):
        handoffs.question_ask(evaluation=evaluation, code=_flagged(evaluation), text=f"Question {number}",
                              by=physician)
    for ecog in (0, 1, 2):
        _update(patient, people["Coordinator"], ecog=ecog)
    evaluation = Assessment.objects.get(pk=patient.assessment_id).current_evaluation
    review.dispositions_record_bulk(evaluation=evaluation, action="acknowledge-flags", by=physician)
    for item in evaluation.checklist["items"]:
        if item["status"] in ("defer", "missing", "exclude"):
            review.disposition_record(evaluation=evaluation, code=item["code"], kind="overridden",
                                      reason_code="clinical_judgement", justification="Seen", by=physician)
    review.signoff_create(evaluation=evaluation, password=PASSWORD, by=physician)
    _update(patient, people["Coordinator"], ecog=1)  # voids it
    _version_2(people["Administrator"])  # a publish that re-evaluates the episode
    with CaptureQueriesContext(connection) as many:
        response = client.get(url)
    text = _text(response)
    assert response.status_code == 200 and text.count("Question ") >= 3
    assert "Signature of" in text and "Re-evaluated under rule-set version 2" in text
    assert len(many) == len(few), [query["sql"] for query in many]


def test_an_earlier_episode_stays_readable_and_the_patient_page_links_the_current_one(client, people, patient):
    from django.utils import timezone

    coordinator = people["Coordinator"]
    first = patient.assessment
    Assessment.objects.filter(pk=first.pk).update(closed_at=timezone.now(), closed_by=coordinator,
                                                  close_reason="superseded")
    second = Assessment.objects.create(patient=patient, number=2, kind="recollection", updated_by=coordinator,
                                       opened_at=timezone.now(), opened_by=coordinator)
    Patient.objects.filter(pk=patient.pk).update(assessment=second)
    response = _page(client, people["Physician"], "episode_timeline", first)
    page, text = response.content.decode(), _text(response)
    assert "<title>CART-TL-7 · Timeline of episode 1 · CAR-T readiness</title>" in page
    assert "Episode 1 closed: replaced by a new episode" in text
    assert "Day 0 (infusion) 2026-12-20" in page and "Today " not in page  # a closed episode: no today line
    current = _page(client, people["Physician"], "episode_timeline", second)
    assert "<title>CART-TL-7 · Timeline · CAR-T readiness</title>" in current.content.decode()
    assert "Nothing dated yet" in _text(current) and "No infusion date recorded" in _text(current)
    # Its dates will not happen: no card or calendar file from them, and the page says why.
    card = _page(client, coordinator, "episode_card", first)
    assert card.status_code == 409 and "Your infusion day" not in _text(card)
    assert "its planned dates are no longer the patient's plan" in _text(card)
    assert reverse("episode_card", args=[second.public_id]) in card.content.decode()
    assert _page(client, coordinator, "episode_calendar", first).status_code == 409
    patient_page = _page(client, coordinator, "patient_detail", patient).content.decode()
    assert reverse("episode_timeline", args=[second.public_id]) in patient_page
    assert reverse("episode_timeline", args=[first.public_id]) not in patient_page


def test_an_episode_closed_as_treatment_completed_keeps_its_card_and_calendar(client, people, patient):
    from django.utils import timezone

    Assessment.objects.filter(pk=patient.assessment_id).update(
        closed_at=timezone.now(), closed_by=people["Coordinator"], close_reason="completed")
    card = _page(client, people["Coordinator"], "episode_card", patient.assessment)
    assert card.status_code == 200 and "Your infusion day (day 0): Sunday 2026-12-20" in _text(card)
    assert _page(client, people["Coordinator"], "episode_calendar", patient.assessment).status_code == 200


# --- the page ---

def test_the_page_shows_rows_key_dates_in_words_and_icon_and_the_drawing(client, people, patient):
    response = _page(client, people["Coordinator"], "episode_timeline", patient.assessment)
    assert response.status_code == 200
    page = response.content.decode()
    text = _text(response)
    assert "Leukapheresis (collection) — done" in text and "◷ Infusion (day 0) — planned" in text
    assert "2026-12-15" in text and "day −5" in text
    assert 'role="img"' in page and "<title id=\"tl-title\">" in page and "<desc id=\"tl-desc\">" in page
    assert 'style="' not in page and "<style" not in page and "<script>" not in page
    desc = re.search(r'<desc id="tl-desc">(.*?)</desc>', page, re.DOTALL).group(1)
    assert "Marker window (30 days before collection): 2026-10-21 to 2026-11-20" in desc
    assert "Day 0 (infusion) 2026-12-20" in desc
    assert "Stay near the treatment centre (4 weeks): 2026-12-20 to 2027-01-17" in desc
    assert "CART-TL-7" in text  # staff page: the patient is named (the card is not)


def test_the_patient_page_links_the_path_in_time(client, people, patient):
    coordinator_page = _text(_page(client, people["Coordinator"], "patient_detail", patient))
    assert "Path in time" in coordinator_page and "Patient card" in coordinator_page
    client.force_login(people["Administrator"])
    page = client.get(reverse("patient_detail", args=[patient.public_id])).content.decode()
    assert reverse("episode_timeline", args=[patient.assessment.public_id]) in page
    assert reverse("episode_card", args=[patient.assessment.public_id]) not in page


@pytest.mark.parametrize(("role", "timeline", "card", "calendar"), [
    ("Coordinator", 200, 200, 200), ("Physician", 200, 200, 200), ("Administrator", 200, 403, 403),
])
def test_who_may_open_each_page(client, people, patient, role, timeline, card, calendar):
    episode = patient.assessment
    assert _page(client, people[role], "episode_timeline", episode).status_code == timeline
    assert _page(client, people[role], "episode_card", episode).status_code == card
    assert _page(client, people[role], "episode_calendar", episode).status_code == calendar


@pytest.mark.parametrize("name", ["episode_timeline", "episode_card", "episode_calendar"])
def test_anonymous_is_sent_to_sign_in_and_unknown_episodes_are_not_found(client, people, patient, name):
    response = client.get(reverse(name, args=[patient.assessment.public_id]))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    client.force_login(people["Physician"])
    assert client.get(reverse(name, args=["00000000-0000-0000-0000-000000000000"])).status_code == 404
    assert client.post(reverse(name, args=[patient.assessment.public_id])).status_code == 405


# --- after day 0: two rule-set versions ---

def _version_2(administrator):
    """A published version with the US labels preset's periods (2 weeks near the centre, 2 weeks
    without driving) on top of version 1."""
    us_labels = {value.key: value.value for value in PRESETS["us_labels_2025_06"].thresholds
                 if value.key in ("proximity_stay_weeks", "driving_restriction_weeks")}
    assert us_labels == {"proximity_stay_weeks": 2, "driving_restriction_weeks": 2}
    draft = rulesets.ruleset_draft_create(by=administrator)
    rulesets.ruleset_thresholds_update(draft=draft, values=us_labels, by=administrator)
    published = rulesets.ruleset_publish(draft=draft, note="US labels: 2 weeks", by=administrator)
    reevaluation.reevaluate_open_assessments(ruleset=published, by=administrator)
    return published


def _periods(response) -> dict[str, str]:
    rows = re.findall(r'<tr [^>]*class="tl-period-(\w+)">(.*?)</tr>', response.content.decode(), re.DOTALL)
    return {key: " ".join(re.sub(r"<[^>]+>", " ", cells).split()) for key, cells in rows}


def test_periods_after_day_0_under_version_1_and_a_version_with_2_weeks(client, people, patient):
    episode = patient.assessment
    response = _page(client, people["Physician"], "episode_timeline", episode)
    assert "rule set Default (source documents) version 1" in _text(response)
    assert _periods(response) == {
        "proximity": "Stay near the treatment centre 4 weeks 28 days 2027-01-17 day +28",
        "driving": "No driving or operating machinery 8 weeks 56 days 2027-02-14 day +56",
        "caregiver": "Full-time caregiver 30 days 30 days 2027-01-19 day +30",
    }
    published = _version_2(people["Administrator"])
    response = _page(client, people["Physician"], "episode_timeline", episode)
    assert f"version {published.version}, the version of the episode's current checklist" in _text(response)
    assert _periods(response) == {
        "proximity": "Stay near the treatment centre 2 weeks 14 days 2027-01-03 day +14",
        "driving": "No driving or operating machinery 2 weeks 14 days 2027-01-03 day +14",
        "caregiver": "Full-time caregiver 30 days 30 days 2027-01-19 day +30",
    }
    card = _text(_page(client, people["Coordinator"], "episode_card", episode))
    assert "Stay near the treatment centre until Sunday 2027-01-03 (14 days after your infusion)" in card
    assert "Do not drive or operate heavy machinery until Sunday 2027-01-03" in card
    assert "Have a caregiver with you at all times until Tuesday 2027-01-19 (30 days" in card


@pytest.mark.parametrize(("weeks", "days"), [("2", 14), ("2.1", 15), ("2.142", 15), ("2.143", 16)])
def test_weeks_times_7_round_up_at_the_boundary(client, people, patient, weeks, days):
    """2.142 weeks = 14.994 days: 15; 2.143 weeks = 15.001 days: 16 (never shortened)."""
    administrator = people["Administrator"]
    draft = rulesets.ruleset_draft_create(by=administrator)
    rulesets.ruleset_thresholds_update(draft=draft, values={"proximity_stay_weeks": Decimal(weeks)}, by=administrator)
    published = rulesets.ruleset_publish(draft=draft, note="Boundary", by=administrator)
    reevaluation.reevaluate_open_assessments(ruleset=published, by=administrator)
    periods = _periods(_page(client, people["Physician"], "episode_timeline", patient.assessment))
    ends = (DAY0 + datetime.timedelta(days=days)).isoformat()
    assert f"{days} days {ends} day +{days}" in periods["proximity"]


def test_without_an_infusion_date_no_periods_and_the_card_says_so(client, people):
    patient = PatientFactory(by=people["Coordinator"], study_id="CART-TL-8", initials="QY")
    episode = _planned(patient, people["Coordinator"], infusion=None)
    response = _page(client, people["Coordinator"], "episode_timeline", episode)
    assert "No infusion date recorded" in _text(response) and not _periods(response)
    card = _page(client, people["Coordinator"], "episode_card", episode)
    assert card.status_code == 200 and "No infusion date is recorded for this episode" in _text(card)
    assert "Your infusion day" not in _text(card)


# --- the card and the calendar file: no patient identifier ---

def test_the_card_is_plain_and_carries_no_identifier(client, people, patient):
    response = _page(client, people["Physician"], "episode_card", patient.assessment)
    text = _text(response)
    page = response.content.decode()
    assert "CART-TL-7" not in page and "QZ" not in page
    assert "<title>Patient card · CAR-T readiness</title>" in page
    assert "Your infusion day (day 0): Sunday 2026-12-20" in text
    assert "A temperature of 38.0 °C or higher is a fever" in text
    assert "Treatment team phone number:" in text and "Name:" in text
    assert "css/card.css" in page and 'style="' not in page


def test_the_calendar_file_round_trips_with_stable_uids_and_no_identifier(client, people, patient):
    episode = patient.assessment
    response = _page(client, people["Coordinator"], "episode_calendar", episode)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    assert response["Content-Disposition"] == f'attachment; filename="treatment-dates-episode-{episode.number}.ics"'
    assert "no-store" in response["Cache-Control"]
    body = response.content
    assert b"CART-TL-7" not in body and b"QZ" not in body
    events = {str(event["UID"]): event for event in Calendar.from_ical(body).walk("VEVENT")}
    uids = {key: ics.event_uid(episode, key) for key in
            ("consent", "screening", "leukapheresis", "lymphodepletion", "infusion", "proximity-ends",
             "driving-ends", "caregiver-ends")}
    assert set(events) == set(uids.values())
    infusion = events[uids["infusion"]]
    assert infusion.decoded("DTSTART") == DAY0 and infusion.decoded("DTEND") == DAY0 + datetime.timedelta(days=1)
    assert str(infusion["SUMMARY"]) == "Infusion (day 0), planned"
    assert str(events[uids["leukapheresis"]]["SUMMARY"]) == "Leukapheresis (collection), done"
    assert events[uids["driving-ends"]].decoded("DTSTART") == datetime.date(2027, 2, 14)
    again = {str(event["UID"]) for event in Calendar.from_ical(
        _page(client, people["Coordinator"], "episode_calendar", episode).content).walk("VEVENT")}
    assert again == set(events)  # the same UIDs: importing again updates, never duplicates


def test_a_new_infusion_date_moves_the_events_under_the_same_uids(client, people, patient):
    episode = patient.assessment
    _update(patient, people["Coordinator"], infusion_date="2026-12-21")
    events = {str(event["UID"]): event for event in Calendar.from_ical(
        _page(client, people["Coordinator"], "episode_calendar", episode).content).walk("VEVENT")}
    assert events[ics.event_uid(episode, "infusion")].decoded("DTSTART") == datetime.date(2026, 12, 21)
    assert events[ics.event_uid(episode, "proximity-ends")].decoded("DTSTART") == datetime.date(2027, 1, 18)


# --- the drawing ---

def test_the_drawing_places_day_0_and_today_and_scales_the_bars(people, patient):
    episode = patient.assessment
    timeline = episode_timeline(episode, today=TODAY)
    drawn = drawing(timeline.dates, thresholds=timeline.thresholds, periods=timeline.periods, opened=None,
                    today=TODAY, include_today=True)
    lines = {line.key: line for line in drawn.lines}
    assert lines["today"].x < lines["day0"].x
    assert lines["today"].label == "Today 2026-12-02 (day −18)"
    bars = {placed.bar.key: placed for placed in drawn.bars}
    assert [placed.bar.key for placed in drawn.bars][:6] == ["screening", "collection", "manufacturing",
                                                              "lymphodepletion", "infusion", "aftercare"]
    assert bars["lymphodepletion"].bar.start == datetime.date(2026, 12, 15)
    assert bars["lymphodepletion"].bar.end == datetime.date(2026, 12, 19)
    # 56 days of driving restriction are twice as wide as 28 near the centre, to a day
    assert abs(bars["driving"].width - (bars["proximity"].width * 57 / 29)) < 0.2
    closed = drawing(timeline.dates, thresholds=timeline.thresholds, periods=timeline.periods, opened=None,
                     today=TODAY, include_today=False)
    assert "today" not in {line.key for line in closed.lines}


def test_an_episode_without_dates_gives_an_empty_but_valid_calendar(client, people):
    patient = PatientFactory(by=people["Coordinator"], study_id="CART-TL-9", initials="QX")
    response = _page(client, people["Physician"], "episode_calendar", patient.assessment)
    calendar = Calendar.from_ical(response.content)
    assert response.status_code == 200 and calendar.walk("VEVENT") == []
    assert str(calendar["X-WR-CALNAME"]) == "CAR-T treatment dates (episode 1)"
