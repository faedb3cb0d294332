"""Administrators' rule sets: drafts copied from the active version, validated edits, the
differences, the impact preview on open assessments, and publishing (one transaction)."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

from django.db import transaction
from django.db.models import Exists, Max, OuterRef
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from . import lifecycle
from .models import (
    DIAGNOSIS_CHOICES,
    Assessment,
    Product,
    ReviewRequest,
    RuleSet,
    SignOff,
    Threshold,
)
from .rules import CaseValidationError, Engine
from .rules.arithmetic import plain
from .rules.engine import dumps
from .rules.thresholds import THRESHOLDS_BY_KEY, threshold_set_errors
from .selectors import engine_for, ruleset_data, ruleset_get
from .services import checklist_changes, evaluation_build

#: The last stage: an assessment signed off at it is no longer open.
INFUSION_STAGE = "pre_infusion"


class RuleSetRefused(Exception):
    """An edit or publication that cannot be made; ``errors`` maps a threshold key to its problems."""

    def __init__(self, message: str, errors: dict[str, list[str]] | None = None):
        self.errors = errors or {}
        super().__init__(message)


def _editable(ruleset: RuleSet) -> None:
    if not ruleset.is_editable:
        raise RuleSetRefused(f"Version {ruleset.version} is {ruleset.get_status_display().lower()} and read-only; "
                             "make a draft to change it.")


@transaction.atomic
def ruleset_draft_create(*, by, name: str | None = None) -> RuleSet:
    """A draft copying every threshold and product of the active version."""
    active = ruleset_get()
    version = (RuleSet.objects.aggregate(Max("version"))["version__max"] or 0) + 1
    draft = RuleSet.objects.create(name=name or active.name, version=version, status=RuleSet.Status.DRAFT,
                                   based_on=active, created_by=by)
    copied = f"Copied from version {active.version}"
    bulk_create_with_history([Threshold(ruleset=draft, key=key, value=value)
                              for key, value in active.thresholds.values_list("key", "value")],
                             Threshold, default_user=by, default_change_reason=copied)
    products = list(active.products.all())
    for product in products:
        product.pk, product.ruleset = None, draft
    bulk_create_with_history(products, Product, default_user=by, default_change_reason=copied)
    return draft


@transaction.atomic
def ruleset_draft_discard(*, draft: RuleSet, by) -> None:
    """Delete a draft that will not be published (its edits stay in the history tables)."""
    draft = RuleSet.objects.select_for_update().get(pk=draft.pk)
    _editable(draft)
    for row in (*draft.thresholds.all(), *draft.products.all()):
        row._history_user = by
        row.delete()
    draft.delete()


@transaction.atomic
def ruleset_thresholds_update(*, draft: RuleSet, values: dict[str, Decimal], by) -> None:
    """Change thresholds of a draft; every value and every ordered pair is validated first."""
    draft = RuleSet.objects.select_for_update().get(pk=draft.pk)
    _editable(draft)
    current = dict(draft.thresholds.values_list("key", "value"))
    unknown = set(values) - set(current)
    if unknown:
        raise RuleSetRefused("Unknown thresholds.", {key: ["is not a known threshold"] for key in unknown})
    merged = {**current, **values}
    errors = threshold_set_errors(merged)
    if errors:
        raise RuleSetRefused("Some values are not allowed; nothing was changed.", errors)
    for threshold in draft.thresholds.filter(key__in=[key for key, value in values.items() if value != current[key]]):
        threshold.value = values[threshold.key]
        threshold._history_user = by
        threshold.save(update_fields=["value"])


@dataclass(frozen=True)
class Difference:
    key: str
    label: str
    unit: str
    before: str
    after: str


def ruleset_differences(before: RuleSet, after: RuleSet) -> list[Difference]:
    """Threshold by threshold (and product by product), what ``after`` changes from ``before``."""
    old, new = ruleset_data(before), ruleset_data(after)
    changes = []
    for key in THRESHOLDS_BY_KEY:
        if old.thresholds.get(key) != new.thresholds.get(key):
            spec = THRESHOLDS_BY_KEY[key]
            changes.append(Difference(key, spec.label, spec.unit, plain(old.thresholds[key]),
                                      plain(new.thresholds[key])))
    for code in sorted(old.products.keys() | new.products.keys()):
        if old.products.get(code) != new.products.get(code):
            changes.append(Difference(f"product:{code}", f"Product {code}", "",
                                      _product_text(old.products.get(code)), _product_text(new.products.get(code))))
    return changes


def _product_text(product) -> str:
    if product is None:
        return "absent"
    return (f"{product.name}, {product.target}, {', '.join(sorted(product.diagnoses))}"
            f"{', accepts cryopreserved' if product.accepts_cryopreserved else ''}"
            f"{', investigational' if product.investigational else ''}")


def open_assessments():
    """Assessments of patients not withdrawn, not yet signed off for infusion (a standing approval at
    the last stage closes one)."""
    closed = SignOff.objects.standing().filter(assessment=OuterRef("pk"), stage=INFUSION_STAGE,
                                               decision=SignOff.Decision.APPROVED)
    return Assessment.objects.filter(patient__withdrawn_at__isnull=True).annotate(closed=Exists(closed)).filter(
        closed=False)


@dataclass
class Impact:
    """What publishing a draft would change for the open assessments."""

    total: int = 0
    transitions: Counter = field(default_factory=Counter)  # (before, after) overall -> patients
    changed: list[dict] = field(default_factory=list)  # patients whose result or an item changes
    #: Of ``changed``, signed checklists a physician will be asked to review (not re-evaluated).
    reviews: int = 0
    #: Patients whose data the draft rejects (e.g. a product it removes), with why.
    unevaluable: list[dict] = field(default_factory=list)

    @property
    def summary(self) -> list[tuple[str, str, int]]:
        return [(before, after, count) for (before, after), count in self.transitions.most_common()]


def impact_preview(*, draft: RuleSet) -> Impact:
    """Evaluate every open assessment under the active version and under ``draft`` and compare."""
    active_engine = engine_for(ruleset_get())
    draft_engine = Engine(ruleset_data(draft))
    impact = Impact()
    rows = (open_assessments().annotate(signed=Exists(_standing_signoff()))
            .values_list("patient__public_id", "patient__study_id", "patient__initials", "stage", "data", "signed"))
    for public_id, study_id, initials, stage, data, signed in rows.iterator(chunk_size=2000):
        impact.total += 1
        raw = dumps({**data, "stage": stage})  # stored data was validated when saved: encoded once, read twice
        try:
            before = active_engine.evaluate(active_engine.parse_json(raw))
            after = draft_engine.evaluate(draft_engine.parse_json(raw))
        except CaseValidationError as exc:
            impact.unevaluable.append({"public_id": public_id, "study_id": study_id, "initials": initials,
                                       "errors": exc.errors})
            continue
        items = [(old["code"], old["status"], new["status"]) for old, new in zip(before.items, after.items, strict=True)
                 if old["status"] != new["status"] or old["reason"] != new["reason"]]
        if before.overall != after.overall:
            impact.transitions[(before.overall, after.overall)] += 1
        if items or before.overall != after.overall:
            # What publishing will do: re-evaluate, or (signed, a status or the result changes) ask.
            asks = signed and (before.overall != after.overall or any(old != new for _, old, new in items))
            impact.changed.append({"public_id": public_id, "study_id": study_id, "initials": initials,
                                   "before": before.overall,
                                   "after": after.overall, "items": items, "signed": signed, "asks": asks})
            impact.reviews += asks
    return impact


def _standing_signoff():
    """A standing sign-off on the assessment's current evaluation (for ``Exists`` on assessments)."""
    return SignOff.objects.standing().filter(assessment=OuterRef("pk"), evaluation=OuterRef("current_evaluation"))


@transaction.atomic
def ruleset_publish(*, draft: RuleSet, note: str, by) -> RuleSet:
    """Make ``draft`` the active version and retire the previous one, in one transaction."""
    if not note.strip():
        raise RuleSetRefused("A change note is required to publish.")
    draft = RuleSet.objects.select_for_update().get(pk=draft.pk)
    _editable(draft)
    errors = threshold_set_errors(dict(draft.thresholds.values_list("key", "value")))
    if errors:
        raise RuleSetRefused("The draft has values that are not allowed.", errors)
    RuleSet.objects.filter(status=RuleSet.Status.ACTIVE).update(status=RuleSet.Status.RETIRED)
    draft.status = RuleSet.Status.ACTIVE
    draft.change_note = note.strip()
    draft.published_by = by
    draft.published_at = timezone.now()
    draft.save(update_fields=["status", "change_note", "published_by", "published_at"])
    return draft


@dataclass
class Reevaluation:
    reevaluated: int = 0
    unchanged_signed: int = 0
    review_requested: int = 0
    unevaluable: int = 0
    changed_meanwhile: int = 0  # saved by someone while this ran: that save evaluated them


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
    engine = engine_for(ruleset)
    # The previous results are computed again by their own (immutable, cached) versions rather than
    # read back: decoding thousands of stored checklists costs more than evaluating them.
    engines = {version.pk: engine_for(version) for version in RuleSet.objects.exclude(status=RuleSet.Status.DRAFT)}
    outcome = Reevaluation()
    pks = list(_to_reevaluate(ruleset).values_list("pk", flat=True))
    for start in range(0, len(pks), batch_size):
        _reevaluate_batch(pks[start:start + batch_size], engine, engines, ruleset, by, outcome)
    return outcome


def reevaluate_assessment(*, assessment_id: int, by) -> Reevaluation:
    """One assessment under the active version, as a publish does (e.g. a patient restored after
    versions were published while it was withdrawn): nothing happens if it is under it already."""
    ruleset = ruleset_get()
    engines = {version.pk: engine_for(version) for version in RuleSet.objects.exclude(status=RuleSet.Status.DRAFT)}
    outcome = Reevaluation()
    _reevaluate_batch([assessment_id], engine_for(ruleset), engines, ruleset, by, outcome)
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
        signed=Exists(_standing_signoff())).values_list(
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
            problems = "; ".join(f"{error['field']}: {error['message']}" for error in exc.errors)
            requests.append(ReviewRequest(
                assessment_id=assessment.pk, ruleset=ruleset, evaluation_id=assessment.previous_id,
                message=f"Rule set version {ruleset.version} cannot evaluate this assessment ({problems}): "
                        "the checklist stays under its version until the data are corrected."))
            continue
        checklist = engine.evaluate(case)
        previous_engine = engines[assessment.previous_ruleset_id]
        old_items = {item["code"]: item for item in previous_engine.evaluate(previous_engine.parse_json(raw)).items}
        changes = checklist_changes(old_items, checklist.items)
        if assessment.signed:
            # The result, not the wording: a status or the overall result would change (a reason that
            # only quotes the new threshold leaves what was signed as it was).
            if any(change["before"] != change["after"] for change in changes) or (
                    assessment.previous_overall != checklist.overall):
                requests.append(ReviewRequest(
                    assessment_id=assessment.pk, ruleset=ruleset, evaluation_id=assessment.previous_id,
                    message=f"Rule set version {ruleset.version} would change this signed checklist "
                            f"({assessment.previous_overall.replace('_', ' ')} -> "
                            f"{checklist.overall.replace('_', ' ')}; "
                            + "; ".join(f"{change['title']}: {change['before']} -> {change['after']}"
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
        resolved_by_name=lifecycle.signer_name(by), justification=f"Rule set version {ruleset.version} published.")
    ReviewRequest.objects.bulk_create(requests)
    outcome.reevaluated += len(replacements)


def product_errors(*, name: str, target: str, diagnoses: list[str], age_limit_diagnoses: list[str],
                   min_age_years: Decimal | None, max_age_years: Decimal | None) -> dict[str, list[str]]:
    """Why a product's values are not allowed (empty when they are)."""
    known = {code for code, _ in DIAGNOSIS_CHOICES}
    errors: dict[str, list[str]] = {}
    if not name.strip():
        errors["name"] = ["is required"]
    if not target.strip():
        errors["target"] = ["is required (e.g. CD19, BCMA, EBV)"]
    for key, value in (("name", name), ("target", target)):
        limit = Product._meta.get_field(key).max_length
        if len(value) > limit:
            errors.setdefault(key, []).append(f"at most {limit} characters")
    if not diagnoses:
        errors["diagnoses"] = ["choose at least one diagnosis"]
    elif set(diagnoses) - known:
        errors["diagnoses"] = ["unknown diagnosis: " + ", ".join(sorted(set(diagnoses) - known))]
    if set(age_limit_diagnoses) - set(diagnoses):
        errors["age_limit_diagnoses"] = ["an age limit can only apply to the product's own diagnoses"]
    for age_field, age in (("min_age_years", min_age_years), ("max_age_years", max_age_years)):
        if age is not None and not Decimal(0) <= age <= Decimal(120):
            errors[age_field] = ["must be between 0 and 120 years"]
    if min_age_years is not None and max_age_years is not None and not min_age_years < max_age_years:
        errors.setdefault("min_age_years", []).append("must be below the maximum age")
    if (min_age_years is not None or max_age_years is not None) and not age_limit_diagnoses:
        errors.setdefault("age_limit_diagnoses", []).append("choose the diagnoses the age limit applies to")
    return errors


@transaction.atomic
def ruleset_product_update(*, draft: RuleSet, code: str, by, **values) -> Product:
    """Change one product of a draft's catalogue after validating its values."""
    draft = RuleSet.objects.select_for_update().get(pk=draft.pk)
    _editable(draft)
    product = draft.products.get(code=code)
    errors = product_errors(**{key: values[key] for key in (
        "name", "target", "diagnoses", "age_limit_diagnoses", "min_age_years", "max_age_years")})
    if errors:
        raise RuleSetRefused("Some values are not allowed; nothing was changed.", errors)
    for key, value in values.items():
        setattr(product, key, value)
    product._history_user = by
    product.save()
    return product


#: A product code as the case names it (criteria.md section 5): lower-case words joined by "_".
PRODUCT_CODE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")


@transaction.atomic
def ruleset_product_add(*, draft: RuleSet, code: str, by, **values) -> Product:
    """Add a product to a draft's catalogue after validating its code and values."""
    draft = RuleSet.objects.select_for_update().get(pk=draft.pk)
    _editable(draft)
    errors = product_errors(**{key: values[key] for key in (
        "name", "target", "diagnoses", "age_limit_diagnoses", "min_age_years", "max_age_years")})
    code = code.strip()
    if not PRODUCT_CODE.match(code) or len(code) > Product._meta.get_field("code").max_length:
        errors["code"] = ["use lower-case letters, digits and single underscores, starting with a letter "
                          "(e.g. tisagenlecleucel), at most 64 characters"]
    elif draft.products.filter(code=code).exists():
        errors["code"] = [f"'{code}' is in this catalogue already"]
    if errors:
        raise RuleSetRefused("Some values are not allowed; nothing was added.", errors)
    product = Product(ruleset=draft, code=code, **{key: values[key] for key in Product.EDITABLE_FIELDS})
    product._history_user = by
    product.save()
    return product


@transaction.atomic
def ruleset_product_remove(*, draft: RuleSet, code: str, by) -> None:
    """Remove a product from a draft's catalogue (the preview lists the patients it concerns)."""
    draft = RuleSet.objects.select_for_update().get(pk=draft.pk)
    _editable(draft)
    product = draft.products.filter(code=code).first()
    if product is None:
        raise RuleSetRefused(f"'{code}' is not in the catalogue of version {draft.version}.")
    if draft.products.count() == 1:
        raise RuleSetRefused("The catalogue needs at least one product.")
    product._history_user = by
    product.delete()
