"""Physician review: a decision per item, the e-signature whose meaning follows from the decisions,
bound to what it signs, and reopening a work-up closed as not eligible.

A flag is *acknowledged* (a note is optional). A blocking item (exclude, defer, missing) is either
*accepted* (the finding stands: the patient does not go on because of it) or *overridden* (coded
reason and justification). The signature then means:

- *approved to proceed to the next step*, only when every blocking item is overridden (or there is
  none); the meaning names the overridden criteria;
- *not eligible*, when an exclusion is accepted (the work-up is closed; a physician can reopen it);
- *not approved: deferred*, when a deferred or missing finding is accepted (the work-up stays at its
  stage and goes back to the coordinator with the items to resolve).

Decisions and signatures lock the assessment's row (:mod:`.lifecycle`), as every path that replaces
its checklist does, so a signature is only ever made on the checklist that is current when it
commits. Views only bind input and call these functions.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from ..common.people import display_name
from ..common.text import free_text_too_long
from ..common.vocabulary import NEXT_STEP, STAGE_WHERE
from ..patients import lifecycle
from ..patients.episodes_services import closed_refusal
from ..patients.models import Assessment, Evaluation
from ..patients.services import checklist_changes, evaluation_of
from ..rules import BLOCKING, EXCLUDE, CaseValidationError, ChecklistItem, checklist_items
from ..rulesets.selectors import active_engine
from .handoffs.services import ready_mark_taken_back, ready_marks_clear_signed
from .models import Disposition, ReviewRequest, SignOff

logger = logging.getLogger(__name__)

#: Statuses a physician records a decision for.
NEEDS_DISPOSITION = frozenset({"flag", "defer", "exclude", "missing"})
#: The decisions each status takes.
DECISIONS_FOR = {
    "flag": (Disposition.Kind.ACKNOWLEDGED,),
    "defer": (Disposition.Kind.ACCEPTED, Disposition.Kind.OVERRIDDEN),
    "exclude": (Disposition.Kind.ACCEPTED, Disposition.Kind.OVERRIDDEN),
    "missing": (Disposition.Kind.ACCEPTED, Disposition.Kind.OVERRIDDEN),
}


class ReviewRefused(Exception):
    """A decision or sign-off that cannot be recorded; the message says why, for the user.

    ``field`` names the form field the message belongs beside, where there is one.
    """

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class WrongPassword(ReviewRefused):
    """The password re-entered to sign did not match."""


def _locked_current(evaluation: Evaluation) -> Assessment:
    """Lock the evaluation's assessment and check the evaluation is still its current one."""
    assessment = lifecycle.assessment_locked(evaluation.assessment_id)
    if assessment.current_evaluation_id != evaluation.pk:
        raise ReviewRefused("This checklist has been re-evaluated since (the data or the rule set changed): review "
                            "the current one. Nothing was recorded.")
    if assessment.patient.is_withdrawn:
        raise ReviewRefused("This patient has been withdrawn; nothing can be decided or signed.")
    _refuse_closed(assessment)
    return assessment


def _refuse_closed(assessment: Assessment) -> None:
    """A closed episode takes no decision, signature, reopening or review (its row locked by the caller)."""
    if closed := closed_refusal(assessment):
        raise ReviewRefused(closed)


def decision_allowed(status: str, kind: str) -> bool:
    return kind in DECISIONS_FOR.get(status, ())


def is_decided(item: ChecklistItem, disposition: Disposition | None) -> bool:
    """A decision of the kind the item's status takes (an acknowledgement recorded on a blocking item
    before decisions had meanings does not count: the physician accepts or overrides it)."""
    return disposition is not None and decision_allowed(item.status, disposition.kind)


@transaction.atomic
def disposition_record(*, evaluation: Evaluation, code: str, kind: str, reason_code: str = "",
                       justification: str = "", by) -> Disposition:
    """Acknowledge a flag; accept or override a blocking item (an override with a coded reason and a
    justification). Refused, with the field it concerns, when the decision does not fit the item."""
    item = next((item for item in checklist_items(evaluation.checklist) if item.code == code), None)
    if item is None or item.status not in NEEDS_DISPOSITION:
        raise ReviewRefused("Only flagged, deferred, excluded or missing items take a decision.")
    justification = justification.strip()
    if kind not in DECISIONS_FOR[item.status]:
        allowed = " or ".join(Disposition.Kind(k).label.lower() for k in DECISIONS_FOR[item.status])
        raise ReviewRefused(f"This item takes: {allowed}.", field="kind")
    if too_long := free_text_too_long(justification):
        raise ReviewRefused(too_long, field="justification")
    if kind == Disposition.Kind.OVERRIDDEN:
        if reason_code not in Disposition.Reason.values:
            raise ReviewRefused("An override needs a reason: choose one.", field="reason_code")
        if not justification:
            raise ReviewRefused("An override needs a justification: write why the finding does not stop the patient.",
                                field="justification")
    else:
        reason_code = ""
    _locked_current(evaluation)
    if evaluation.signoffs.standing().exists():
        raise ReviewRefused("This checklist is signed; decisions can change only after a change of data voids the "
                            "signature.")
    disposition = Disposition.objects.filter(evaluation=evaluation, code=code).first() or Disposition(
        evaluation=evaluation, code=code)
    disposition.status, disposition.item_inputs, disposition.kind = item.status, item.inputs, kind
    disposition.reason_code, disposition.justification = reason_code, justification
    disposition.decided_by, disposition.decided_by_name, disposition.decided_at = by, display_name(by), timezone.now()
    disposition.carried_over_from = None
    disposition._history_user = by  # who changed a decision, in its history (and the audit export)
    disposition.save()
    return disposition


#: The bulk decisions: which undecided items each takes, and the decision it records on them.
BULK_DECISIONS = {
    "acknowledge-flags": ("flag", Disposition.Kind.ACKNOWLEDGED),
    "accept-missing": ("missing", Disposition.Kind.ACCEPTED),
}


@transaction.atomic
def dispositions_record_bulk(*, evaluation: Evaluation, action: str, note: str = "", by) -> list[Disposition]:
    """One decision with one note on every item of a status still without a decision: acknowledge
    all flags (``"acknowledge-flags"``) or accept all missing items (``"accept-missing"``).

    Under the same row lock and "still current" check as :func:`disposition_record`: what is
    undecided is read after the lock, so a decision a colleague committed meanwhile stands, and a
    checklist replaced meanwhile is refused whole. Returns the decisions recorded (none when every
    such item is decided already).
    """
    if action not in BULK_DECISIONS:
        raise ReviewRefused("No such decision for several items.")
    status, kind = BULK_DECISIONS[action]
    note = note.strip()
    if too_long := free_text_too_long(note):
        raise ReviewRefused(too_long, field="note")
    _locked_current(evaluation)
    if evaluation.signoffs.standing().exists():
        raise ReviewRefused("This checklist is signed; decisions can change only after a change of data voids the "
                            "signature.")
    existing = {disposition.code: disposition for disposition in Disposition.objects.filter(evaluation=evaluation)}
    recorded, now, name = [], timezone.now(), display_name(by)
    for item in checklist_items(evaluation.checklist):
        if item.status != status or is_decided(item, existing.get(item.code)):
            continue
        # An acknowledgement recorded on a missing item before decisions had meanings is replaced.
        disposition = existing.get(item.code) or Disposition(evaluation=evaluation, code=item.code)
        disposition.status, disposition.item_inputs, disposition.kind = item.status, item.inputs, kind
        disposition.reason_code, disposition.justification = "", note
        disposition.decided_by, disposition.decided_by_name, disposition.decided_at = by, name, now
        disposition.carried_over_from = None
        disposition._history_user = by
        disposition.save()
        recorded.append(disposition)
    return recorded


@dataclass(frozen=True)
class SignatureMeaning:
    """What a signature on a checklist with these decisions states (shown before signing)."""

    decision: str  # SignOff.Decision
    meaning: str
    overridden: tuple[str, ...]  # titles of the overridden blocking items
    accepted: tuple[str, ...]  # titles of the accepted blocking items
    undecided: tuple[str, ...]  # titles of the items still without a decision (signing is refused)


def _criteria(count: int) -> str:
    return f"{count} criterion" if count == 1 else f"{count} criteria"


def signature_meaning(evaluation: Evaluation, dispositions) -> SignatureMeaning:
    """The decision and its wording, from the checklist's items and the physician's decisions."""
    decided = {disposition.code: disposition for disposition in dispositions}
    overridden, accepted_exclusions, accepted_other, undecided = [], [], [], []
    for item in checklist_items(evaluation.checklist):
        if item.status not in NEEDS_DISPOSITION:
            continue
        disposition = decided.get(item.code)
        if not is_decided(item, disposition):
            undecided.append(item.title)
        elif item.status in BLOCKING:
            if disposition.kind == Disposition.Kind.OVERRIDDEN:
                overridden.append(item.title)
            elif item.status == EXCLUDE:
                accepted_exclusions.append(item.title)
            else:
                accepted_other.append(item.title)
    stage = evaluation.stage
    where = STAGE_WHERE[stage]  # "at screening", "before leukapheresis"
    if accepted_exclusions:
        decision = SignOff.Decision.NOT_ELIGIBLE
        meaning = (f"Not eligible: {'; '.join(accepted_exclusions)} (finding accepted). The work-up is closed "
                   f"{where}.")
    elif accepted_other:
        decision = SignOff.Decision.DEFERRED
        meaning = (f"Not approved: deferred {where} until resolved: {'; '.join(accepted_other)}. "
                   "Back to the coordinator.")
    elif overridden:
        decision = SignOff.Decision.APPROVED
        meaning = (f"Approved to proceed to {NEXT_STEP[stage]} by physician override of {_criteria(len(overridden))}: "
                   f"{'; '.join(overridden)}")
    else:
        decision = SignOff.Decision.APPROVED
        meaning = f"Reviewed and approved to proceed to {NEXT_STEP[stage]}"
    return SignatureMeaning(decision=decision, meaning=meaning, overridden=tuple(overridden),
                            accepted=tuple(accepted_exclusions + accepted_other), undecided=tuple(undecided))


def content_hash(evaluation: Evaluation, dispositions, *, version: int = 2, decision: str = "",
                 meaning: str = "") -> str:
    """SHA-256 over what a signature approves: inputs, rule-set version, checklist, decisions and,
    from format 2 on, the signature's decision and meaning (format 1: signatures made before
    decisions had meanings, verified as they were made)."""
    signed = {
        "evaluation": str(evaluation.public_id),
        "stage": evaluation.stage,
        "ruleset": {"name": evaluation.ruleset.name, "version": evaluation.ruleset.version},
        "inputs": evaluation.inputs,
        "checklist": evaluation.checklist,
        "dispositions": sorted(
            ({"code": d.code, "status": d.status, "kind": d.kind, "reason_code": d.reason_code,
              "justification": d.justification, "by": d.decided_by_name} for d in dispositions),
            key=lambda d: d["code"],
        ),
    }
    if version >= 2:
        signed["signature"] = {"format": version, "decision": decision, "meaning": meaning}
    canonical = json.dumps(signed, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def signoff_verify(signoff: SignOff) -> bool:
    """True when the signed evaluation, its decisions and the signature's meaning still hash to the
    stored value."""
    evaluation = Evaluation.objects.select_related("ruleset").get(pk=signoff.evaluation_id)
    return content_hash(evaluation, evaluation.dispositions.all(), version=signoff.hash_version,
                        decision=signoff.decision, meaning=signoff.meaning) == signoff.content_hash


def signoff_password_check(*, evaluation: Evaluation, password: str, by) -> None:
    """Refuse a wrong signing password (logged with the user and the checklist's opaque id only)."""
    if not by.check_password(password):
        logger.warning("Sign-off refused: wrong password for user %s on evaluation %s", by.pk, evaluation.public_id)
        raise WrongPassword("The password is not correct; nothing was signed.", field="password")


@transaction.atomic
def signoff_create(*, evaluation: Evaluation, password: str, by) -> SignOff:
    """Sign the current evaluation after re-entering the password; the signature's decision and
    meaning follow from the decisions (:func:`signature_meaning`) and are bound by the hash.

    Refused while any flagged or blocking item has no decision of the kind it takes, when the
    checklist was replaced meanwhile, or when it is signed already.
    """
    signoff_password_check(evaluation=evaluation, password=password, by=by)
    assessment = _locked_current(evaluation)
    if evaluation.signoffs.standing().exists():
        raise ReviewRefused("This checklist is signed already.")
    dispositions = list(evaluation.dispositions.all())
    meaning = signature_meaning(evaluation, dispositions)
    if meaning.undecided:
        raise ReviewRefused("Record a decision for every item first; still open: " + "; ".join(meaning.undecided)
                            + ".")
    try:
        with transaction.atomic():
            signoff = SignOff.objects.create(
                assessment=assessment, evaluation=evaluation, stage=evaluation.stage, decision=meaning.decision,
                meaning=meaning.meaning, signer=by, signer_name=display_name(by), signed_at=timezone.now(),
                hash_version=2,
                content_hash=content_hash(evaluation, dispositions, decision=meaning.decision, meaning=meaning.meaning),
            )
    except IntegrityError:
        # The database's guard (one standing signature per checklist) caught what the lock should have.
        raise ReviewRefused("This checklist was signed by someone else at the same moment.") from None
    # The hand-off is done: the stage leaves the queue (a later change voids the signature and the
    # coordinator marks it ready again).
    ready_marks_clear_signed(assessment_id=assessment.pk, by=by)
    return signoff


def closing_signoff(assessment: Assessment) -> SignOff | None:
    """The standing 'not eligible' signature that closes the work-up, if any."""
    return assessment.signoffs.standing().filter(decision=SignOff.Decision.NOT_ELIGIBLE).first()


@transaction.atomic
def workup_reopen(*, assessment: Assessment, justification: str, by) -> SignOff:
    """A physician reopens a work-up closed as not eligible: the signature is voided with why, and
    the checklist awaits decisions again."""
    justification = justification.strip()
    if not justification:
        raise ReviewRefused("Reopening needs a justification: write why.", field="justification")
    if too_long := free_text_too_long(justification):
        raise ReviewRefused(too_long, field="justification")
    assessment = lifecycle.assessment_locked(assessment.pk)
    _refuse_closed(assessment)
    closing = closing_signoff(assessment)
    if closing is None:
        raise ReviewRefused("This work-up is not closed as not eligible; there is nothing to reopen.")
    closing.voided_at = timezone.now()
    closing.voided_by = by
    closing.void_reason = f"Work-up reopened by {display_name(by)}: {justification}"
    closing.save(update_fields=["voided_at", "voided_by", "void_reason"])
    ready_mark_taken_back(assessment=assessment, by=by)  # in the queue until signed again
    return closing


# --- Review requests a published version raised ------------------------------------------------


def _open_request(request: ReviewRequest) -> ReviewRequest:
    request = (ReviewRequest.objects.select_for_update(of=("self",)).select_related("assessment__patient", "ruleset")
               .get(pk=request.pk))
    if not request.is_open:
        raise ReviewRefused(f"This review request was resolved already ({request.get_resolution_display()} "
                                   f"by {request.resolved_by_name}).")
    return request


def _resolve(request: ReviewRequest, resolution: str, justification: str, by) -> None:
    request.resolution = resolution
    request.justification = justification
    request.resolved_by = by
    request.resolved_by_name = display_name(by)
    request.resolved_at = timezone.now()
    request.save(update_fields=["resolution", "justification", "resolved_by", "resolved_by_name", "resolved_at"])


@transaction.atomic
def review_request_keep(*, request: ReviewRequest, justification: str, by) -> ReviewRequest:
    """The physician keeps the signed checklist under its own version: recorded with why."""
    lifecycle.assessments_lock([request.assessment_id])
    request = _open_request(request)
    _refuse_closed(request.assessment)
    if not SignOff.objects.standing().filter(evaluation_id=request.evaluation_id).exists():
        raise ReviewRefused("This checklist is not signed: there is no signed checklist to keep. It is "
                                   "re-evaluated when its data are corrected.")
    justification = justification.strip()
    if not justification:
        raise ReviewRefused("Keeping the signed checklist needs a justification: write it.",
                                   field="justification")
    if too_long := free_text_too_long(justification):
        raise ReviewRefused(too_long, field="justification")
    _resolve(request, ReviewRequest.Resolution.KEPT, justification, by)
    return request


@transaction.atomic
def review_request_reevaluate(*, request: ReviewRequest, by) -> Evaluation:
    """The physician takes the new version: a new checklist under the active version replaces the
    pinned one, the standing signature is voided (the new checklist needs signing) and decisions on
    unchanged findings carry over."""
    assessment = lifecycle.assessment_locked(request.assessment_id)
    request = _open_request(request)
    _refuse_closed(assessment)
    previous = assessment.current_evaluation
    ruleset, engine = active_engine()
    try:
        evaluation = evaluation_of(assessment=assessment, engine=engine, ruleset=ruleset, by=by)
    except CaseValidationError as exc:
        problems = "; ".join(f"{error['field']}: {error['message']}" for error in exc.errors)
        raise ReviewRefused(f"The data cannot be evaluated under version {ruleset.version} ({problems}); "
                            "the coordinator must correct them first.") from exc
    evaluation.reevaluated_from = previous
    evaluation.changes = checklist_changes(checklist_items(previous.checklist), checklist_items(evaluation.checklist))
    _resolve(request, ReviewRequest.Resolution.REEVALUATED, f"Re-evaluated under version {ruleset.version}.", by)
    evaluation = lifecycle.install_one(
        assessment=assessment, evaluation=evaluation, by=by,
        void_reason=f"Re-evaluated under rule-set version {ruleset.version} at the request of "
                    f"{display_name(by)}; the new checklist needs signing.",
        request_note=f"Re-evaluated under version {ruleset.version}.")
    ready_mark_taken_back(assessment=assessment, by=by)  # in the queue until signed again
    return evaluation
