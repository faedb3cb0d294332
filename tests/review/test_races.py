"""Races, reproduced deterministically on both databases (PostgreSQL in CI, SQLite locally).

Each test holds one side of the race open in the main thread (its transaction has written but not
committed) while a second thread, on its own connection, runs the other side and must wait:
PostgreSQL makes it wait on the row (or advisory) lock, SQLite on the database's write lock (every
transaction begins IMMEDIATE). The main thread commits once the other side is waiting, and the
test checks what the other side did after the wait. Without the locks, each of these left the
record in the state the trustworthy-records issue measured (a standing signature on a superseded
checklist, two standing signatures, a save under a retired version, a 500 on a duplicate).
"""

from __future__ import annotations

import logging
import threading
import time
from decimal import Decimal

import pytest
from django.db import close_old_connections, connection, transaction
from django.urls import reverse

from eligibility.models import Assessment, Disposition, Patient, RuleSet, SignOff
from eligibility.patients import services
from eligibility.review import reevaluation
from eligibility.review import services as review
from eligibility.rulesets import services as rulesets
from tests.conftest import replay_data_migrations
from tests.factories import PASSWORD, SCREENING_TO_REVIEW, SCREENING_WITH_FLAGS_AND_GAPS, PatientFactory, UserFactory
from tests.review.batches import after_the_first_batch

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _migration_data(transactional_db):
    replay_data_migrations()


@pytest.fixture
def coordinator():
    return UserFactory(role="Coordinator", first_name="Casey", last_name="Jones")


@pytest.fixture
def physician():
    return UserFactory(role="Physician", first_name="Robin", last_name="Lee")


class Other(threading.Thread):
    """The other side of a race, on its own database connection; keeps its result or exception."""

    def __init__(self, target):
        super().__init__(daemon=True)
        self.target, self.result, self.error = target, None, None
        self.started_at = threading.Event()

    def run(self):
        self.started_at.set()
        try:
            self.result = self.target()
        except Exception as exc:  # noqa: BLE001 (the test inspects it)
            self.error = exc
        finally:
            close_old_connections()
            connection.close()


def wait_until_blocked(other: Other) -> None:
    """Until ``other`` waits for a lock the main thread holds (PostgreSQL: a lock not granted;
    SQLite: the busy handler, seen as the thread still running a moment after it started)."""
    assert other.started_at.wait(5)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for _ in range(200):
                cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
                if cursor.fetchone()[0]:
                    return
                time.sleep(0.05)
        pytest.fail("the other side never waited for the lock")
    time.sleep(0.3)
    assert other.is_alive(), "the other side did not wait for the write lock"


def finish(other: Other) -> None:
    other.join(timeout=30)
    assert not other.is_alive(), "the other side is still waiting"


def save(patient, by, stage="screening", **changes):
    assessment = Assessment.objects.get(patient=patient)
    return services.assessment_update(assessment=assessment, changes=changes, stage=stage,
                                      revision=assessment.revision, by=by)


def decide_all(evaluation, physician):
    for item in evaluation.checklist["items"]:
        if item["status"] == "flag":
            review.disposition_record(evaluation=evaluation, code=item["code"], kind="acknowledged", by=physician)
        elif item["status"] in ("defer", "exclude", "missing"):
            review.disposition_record(evaluation=evaluation, code=item["code"], kind="overridden", by=physician,
                                      reason_code="other", justification="Checked")


def test_a_sign_off_racing_a_save_is_refused_and_never_stands_on_a_superseded_checklist(coordinator, physician):
    patient = PatientFactory(by=coordinator)
    evaluation = save(patient, coordinator, **SCREENING_TO_REVIEW)
    decide_all(evaluation, physician)
    # The physician's page was built on ``evaluation``; the coordinator's save is mid-transaction.
    with transaction.atomic():
        newer = save(patient, coordinator, ecog=0)
        other = Other(lambda: review.signoff_create(evaluation=evaluation, password=PASSWORD, by=physician))
        other.start()
        wait_until_blocked(other)
    finish(other)
    assert isinstance(other.error, review.ReviewRefused)
    assert "re-evaluated since" in str(other.error)
    assert not SignOff.objects.exists()
    assert Assessment.objects.get(patient=patient).current_evaluation == newer


def test_a_save_racing_a_sign_off_voids_the_signature(coordinator, physician):
    patient = PatientFactory(by=coordinator)
    evaluation = save(patient, coordinator, **SCREENING_TO_REVIEW)
    decide_all(evaluation, physician)
    assessment = Assessment.objects.get(patient=patient)
    with transaction.atomic():
        signoff = review.signoff_create(evaluation=evaluation, password=PASSWORD, by=physician)
        other = Other(lambda: services.assessment_update(assessment=assessment, changes={"ecog": 0},
                                                         stage="screening", revision=assessment.revision,
                                                         by=coordinator))
        other.start()
        wait_until_blocked(other)
    finish(other)
    assert other.error is None
    signoff.refresh_from_db()
    assert signoff.is_void and signoff.void_reason == "Data changed by Casey Jones: ECOG performance status."
    assert not SignOff.objects.standing().exists()
    assert Assessment.objects.get(patient=patient).current_evaluation == other.result


def test_two_physicians_signing_at_once_leave_one_signature(coordinator, physician):
    patient = PatientFactory(by=coordinator)
    evaluation = save(patient, coordinator, **SCREENING_TO_REVIEW)
    decide_all(evaluation, physician)
    colleague = UserFactory(role="Physician", first_name="Sam", last_name="Okafor")
    with transaction.atomic():
        first = review.signoff_create(evaluation=evaluation, password=PASSWORD, by=physician)
        other = Other(lambda: review.signoff_create(evaluation=evaluation, password=PASSWORD, by=colleague))
        other.start()
        wait_until_blocked(other)
    finish(other)
    assert isinstance(other.error, review.ReviewRefused) and "signed already" in str(other.error)
    assert list(SignOff.objects.standing()) == [first]


def test_the_database_refuses_a_second_standing_signature_even_without_the_code(coordinator, physician):
    from django.db import IntegrityError

    patient = PatientFactory(by=coordinator)
    evaluation = save(patient, coordinator, **SCREENING_TO_REVIEW)
    decide_all(evaluation, physician)
    first = review.signoff_create(evaluation=evaluation, password=PASSWORD, by=physician)
    with pytest.raises(IntegrityError), transaction.atomic():
        SignOff.objects.create(assessment=first.assessment, evaluation=evaluation, stage=first.stage,
                               meaning=first.meaning, signer=physician, signer_name="x", signed_at=first.signed_at,
                               content_hash="0" * 64)


def test_a_bulk_acknowledgement_racing_a_single_decision_keeps_the_single_one(coordinator, physician):
    """Two physicians at once: one acknowledges a flag with her own note while the other
    acknowledges all flags. The bulk call waits for the row lock and reads the decisions after
    it: the single decision and its note stand, the bulk takes only the other flag."""
    patient = PatientFactory(by=coordinator)
    evaluation = save(patient, coordinator, **SCREENING_WITH_FLAGS_AND_GAPS)
    colleague = UserFactory(role="Physician", first_name="Sam", last_name="Okafor")
    with transaction.atomic():
        review.disposition_record(evaluation=evaluation, code="hbv", kind="acknowledged",
                                  justification="On entecavir since March", by=physician)
        other = Other(lambda: review.dispositions_record_bulk(evaluation=evaluation, action="acknowledge-flags",
                                                              note="Discussed at the board", by=colleague))
        other.start()
        wait_until_blocked(other)
    finish(other)
    assert other.error is None
    assert [disposition.code for disposition in other.result] == ["prior_inotuzumab"]
    decisions = {d.code: (d.justification, d.decided_by_name) for d in Disposition.objects.all()}
    assert decisions == {"hbv": ("On entecavir since March", "Robin Lee"),
                         "prior_inotuzumab": ("Discussed at the board", "Sam Okafor")}
    assert Disposition.history.filter(code="hbv").count() == 1  # never overwritten, not even for a moment


def test_a_single_decision_racing_a_bulk_one_is_recorded_after_it(coordinator, physician):
    """The other way round: the bulk acceptance commits first, the single override waits and is
    then recorded over it; both are in the decision's history, nothing lost."""
    patient = PatientFactory(by=coordinator)
    evaluation = save(patient, coordinator, **SCREENING_WITH_FLAGS_AND_GAPS)
    with transaction.atomic():
        review.dispositions_record_bulk(evaluation=evaluation, action="accept-missing", by=physician)
        other = Other(lambda: review.disposition_record(
            evaluation=evaluation, code="performance_status", kind="overridden", reason_code="data_verified_elsewhere",
            justification="ECOG 1 in the clinic letter", by=physician))
        other.start()
        wait_until_blocked(other)
    finish(other)
    assert other.error is None
    decisions = {d.code: d.kind for d in Disposition.objects.all()}
    assert decisions == {"performance_status": "overridden", "life_expectancy": "accepted"}
    assert [h.kind for h in Disposition.history.filter(code="performance_status").order_by("history_id")] == [
        "accepted", "overridden"]


def test_a_bulk_decision_racing_a_save_is_refused_and_records_nothing(coordinator, physician):
    """The coordinator's save replaces the checklist while the physician accepts all missing items:
    the bulk call waits, sees the checklist replaced and records nothing, on either checklist."""
    patient = PatientFactory(by=coordinator)
    evaluation = save(patient, coordinator, **SCREENING_WITH_FLAGS_AND_GAPS)
    with transaction.atomic():
        newer = save(patient, coordinator, ecog=1)
        other = Other(lambda: review.dispositions_record_bulk(evaluation=evaluation, action="accept-missing",
                                                              by=physician))
        other.start()
        wait_until_blocked(other)
    finish(other)
    assert isinstance(other.error, review.ReviewRefused) and "re-evaluated since" in str(other.error)
    assert not Disposition.objects.exists()
    assert Assessment.objects.get(patient=patient).current_evaluation == newer


def test_a_save_during_a_publish_ends_under_the_new_version(coordinator):
    """The save began before the publish committed, so it evaluated under the version being retired;
    the re-evaluation waits for it and evaluates its data under the new version."""
    administrator = UserFactory(role="Administrator")
    patient = PatientFactory(by=coordinator)
    save(patient, coordinator, **dict(SCREENING_TO_REVIEW, infections=dict(SCREENING_TO_REVIEW["infections"],
                                                                            viral="none")))
    draft = rulesets.ruleset_draft_create(by=administrator)
    rulesets.ruleset_thresholds_update(draft=draft, values={"ecog_below": Decimal("3")}, by=administrator)

    def publish():
        published = rulesets.ruleset_publish(draft=draft, note="ECOG below 3", by=administrator)
        return reevaluation.reevaluate_open_assessments(ruleset=published, by=administrator)

    with transaction.atomic():
        during = save(patient, coordinator, ecog=2)  # under version 1: ECOG 2 excludes
        assert during.ruleset.version == 1 and during.overall == "not_eligible"
        other = Other(publish)
        other.start()
        wait_until_blocked(other)
    finish(other)
    assert other.error is None
    current = Assessment.objects.select_related("current_evaluation__ruleset").get(patient=patient).current_evaluation
    assert current.ruleset.version == 2
    assert current.inputs["ecog"] == 2 and current.overall != "not_eligible"
    assert current.reevaluated_from == during


def test_a_save_waits_for_one_batch_of_a_publish_not_for_all(coordinator):
    """Batches are short transactions: between two batches a save goes through."""
    administrator = UserFactory(role="Administrator")
    patients = [PatientFactory(by=coordinator) for _ in range(3)]
    draft = rulesets.ruleset_draft_create(by=administrator)
    published = rulesets.ruleset_publish(draft=draft, note="Same values", by=administrator)
    # After the first batch committed, a coordinator saves another patient.
    with after_the_first_batch(administrator, lambda: save(patients[2], coordinator, ecog=1)) as seen:
        outcome = reevaluation.reevaluate_open_assessments(ruleset=published, by=administrator, batch_size=1)
    assert seen[0].ruleset == published  # the save ran under the new version, between batches
    assert outcome.reevaluated == 2 and outcome.changed_meanwhile == 1
    assert {p.assessment.current_evaluation.ruleset_id for p in Patient.objects.select_related(
        "assessment__current_evaluation")} == {published.pk}
    assert RuleSet.objects.get(status="active") == published


def test_two_coordinators_creating_one_identifier_get_a_form_error_not_a_500(coordinator, caplog):
    other_coordinator = UserFactory(role="Coordinator")
    with caplog.at_level(logging.DEBUG), transaction.atomic():
        services.patient_create(study_id="CART-001", initials="AB", by=coordinator)
        other = Other(lambda: services.patient_create(study_id=" cart-001 ", initials="CD", by=other_coordinator))
        other.start()
        wait_until_blocked(other)
    finish(other)
    assert isinstance(other.error, services.PatientRefused) and other.error.field == "study_id"
    assert list(Patient.objects.values_list("study_id", flat=True)) == ["CART-001"]
    assert "cart-001" not in caplog.text.lower()


def test_concurrent_saves_through_the_pages_never_answer_500(coordinator, client):
    """Eight coordinators save one patient's section at once, each several times: every answer is a
    saved redirect or the page with the 'someone else saved' refusal, never an error."""
    patient = PatientFactory(by=coordinator)
    url = reverse("intake", args=[patient.public_id, "pre_infusion"])
    users = [UserFactory(role="Coordinator") for _ in range(8)]
    barrier = threading.Barrier(len(users))
    statuses: list[int] = []

    def saves(user, index):
        from django.test import Client

        browser = Client()
        browser.force_login(user)
        barrier.wait()
        for attempt in range(4):
            revision = Assessment.objects.get(pk=patient.assessment.pk).revision
            response = browser.post(url, {"stage": "screening", "revision": revision,
                                          "tocilizumab_doses_available": index + attempt})
            statuses.append(response.status_code)
        return statuses

    threads = [Other(lambda user=user, index=index: saves(user, index)) for index, user in enumerate(users)]
    for thread in threads:
        thread.start()
    for thread in threads:
        finish(thread)
        assert thread.error is None, thread.error
    assert len(statuses) == 32
    assert set(statuses) <= {200, 302} and 302 in statuses


def test_a_save_racing_a_withdrawal_is_refused(coordinator):
    """The withdrawal takes the assessment's lock first, as a save does: the save waits, then sees
    the patient withdrawn and records nothing."""
    patient = PatientFactory(by=coordinator)
    assessment = Assessment.objects.get(patient=patient)
    with transaction.atomic():
        services.patient_withdraw(patient=patient, reason="Consent withdrawn", by=coordinator)
        other = Other(lambda: services.assessment_update(assessment=assessment, changes={"ecog": 1},
                                                         stage="screening", revision=assessment.revision,
                                                         by=coordinator))
        other.start()
        wait_until_blocked(other)
    finish(other)
    assert isinstance(other.error, services.WorkupClosed) and "withdrawn" in str(other.error)
    assert Assessment.objects.get(patient=patient).revision == assessment.revision


def test_two_administrators_making_a_draft_at_once_get_one_draft():
    """One draft at a time, whatever the timing: the second waits for the first and is refused."""
    from eligibility.models import RuleSet
    from eligibility.rulesets import services as rulesets

    first, second = UserFactory(role="Administrator"), UserFactory(role="Administrator")
    with transaction.atomic():
        draft = rulesets.ruleset_draft_create(by=first)
        other = Other(lambda: rulesets.ruleset_draft_create(by=second))
        other.start()
        wait_until_blocked(other)
    finish(other)
    assert isinstance(other.error, rulesets.RuleSetRefused) and f"Draft version {draft.version}" in str(other.error)
    assert list(RuleSet.objects.filter(status="draft")) == [draft]
