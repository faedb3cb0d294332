"""Treatment episodes (issue 14, item 1): starting a new episode, closing one, what a closed episode
refuses, two episodes' records kept apart, and the pages (permissions, wording)."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse

from eligibility.models import Assessment, Disposition, Evaluation, Patient, Question, ReadyMark, ReviewRequest, SignOff
from eligibility.patients import episodes_services as episodes
from eligibility.patients import services
from eligibility.patients.fields import form_text
from eligibility.patients.forms import SectionForm
from eligibility.review import services as review
from eligibility.review.handoffs import services as handoffs
from eligibility.review.selectors import physician_queue
from eligibility.rulesets.selectors import active_engine
from tests.conftest import EXAMPLES_DIR
from tests.factories import PASSWORD, SCREENING_TO_REVIEW, PatientFactory, UserFactory
from tests.review.test_review_requests import lower_alc, signed_before_apheresis

pytestmark = pytest.mark.django_db

CLEAN = {key: value for key, value in json.loads((EXAMPLES_DIR / "01-clean.json").read_text())["case"].items()
         if key not in ("case_id", "stage")}


def start(patient, by, kind="recollection", start_from_previous=True):
    patient.refresh_from_db()
    return episodes.episode_start(patient=patient, kind=kind, start_from_previous=start_from_previous,
                                  expected_current_id=patient.assessment_id, by=by)


def save(assessment, by, stage="screening", **changes):
    assessment.refresh_from_db()
    return services.assessment_update(assessment=assessment, changes=changes, stage=stage,
                                      revision=assessment.revision, by=by)


def decide_all(evaluation, physician):
    for item in evaluation.checklist["items"]:
        if item["status"] == "flag":
            review.disposition_record(evaluation=evaluation, code=item["code"], kind="acknowledged", by=physician)
        elif item["status"] in ("defer", "exclude", "missing"):
            review.disposition_record(evaluation=evaluation, code=item["code"], kind="overridden", by=physician,
                                      reason_code="other", justification="Checked")


# --- Starting a new episode ---------------------------------------------------------------------


def test_a_new_episode_closes_the_previous_one_as_replaced_and_is_current_and_evaluated(coordinator):
    patient = PatientFactory(by=coordinator)
    first = patient.assessment
    episode = start(patient, coordinator, kind="retreatment")
    first.refresh_from_db()
    patient.refresh_from_db()
    assert (first.close_reason, first.closed_by, first.close_note) == (
        "superseded", coordinator, "Replaced by episode 2 (Re-treatment)")
    assert (episode.number, episode.kind, episode.stage, episode.opened_by) == (2, "retreatment", "screening",
                                                                               coordinator)
    assert patient.assessment == episode and not episode.is_closed
    ruleset, _ = active_engine()
    evaluation = Evaluation.objects.get(assessment=episode)
    assert episode.current_evaluation == evaluation and evaluation.ruleset == ruleset
    assert first.current_evaluation_id != evaluation.pk  # episode 1 keeps its own checklist
    assert episodes.episode_title(episode) == "Episode 2 · Re-treatment"
    third = start(patient, coordinator)
    assert third.number == 3 and Assessment.objects.filter(patient=patient, closed_at__isnull=True).get() == third


def test_starting_from_the_previous_values_keeps_their_dates_and_leaves_the_new_path_empty(coordinator):
    patient = PatientFactory(by=coordinator)
    save(patient.assessment, coordinator, stage="pre_apheresis", **CLEAN, as_of="2026-11-01")
    Assessment.objects.filter(pk=patient.assessment.pk).update(consent_on="2026-10-01", leukapheresis_done=True)
    first = Assessment.objects.get(pk=patient.assessment.pk)
    episode = start(patient, coordinator)
    assert episode.started_from == first
    assert episode.data["infections"]["markers_tested_on"] == "2026-10-20"  # old values show as old
    assert episode.data["alc"] == first.data["alc"] and episode.data["product"] == first.data["product"]
    for key in episodes.NEW_PATH_KEYS:
        assert key not in episode.data
    assert "leukapheresis_date" in first.data  # episode 1 keeps its own record
    assert (episode.consent_on, episode.leukapheresis_done, episode.stage) == (None, False, "screening")

    empty = start(patient, coordinator, start_from_previous=False)
    assert empty.data == {} and empty.started_from is None


def test_a_start_from_a_page_opened_before_a_colleagues_start_is_refused(coordinator):
    patient = PatientFactory(by=coordinator)
    opened_on = patient.assessment_id
    start(patient, UserFactory(role="Coordinator", first_name="Sam", last_name="Okafor"))
    with pytest.raises(episodes.EpisodeRefused, match="current episode changed since you opened this page "
                                                      r"\(Episode 2 · Re-collection was started by Sam Okafor"):
        episodes.episode_start(patient=patient, kind="recollection", start_from_previous=True,
                               expected_current_id=opened_on, by=coordinator)
    assert patient.episodes.count() == 2


def test_a_withdrawn_patient_and_a_first_work_up_kind_are_refused(coordinator):
    patient = PatientFactory(by=coordinator)
    with pytest.raises(episodes.EpisodeRefused) as refused:
        start(patient, coordinator, kind="first_workup")
    assert refused.value.field == "kind"
    services.patient_withdraw(patient=patient, reason="Duplicate", by=coordinator)
    with pytest.raises(episodes.EpisodeRefused, match="withdrawn"):
        start(patient, coordinator)
    assert patient.episodes.count() == 1


def test_the_previous_episodes_mark_ends_and_its_review_request_is_superseded(administrator, coordinator, physician):
    patient, evaluation, signoff = signed_before_apheresis(coordinator, physician)
    lower_alc(administrator)  # a review request on the signed checklist of episode 1
    request = ReviewRequest.objects.get(assessment=patient.assessment)
    marked = PatientFactory(by=coordinator)
    save(marked.assessment, coordinator, **SCREENING_TO_REVIEW)
    handoffs.ready_mark(assessment=marked.assessment, by=coordinator)
    assert physician_queue().filter(assessment__patient=marked).exists()

    start(patient, coordinator)
    start(marked, coordinator)
    request.refresh_from_db()
    assert request.resolution == "superseded"
    assert "Episode 1 closed (replaced by a new episode)" in request.justification
    mark = ReadyMark.objects.get(assessment__patient=marked)
    assert mark.clearance == "episode_closed" and mark.cleared_by == coordinator
    assert not physician_queue().filter(assessment__patient=marked).exists()
    signoff.refresh_from_db()
    assert not signoff.is_void  # nothing of episode 1 is voided: it belongs to episode 1


# --- Two episodes, two records ------------------------------------------------------------------


def test_a_second_episodes_checklist_and_signature_are_independent_of_the_first(
        administrator, coordinator, physician, client):
    patient, first_evaluation, first_signoff = signed_before_apheresis(coordinator, physician)
    first = patient.assessment
    second = start(patient, coordinator)
    # The copied values (ALC 150 cells/uL and HBV on prophylaxis: flags) with the new path's collection date.
    evaluation = save(second, coordinator, stage="pre_apheresis", leukapheresis_date=CLEAN["leukapheresis_date"])
    assert {item["code"] for item in evaluation.checklist["items"] if item["status"] == "flag"} >= {"alc", "hbv"}
    decide_all(evaluation, physician)
    second_signoff = review.signoff_create(evaluation=evaluation, password=PASSWORD, by=physician)

    first_signoff.refresh_from_db()
    assert not first_signoff.is_void and not second_signoff.is_void  # one standing signature per episode
    assert review.signoff_verify(first_signoff) and review.signoff_verify(second_signoff)
    assert SignOff.objects.filter(assessment=first).get() == first_signoff
    assert set(Disposition.objects.filter(evaluation=first_evaluation).values_list("code", flat=True)) == {"alc", "hbv"}
    client.force_login(physician)
    response = client.get(reverse("signoff_pdf", args=[first_signoff.public_id]))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"

    before = {episode.pk: episode.current_evaluation_id for episode in patient.episodes.all()}
    lower_alc(administrator)  # a publish re-evaluates (or asks about) episode 2 only
    after = {episode.pk: episode.current_evaluation_id for episode in patient.episodes.all()}
    assert after[first.pk] == before[first.pk]
    assert Evaluation.objects.filter(assessment=first).count() == 2  # created, then saved: nothing added
    assert not ReviewRequest.objects.filter(assessment=first).exists()
    assert ReviewRequest.objects.filter(assessment=second).exists()  # signed in episode 2: asked about


# --- Closing an episode -------------------------------------------------------------------------


def test_closing_needs_a_reason_and_a_note_when_stopped_and_happens_once(coordinator, physician):
    patient = PatientFactory(by=coordinator)
    episode = patient.assessment
    with pytest.raises(episodes.EpisodeRefused) as refused:
        episodes.episode_close(assessment=episode, reason="superseded", note="", by=coordinator)
    assert refused.value.field == "reason"
    with pytest.raises(episodes.EpisodeRefused, match="Say why the episode is stopped") as refused:
        episodes.episode_close(assessment=episode, reason="stopped", note="  ", by=coordinator)
    assert refused.value.field == "note"
    episodes.episode_close(assessment=episode, reason="stopped", note="Patient moved abroad", by=physician)
    episode.refresh_from_db()
    assert (episode.close_reason, episode.close_note, episode.closed_by) == ("stopped", "Patient moved abroad",
                                                                             physician)
    with pytest.raises(episodes.EpisodeRefused, match="was closed already .stopped .other reason..") as refused:
        episodes.episode_close(assessment=episode, reason="completed", note="", by=coordinator)
    patient.refresh_from_db()
    assert patient.assessment == episode  # still the current episode, read-only, until a new one starts
    assert start(patient, coordinator).number == 2
    episode.refresh_from_db()
    assert episode.close_reason == "stopped"  # a closed episode stays closed as it was


def test_a_closed_episode_refuses_saves_decisions_signatures_marks_and_questions(coordinator, physician):
    patient = PatientFactory(by=coordinator)
    evaluation = save(patient.assessment, coordinator, **SCREENING_TO_REVIEW)
    question = handoffs.question_ask(evaluation=evaluation, code="hbv", text="Since when?", by=physician)
    episodes.episode_close(assessment=patient.assessment, reason="not_eligible", note="", by=physician)
    closed = re.escape("Episode 1 is closed (not eligible, ")
    with pytest.raises(services.WorkupClosed, match=closed):
        save(patient.assessment, coordinator, ecog=2)
    with pytest.raises(review.ReviewRefused, match=closed):
        review.disposition_record(evaluation=evaluation, code="hbv", kind="acknowledged", by=physician)
    with pytest.raises(review.ReviewRefused, match=closed):
        review.dispositions_record_bulk(evaluation=evaluation, action="acknowledge-flags", by=physician)
    with pytest.raises(review.ReviewRefused, match=closed):
        review.signoff_create(evaluation=evaluation, password=PASSWORD, by=physician)
    with pytest.raises(handoffs.HandoffRefused, match=closed):
        handoffs.ready_mark(assessment=patient.assessment, by=coordinator)
    with pytest.raises(handoffs.HandoffRefused, match=closed):
        handoffs.question_ask(evaluation=evaluation, code="viral", text="Which virus?", by=physician)
    with pytest.raises(handoffs.HandoffRefused, match=closed):
        handoffs.question_answer(question=question, text="Since May", by=coordinator)
    assert not Disposition.objects.exists() and not SignOff.objects.exists() and not ReadyMark.objects.exists()
    assert Question.objects.get().state == "open"
    assert Evaluation.objects.filter(assessment=patient.assessment).count() == 2


def test_an_open_episode_still_takes_decisions(coordinator, physician):
    """The neighbour of the refusal above: the same decision on the open episode is recorded."""
    patient = PatientFactory(by=coordinator)
    evaluation = save(patient.assessment, coordinator, **SCREENING_TO_REVIEW)
    review.disposition_record(evaluation=evaluation, code="hbv", kind="acknowledged", by=physician)
    assert Disposition.objects.filter(evaluation=evaluation, code="hbv").exists()


# --- Pages --------------------------------------------------------------------------------------


@pytest.mark.parametrize("role, allowed", [("Coordinator", True), ("Physician", True), ("Administrator", False)])
def test_who_may_start_and_close_episodes(client, coordinator, role, allowed):
    patient = PatientFactory(by=coordinator)
    client.force_login(UserFactory(role=role))
    for url in (reverse("episode_start", args=[patient.public_id]),
                reverse("episode_close", args=[patient.assessment.public_id])):
        assert client.get(url).status_code == (200 if allowed else 403)
    response = client.post(reverse("episode_start", args=[patient.public_id]), {
        "kind": "recollection", "start_from_previous": "no", "current": str(patient.assessment.public_id)})
    assert response.status_code == (302 if allowed else 403)
    assert patient.episodes.count() == (2 if allowed else 1)


def test_an_administrator_given_the_permission_may_and_anonymous_is_sent_to_sign_in(client, coordinator):
    from django.contrib.auth.models import Permission

    patient = PatientFactory(by=coordinator)
    url = reverse("episode_start", args=[patient.public_id])
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    administrator = UserFactory(role="Administrator")
    administrator.user_permissions.add(Permission.objects.get(codename="manage_episode"))
    client.force_login(administrator)
    assert client.get(url).status_code == 200


def test_the_start_page_explains_and_names_a_colleagues_start_beside_nothing_lost(client, coordinator):
    patient = PatientFactory(by=coordinator)
    client.force_login(coordinator)
    url = reverse("episode_start", args=[patient.public_id])
    page = client.get(url).content.decode()
    assert "Start a new episode (episode 2)" in page and "measurement date unchanged" in page
    assert patient.study_id not in url
    opened_on = str(patient.assessment.public_id)
    start(patient, UserFactory(role="Physician", first_name="Robin", last_name="Lee"))
    response = client.post(url, {"kind": "retreatment", "start_from_previous": "yes", "current": opened_on})
    page = response.content.decode()
    assert response.status_code == 200 and "was started by Robin Lee" in page
    assert 'value="retreatment" checked' in page.replace("\n", " ") or 'value="retreatment"' in page
    assert patient.episodes.count() == 2
    response = client.post(url, {"start_from_previous": "yes", "current": opened_on})
    assert response.status_code == 200 and "This field is required" in response.content.decode()


def test_the_close_page_confirms_and_shows_a_missing_note_beside_the_field(client, coordinator):
    patient = PatientFactory(by=coordinator)
    client.force_login(coordinator)
    url = reverse("episode_close", args=[patient.assessment.public_id])
    response = client.post(url, {"reason": "stopped", "note": ""})
    assert response.status_code == 200 and "Say why the episode is stopped." in response.content.decode()
    assert not Assessment.objects.get(pk=patient.assessment.pk).is_closed
    response = client.post(url, {"reason": "completed", "note": ""})
    assert response.status_code == 302
    page = client.get(reverse("patient_detail", args=[patient.public_id])).content.decode()
    assert "Episode 1 is closed" in page and "Treatment completed" in page and "(current episode)" in page


def test_the_patient_page_lists_the_episodes_and_a_past_ones_page_is_read_only(client, coordinator, physician):
    patient, evaluation, signoff = signed_before_apheresis(coordinator, physician)
    first = patient.assessment
    start(patient, coordinator)
    client.force_login(UserFactory(role="Administrator"))  # reads every page
    page = client.get(reverse("patient_detail", args=[patient.public_id])).content.decode()
    assert "Episode 2 · Re-collection</strong> (current episode)" in page
    assert reverse("episode_detail", args=[first.public_id]) in page and "Replaced by episode 2 (Re-collection)" in page
    assert "Start a new episode" not in page  # administrators do not manage episodes
    response = client.get(reverse("episode_detail", args=[first.public_id]))
    page = response.content.decode()
    assert response.status_code == 200
    assert "Episode 1 · First work-up (closed: replaced by a new episode) — read only" in page
    # The header names the episode the page shows, not the patient's current one, and says which is current.
    header = page[page.index('class="mb-1 episode-name"'):page.index('aria-label="Patient"')]
    assert "Episode 1 · First work-up" in header and "Episode 2" not in header.split("current episode is")[0]
    assert "the patient's current episode is episode 2" in header
    assert reverse("evaluation_detail", args=[evaluation.public_id]) in page
    assert reverse("signoff_pdf", args=[signoff.public_id]) in page and "— stands" in page
    assert "Leukapheresis (collection)" in page and "closed: replaced by episode 2 (Re-collection)" in page
    assert "<title>" + patient.study_id + " · Episode 1 · CAR-T readiness</title>" in page.replace("\n", "")
    # A past episode keeps its path in time: its own timeline (every reader), card and calendar (care team).
    assert reverse("episode_timeline", args=[first.public_id]) in page
    assert reverse("episode_card", args=[first.public_id]) not in page  # the administrator reading it
    client.force_login(coordinator)
    page = client.get(reverse("episode_detail", args=[first.public_id])).content.decode()
    assert reverse("episode_card", args=[first.public_id]) not in page  # replaced: its dates will not happen
    assert "No patient card or calendar file: the episode was closed before its dates happened." in page


def test_a_closed_episodes_evaluation_says_so_and_offers_no_decision_or_signature(client, coordinator, physician):
    patient = PatientFactory(by=coordinator)
    evaluation = save(patient.assessment, coordinator, **SCREENING_TO_REVIEW)
    client.force_login(physician)
    url = reverse("evaluation_detail", args=[evaluation.public_id])
    assert reverse("sign_off", args=[evaluation.public_id]) in client.get(url).content.decode()  # open: it does
    start(patient, coordinator)
    page = client.get(url).content.decode()
    assert "From Episode 1 · First work-up, closed" in page
    assert reverse("sign_off", args=[evaluation.public_id]) not in page
    assert reverse("disposition", args=[evaluation.public_id, "hbv"]) not in page
    response = client.post(reverse("sign_off", args=[evaluation.public_id]), {"password": PASSWORD})
    assert response.status_code == 400 and "Episode 1 is closed" in response.content.decode()


def test_a_form_opened_on_the_previous_episode_is_refused_as_closed_with_the_entries_kept(client, coordinator):
    patient = PatientFactory(by=coordinator)
    old = Assessment.objects.get(pk=patient.assessment.pk)
    posted = {name: form_text(value) for name, value in SectionForm.initial_for(old, "screening").items()
              if value not in ([], None)}
    posted.update({"age_years": "61", "stage": "screening"})
    start(patient, coordinator, start_from_previous=False)
    client.force_login(coordinator)
    response = client.post(reverse("intake", args=[patient.public_id, "screening"]), posted)
    page = response.content.decode()
    assert response.status_code == 200 and "Not saved: Episode 1 is closed (replaced by a new episode" in page
    assert 'value="61"' in page  # what was typed is kept
    assert all("age_years" not in episode.data for episode in patient.episodes.all())  # saved nowhere


def test_headers_and_worklist_name_the_episode_once_there_are_two(client, coordinator):
    patient = PatientFactory(by=coordinator)
    client.force_login(coordinator)
    checklist = reverse("checklist", args=[patient.public_id])
    assert "Episode 1 · First work-up" not in client.get(checklist).content.decode()
    assert "Episode 1 · First work-up" not in client.get(reverse("worklist")).content.decode()
    start(patient, coordinator)
    assert "Episode 2 · Re-collection" in client.get(checklist).content.decode()
    assert "Episode 2 · Re-collection" in client.get(
        reverse("intake", args=[patient.public_id, "screening"])).content.decode()
    assert "Episode 2 · Re-collection" in client.get(reverse("worklist")).content.decode()
    assert Patient.objects.get(pk=patient.pk).assessment.number == 2


def test_previous_values_a_version_cannot_evaluate_are_refused_beside_the_choice(coordinator, monkeypatch):
    from eligibility.rules import CaseValidationError

    patient = PatientFactory(by=coordinator)

    def cannot(**kwargs):
        raise CaseValidationError([{"field": "product", "message": "must be one of a, b"}])

    monkeypatch.setattr(services, "evaluation_of", cannot)
    with pytest.raises(episodes.EpisodeRefused, match="cannot be evaluated under rule-set version 1 .Product "
                                                      "is not in this rule-set version's product catalogue") as refused:
        start(patient, coordinator)
    assert refused.value.field == "start_from_previous"
    assert patient.episodes.count() == 1 and not Assessment.objects.get(pk=patient.assessment_id).is_closed


def test_a_closed_episode_refuses_reopening_and_review_requests(administrator, coordinator, physician):
    patient, evaluation, signoff = signed_before_apheresis(coordinator, physician)
    lower_alc(administrator)
    request = ReviewRequest.objects.get(assessment=patient.assessment)
    # Closed while the request is open: the close supersedes it; a keep posted from a page opened before is refused.
    episodes.episode_close(assessment=patient.assessment, reason="completed", note="", by=coordinator)
    request.refresh_from_db()
    assert request.resolution == "superseded"
    with pytest.raises(review.ReviewRefused, match="was resolved already"):
        review.review_request_keep(request=request, justification="Stands", by=physician)
    with pytest.raises(review.ReviewRefused, match=re.escape("Episode 1 is closed (treatment completed")):
        review.workup_reopen(assessment=patient.assessment, justification="New data", by=physician)


def test_a_closed_current_episode_offers_no_ready_mark_on_the_patient_page(client, coordinator):
    patient = PatientFactory(by=coordinator)
    client.force_login(coordinator)
    url = reverse("patient_detail", args=[patient.public_id])
    assert "Mark screening ready for review" in client.get(url).content.decode()  # open: it does
    episodes.episode_close(assessment=patient.assessment, reason="completed", note="", by=coordinator)
    page = client.get(url).content.decode()
    assert "Mark screening ready for review" not in page and "Close this episode" not in page
    assert "Start a new episode" in page
