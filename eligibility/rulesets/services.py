"""Rule sets, writes: drafts copied from the active version, validated edits of thresholds and
products, the draft's name and change note, a second administrator's approval (four eyes),
discarding, and publishing (one short transaction; what publishing then does to patients'
checklists is background work of the packages above, told by :data:`.signals.ruleset_published`
once the publish has committed, and recorded in a :class:`.models.RuleSetReevaluation`).

Every write to a draft locks its row first (``select_for_update``): two edits, an edit and an
approval, an edit and a publication never interleave. An edit counts a revision and withdraws an
approval given before it; an approval and a publication are given for the revision the
administrator saw, so one made on a page that an edit overtook is refused."""

from __future__ import annotations

import re
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from ..common.people import display_name
from ..rules import RETIRED_THRESHOLDS, THRESHOLDS_BY_KEY, threshold_set_errors
from .models import DIAGNOSIS_CHOICES, Product, RuleSet, RuleSetEvent, RuleSetReevaluation, Threshold
from .selectors import ruleset_editor_ids, ruleset_get
from .signals import ruleset_published


class RuleSetRefused(Exception):
    """An edit or publication that cannot be made; ``errors`` maps a threshold key to its problems."""

    def __init__(self, message: str, errors: dict[str, list[str]] | None = None):
        self.errors = errors or {}
        super().__init__(message)


def _editable(ruleset: RuleSet) -> None:
    if not ruleset.is_editable:
        raise RuleSetRefused(f"Version {ruleset.version} is {ruleset.get_status_display().lower()} and read-only; "
                             "make a draft to change it.")


def _locked_draft(draft: RuleSet) -> RuleSet:
    """The draft's row, locked for the rest of the transaction, and refused unless still a draft."""
    draft = RuleSet.objects.select_for_update().get(pk=draft.pk)
    _editable(draft)
    return draft


def _event(draft: RuleSet, action: str, *, by, old: str = "", new: str = "") -> RuleSetEvent:
    event = RuleSetEvent(ruleset=draft, version=draft.version, action=action, by=by, revision=draft.revision,
                         old_value=old, new_value=new)
    event._history_user = by
    event.save()
    return event


def _edited(draft: RuleSet, *, by, what: str) -> None:
    """Count an edit of the locked ``draft``; an approval given before it is withdrawn, recorded
    with the edit that withdrew it (the approver approved what they saw, not this)."""
    RuleSet.objects.filter(pk=draft.pk).update(revision=F("revision") + 1)
    draft.revision += 1
    approver = draft.approved_by
    # Conditional: only an approval still standing is withdrawn (and recorded once).
    if RuleSet.objects.filter(pk=draft.pk, approved_by__isnull=False).update(approved_by=None, approved_at=None):
        draft.approved_by, draft.approved_at = None, None
        _event(draft, RuleSetEvent.Action.WITHDRAWN, by=by, old=f"Approved by {display_name(approver)}",
               new=f"{display_name(by)} changed {what}")


def _changed_since(draft: RuleSet, revision: int | None, what: str) -> None:
    if revision is not None and draft.revision != revision:
        raise RuleSetRefused(f"Draft version {draft.version} was changed since you opened the page: "
                             f"check the changes (listed on its page) and {what} again.")


#: A version's name: the words people use for it (the checklist prints it beside the version).
NAME_MAX = RuleSet._meta.get_field("name").max_length


def ruleset_name_errors(*, draft: RuleSet, name: str) -> list[str]:
    """Why ``name`` cannot name ``draft``: required, at most 200 characters, and no other version's
    name (whatever the letter case), so that nobody confuses two versions by their name."""
    name = name.strip()
    if not name:
        return ["is required: name this version for the people who will read it on checklists"]
    if len(name) > NAME_MAX:
        return [f"at most {NAME_MAX} characters (it has {len(name)})"]
    other = RuleSet.objects.exclude(pk=draft.pk).filter(name__iexact=name).order_by("version").first()
    if other is not None:
        return [f"version {other.version} is named '{other.name}' already: choose a name of its own"]
    return []


@transaction.atomic
def ruleset_draft_create(*, by, name: str | None = None) -> RuleSet:
    """A draft copying every threshold and product of the active version; refused while a draft
    exists (one at a time: the database enforces it too). Two administrators at once: the active
    version's row is locked first, so the second waits and is refused."""
    active = RuleSet.objects.select_for_update().get(pk=ruleset_get().pk)
    existing = RuleSet.objects.filter(status=RuleSet.Status.DRAFT).first()
    if existing is not None:
        raise RuleSetRefused(f"Draft version {existing.version} exists already: edit, publish or discard it first.")
    version = (RuleSet.objects.aggregate(Max("version"))["version__max"] or 0) + 1
    # A name of its own to start from (not a copy of the active version's): the administrator gives
    # it a better one before publishing.
    name = name or f"Version {version} of {timezone.localdate().isoformat()}"
    draft = RuleSet.objects.create(name=name, version=version, status=RuleSet.Status.DRAFT,
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
def ruleset_draft_discard(*, draft: RuleSet, by, revision: int | None = None) -> None:
    """Delete a draft that will not be published (its edits and events stay in the history tables;
    the discarding is an event of its own). ``revision``: the one the administrator confirmed."""
    draft = _locked_draft(draft)
    _changed_since(draft, revision, "discard it")
    _event(draft, RuleSetEvent.Action.DISCARDED, by=by, old=draft.name)
    for row in (*draft.thresholds.all(), *draft.products.all()):
        row._history_user = by
        row.delete()
    draft.delete()


@transaction.atomic
def ruleset_thresholds_update(*, draft: RuleSet, values: dict[str, Decimal], by) -> None:
    """Change thresholds of a draft; every value and every ordered pair is validated first."""
    draft = _locked_draft(draft)
    current = dict(draft.thresholds.exclude(key__in=RETIRED_THRESHOLDS).values_list("key", "value"))
    unknown = set(values) - set(current)
    if unknown:
        raise RuleSetRefused("Unknown thresholds.", {key: ["is not a known threshold"] for key in unknown})
    merged = {**current, **values}
    errors = threshold_set_errors(merged)
    if errors:
        raise RuleSetRefused("Some values are not allowed; nothing was changed.", errors)
    changed = list(draft.thresholds.filter(key__in=[key for key, value in values.items() if value != current[key]]))
    for threshold in changed:
        threshold.value = values[threshold.key]
        threshold._history_user = by
        threshold.save(update_fields=["value"])
    if changed:
        _edited(draft, by=by, what=", ".join(THRESHOLDS_BY_KEY[threshold.key].label for threshold in changed))


@transaction.atomic
def ruleset_describe(*, draft: RuleSet, by, name: str | None = None, change_note: str | None = None) -> RuleSet:
    """Name a draft or write its change note (``None``: unchanged); both are read-only once published."""
    draft = _locked_draft(draft)
    errors = {}
    if name is not None and (name_errors := ruleset_name_errors(draft=draft, name=name)):
        errors["name"] = name_errors
    if errors:
        raise RuleSetRefused("Not saved: see the name.", errors)
    changes = []
    if name is not None and name.strip() != draft.name:
        changes.append(("name", RuleSetEvent.Action.NAMED, draft.name, name.strip()))
    if change_note is not None and change_note.strip() != draft.change_note:
        changes.append(("change_note", RuleSetEvent.Action.NOTED, draft.change_note, change_note.strip()))
    if not changes:
        return draft
    RuleSet.objects.filter(pk=draft.pk).update(**{field: new for field, _, _, new in changes})
    for field, action, old, new in changes:
        setattr(draft, field, new)
        _event(draft, action, by=by, old=old, new=new)
    _edited(draft, by=by, what=" and ".join("its name" if field == "name" else "its change note"
                                            for field, *_ in changes))
    return draft


def ruleset_approval_required() -> bool:
    """Whether a draft needs a second administrator's approval before it is published (four eyes)."""
    return settings.RULESET_PUBLISH_REQUIRES_APPROVAL


@transaction.atomic
def ruleset_approve(*, draft: RuleSet, revision: int, by) -> RuleSet:
    """A second administrator approves the draft as they saw it (``revision``). Refused to its
    author and to anyone who edited it (their own work is not a second pair of eyes), when it
    changed since the page was shown, and when it is approved already."""
    draft = _locked_draft(draft)
    if by.pk in ruleset_editor_ids(draft):
        raise RuleSetRefused(f"You made or edited draft version {draft.version}: another administrator, who "
                             "did neither, approves it.")
    _changed_since(draft, revision, "approve it")
    if draft.approved_by_id is not None:
        raise RuleSetRefused(f"Draft version {draft.version} is approved already, by "
                             f"{display_name(draft.approved_by)}.")
    now = timezone.now()
    # Conditional on what was checked under the lock: the revision seen and no approval yet.
    if not RuleSet.objects.filter(pk=draft.pk, status=RuleSet.Status.DRAFT, revision=revision,
                                  approved_by__isnull=True).update(approved_by=by, approved_at=now):
        raise RuleSetRefused(f"Draft version {draft.version} changed meanwhile: reload the page.")
    draft.approved_by, draft.approved_at = by, now
    _event(draft, RuleSetEvent.Action.APPROVED, by=by, new=f"Revision {revision}")
    return draft


@transaction.atomic
def ruleset_publish(*, draft: RuleSet, by, note: str | None = None, revision: int | None = None) -> RuleSet:
    """Make ``draft`` the active version and retire the previous one, in one transaction, and
    record the re-evaluation of the open assessments that then runs in the background.

    ``note``: the change note (by default the one written on the draft); required, as is a name no
    other version has. ``revision``: the one the administrator confirmed (refused if edited since).
    With four eyes on (``RULESET_PUBLISH_REQUIRES_APPROVAL``), refused until another administrator
    approved the draft as it is."""
    draft = _locked_draft(draft)
    _changed_since(draft, revision, "confirm")
    note = (draft.change_note if note is None else note).strip()
    errors = {}
    if not note:
        errors["change_note"] = ["is required to publish: why, and the source"]
    if name_errors := ruleset_name_errors(draft=draft, name=draft.name):
        errors["name"] = name_errors
    if errors:
        raise RuleSetRefused("A name of its own and a change note are required to publish.", errors)
    if ruleset_approval_required() and draft.approved_by_id is None:
        raise RuleSetRefused(f"Draft version {draft.version} needs the approval of a second administrator "
                             "(neither its author nor anyone who edited it) before it is published.")
    held = draft.thresholds.exclude(key__in=RETIRED_THRESHOLDS)
    errors = threshold_set_errors(dict(held.values_list("key", "value")))
    if errors:
        raise RuleSetRefused("The draft has values that are not allowed.", errors)
    RuleSet.objects.filter(status=RuleSet.Status.ACTIVE).update(status=RuleSet.Status.RETIRED)
    draft.status = RuleSet.Status.ACTIVE
    draft.change_note = note
    draft.published_by = by
    draft.published_at = timezone.now()
    draft.save(update_fields=["status", "change_note", "published_by", "published_at"])
    _event(draft, RuleSetEvent.Action.PUBLISHED, by=by, new=note)
    # The open assessments are re-evaluated off the request, after this commits (its progress and
    # outcome on the version's page).
    _reevaluation_requested(RuleSetReevaluation.objects.create(ruleset=draft, requested_by=by), by)
    return draft


def _reevaluation_requested(reevaluation: RuleSetReevaluation, by) -> None:
    """Once the transaction has committed, tell the packages above (review enqueues the
    re-evaluation as a task). ``robust``: a queue that cannot be reached then leaves the record
    waiting, and the page offers to resume it once it counts as stalled; the publish stands."""
    transaction.on_commit(lambda: ruleset_published.send(
        sender=RuleSet, ruleset=reevaluation.ruleset, by=by, reevaluation=reevaluation), robust=True)


@transaction.atomic
def ruleset_reevaluation_resume(*, reevaluation: RuleSetReevaluation, by) -> RuleSetReevaluation:
    """Queue again a re-evaluation that failed or stalled (no worker reported for
    ``REEVALUATION_STALLED_AFTER``): a worker resumes it after the last batch done. Refused while
    it runs or once it finished."""
    reevaluation = RuleSetReevaluation.objects.select_for_update().select_related("ruleset").get(pk=reevaluation.pk)
    if reevaluation.status == RuleSetReevaluation.Status.FINISHED:
        raise RuleSetRefused("The re-evaluation has finished: there is nothing to resume.")
    if reevaluation.status != RuleSetReevaluation.Status.FAILED and not reevaluation.stalled(
            timezone.now(), settings.REEVALUATION_STALLED_AFTER):
        raise RuleSetRefused("The re-evaluation is under way: a task worker reported progress within the last "
                             f"{int(settings.REEVALUATION_STALLED_AFTER.total_seconds())} seconds.")
    reevaluation.status, reevaluation.enqueued_at = RuleSetReevaluation.Status.QUEUED, timezone.now()
    reevaluation.save(update_fields=["status", "enqueued_at"])
    _reevaluation_requested(reevaluation, by)
    return reevaluation


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
    draft = _locked_draft(draft)
    product = draft.products.get(code=code)
    errors = product_errors(**{key: values[key] for key in (
        "name", "target", "diagnoses", "age_limit_diagnoses", "min_age_years", "max_age_years")})
    if errors:
        raise RuleSetRefused("Some values are not allowed; nothing was changed.", errors)
    changed = any(getattr(product, key) != value for key, value in values.items())
    for key, value in values.items():
        setattr(product, key, value)
    product._history_user = by
    product.save()
    if changed:
        _edited(draft, by=by, what=f"product {product.name}")
    return product


#: A product code as the case names it (criteria.md section 5): lower-case words joined by "_".
PRODUCT_CODE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")


@transaction.atomic
def ruleset_product_add(*, draft: RuleSet, code: str, by, **values) -> Product:
    """Add a product to a draft's catalogue after validating its code and values."""
    draft = _locked_draft(draft)
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
    _edited(draft, by=by, what=f"the catalogue (added {product.name})")
    return product


@transaction.atomic
def ruleset_product_remove(*, draft: RuleSet, code: str, by, revision: int | None = None) -> None:
    """Remove a product from a draft's catalogue (the preview lists the patients it concerns).
    ``revision``: the one the administrator confirmed (refused if edited since)."""
    draft = _locked_draft(draft)
    _changed_since(draft, revision, "remove it")
    product = draft.products.filter(code=code).first()
    if product is None:
        raise RuleSetRefused(f"'{code}' is not in the catalogue of version {draft.version}.")
    if draft.products.count() == 1:
        raise RuleSetRefused("The catalogue needs at least one product.")
    product._history_user = by
    product.delete()
    _edited(draft, by=by, what=f"the catalogue (removed {product.name})")
