"""Re-evaluation under a newly published rule-set version: unsigned open checklists get a new
evaluation; signed ones stay pinned to their version and, where a status or the result would
change, a physician's review is requested. Runs when a version is published
(:data:`..rulesets.signals.ruleset_published`), from ``manage.py reevaluate_open_assessments``, and
for one patient restored after versions were published while it was withdrawn."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from ..common.display import input_error_text
from ..common.people import display_name
from ..patients import lifecycle
from ..patients.models import Assessment
from ..patients.services import checklist_changes, evaluation_build
from ..rules import OVERALL_LABELS, STATUS_LABELS, CaseValidationError, Engine, dumps
from ..rulesets.models import RuleSet
from ..rulesets.selectors import engine_for, ruleset_get
from .models import ReviewRequest, SignOff

#: The last stage: an assessment approved at it is no longer open.
INFUSION_STAGE = "pre_infusion"


def open_assessments():
    """Assessments of patients not withdrawn, not yet signed off for infusion (a standing approval at
    the last stage closes one)."""
    closed = SignOff.objects.standing().filter(assessment=OuterRef("pk"), stage=INFUSION_STAGE,
                                               decision=SignOff.Decision.APPROVED)
    return Assessment.objects.filter(patient__withdrawn_at__isnull=True).annotate(closed=Exists(closed)).filter(
        closed=False)


def standing_on_current_checklist():
    """A standing sign-off on the assessment's current evaluation (for ``Exists`` on assessments)."""
    return SignOff.objects.standing().filter(assessment=OuterRef("pk"), evaluation=OuterRef("current_evaluation"))


@dataclass
class Reevaluation:
    reevaluated: int = 0
    unchanged_signed: int = 0
    review_requested: int = 0
    unevaluable: int = 0
    changed_meanwhile: int = 0  # saved by someone while this ran: that save evaluated them

    def summary(self) -> str:
        """What the administrator is told after publishing."""
        return (f"Re-evaluated {self.reevaluated} open assessment(s); {self.review_requested} signed checklist(s) "
                "marked for a physician's review"
                + (f"; {self.unevaluable} cannot be evaluated under this version and are marked for review"
                   if self.unevaluable else "") + ".")


def reevaluate_open_assessments(*, ruleset: RuleSet, by, batch_size: int = 200) -> Reevaluation:
    """After publishing: every open assessment under ``ruleset``, in batches, each batch its own
    short transaction (a coordinator's save waits for one batch at most, never for the publish).

    Unsigned ones get a new evaluation that says which items changed; decisions on unchanged
    items carry over. Signed ones keep their pinned evaluation; where a status or the result would
    change they are marked for a physician's review instead.

    Each batch locks its rows and reads them again under the lock, so whatever was saved meanwhile
    is what is evaluated: a save that evaluated under the retired version (it began before the
    publish committed) is re-evaluated here, and one already under ``ruleset`` is left alone.
    Resumable: what this version evaluated or asked about already is not done again (a run cut
    short is finished with ``manage.py reevaluate_open_assessments``).
    """
    engine, engines = engine_for(ruleset), _published_engines()
    outcome = Reevaluation()
    pks = list(_to_reevaluate(ruleset).values_list("pk", flat=True))
    for start in range(0, len(pks), batch_size):
        _reevaluate_batch(pks[start:start + batch_size], engine, engines, ruleset, by, outcome)
    return outcome


def _published_engines() -> dict[int, Engine]:
    """The engine of every published version by primary key. The previous results are computed again
    by their own (immutable, cached) versions rather than read back: decoding thousands of stored
    checklists costs more than evaluating them."""
    return {version.pk: engine_for(version) for version in RuleSet.objects.exclude(status=RuleSet.Status.DRAFT)}


def reevaluate_assessment(*, assessment_id: int, by) -> Reevaluation:
    """One assessment under the active version, as a publish does (e.g. a patient restored after
    versions were published while it was withdrawn): nothing happens if it is under it already."""
    ruleset = ruleset_get()
    outcome = Reevaluation()
    _reevaluate_batch([assessment_id], engine_for(ruleset), _published_engines(), ruleset, by, outcome)
    return outcome


def _to_reevaluate(ruleset: RuleSet):
    """Open assessments whose current checklist is not under ``ruleset`` and that this version has
    not asked a physician about yet."""
    asked = ReviewRequest.objects.open().filter(assessment=OuterRef("pk"), ruleset=ruleset)
    return (open_assessments().filter(current_evaluation__isnull=False).exclude(current_evaluation__ruleset=ruleset)
            .exclude(Exists(asked)).order_by("pk"))


class _Open(NamedTuple):
    pk: int
    stage: str
    data: dict
    public_id: object
    previous_id: int  # the current evaluation (rows without one are not selected)
    previous_ruleset_id: int
    previous_overall: str
    signed: bool


@transaction.atomic
def _reevaluate_batch(pks: list[int], engine: Engine, engines: dict[int, Engine], ruleset: RuleSet, by,
                      outcome: Reevaluation) -> None:
    lifecycle.assessments_lock(pks)
    # Read again under the lock: plain rows (three model instances a row cost more than evaluating).
    rows = [_Open(*row) for row in _to_reevaluate(ruleset).filter(pk__in=pks).annotate(
        signed=Exists(standing_on_current_checklist())).values_list(
        "pk", "stage", "data", "patient__public_id", "current_evaluation_id", "current_evaluation__ruleset_id",
        "current_evaluation__overall", "signed")]
    outcome.changed_meanwhile += len(pks) - len(rows)
    replacements, requests = [], []
    for assessment in rows:
        # Stored data was validated when saved: encoded once, read by both versions' engines.
        raw = dumps({**assessment.data, "stage": assessment.stage, "case_id": str(assessment.public_id)})
        try:
            case = engine.parse_json(raw)
        except CaseValidationError as exc:
            outcome.unevaluable += 1
            problems = "; ".join(input_error_text(error) for error in exc.errors)
            requests.append(ReviewRequest(
                assessment_id=assessment.pk, ruleset=ruleset, evaluation_id=assessment.previous_id,
                message=f"Rule set version {ruleset.version} cannot evaluate this assessment ({problems}): "
                        "the checklist stays under its version until the data are corrected."))
            continue
        checklist = engine.evaluate(case)
        previous_engine = engines[assessment.previous_ruleset_id]
        old_items = previous_engine.evaluate(previous_engine.parse_json(raw)).items
        changes = checklist_changes(old_items, checklist.items)
        if assessment.signed:
            # The result, not the wording: a status or the overall result would change (a reason that
            # only quotes the new threshold leaves what was signed as it was).
            if any(change["before"] != change["after"] for change in changes) or (
                    assessment.previous_overall != checklist.overall):
                requests.append(ReviewRequest(
                    assessment_id=assessment.pk, ruleset=ruleset, evaluation_id=assessment.previous_id,
                    message=f"Rule set version {ruleset.version} would change this signed checklist "
                            f"({OVERALL_LABELS[assessment.previous_overall].lower()} → "
                            f"{OVERALL_LABELS[checklist.overall].lower()}; "
                            + "; ".join(f"{change['title']}: {STATUS_LABELS[change['before']].lower()} → "
                                        f"{STATUS_LABELS[change['after']].lower()}"
                                        if change["before"] != change["after"] else f"{change['title']}: reason"
                                        for change in changes)
                            + "): keep the signed checklist, or re-evaluate it under the new version and sign again."))
                outcome.review_requested += 1
            else:
                outcome.unchanged_signed += 1
            continue
        evaluation = evaluation_build(assessment_id=assessment.pk, ruleset=ruleset, case=case, checklist=checklist,
                                      by=by, reevaluated_from_id=assessment.previous_id, changes=changes)
        replacements.append(lifecycle.Replacement(
            assessment_id=assessment.pk, previous_id=assessment.previous_id, evaluation=evaluation,
            void_reason=f"Re-evaluated under rule-set version {ruleset.version}.",
            request_note=f"Rule set version {ruleset.version} published."))
    lifecycle.evaluations_install(replacements, by=by)
    # A new version's request replaces an earlier version's open one.
    ReviewRequest.objects.open().filter(assessment_id__in=[request.assessment_id for request in requests]).update(
        resolution=ReviewRequest.Resolution.SUPERSEDED, resolved_at=timezone.now(), resolved_by=by,
        resolved_by_name=display_name(by), justification=f"Rule set version {ruleset.version} published.")
    ReviewRequest.objects.bulk_create(requests)
    outcome.reevaluated += len(replacements)
