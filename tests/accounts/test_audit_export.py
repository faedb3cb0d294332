"""The audit export: its exact content for a known set of changes (CSV and JSON), date-range
boundaries in the project's time zone, the command's file equal to the page's, only
administrators, and every export recorded in the trail."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from accounts import audit
from accounts import services as account_services
from accounts.audit import COLUMNS, render
from accounts.models import AuditExport, UserChange
from eligibility.models import Assessment, Patient
from eligibility.patients import services

pytestmark = pytest.mark.django_db
UTC = dt.UTC
DAY = "2025-03-10"


def at(hour: int, minute: int = 0, second: int = 0, tz=UTC) -> dt.datetime:
    return dt.datetime(2025, 3, 10, hour, minute, second, tzinfo=tz)


@pytest.fixture
def known_changes(administrator, coordinator, physician):
    """Casey creates a patient (09:00), changes its ECOG twice (09:05, 09:10); Ada makes Robin a
    coordinator (09:15). The times are set after the fact: the services stamp "now"."""
    patient = services.patient_create(study_id="EXP-001", initials="EX", by=coordinator)
    Patient.history.update(history_date=at(9))
    Assessment.objects.update(opened_at=at(9))  # episode 1, opened with the patient
    Assessment.history.update(history_date=at(9), opened_at=at(9))
    for minute, ecog in ((5, 1), (10, 2)):
        assessment = Assessment.objects.get(patient=patient)
        services.assessment_update(assessment=assessment, changes={"ecog": ecog}, stage="screening",
                                   revision=assessment.revision, by=coordinator)
        Assessment.history.filter(history_date__gt=at(10)).update(history_date=at(9, minute))  # the save just made
    account_services.user_role_change(user=physician, role="Coordinator", stamp=None, by=administrator)
    UserChange.objects.update(at=at(9, 15))
    return patient


def expected_csv(patient) -> str:
    """The export of ``known_changes``: the patient's rows under its id, its episode's under the
    episode's own (both with the patient's study identifier)."""
    public_id, episode_id = patient.public_id, patient.assessment.public_id
    patient = ('"{""created_by"": ""Casey Jones (casey)"", ""initials"": ""EX"", ""study_id"": ""EXP-001"", '
               '""withdrawal_reason"": """", ""withdrawn_at"": """", ""withdrawn_by"": """"}"')
    assessment = ('"{""close_note"": """", ""close_reason"": """", ""closed_at"": """", ""closed_by"": """", '
                  '""consent_on"": """", ""data"": {}, ""infusion_done"": ""no"", ""kind"": ""first_workup"", '
                  '""leukapheresis_done"": ""no"", ""lymphodepletion_done"": ""no"", ""number"": ""1"", '
                  '""opened_at"": ""2025-03-10T09:00:00+00:00"", ""opened_by"": ""Casey Jones (casey)"", '
                  '""revision"": ""0"", ""screening_on"": """", ""stage"": ""screening"", ""started_from"": """", '
                  '""updated_by"": ""Casey Jones (casey)""}"')
    lines = [
        "when,who,action,record,record_id,study_id,field,old_value,new_value,field_label,old_text,new_text",
        # A created record's values in words: verbose names, people, the stage's label; empty ones left out.
        f"2025-03-10T09:00:00+00:00,Casey Jones (casey),created,patient,{public_id},EXP-001,,,{patient},,,"
        "study identifier: EXP-001; initials: EX; created by: Casey Jones (casey)",
        f"2025-03-10T09:00:00+00:00,Casey Jones (casey),created,assessment,{episode_id},EXP-001,,,{assessment},,,"
        "episode number: 1; Episode kind: First work-up; episode opened at: 2025-03-10T09:00:00+00:00; "
        "leukapheresis done: no; lymphodepletion started: no; infusion given: no; Stage: Screening; revision: 0; "
        "episode opened by: Casey Jones (casey); updated by: Casey Jones (casey)",
        # The case data's values also in words: the label of the case path (the stored key before it).
        f"2025-03-10T09:05:00+00:00,Casey Jones (casey),changed,assessment,{episode_id},EXP-001,data.ecog,,1,"
        "ECOG performance status,,1",
        f"2025-03-10T09:05:00+00:00,Casey Jones (casey),changed,assessment,{episode_id},EXP-001,revision,0,1,"
        "revision,0,1",
        f"2025-03-10T09:10:00+00:00,Casey Jones (casey),changed,assessment,{episode_id},EXP-001,data.ecog,1,2,"
        "ECOG performance status,1,2",
        f"2025-03-10T09:10:00+00:00,Casey Jones (casey),changed,assessment,{episode_id},EXP-001,revision,1,2,"
        "revision,1,2",
        "2025-03-10T09:15:00+00:00,Ada Admin (ada),role changed,user,dr.lee,,role,Physician,Coordinator,"
        "role,Physician,Coordinator",
    ]
    return "\r\n".join(lines) + "\r\n"


def _export(client, date_from=DAY, date_to=DAY, format="csv"):
    response = client.post(reverse("audit_export"), {"date_from": date_from, "date_to": date_to, "format": format})
    assert response.status_code == 200 and response.streaming
    return b"".join(response.streaming_content).decode(), response


@override_settings(TIME_ZONE="UTC")
def test_csv_export_of_known_changes_exactly(client, administrator, known_changes, caplog):
    client.force_login(administrator)
    with caplog.at_level(logging.DEBUG):
        content, response = _export(client)
    assert content == expected_csv(known_changes)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="audit-trail-2025-03-10-to-2025-03-10.csv"'
    assert "no-store" in response["Cache-Control"]
    assert "EXP-001" not in caplog.text  # the study identifier is never logged


def test_case_values_and_the_stage_are_also_in_words(client, administrator, coordinator):
    """Beside the stored key and value: the label, choice words, the product's name, unit symbols."""
    patient = services.patient_create(study_id="EXP-002", initials="EW", by=coordinator)
    services.assessment_update(
        assessment=patient.assessment, stage="pre_apheresis", revision=patient.assessment.revision, by=coordinator,
        changes={"product": "axicabtagene_ciloleucel", "alc": {"value": 150, "unit": "cells/uL"},
                 "infections": {"hbv": "positive"}})
    client.force_login(administrator)
    today = timezone.localdate().isoformat()
    rows = json.loads(_export(client, today, today, format="json")[0])
    words = {row["field"]: (row["field_label"], row["old_text"], row["new_text"]) for row in rows
             if row["record"] == "assessment" and row["action"] == "changed"}
    assert words["data.product"] == ("Product", "", "Yescarta")
    assert words["data.alc.value"] == ("Absolute lymphocyte count (value)", "", "150")
    assert words["data.alc.unit"] == ("Absolute lymphocyte count (unit)", "", "cells/µL")
    assert words["data.infections.hbv"] == ("Hepatitis B", "", "positive (latent/chronic)")
    assert words["stage"] == ("Stage", "Screening", "Before leukapheresis")
    assert words["revision"] == ("revision", "0", "1")  # a field nobody describes: its stored value
    stored = {row["field"]: row["new_value"] for row in rows if row["record"] == "assessment"}
    assert stored["data.product"] == "axicabtagene_ciloleucel" and stored["stage"] == "pre_apheresis"


@override_settings(TIME_ZONE="UTC")
def test_json_export_has_the_same_rows_as_objects(client, administrator, known_changes):
    client.force_login(administrator)
    content, response = _export(client, format="json")
    assert response["Content-Type"] == "application/json"
    rows = list(csv.DictReader(io.StringIO(expected_csv(known_changes))))
    assert json.loads(content) == rows
    assert list(json.loads(content)[0]) == list(COLUMNS)


def test_command_writes_the_same_file_as_the_page(client, administrator, known_changes, tmp_path):
    client.force_login(administrator)
    for format in ("csv", "json"):
        page, _ = _export(client, format=format)
        out = io.StringIO()
        call_command("export_audit", "--from", DAY, "--to", DAY, "--format", format, stdout=out)
        assert out.getvalue() == page
        call_command("export_audit", "--from", DAY, "--to", DAY, "--format", format,
                     "--output", str(tmp_path / f"audit.{format}"), stderr=io.StringIO())
        assert (tmp_path / f"audit.{format}").read_bytes().decode() == page
    assert len(page) > 100


@override_settings(TIME_ZONE="Pacific/Auckland")  # UTC+13 in March: a day is not the UTC day
def test_range_is_whole_days_in_the_project_time_zone(client, administrator, physician):
    from zoneinfo import ZoneInfo

    auckland = ZoneInfo("Pacific/Auckland")
    moments = {
        "before first day": dt.datetime(2025, 3, 9, 23, 59, 59, tzinfo=auckland),
        "first day start": dt.datetime(2025, 3, 10, 0, 0, 0, tzinfo=auckland),
        "last day end": dt.datetime(2025, 3, 11, 23, 59, 59, 999999, tzinfo=auckland),
        "day after": dt.datetime(2025, 3, 12, 0, 0, 0, tzinfo=auckland),
    }
    for label, moment in moments.items():
        UserChange.objects.create(user=physician, action="role_changed", old_value="x", new_value=label,
                                  by=administrator, by_name="Ada Admin (ada)", at=moment)
    client.force_login(administrator)
    content, _ = _export(client, "2025-03-10", "2025-03-11")
    rows = list(csv.DictReader(io.StringIO(content)))
    assert [row["new_value"] for row in rows] == ["first day start", "last day end"]
    assert rows[0]["when"] == "2025-03-10T00:00:00+13:00"
    # One day: its last instant is in, the next day's first is not.
    content, _ = _export(client, "2025-03-11", "2025-03-11")
    assert [row["new_value"] for row in csv.DictReader(io.StringIO(content))] == ["last day end"]


@override_settings(TIME_ZONE="UTC")
def test_history_records_follow_the_same_boundaries(client, administrator, coordinator):
    services.patient_create(study_id="EDGE-1", initials="ED", by=coordinator)
    Patient.history.update(history_date=dt.datetime(2025, 3, 10, 23, 59, 59, 999999, tzinfo=UTC))
    Assessment.history.update(history_date=dt.datetime(2025, 3, 11, 0, 0, tzinfo=UTC))
    client.force_login(administrator)
    content, _ = _export(client)
    assert [(row["record"], row["study_id"]) for row in csv.DictReader(io.StringIO(content))] == [
        ("patient", "EDGE-1")]


def test_export_is_recorded_and_appears_in_later_exports(client, administrator):
    client.force_login(administrator)
    today = timezone.localdate().isoformat()
    first, _ = _export(client, today, today)
    export = AuditExport.objects.get()
    assert (export.by, export.by_name, export.format, export.channel) == (administrator, "Ada Admin (ada)", "csv",
                                                                          "page")
    assert (export.date_from.isoformat(), export.date_to.isoformat()) == (today, today)
    assert export.row_count == len(first.splitlines()) - 1 and export.completed_at is not None
    out = io.StringIO()
    call_command("export_audit", "--from", today, "--to", today, "--format", "json", stdout=out)
    rows = json.loads(out.getvalue())
    exported = [row for row in rows if row["record"] == "audit export"]
    assert exported == [{
        "when": exported[0]["when"], "who": "Ada Admin (ada)", "action": "exported", "record": "audit export",
        "record_id": str(export.pk), "study_id": "", "field": "", "old_value": "",
        "new_value": f"{today} to {today}, CSV, {export.row_count} rows, from the page", "field_label": "",
        "old_text": "", "new_text": f"{today} to {today}, CSV, {export.row_count} rows, from the page"}]
    command_export = AuditExport.objects.exclude(pk=export.pk).get()
    assert command_export.channel == "command" and command_export.by is None
    assert command_export.by_name.startswith("command line") and command_export.row_count == len(rows)


def test_dates_are_validated_beside_their_fields_and_nothing_exported(client, administrator):
    client.force_login(administrator)
    response = client.post(reverse("audit_export"), {"date_from": "2026-02-01", "date_to": "2026-01-31",
                                                     "format": "json"})
    page = response.content.decode()
    assert response.status_code == 200 and not response.streaming
    assert "The last day must be on or after the first day." in page
    assert 'value="2026-02-01"' in page and 'value="2026-01-31"' in page
    response = client.post(reverse("audit_export"), {"date_from": "2026-02-30", "date_to": "", "format": "csv"})
    assert "Enter a valid date." in response.content.decode() and "This field is required." in response.content.decode()
    # The same day is a valid range.
    assert client.post(reverse("audit_export"), {"date_from": DAY, "date_to": DAY, "format": "csv"}).streaming
    assert AuditExport.objects.count() == 1


def test_command_refuses_a_reversed_or_malformed_range():
    with pytest.raises(CommandError, match="must be on or after"):
        call_command("export_audit", "--from", "2026-02-01", "--to", "2026-01-31")
    with pytest.raises(CommandError, match="is not a date"):
        call_command("export_audit", "--from", "2026-13-01", "--to", "2026-12-31")
    assert not AuditExport.objects.exists()


def test_render_streams_in_pieces_and_defuses_spreadsheet_formulas():
    row = dict.fromkeys(COLUMNS, "x" * 50)
    pieces = list(render([row] * 3000, "csv", counter := [0]))
    assert len(pieces) > 2 and counter == [3000]
    assert sum(piece.count("\r\n") for piece in pieces) == 3001
    dangerous = {**dict.fromkeys(COLUMNS, ""), "old_value": "=HYPERLINK(\"http://x\")", "new_value": "-5",
                 "old_text": "=HYPERLINK(\"http://x\")", "new_text": "-5"}
    line = "".join(render([dangerous], "csv", [0])).splitlines()[1]
    assert line.endswith(",\"'=HYPERLINK(\"\"http://x\"\")\",-5,,\"'=HYPERLINK(\"\"http://x\"\")\",-5")
    assert json.loads("".join(render([dangerous], "json", [0])))[0]["old_value"] == "=HYPERLINK(\"http://x\")"
    assert json.loads("".join(render([], "json", [0]))) == []


def test_models_tracked_later_are_found_generically():
    from accounts.audit import tracked_models

    assert {model._meta.label for model in tracked_models()} >= {
        "eligibility.Patient", "eligibility.Assessment", "eligibility.Threshold", "eligibility.Product"}


def test_decisions_signatures_reviews_and_publications_are_in_the_export():
    """What physicians and administrators did is in the trail as well as what coordinators typed."""
    from eligibility.review import services as review
    from eligibility.rulesets import services as rulesets
    from tests.factories import PASSWORD, SCREENING_TO_REVIEW, PatientFactory, UserFactory

    coordinator = UserFactory(role="Coordinator")
    physician = UserFactory(role="Physician", first_name="Robin", last_name="Lee", username="robin")
    administrator = UserFactory(role="Administrator")
    patient = PatientFactory(by=coordinator, study_id="EXP-REV")
    evaluation = services.assessment_update(assessment=patient.assessment, changes=SCREENING_TO_REVIEW,
                                            stage="screening", revision=0, by=coordinator)
    review.disposition_record(evaluation=evaluation, code="viral_infection", kind="accepted", by=physician)
    review.disposition_record(evaluation=evaluation, code="viral_infection", kind="overridden", reason_code="other",
                              justification="PCR negative", by=physician)  # a changed decision
    review.disposition_record(evaluation=evaluation, code="hbv", kind="acknowledged", by=physician)
    signoff = review.signoff_create(evaluation=evaluation, password=PASSWORD, by=physician)
    services.assessment_update(assessment=patient.assessment, changes={"ecog": 0}, stage="screening",
                               revision=1, by=coordinator)  # voids the signature
    draft = rulesets.ruleset_draft_create(by=administrator)
    rulesets.ruleset_publish(draft=draft, note="Same values, new name", by=administrator)
    today = timezone.localdate()
    rows = list(audit.audit_rows(date_from=today, date_to=today))
    actions = [(row["record"], row["action"], row["field"]) for row in rows]
    assert ("sign off", "signed", "meaning") in actions
    assert ("sign off", "voided", "void_reason") in actions
    assert ("rule set", "published", "change_note") in actions
    decision_changes = [row for row in rows if row["record"] == "disposition" and row["field"] == "kind"]
    assert [(row["old_value"], row["new_value"]) for row in decision_changes] == [("accepted", "overridden")]
    assert decision_changes[0]["who"].startswith("Robin Lee")
    signed = next(row for row in rows if row["action"] == "signed")
    assert signed["study_id"] == "EXP-REV" and signed["record_id"] == str(signoff.public_id)
    assert signoff.content_hash in signed["new_value"]


def test_an_episode_closed_reads_in_words(client, administrator, coordinator):
    """Treatment episodes: the close of episode 1 and the kind of episode 2, labelled and in words."""
    from eligibility.patients import episodes_services

    patient = services.patient_create(study_id="EXP-003", initials="EW", by=coordinator)
    episodes_services.episode_start(patient=patient, kind="retreatment", start_from_previous=False,
                                    expected_current_id=patient.assessment.pk, by=coordinator)
    client.force_login(administrator)
    today = timezone.localdate().isoformat()
    rows = json.loads(_export(client, today, today, format="json")[0])
    words = {row["field"]: (row["field_label"], row["old_text"], row["new_text"]) for row in rows
             if row["record"] == "assessment" and row["action"] == "changed"}
    assert words["close_reason"] == ("Why the episode was closed", "", "Replaced by a new episode")
    assert words["close_note"][0] == "note on closing"
    assert words["close_note"][2] == "Replaced by episode 2 (Re-treatment)"
