"""What goes stale and this week (issue 14 item 3) through the web pages: the worklist's "Expires"
line at the window's edge and one day past, the "this week" page's days, after-infusion end dates,
later section, who may see it, and both pages' query counts flat in the number of patients."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from eligibility.models import Assessment
from eligibility.patients import services
from eligibility.rulesets import services as rulesets
from eligibility.rulesets.models import RuleSet
from tests.factories import PatientFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.filterwarnings("ignore:No directory at:UserWarning")]


def days(n: int) -> str:
    return (timezone.localdate() + datetime.timedelta(days=n)).isoformat()


@pytest.fixture
def coordinator():
    return UserFactory(role="Coordinator", first_name="Casey", last_name="Jones")


@pytest.fixture
def dated_markers(db):
    """Version 2, active: version 1 with the "dated markers" group held (window 30 days, 0 after)."""
    administrator = UserFactory(role="Administrator")
    draft = rulesets.ruleset_draft_create(by=administrator, name="Dated markers")
    rulesets.ruleset_group_hold(draft=draft, group="dated markers", held=True, by=administrator)
    return rulesets.ruleset_publish(draft=RuleSet.objects.get(pk=draft.pk), note="Markers by date",
                                    by=administrator)


def record(patient, by, **changes):
    assessment = patient.assessment.__class__.objects.get(pk=patient.assessment_id)
    return services.assessment_update(assessment=assessment, changes=changes, stage="pre_apheresis",
                                      revision=assessment.revision, by=by)


def markers_patient(coordinator, study_id, *, drawn: int, collection: int, initials="JD", **more):
    patient = PatientFactory(by=coordinator, study_id=study_id, initials=initials)
    record(patient, coordinator, leukapheresis_date=days(collection),
           infections={"hbv": "negative", "hcv": "negative", "hiv": "negative", "markers_tested_on": days(drawn)},
           **more)
    return patient


def _row(page: str, study_id: str) -> str:
    start = page.index(f">{study_id}</a>")
    return page[start:page.index("</tr>", start)]


class TestWorklist:
    def test_one_day_past_the_window_the_row_says_what_expires_at_the_edge_nothing(self, client, coordinator,
                                                                                     dated_markers):
        markers_patient(coordinator, "CART-EDGE", drawn=-10, collection=20)  # 30 days before: current
        markers_patient(coordinator, "CART-PAST", drawn=-11, collection=20)  # 31 days before
        client.force_login(coordinator)
        page = client.get(reverse("worklist")).content.decode()
        assert "Expires" not in _row(page, "CART-EDGE")
        assert (f'<span aria-hidden="true">◷</span> Expires: infectious-disease markers before collection on '
                f'{days(20)}</span>') in _row(page, "CART-PAST")

    def test_a_row_written_once_is_written_again_the_next_day(self, client, coordinator, monkeypatch):
        # A worklist row's HTML is written once for its database row and kept for the day: the next
        # day it is written again (the same row, its dates one day nearer).
        patient = PatientFactory(by=coordinator, study_id="CART-D2", initials="DU")
        record(patient, coordinator, leukapheresis_date=days(2))
        client.force_login(coordinator)
        for _ in range(2):
            row = _row(client.get(reverse("worklist")).content.decode(), "CART-D2")
            assert f"Due in 2 days: Leukapheresis (collection), {days(2)}</span>" in row
        collection = days(2)
        tomorrow = timezone.localdate() + datetime.timedelta(days=1)
        monkeypatch.setattr(timezone, "localdate", lambda *args, **kwargs: tomorrow)
        row = _row(client.get(reverse("worklist")).content.decode(), "CART-D2")
        assert f"Due tomorrow: Leukapheresis (collection), {collection}</span>" in row

    def test_version_1_warns_of_markers_as_its_rule_17_defers_them_but_not_of_an_undated_alc(self, client,
                                                                                           coordinator):
        # Rule 17 of version 1 judges the markers' date (within 30 days of the collection) without
        # the "dated markers" group; ALC is judged by date only with "dated ALC".
        markers_patient(coordinator, "CART-V1", drawn=-11, collection=20)  # 31 days apart: deferred
        markers_patient(coordinator, "CART-V1E", drawn=-10, collection=20)  # 30 days: passes
        alc = PatientFactory(by=coordinator, study_id="CART-V1A", initials="AL")
        record(alc, coordinator, leukapheresis_date=days(20),
               alc={"value": 500, "unit": "cells/uL", "measured_on": days(-100)})
        client.force_login(coordinator)
        page = client.get(reverse("worklist")).content.decode()
        assert f"Expires: infectious-disease markers before collection on {days(20)}" in _row(page, "CART-V1")
        assert "Expires" not in _row(page, "CART-V1E") and "Expires" not in _row(page, "CART-V1A")

    def test_a_new_value_removes_the_warning(self, client, coordinator, dated_markers):
        patient = markers_patient(coordinator, "CART-NEW", drawn=-40, collection=5)
        client.force_login(coordinator)
        assert "⚠</span> Out of date: infectious-disease markers" in _row(
            client.get(reverse("worklist")).content.decode(), "CART-NEW")  # current until 10 days ago
        record(patient, coordinator, infections={"hbv": "negative", "hcv": "negative", "hiv": "negative",
                                                 "markers_tested_on": days(0)})
        assert "Out of date" not in _row(client.get(reverse("worklist")).content.decode(), "CART-NEW")

    def test_a_closed_current_episode_lists_nothing(self, client, coordinator, dated_markers):
        patient = markers_patient(coordinator, "CART-SHUT", drawn=-40, collection=5)
        Assessment.objects.filter(pk=patient.assessment_id).update(closed_at=timezone.now(), close_reason="stopped")
        client.force_login(coordinator)
        assert "Expires:" not in _row(client.get(reverse("worklist")).content.decode(), "CART-SHUT")
        assert "CART-SHUT" not in client.get(reverse("this_week")).content.decode()

    def test_the_page_makes_the_same_queries_at_3_and_12_patients(self, client, coordinator, dated_markers):
        for n in range(3):
            markers_patient(coordinator, f"CART-Q{n:02d}", drawn=-40, collection=5)
        client.force_login(coordinator)
        url = reverse("worklist")
        client.get(url)  # warm the per-process caches
        with CaptureQueriesContext(connection) as three:
            page = client.get(url).content.decode()
        assert page.count("Out of date: infectious-disease markers") == 3
        for n in range(3, 12):
            markers_patient(coordinator, f"CART-Q{n:02d}", drawn=-40, collection=5)
        with CaptureQueriesContext(connection) as twelve:
            page = client.get(url).content.decode()
        assert page.count("Out of date: infectious-disease markers") == 12
        assert len(twelve) == len(three)
        # The rows' cases are read with the page's rows, by the query taking the page (its keys a
        # LIMIT subquery), by no other.
        case_column = '"eligibility_assessment"."data"'
        reads = [query["sql"] for query in twelve.captured_queries if case_column in query["sql"]]
        assert len(reads) == 1 and "LIMIT" in reads[0].upper()


    def test_a_key_date_planned_in_the_coming_week_is_due_on_the_row_one_day_later_is_not(self, client,
                                                                                         coordinator):
        for study_id, collection in (("CART-D0", 0), ("CART-D1", 1), ("CART-D6", 6), ("CART-D7", 7)):
            patient = PatientFactory(by=coordinator, study_id=study_id, initials="DU")
            record(patient, coordinator, leukapheresis_date=days(collection))
        done = PatientFactory(by=coordinator, study_id="CART-DONE", initials="DN")
        record(done, coordinator, leukapheresis_date=days(0))
        Assessment.objects.filter(pk=done.assessment_id).update(leukapheresis_done=True)
        client.force_login(coordinator)
        page = client.get(reverse("worklist")).content.decode()
        assert f"Due today: Leukapheresis (collection), {days(0)}</span>" in _row(page, "CART-D0")
        assert f"Due tomorrow: Leukapheresis (collection), {days(1)}</span>" in _row(page, "CART-D1")
        assert f"Due in 6 days: Leukapheresis (collection), {days(6)}</span>" in _row(page, "CART-D6")
        assert "Due" not in _row(page, "CART-D7")  # today + 7: after the week
        assert "Due" not in _row(page, "CART-DONE")  # done: not due any more

    def test_with_day_0_planned_the_due_date_carries_its_day_number(self, client, coordinator):
        patient = PatientFactory(by=coordinator, study_id="CART-DAY", initials="DY")
        record(patient, coordinator, leukapheresis_date=days(2), lymphodepletion_start_date=days(5),
               infusion_date=days(10))
        client.force_login(coordinator)
        row = _row(client.get(reverse("worklist")).content.decode(), "CART-DAY")
        assert f"Due in 2 days: Leukapheresis (collection), {days(2)} (day −8)</span>" in row
        assert f"Due in 5 days: Lymphodepletion starts, {days(5)} (day −5)</span>" in row
        assert "Infusion" not in row  # day 10: after the week


class TestThisWeek:
    def test_coordinators_and_physicians_see_it_administrators_do_not(self, client):
        for role, status in (("Coordinator", 200), ("Physician", 200), ("Administrator", 403)):
            client.force_login(UserFactory(role=role))
            assert client.get(reverse("this_week")).status_code == status, role
        client.logout()
        assert client.get(reverse("this_week")).status_code == 302

    def test_navigation_links_it_for_the_roles_that_see_it(self, client, coordinator):
        client.force_login(coordinator)
        assert f'href="{reverse("this_week")}">This week</a>' in client.get(reverse("worklist")).content.decode()
        client.force_login(UserFactory(role="Administrator"))
        assert ">This week</a>" not in client.get(reverse("worklist")).content.decode()

    def test_days_planned_dates_expiries_and_the_later_section(self, client, coordinator, dated_markers):
        # Collection in 3 days; markers drawn 28 days ago: current until in 2 days, so they expire before it.
        soon = markers_patient(coordinator, "CART-010", drawn=-28, collection=3, initials="AB")
        # Collection in 20 days; markers drawn 40 days ago: out of date already, anchor after the week.
        markers_patient(coordinator, "CART-011", drawn=-40, collection=20, initials="CD")
        client.force_login(coordinator)
        response = client.get(reverse("this_week"))
        assert response.status_code == 200
        week = response.context["week"]
        assert [day.on.isoformat() for day in week.days] == [days(n) for n in range(7)]
        by_day = {day.on.isoformat(): [(entry.patient.study_id, entry.what, entry.text) for entry in day.entries]
                  for day in week.days}
        assert by_day[days(3)] == [("CART-010", "Planned", "Leukapheresis (collection)")]
        assert by_day[days(2)] == [("CART-010", "Expires", (
            f"Infectious-disease markers expire before the planned collection on {days(3)} (drawn {days(-28)}, "
            f"current until {days(2)}): redraw between {days(-27)} and {days(3)}"))]
        assert [(patient.study_id, expiry.anchor_on.isoformat()) for patient, expiry in week.later] == [
            ("CART-011", days(20))]
        page = response.content.decode()
        assert "<title>This week · CAR-T readiness</title>" in page
        assert f'<a href="{reverse("patient_detail", args=[soon.public_id])}">CART-010</a>' in page
        assert "Out of date for the next planned date" in page
        assert "CART-010" not in response.request["PATH_INFO"]

    def test_a_value_current_for_its_anchor_but_not_a_day_longer_shows_when_it_stops(self, client, coordinator,
                                                                                     dated_markers):
        markers_patient(coordinator, "CART-015", drawn=-25, collection=5)  # 30 days: current, until day 5
        markers_patient(coordinator, "CART-016", drawn=-24, collection=5)  # until day 6: still in the week
        markers_patient(coordinator, "CART-017", drawn=-23, collection=5)  # until day 7: after the week
        client.force_login(coordinator)
        week = client.get(reverse("this_week")).context["week"]
        found = [(day.on.isoformat(), entry.patient.study_id, entry.what, entry.text) for day in week.days
                 for entry in day.entries if entry.kind == "expiry"]
        assert found == [
            (days(5), "CART-015", "Current until", f"Infectious-disease markers drawn {days(-25)} current until "
                                                   f"{days(5)}, for the planned collection on {days(5)}"),
            (days(6), "CART-016", "Current until", f"Infectious-disease markers drawn {days(-24)} current until "
                                                   f"{days(6)}, for the planned collection on {days(5)}"),
        ]
        assert week.later == []

    def test_a_value_out_of_date_for_an_anchor_in_the_week_shows_on_the_anchor_day(self, client, coordinator,
                                                                                    dated_markers):
        markers_patient(coordinator, "CART-020", drawn=-40, collection=4)
        client.force_login(coordinator)
        week = client.get(reverse("this_week")).context["week"]
        entries = {day.on.isoformat(): [(e.what, e.patient.study_id) for e in day.entries] for day in week.days}
        assert entries[days(4)] == [("Planned", "CART-020"), ("Out of date", "CART-020")]
        assert week.later == []

    def test_the_end_of_the_periods_after_the_infusion_with_day_numbers(self, client, coordinator):
        # Version 1: proximity 4 weeks (28 days), caregiver 30 days, driving 8 weeks (56 days).
        patient = PatientFactory(by=coordinator, study_id="CART-030")
        record(patient, coordinator, leukapheresis_date=days(-40), lymphodepletion_start_date=days(-32),
               infusion_date=days(-27))
        client.force_login(coordinator)
        week = client.get(reverse("this_week")).context["week"]
        found = [(day.on.isoformat(), entry.what, entry.text, entry.day) for day in week.days for entry in day.entries]
        assert found == [
            (days(1), "Ends", f"Stay near the treatment centre: last day of the 28 days after the infusion on "
                              f"{days(-27)}", "day +28"),
            (days(3), "Ends", f"Full-time caregiver: last day of the 30 days after the infusion on {days(-27)}",
             "day +30"),
        ]

    def test_planned_dates_carry_their_day_number_once_the_infusion_is_planned(self, client, coordinator):
        patient = PatientFactory(by=coordinator, study_id="CART-035")
        record(patient, coordinator, leukapheresis_date=days(-10), lymphodepletion_start_date=days(2),
               infusion_date=days(5))
        client.force_login(coordinator)
        week = client.get(reverse("this_week")).context["week"]
        found = [(day.on.isoformat(), entry.what, entry.text, entry.day) for day in week.days for entry in day.entries]
        assert found == [(days(2), "Planned", "Lymphodepletion starts", "day −3"),
                         (days(5), "Planned", "Infusion (day 0)", "")]

    def test_withdrawn_patients_are_not_on_it(self, client, coordinator, dated_markers):
        patient = markers_patient(coordinator, "CART-040", drawn=-28, collection=3)
        services.patient_withdraw(patient=patient, reason="Entered twice", by=coordinator)
        client.force_login(coordinator)
        assert "CART-040" not in client.get(reverse("this_week")).content.decode()

    def test_the_page_makes_the_same_queries_at_2_and_8_patients(self, client, coordinator, dated_markers):
        for n in range(2):
            markers_patient(coordinator, f"CART-W{n}", drawn=-28, collection=3)
        client.force_login(coordinator)
        url = reverse("this_week")
        client.get(url)
        with CaptureQueriesContext(connection) as two:
            assert client.get(url).content.decode().count("Infectious-disease markers expire") == 2
        for n in range(2, 8):
            markers_patient(coordinator, f"CART-W{n}", drawn=-28, collection=3)
        with CaptureQueriesContext(connection) as eight:
            assert client.get(url).content.decode().count("Infectious-disease markers expire") == 8
        assert len(eight) == len(two)
        # The evaluations' stored checklists are never read.
        assert not any('"checklist"' in query["sql"] for query in eight.captured_queries)


def test_decimal_thresholds_are_read_as_days(dated_markers):
    assert RuleSet.objects.get(pk=dated_markers.pk).thresholds.get(key="markers_window_days").value == Decimal(30)


class TestChecklist:
    """The checklist shows a value out of its window as the engine reports it: missing, with its reason."""

    def _markers_item(self, client, patient) -> str:
        page = client.get(reverse("checklist", args=[patient.public_id])).content.decode()
        start = page.index('id="item-infectious_markers"')
        return page[page.rindex("<tr", 0, start):page.index("</tr>", start)]

    def test_at_the_edge_the_markers_pass_one_day_past_they_are_missing_with_the_dates(self, client, coordinator,
                                                                                     dated_markers):
        edge = markers_patient(coordinator, "CART-050", drawn=-10, collection=20)
        past = markers_patient(coordinator, "CART-051", drawn=-11, collection=20)
        client.force_login(coordinator)
        item = self._markers_item(client, edge)
        assert 'class="item item-pass"' in item
        assert (f"Markers drawn on {days(-10)}, 30 days before leukapheresis on {days(20)}, within 30 days."
                in item)
        item = self._markers_item(client, past)
        assert (f"Infectious-disease markers: repeat within 30 days before the leukapheresis_date on {days(20)}: "
                f"measured on {days(-11)}, 31 days before.") in item
        assert 'class="item item-missing"' in item and "Missing" in item


def test_the_pages_speak_in_clinical_language_for_every_kind_of_dated_value(client, coordinator):
    """ALC, markers, temperature and the tests before lymphodepletion, out of date for their planned
    dates: the worklist and the this-week page name them in words, never by a case key."""
    from tests.review.test_clinical_language import assert_clinical, visible_text

    administrator = UserFactory(role="Administrator")
    draft = rulesets.ruleset_draft_create(by=administrator, name="Every dated value")
    for group in ("dated markers", "dated ALC", "dated fever"):
        rulesets.ruleset_group_hold(draft=draft, group=group, held=True, by=administrator)
    rulesets.ruleset_rule_enable(draft=draft, code="hepatic_function", enabled=True, by=administrator)
    rulesets.ruleset_thresholds_update(draft=RuleSet.objects.get(pk=draft.pk), by=administrator, values={
        "alc_max_age_days": Decimal(14), "pre_lymphodepletion_tests_max_days": Decimal(7)})
    rulesets.ruleset_publish(draft=RuleSet.objects.get(pk=draft.pk), note="Dated", by=administrator)
    patient = PatientFactory(by=coordinator, study_id="CART-060", initials="GH")
    record(patient, coordinator, leukapheresis_date=days(2), lymphodepletion_start_date=days(4),
           infusion_date=days(6), infections={"hbv": "negative", "markers_tested_on": days(-30)},
           alc={"value": 500, "unit": "cells/uL", "measured_on": days(-13)},
           labs={"bilirubin": {"value": 0.8, "unit": "mg/dL", "measured_on": days(-5)}},
           temperature={"value": 36.8, "unit": "C", "measured_at": f"{days(0)}T08:00"})
    client.force_login(coordinator)
    worklist = visible_text(client.get(reverse("worklist")).content)
    assert_clinical(worklist)
    assert (f"Expires: ALC, infectious-disease markers before collection on {days(2)}" not in worklist)  # two dates
    for short in (f"Expires: infectious-disease markers before collection on {days(2)}",
                  f"Expires: ALC before collection on {days(2)}",
                  f"Expires: bilirubin before lymphodepletion on {days(4)}",
                  f"Expires: temperature before infusion on {days(6)}"):
        assert short in worklist
    week = visible_text(client.get(reverse("this_week")).content)
    assert_clinical(week)
    assert f"Bilirubin expires before the planned lymphodepletion on {days(4)} (measured {days(-5)}" in week
    assert f"Temperature expires before the planned infusion on {days(6)} (taken {days(0)}" in week


def test_a_temperature_taken_before_an_infusion_after_the_week_is_not_listed_yet(client, coordinator):
    """The temperature counts only on the infusion day (a window of 0 days): one taken earlier is
    listed in the week of the infusion (day 6: listed), not before it (day 7: not yet)."""
    administrator = UserFactory(role="Administrator")
    draft = rulesets.ruleset_draft_create(by=administrator, name="Dated fever")
    rulesets.ruleset_group_hold(draft=draft, group="dated fever", held=True, by=administrator)
    rulesets.ruleset_publish(draft=RuleSet.objects.get(pk=draft.pk), note="Fever by date", by=administrator)
    for study_id, infusion in (("CART-T6", 6), ("CART-T7", 7)):
        patient = PatientFactory(by=coordinator, study_id=study_id, initials="TT")
        record(patient, coordinator, infusion_date=days(infusion),
               temperature={"value": 36.8, "unit": "C", "measured_at": f"{days(0)}T08:00"})
    client.force_login(coordinator)
    page = client.get(reverse("worklist")).content.decode()
    assert f"Expires: temperature before infusion on {days(6)}" in _row(page, "CART-T6")
    assert "temperature" not in _row(page, "CART-T7")
    week = client.get(reverse("this_week")).content.decode()
    assert f"Temperature expires before the planned infusion on {days(6)}" in week
    assert f"Temperature expires before the planned infusion on {days(7)}" not in week
