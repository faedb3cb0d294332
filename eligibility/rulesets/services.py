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
from dataclasses import replace
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from ..common.people import display_name
from ..rules import (
    CATALOGUE_BY_CODE,
    OPTIONAL_GROUPS,
    PRESETS,
    THRESHOLDS,
    THRESHOLDS_BY_KEY,
    RuleSetData,
    RuleSetFile,
    draft_from_preset,
    in_catalogue_order,
    indication_as_dict,
    ruleset_errors,
)
from .models import (
    DIAGNOSIS_CHOICES,
    DRUG_CLASS_CHOICES,
    FIRST_LINE_RESPONSE_CHOICES,
    PATHWAY_DISEASE_STATUS_CHOICES,
    RETIRED_THRESHOLDS,
    Product,
    RuleSet,
    RuleSetEvent,
    RuleSetReevaluation,
    Threshold,
)
from .selectors import ruleset_data, ruleset_editor_ids, ruleset_get
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



def ruleset_validation_errors(data: RuleSetData, *, publishable: bool) -> dict[str, list[str]]:
    """Why ``data`` cannot be saved as a draft (``publishable`` false) or previewed and published
    (true), by the field concerned (a threshold key, ``enabled_rules``, or
    ``products.<code>.indications[i]...``); empty when it can (criteria-v2 2.2, 2.3, 5.4). The
    engine decides (``rules.ruleset_errors``): the command line and the pages refuse alike."""
    return ruleset_errors(data, publishable=publishable)


def ruleset_publishable_or_refused(*, draft: RuleSet, what: str) -> None:
    """Refuse previewing or publishing ``draft`` while it is not publishable, naming each problem
    (read as stored now: the caller's copy may predate an edit)."""
    errors = ruleset_validation_errors(ruleset_data(RuleSet.objects.get(pk=draft.pk)), publishable=True)
    if errors:
        raise RuleSetRefused(f"Draft version {draft.version} cannot be {what} yet: "
                             + "; ".join(f"{field_label(field)} {'; '.join(problems)}"
                                         for field, problems in errors.items()) + ".", errors)


def field_label(field: str) -> str:
    """The words for a field of :func:`ruleset_validation_errors` (a threshold's label, ...)."""
    if field in THRESHOLDS_BY_KEY:
        return f"'{THRESHOLDS_BY_KEY[field].label}'"
    if field == "enabled_rules":
        return "The rules:"
    if field.startswith("group:"):
        return "Optional group:"
    return f"Product data ({field}):"


_KNOWN = {
    "diagnosis": {code for code, _ in DIAGNOSIS_CHOICES},
    "required_drug_classes": {code for code, _ in DRUG_CLASS_CHOICES},
    "first_line_response_in": {code for code, _ in FIRST_LINE_RESPONSE_CHOICES},
    "disease_status_in": {code for code, _ in PATHWAY_DISEASE_STATUS_CHOICES},
}
AGE_RANGE = (Decimal(0), Decimal(120))


def indication_errors(entries: list[dict]) -> dict[str, list[str]]:
    """Why a product's indication entries (``indication_as_dict`` form) are not allowed, by path
    (``indications[0].pathways[1].label``): criteria-v2 5.4, and the ranges of 5.1."""
    errors: dict[str, list[str]] = {}

    def refuse(path, problem):
        errors.setdefault(path, []).append(problem)

    if not entries:
        refuse("indications", "add at least one indication (a diagnosis the product is indicated for)")
    seen = set()
    for i, entry in enumerate(entries):
        at = f"indications[{i}]"
        diagnosis = entry.get("diagnosis")
        if diagnosis not in _KNOWN["diagnosis"]:
            refuse(f"{at}.diagnosis", f"unknown diagnosis: {diagnosis or 'none chosen'}")
        elif diagnosis in seen:
            refuse(f"{at}.diagnosis", "the product has an indication for this diagnosis already: one per diagnosis")
        seen.add(diagnosis)
        ages = {}
        for name in ("min_age_years", "max_age_years"):
            value = entry.get(name)
            if value is not None:
                ages[name] = Decimal(str(value))
                if not AGE_RANGE[0] <= ages[name] <= AGE_RANGE[1]:
                    refuse(f"{at}.{name}", "must be between 0 and 120 years")
        if len(ages) == 2 and ages["min_age_years"] > ages["max_age_years"]:
            refuse(f"{at}.min_age_years", "must be at most the maximum age")
        pathways = entry.get("pathways") or []
        if not pathways:
            refuse(f"{at}.pathways", "add at least one pathway (how the indication is met)")
        for j, pathway in enumerate(pathways):
            where = f"{at}.pathways[{j}]"
            if len(pathways) > 1 and not (pathway.get("label") or "").strip():
                refuse(f"{where}.label", "name each pathway when the indication has more than one")
            for name, low in (("min_prior_lines", 0), ("min_relapse_number", 1)):
                value = pathway.get(name)
                if value is not None and (not isinstance(value, int) or not low <= value <= 20):
                    refuse(f"{where}.{name}", f"must be a whole number between {low} and 20")
            for name in ("required_drug_classes", "first_line_response_in", "disease_status_in"):
                value = pathway.get(name)
                if value is None:
                    continue
                if not value and name != "required_drug_classes":
                    refuse(f"{where}.{name}", "choose at least one, or none to leave it unread")
                if unknown := sorted(set(value) - _KNOWN[name]):
                    refuse(f"{where}.{name}", f"unknown: {', '.join(unknown)}")
    return errors


def _draft_refused_while_one_exists() -> None:
    existing = RuleSet.objects.filter(status=RuleSet.Status.DRAFT).first()
    if existing is not None:
        raise RuleSetRefused(f"Draft version {existing.version} exists already: edit, publish or discard it first.")


def _active_locked() -> RuleSet:
    """The active version's row, locked for the rest of the transaction, once no draft exists.

    Every way of making a draft locks this row first: of two administrators at once, the second
    waits for the first to commit and is then refused (one draft at a time; the database enforces
    it too)."""
    active = RuleSet.objects.select_for_update().get(pk=ruleset_get().pk)
    _draft_refused_while_one_exists()
    return active


def _next_version() -> int:
    return (RuleSet.objects.aggregate(Max("version"))["version__max"] or 0) + 1


def _name_taken_or_refused(name: str) -> None:
    other = RuleSet.objects.filter(name__iexact=name).order_by("version").first()
    if other is not None:
        raise RuleSetRefused(f"Version {other.version} is named '{other.name}' already, and a version's name is "
                             "its own: rename that version (if it is a draft) or discard it first.",
                             {"name": [f"version {other.version} has this name already"]})


def _draft_copy(active: RuleSet, *, by, name: str) -> RuleSet:
    """A draft copying every rule, threshold and product of ``active`` (locked by the caller)."""
    draft = RuleSet.objects.create(name=name, version=_next_version(), status=RuleSet.Status.DRAFT,
                                   based_on=active, created_by=by, enabled_rules=active.enabled_rules)
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
def ruleset_draft_create(*, by, name: str | None = None) -> RuleSet:
    """A draft copying every threshold and product of the active version; refused while a draft
    exists (one at a time: the database enforces it too). Two administrators at once: the active
    version's row is locked first, so the second waits and is refused."""
    active = _active_locked()
    # A name of its own to start from (not a copy of the active version's): the administrator gives
    # it a better one before publishing.
    return _draft_copy(active, by=by, name=name or f"Version {_next_version()} of {timezone.localdate().isoformat()}")


@transaction.atomic
def ruleset_draft_from_preset(*, code: str, by) -> RuleSet:
    """A draft made from the preset ``code`` (criteria-v2 2.4): a copy of the active version, as
    :func:`ruleset_draft_create` makes it (under the same lock, refused while a draft exists), with
    the preset applied on top as edits recorded in the history (who, when, "Created from the
    preset ..."): its rules enabled and disabled, its thresholds and groups (a value to be entered
    is held without one), its products' indication entries. Named "<preset title> (from version
    <n>)", refused when another version has that name; its change note lists every change with
    its citation."""
    preset = PRESETS.get(code)
    if preset is None:
        raise RuleSetRefused(f"'{code}' is not a preset; the presets are {', '.join(PRESETS)}.")
    active = _active_locked()
    made = draft_from_preset(ruleset_data(active), code)
    _name_taken_or_refused(made.ruleset.name)
    draft = _draft_copy(active, by=by, name=made.ruleset.name)
    reason = f'Created from the preset "{preset.title}"'
    copied = {threshold.key: threshold for threshold in draft.thresholds.all()}
    for key, threshold in copied.items():
        if key not in made.ruleset.thresholds:  # no preset removes one; kept general all the same
            threshold._history_user, threshold._change_reason = by, reason
            threshold.delete()
        elif threshold.value != made.ruleset.thresholds[key]:
            threshold.value = made.ruleset.thresholds[key]
            threshold._history_user, threshold._change_reason = by, reason
            threshold.save(update_fields=["value"])
    bulk_create_with_history([Threshold(ruleset=draft, key=key, value=value)
                              for key, value in made.ruleset.thresholds.items() if key not in copied],
                             Threshold, default_user=by, default_change_reason=reason)
    for product in draft.products.all():
        indications = _ordered([indication_as_dict(entry) for entry in made.ruleset.products[product.code].indications])
        if indications != product.indications:
            product.indications = indications
            product._history_user, product._change_reason = by, reason
            product.save(update_fields=["indications"])
    draft.enabled_rules = in_catalogue_order(made.ruleset.enabled_rules)
    draft.change_note = made.change_note
    draft.save(update_fields=["enabled_rules", "change_note"])
    _event(draft, RuleSetEvent.Action.PRESET, by=by,
           new=f'{reason} on top of version {active.version}'
               + (f"; to be entered: {', '.join(THRESHOLDS_BY_KEY[key].label for key in made.to_be_entered)}"
                  if made.to_be_entered else ""))
    return draft


def _storage_errors(ruleset: RuleSetData) -> list[dict[str, str]]:
    """What the tables cannot hold exactly although a rule-set file allows it: a threshold with
    more decimals or digits than its column, a product's name or target longer than its column."""
    errors = []
    column = Threshold._meta.get_field("value")
    for key, value in ruleset.thresholds.items():
        if value is None:
            continue
        sign, digits, exponent = value.normalize().as_tuple()
        places = max(0, -exponent)
        if places > column.decimal_places or len(digits) - places > column.max_digits - column.decimal_places:
            errors.append({"field": f"thresholds.{key}", "message": f"at most {column.decimal_places} decimals and "
                           f"{column.max_digits - column.decimal_places} digits before the point"})
    for code, product in ruleset.products.items():
        for key, value in (("name", product.name), ("target", product.target)):
            limit = Product._meta.get_field(key).max_length
            if len(value) > limit:
                errors.append({"field": f"products.{code}.{key}", "message": f"at most {limit} characters"})
    return errors


def ruleset_import_errors(*, name: str | None, data: RuleSetData | None) -> list[dict[str, str]]:
    """Why a rule-set file read back (its ``name`` and ``data``; ``None`` where the file could not
    be read that far) cannot become a draft besides the file's own errors: a draft exists, another
    version has the name, or the tables cannot hold a value. As ``{"field", "message"}`` objects."""
    problems = []
    existing = RuleSet.objects.filter(status=RuleSet.Status.DRAFT).first()
    if existing is not None:
        problems.append({"field": "draft", "message": f"draft version {existing.version} exists already: edit, "
                                                      "publish or discard it before importing (one draft at a time)"})
    name = (name or "").strip()
    other = RuleSet.objects.filter(name__iexact=name).order_by("version").first() if name else None
    if other is not None:
        problems.append({"field": "name", "message": f"version {other.version} is named '{other.name}' already: "
                                                     "give the file a name of its own"})
    elif len(name) > NAME_MAX:
        problems.append({"field": "name", "message": f"at most {NAME_MAX} characters (it has {len(name)})"})
    if data is not None:
        problems += _storage_errors(data)
    return problems


@transaction.atomic
def ruleset_import(*, ruleset_file: RuleSetFile, file_name: str, by=None) -> RuleSet:
    """A new draft from a rule-set file read back (criteria-v2 2.6), with the file's name, the next
    version number and the change note "Imported from <file name>; based on <name> version <n>"
    (or "based on nothing"); linked to no stored version (the file's base is only named). Refused
    for the reasons of :func:`ruleset_import_errors` (in ``RuleSetRefused.errors["file"]``), checked
    under the lock every new draft takes. It never publishes."""
    RuleSet.objects.select_for_update().get(pk=ruleset_get().pk)
    problems = ruleset_import_errors(name=ruleset_file.name, data=ruleset_file.ruleset)
    if problems:
        raise RuleSetRefused("The rule-set file was not imported.", {"file": problems})
    name = ruleset_file.name.strip()
    based_on = ("based on nothing" if ruleset_file.based_on is None
                else f"based on {ruleset_file.based_on[0]} version {ruleset_file.based_on[1]}")
    data = ruleset_file.ruleset
    draft = RuleSet.objects.create(name=name, version=_next_version(), status=RuleSet.Status.DRAFT, created_by=by,
                                   enabled_rules=in_catalogue_order(data.enabled_rules),
                                   change_note=f"Imported from {file_name}; {based_on}")
    reason = f"Imported from {file_name}"
    bulk_create_with_history([Threshold(ruleset=draft, key=key, value=value)
                              for key, value in data.thresholds.items()],
                             Threshold, default_user=by, default_change_reason=reason)
    bulk_create_with_history([Product(ruleset=draft, code=code, name=product.name, target=product.target,
                                      accepts_cryopreserved=product.accepts_cryopreserved,
                                      investigational=product.investigational,
                                      indications=_ordered([indication_as_dict(entry)
                                                            for entry in product.indications]))
                              for code, product in data.products.items()],
                             Product, default_user=by, default_change_reason=reason)
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


def _draft_errors(draft: RuleSet, *, thresholds=None, enabled_rules=None) -> dict[str, list[str]]:
    """What saving ``draft`` with these thresholds or rules would leave wrong (draft rules: values
    may be to be entered), besides its products (validated when each is saved)."""
    data = ruleset_data(draft)
    data = replace(data, products={},
                   thresholds=data.thresholds if thresholds is None else thresholds,
                   enabled_rules=data.enabled_rules if enabled_rules is None else frozenset(enabled_rules))
    return ruleset_validation_errors(data, publishable=False)


@transaction.atomic
def ruleset_thresholds_update(*, draft: RuleSet, values: dict[str, Decimal | None], by) -> None:
    """Change thresholds the draft holds (``None``: to be entered, allowed in a draft); every value,
    ordered pair and optional group is validated first."""
    draft = _locked_draft(draft)
    current = dict(draft.thresholds.values_list("key", "value"))
    unknown = set(values) - set(current)
    if unknown:
        raise RuleSetRefused("Unknown thresholds.", {key: ["is not a known threshold" if key not in THRESHOLDS_BY_KEY
                                                           else "is not held by this draft: enable its rule or add "
                                                           "its optional group first"] for key in unknown})
    errors = _draft_errors(draft, thresholds={**current, **values})
    if errors:
        raise RuleSetRefused("Some values are not allowed; nothing was changed.", errors)
    changed = list(draft.thresholds.filter(key__in=[key for key, value in values.items() if value != current[key]]))
    for threshold in changed:
        threshold.value = values[threshold.key]
        threshold._history_user = by
        threshold.save(update_fields=["value"])
    if changed:
        _edited(draft, by=by, what=", ".join(THRESHOLDS_BY_KEY[threshold.key].label for threshold in changed))


def _thresholds_add(draft: RuleSet, keys, *, by, reason: str) -> list[str]:
    """Hold ``keys`` the draft does not hold yet, at their catalogue defaults (a default of none:
    to be entered); keys held already keep their values (an administrator's, or re-enabled ones)."""
    held = set(draft.thresholds.values_list("key", flat=True))
    added = [key for key in keys if key not in held]
    bulk_create_with_history([Threshold(ruleset=draft, key=key, value=THRESHOLDS_BY_KEY[key].default)
                              for key in added], Threshold, default_user=by, default_change_reason=reason)
    return added


@transaction.atomic
def ruleset_rule_enable(*, draft: RuleSet, code: str, enabled: bool, by) -> RuleSet:
    """Enable or disable the rule ``code`` in a draft (criteria-v2 2.1-2.3). Enabling adds the
    thresholds the rule requires at their catalogue defaults (a default of none is added to be
    entered); disabling keeps them (not read while it is disabled; re-enabling finds them as left)."""
    draft = _locked_draft(draft)
    if code not in CATALOGUE_BY_CODE:
        raise RuleSetRefused(f"'{code}' is not a rule of the catalogue.")
    title = CATALOGUE_BY_CODE[code].title
    rules = set(draft.enabled_rules)
    if (code in rules) == enabled:
        return draft
    rules = rules | {code} if enabled else rules - {code}
    ordered = in_catalogue_order(rules)
    added = []
    if enabled:
        added = _thresholds_add(draft, [spec.key for spec in THRESHOLDS if code in spec.rules and spec.group is None
                                        and spec.key not in RETIRED_THRESHOLDS],
                                by=by, reason=f"Rule '{title}' enabled")
    # Conditional on the rules read under the lock (the row is locked: a guard, not a retry).
    if not RuleSet.objects.filter(pk=draft.pk, status=RuleSet.Status.DRAFT).update(enabled_rules=ordered):
        raise RuleSetRefused(f"Draft version {draft.version} changed meanwhile: reload the page.")
    draft.enabled_rules = ordered
    detail = title + (f" (added: {', '.join(THRESHOLDS_BY_KEY[key].label for key in added)})" if added else "")
    _event(draft, RuleSetEvent.Action.ENABLED if enabled else RuleSetEvent.Action.DISABLED, by=by, new=detail)
    _edited(draft, by=by, what=f"{'enabled' if enabled else 'disabled'} the rule '{title}'")
    return draft


@transaction.atomic
def ruleset_group_hold(*, draft: RuleSet, group: str, held: bool, by) -> RuleSet:
    """Add an optional group to a draft (all its thresholds at their defaults, none: to be
    entered) or remove it as a whole (criteria-v2 2.3)."""
    draft = _locked_draft(draft)
    keys = OPTIONAL_GROUPS.get(group)
    if keys is None:
        raise RuleSetRefused(f"'{group}' is not an optional group.")
    current = set(draft.thresholds.values_list("key", flat=True))
    if held:
        if set(keys) <= current:
            return draft
        _thresholds_add(draft, keys, by=by, reason=f"Optional group '{group}' added")
    else:
        rows = list(draft.thresholds.filter(key__in=keys))
        if not rows:
            return draft
        for row in rows:
            row._history_user = by
            row.delete()
    _event(draft, RuleSetEvent.Action.GROUPED if held else RuleSetEvent.Action.UNGROUPED, by=by, new=group)
    _edited(draft, by=by, what=f"{'added' if held else 'removed'} the optional group '{group}'")
    return draft


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
    ruleset_publishable_or_refused(draft=draft, what="published")
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


def product_errors(*, name: str, target: str, indications: list[dict], **_flags) -> dict[str, list[str]]:
    """Why a product's values are not allowed (empty when they are), by field or indication path."""
    errors: dict[str, list[str]] = {}
    if not name.strip():
        errors["name"] = ["is required"]
    if not target.strip():
        errors["target"] = ["is required (e.g. CD19, BCMA, EBV)"]
    for key, value in (("name", name), ("target", target)):
        limit = Product._meta.get_field(key).max_length
        if len(value) > limit:
            errors.setdefault(key, []).append(f"at most {limit} characters")
    errors.update(indication_errors(indications))
    return errors


def _ordered(indications: list[dict]) -> list[dict]:
    """Entries ordered by diagnosis, as they are stored (criteria-v2 2.6)."""
    return sorted(indications, key=lambda entry: entry["diagnosis"])


@transaction.atomic
def ruleset_product_update(*, draft: RuleSet, code: str, by, shown_indications: list[dict] | None = None,
                           **values) -> Product:
    """Change one product of a draft's catalogue after validating its values (criteria-v2 5.4).
    ``shown_indications``: the entries the administrator's page showed; refused when someone
    else changed them since (nobody overwrites an edit they never saw)."""
    draft = _locked_draft(draft)
    product = draft.products.get(code=code)
    if shown_indications is not None and _ordered(shown_indications) != product.indications:
        raise RuleSetRefused(f"The indications of {product.name} were changed by someone else since you opened the "
                             "page: check them (below, as saved now) and make your change again.",
                             {"indications": ["changed by someone else since you opened this page"]})
    errors = product_errors(**values)
    if errors:
        raise RuleSetRefused("Some values are not allowed; nothing was changed.", errors)
    values["indications"] = _ordered(values["indications"])
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
    errors = product_errors(**values)
    values["indications"] = _ordered(values["indications"]) if not errors else values["indications"]
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
