"""Physician review: dispositions per item, the e-signature bound to what it signs, voiding.

Writes go through these functions (the views only bind input and call one of them).
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from .models import Assessment, Disposition, Evaluation, ReviewRequest, SignOff
from .rules.statuses import BLOCKING

logger = logging.getLogger(__name__)

#: Statuses a physician records a disposition for.
NEEDS_DISPOSITION = frozenset({"flag", "defer", "exclude", "missing"})
#: What a sign-off at each stage approves.
NEXT_STEP = {
    "screening": "leukapheresis",
    "pre_apheresis": "lymphodepletion",
    "pre_lymphodepletion": "lymphodepleting chemotherapy",
    "pre_infusion": "infusion",
}


class ReviewRefused(Exception):
    """A disposition or sign-off that cannot be recorded; the message says why, for the user."""


class WrongPassword(ReviewRefused):
    """The password re-entered to sign did not match."""


def signer_name(user) -> str:
    return user.get_full_name() or user.username


def meaning_for(stage: str) -> str:
    return f"Reviewed and approved to proceed to {NEXT_STEP[stage]}"


def items_needing_disposition(evaluation: Evaluation) -> list[dict[str, Any]]:
    return [item for item in evaluation.checklist["items"] if item["status"] in NEEDS_DISPOSITION]


def _current(evaluation: Evaluation) -> None:
    if evaluation.assessment.current_evaluation_id != evaluation.pk:
        raise ReviewRefused("This checklist has been re-evaluated since; review the current one.")


@transaction.atomic
def disposition_record(*, evaluation: Evaluation, code: str, kind: str, reason_code: str = "",
                       justification: str = "", by) -> Disposition:
    """Acknowledge an item, or override it with a coded reason and a justification."""
    _current(evaluation)
    item = next((item for item in evaluation.checklist["items"] if item["code"] == code), None)
    if item is None or item["status"] not in NEEDS_DISPOSITION:
        raise ReviewRefused("Only flagged, deferred, excluded or missing items take a disposition.")
    justification = justification.strip()
    if kind == Disposition.Kind.OVERRIDDEN:
        if reason_code not in Disposition.Reason.values:
            raise ReviewRefused("An override needs a reason: choose one.")
        if not justification:
            raise ReviewRefused("An override needs a justification: write it.")
    elif kind == Disposition.Kind.ACKNOWLEDGED:
        reason_code = ""
    else:
        raise ReviewRefused("Choose acknowledge or override.")
    if evaluation.signoffs.filter(voided_at__isnull=True).exists():
        raise ReviewRefused("This checklist is signed; a change of data voids the signature first.")
    disposition, _ = Disposition.objects.update_or_create(
        evaluation=evaluation, code=code,
        defaults={"status": item["status"], "item_inputs": item["inputs"], "kind": kind, "reason_code": reason_code,
                  "justification": justification, "decided_by": by, "decided_by_name": signer_name(by),
                  "decided_at": timezone.now(), "carried_over_from": None},
    )
    return disposition


def content_hash(evaluation: Evaluation, dispositions) -> str:
    """SHA-256 over what a signature approves: inputs, rule-set version, checklist, dispositions."""
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
    canonical = json.dumps(signed, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def signoff_verify(signoff: SignOff) -> bool:
    """True when the signed evaluation and its dispositions still hash to the stored value."""
    evaluation = Evaluation.objects.select_related("ruleset").get(pk=signoff.evaluation_id)
    return content_hash(evaluation, evaluation.dispositions.all()) == signoff.content_hash


@transaction.atomic
def signoff_create(*, evaluation: Evaluation, password: str, by) -> SignOff:
    """Sign the current evaluation after re-entering the password.

    Refused while any blocking item (exclude, defer, missing) has no disposition.
    """
    _current(evaluation)
    if not by.check_password(password):
        # No patient identifier in the log: the evaluation's opaque id and the user only.
        logger.warning("Sign-off refused: wrong password for user %s on evaluation %s", by.pk, evaluation.public_id)
        raise WrongPassword("The password is not correct; nothing was signed.")
    if evaluation.signoffs.filter(voided_at__isnull=True).exists():
        raise ReviewRefused("This checklist is signed already.")
    dispositions = list(evaluation.dispositions.all())
    decided = {d.code for d in dispositions}
    undecided = [item["title"] for item in evaluation.checklist["items"]
                 if item["status"] in BLOCKING and item["code"] not in decided]
    if undecided:
        raise ReviewRefused("Record a disposition for every blocking item first: " + ", ".join(undecided) + ".")
    return SignOff.objects.create(
        assessment=evaluation.assessment, evaluation=evaluation, stage=evaluation.stage,
        meaning=meaning_for(evaluation.stage), signer=by, signer_name=signer_name(by), signed_at=timezone.now(),
        content_hash=content_hash(evaluation, dispositions),
    )


def after_reevaluation(*, assessment: Assessment, previous: Evaluation | None, current: Evaluation, by,
                       changed: list[str]) -> None:
    """Called by every save: void standing sign-offs, carry unchanged items' dispositions over."""
    if previous is None:
        return
    standing = SignOff.objects.filter(assessment=assessment, voided_at__isnull=True)
    if standing.exists() and changed:
        what = ", ".join(changed)
        standing.update(voided_at=timezone.now(), voided_by=by,
                        void_reason=f"Data changed by {signer_name(by)}: {what}.")
    # A review a rule-set version asked for concerned the checklist just replaced.
    ReviewRequest.objects.open().filter(assessment=assessment).update(
        resolution=ReviewRequest.Resolution.SUPERSEDED, resolved_by=by, resolved_by_name=signer_name(by),
        resolved_at=timezone.now(),
        justification=f"Data changed ({', '.join(changed) or 'stage'}): re-evaluated under rule-set version "
                      f"{current.ruleset.version}.")
    Disposition.objects.bulk_create(carried_dispositions(previous.dispositions.all(), current))


def carried_dispositions(dispositions, current: Evaluation) -> list[Disposition]:
    """Copies (unsaved) for ``current`` of the decisions whose item kept its status and inputs;
    where the finding changed, the physician decides again."""
    items = {item["code"]: item for item in current.checklist["items"]}
    carried = []
    for disposition in dispositions:
        item = items.get(disposition.code)
        if item is None or item["status"] != disposition.status or item["inputs"] != disposition.item_inputs:
            continue
        carried.append(Disposition(
            evaluation=current, code=disposition.code, status=disposition.status, item_inputs=disposition.item_inputs,
            kind=disposition.kind, reason_code=disposition.reason_code, justification=disposition.justification,
            decided_by_id=disposition.decided_by_id, decided_by_name=disposition.decided_by_name,
            decided_at=disposition.decided_at, carried_over_from=disposition.carried_over_from or disposition,
        ))
    return carried
