"""Treatment episodes (issue 14), writes: start a new episode, close one.

An episode is an :class:`~.models.Assessment` row; ``Patient.assessment`` points at the current
one. Starting a new episode closes the previous one if it is still open ("replaced by a new
episode"), creates episode N+1 and makes it current, and evaluates it at once under the active
rule-set version. The previous episode's checklists, decisions, signatures and review requests stay
as they are (they belong to it); what was waiting on it ends (open ready marks cleared, open review
requests resolved as superseded: :data:`.signals.episode_closed`, acted on by the review package).

Designed for concurrency: the patient's episode rows are locked, then the patient's row (the order
every save and withdrawal takes); the form says which episode was current when it was opened
(``expected_current_id``) and the pointer moves only from that one (a conditional update), so two
people starting an episode at once leave one new episode and the other is told what happened; a
close is a conditional update from "open" (``closed_at IS NULL``), under the episode's row lock, so
a save, decision or signature either commits before it (and stays in the episode) or is refused as
closed. The database keeps one open episode per patient and one number per patient.
"""

from __future__ import annotations

import copy

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from ..common.display import input_error_text
from ..common.people import display_name
from ..common.text import free_text_too_long
from ..rules import CaseValidationError
from ..rulesets.selectors import active_engine
from . import lifecycle
from .models import Assessment, Patient
from .signals import episode_closed, write_guard

#: Case keys of the treatment path a new episode does not take over from the previous one (its
#: own collection, product, lymphodepletion and infusion are planned anew); the evaluation date
#: (``as_of``) too. Every other value is copied with its measurement date unchanged, so an old
#: value shows as old.
NEW_PATH_KEYS = ("leukapheresis_date", "lymphodepletion_start_date", "infusion_date", "product_received_on", "as_of")

#: The kinds a second or later episode can be (episode 1 is the first work-up).
LATER_KINDS = (Assessment.Kind.RECOLLECTION, Assessment.Kind.RETREATMENT)

#: The reasons an episode is closed without starting a new one ("superseded" is the new episode's).
CLOSE_REASONS = (Assessment.CloseReason.COMPLETED, Assessment.CloseReason.NOT_ELIGIBLE,
                 Assessment.CloseReason.STOPPED)


class EpisodeRefused(Exception):
    """An episode that cannot be started or closed; the message says why, for the user. ``field``
    names the form field the message belongs beside, where there is one."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def episode_title(assessment: Assessment) -> str:
    """"Episode 2 · Re-collection"."""
    return f"Episode {assessment.number} · {assessment.get_kind_display()}"


def closed_refusal(assessment: Assessment) -> str | None:
    """Why nothing can be recorded, decided, signed, marked or asked in ``assessment`` (read under
    its row lock by the writers), or ``None`` while it is open. One message for every writer."""
    if not assessment.is_closed:
        return None
    return (f"Episode {assessment.number} is closed ({assessment.get_close_reason_display().lower()}, "
            f"{timezone.localtime(assessment.closed_at):%Y-%m-%d}): nothing can be recorded, decided or signed in "
            "it. Open the patient's current episode.")


write_guard(closed_refusal)  # the intake page says it before anyone types


def _copied_data(previous: Assessment) -> dict:
    data = copy.deepcopy(previous.data or {})
    for key in NEW_PATH_KEYS:
        data.pop(key, None)
    return data


def _close(assessment: Assessment, *, reason: str, note: str, by) -> Assessment:
    """Close ``assessment`` (its row locked by the caller): a conditional update from open, recorded
    in the episode's history, then announced (:data:`.signals.episode_closed`)."""
    now = timezone.now()
    closed = Assessment.objects.filter(pk=assessment.pk, closed_at__isnull=True).update(
        closed_at=now, closed_by=by, close_reason=reason, close_note=note)
    if not closed:
        assessment.refresh_from_db()
        raise EpisodeRefused(_closed_already(assessment))
    assessment.closed_at, assessment.closed_by, assessment.close_reason, assessment.close_note = now, by, reason, note
    assessment._history_user = by
    # The same values again, so that the episode's history has the close (who, when, why).
    assessment.save(update_fields=["closed_at", "closed_by", "close_reason", "close_note"])
    label = Assessment.CloseReason(reason).label.lower()
    episode_closed.send(sender=Assessment, assessment=assessment, by=by,
                        note=f"Episode {assessment.number} closed ({label}) by {display_name(by)}"
                             + (f": {note}" if note else "."))
    return assessment


def _closed_already(assessment: Assessment) -> str:
    return (f"Episode {assessment.number} was closed already ({assessment.get_close_reason_display().lower()}) by "
            f"{display_name(assessment.closed_by)} on {timezone.localtime(assessment.closed_at):%Y-%m-%d %H:%M}.")


def _locked(patient_pk: int) -> Patient:
    """Every episode row of the patient (in primary-key order), then the patient's row; read after."""
    lifecycle.assessments_lock(Assessment.objects.filter(patient_id=patient_pk).values_list("pk", flat=True))
    return Patient.objects.select_for_update(of=("self",)).select_related("assessment").get(pk=patient_pk)


@transaction.atomic
def episode_start(*, patient: Patient, kind: str, start_from_previous: bool, expected_current_id: int,
                  by) -> Assessment:
    """Start episode N+1 of ``patient`` and make it current (see the module's description).

    ``expected_current_id`` is the current episode when the form was opened: if another episode
    became current meanwhile, nothing is written (:class:`EpisodeRefused`). With
    ``start_from_previous`` the new episode's data are a copy of the previous one's, measurement
    dates unchanged, without the treatment dates of the new path (:data:`NEW_PATH_KEYS`).
    """
    if kind not in LATER_KINDS:
        raise EpisodeRefused("Choose the kind of the new episode: re-collection or re-treatment.", field="kind")
    patient = _locked(patient.pk)
    if patient.is_withdrawn:
        raise EpisodeRefused("This patient has been withdrawn: no episode can be started. An administrator can "
                             "restore the patient.")
    previous = patient.assessment
    if previous is None or previous.pk != expected_current_id:
        raise EpisodeRefused(
            "Not started: the patient's current episode changed since you opened this page"
            + (f" ({episode_title(previous)} was started by {display_name(previous.opened_by)} at "
               f"{timezone.localtime(previous.opened_at):%Y-%m-%d %H:%M})" if previous and previous.opened_at else "")
            + ". Check the episodes on the patient's page before starting another.")
    number = (Assessment.objects.filter(patient_id=patient.pk).aggregate(last=Max("number"))["last"] or 0) + 1
    if not previous.is_closed:
        _close(previous, reason=Assessment.CloseReason.SUPERSEDED,
               note=f"Replaced by episode {number} ({Assessment.Kind(kind).label})", by=by)
    now = timezone.now()
    episode = Assessment(patient=patient, number=number, kind=kind, opened_at=now, opened_by=by, updated_by=by,
                         stage="screening", data=_copied_data(previous) if start_from_previous else {},
                         started_from=previous if start_from_previous else None)
    episode._history_user = by
    episode.save()
    if not Patient.objects.filter(pk=patient.pk, assessment_id=expected_current_id).update(assessment=episode):
        raise EpisodeRefused("Not started: the patient's current episode changed meanwhile.")  # rolled back
    patient.assessment = episode
    ruleset, engine = active_engine()
    try:
        from .services import evaluation_of  # services imports this module (its write guard)

        evaluation = evaluation_of(assessment=episode, engine=engine, ruleset=ruleset, by=by)
    except CaseValidationError as invalid:
        problems = "; ".join(input_error_text(error) for error in invalid.errors[:3])
        raise EpisodeRefused(
            f"Not started: the previous episode's values cannot be evaluated under rule-set version "
            f"{ruleset.version} ({problems}). Start without them and record the values again.",
            field="start_from_previous") from invalid
    lifecycle.install_one(assessment=episode, evaluation=evaluation, void_reason="", request_note="", by=by)
    return episode


@transaction.atomic
def episode_close(*, assessment: Assessment, reason: str, note: str, by) -> Assessment:
    """Close an episode without starting a new one: treatment completed, not eligible, or stopped
    (a note required). It stays the patient's current episode, read-only, until a new one starts."""
    if reason not in CLOSE_REASONS:
        raise EpisodeRefused("Choose why the episode is closed.", field="reason")
    note = note.strip()
    if reason == Assessment.CloseReason.STOPPED and not note:
        raise EpisodeRefused("Say why the episode is stopped.", field="note")
    if too_long := free_text_too_long(note):
        raise EpisodeRefused(too_long, field="note")
    locked = lifecycle.assessment_locked(assessment.pk)  # the episode's row, then the patient's
    patient = Patient.objects.select_for_update(of=("self",)).get(pk=locked.patient_id)
    if locked.is_closed:
        raise EpisodeRefused(_closed_already(locked))
    if patient.is_withdrawn:
        raise EpisodeRefused("This patient has been withdrawn: nothing can be changed. An administrator can restore "
                             "the patient.")
    return _close(locked, reason=reason, note=note, by=by)


__all__ = ["CLOSE_REASONS", "LATER_KINDS", "NEW_PATH_KEYS", "EpisodeRefused", "closed_refusal", "episode_close",
           "episode_start", "episode_title"]
