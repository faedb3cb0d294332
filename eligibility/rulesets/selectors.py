"""Rule sets, reads: a version and its values as plain data for the engine, engines of published
versions (built once per process), and the differences between two versions."""

from __future__ import annotations

from dataclasses import dataclass

from ..common import compiled
from ..common.display import diagnoses_text
from ..rules import (
    CATALOGUE,
    CATALOGUE_BY_CODE,
    OPTIONAL_GROUPS,
    PRESETS,
    THRESHOLDS_BY_KEY,
    Engine,
    ProductSpec,
    RuleSetData,
    draft_from_preset,
    entry_text,
    indication_from_dict,
    measure,
    ruleset_to_file,
)
from .models import (
    DIAGNOSIS_CHOICES,
    DRUG_CLASS_CHOICES,
    FIRST_LINE_RESPONSE_CHOICES,
    Product,
    RuleSet,
    RuleSetEvent,
    Threshold,
)


class NoActiveRuleSet(LookupError):
    """The database has no active rule set (not migrated, or emptied by hand)."""


def ruleset_get(*, version: int | None = None) -> RuleSet:
    """The rule set of ``version``, or the active one."""
    try:
        if version is None:
            return RuleSet.objects.get(status=RuleSet.Status.ACTIVE)
        return RuleSet.objects.get(version=version)
    except RuleSet.DoesNotExist:
        what = "no active rule set" if version is None else f"no rule set version {version}"
        raise NoActiveRuleSet(f"There is {what}: run 'python manage.py migrate'.") from None


def ruleset_data(ruleset: RuleSet) -> RuleSetData:
    """Every enabled rule, held threshold (``None``: to be entered) and product of ``ruleset`` as
    plain values (two queries)."""
    thresholds = dict(ruleset.thresholds.values_list("key", "value"))
    products = {
        product.code: ProductSpec(
            code=product.code,
            name=product.name,
            target=product.target,
            accepts_cryopreserved=product.accepts_cryopreserved,
            investigational=product.investigational,
            indications=tuple(indication_from_dict(entry) for entry in product.indications),
        )
        for product in ruleset.products.all()
    }
    return RuleSetData(name=ruleset.name, version=ruleset.version, thresholds=thresholds, products=products,
                       enabled_rules=frozenset(ruleset.enabled_rules))


def engine_get(*, version: int | None = None) -> Engine:
    """An engine for the active rule set (or ``version``), its values loaded once."""
    return engine_for(ruleset_get(version=version))


#: Engines of active or retired rule sets by (primary key, version): those versions never change.
_ENGINES: dict[tuple[int, int], Engine] = {}


def engine_for(ruleset: RuleSet) -> Engine:
    """The engine of ``ruleset``, built once per process for versions that can no longer change."""
    if ruleset.status == RuleSet.Status.DRAFT:
        return Engine(ruleset_data(ruleset))
    key = (ruleset.pk, ruleset.version)
    engine = _ENGINES.get(key)
    if engine is None:
        engine = _ENGINES[key] = Engine(ruleset_data(ruleset))
    return engine


#: The same engines by the rule set's primary key alone (a key once published is that version's for
#: good: rule sets are never deleted once published, and keys are not reused).
_ENGINES_BY_ID: dict[int, Engine] = {}


def engines_by_id(ids) -> dict[int, Engine]:
    """The engines of the rule sets ``ids`` (``None`` left out): no query once each published
    version's engine is built (one for those not built yet and for drafts, read again each time)."""
    wanted = {pk for pk in ids if pk is not None}
    found = {pk: _ENGINES_BY_ID[pk] for pk in wanted if pk in _ENGINES_BY_ID}
    if len(found) < len(wanted):
        for ruleset in RuleSet.objects.filter(pk__in=wanted - found.keys()):
            found[ruleset.pk] = engine_for(ruleset)
            if ruleset.status != RuleSet.Status.DRAFT:
                _ENGINES_BY_ID[ruleset.pk] = found[ruleset.pk]
    return found


def engine_cache_clear() -> None:
    """Forget the engines built so far. A published version never changes, so a running process
    never needs this; a test does: its rolled-back database lets the next test publish different
    values under the same (primary key, version)."""
    _ENGINES.clear()
    _ENGINES_BY_ID.clear()


def active_engine() -> tuple[RuleSet, Engine]:
    """The active rule set and its engine (one query once the engine is built)."""
    ruleset = ruleset_get()
    return ruleset, engine_for(ruleset)


def ruleset_editor_ids(ruleset: RuleSet) -> set[int]:
    """Who made or edited ``ruleset``: its author and whoever changed one of its thresholds,
    products, its name or its change note (none of them can be its second pair of eyes)."""
    ids = {ruleset.created_by_id}
    for history in (Threshold.history, Product.history):
        ids.update(history.filter(ruleset_id=ruleset.pk).values_list("history_user_id", flat=True).distinct())
    ids.update(RuleSetEvent.objects.filter(ruleset=ruleset, action__in=[
        RuleSetEvent.Action.NAMED, RuleSetEvent.Action.NOTED, RuleSetEvent.Action.ENABLED,
        RuleSetEvent.Action.DISABLED, RuleSetEvent.Action.GROUPED, RuleSetEvent.Action.UNGROUPED,
    ]).values_list("by_id", flat=True))
    ids.discard(None)
    return ids


def ruleset_events(ruleset: RuleSet) -> list[RuleSetEvent]:
    """What happened to ``ruleset`` beyond its values, oldest first: naming, approvals, withdrawals, publication."""
    return list(ruleset.events.select_related("by"))


def product_names() -> dict[str, str]:
    """Every product code any rule-set version has named, with its name in the latest version that
    has it (one query): for pages that show a recorded product outside one checklist's version."""
    _, found = compiled.rows("product names",
                             lambda: Product.objects.order_by("ruleset__version").values("code", "name"))
    return dict(found)


@dataclass(frozen=True)
class Difference:
    """One difference between two versions, in words (``before`` and ``after`` as screens show them)."""

    key: str
    label: str
    before: str
    after: str


NOT_HELD = "not held"
TO_BE_ENTERED = "to be entered"


def threshold_text(key: str, value) -> str:
    """A threshold's value with its unit, or that it is to be entered."""
    return TO_BE_ENTERED if value is None else measure(value, THRESHOLDS_BY_KEY[key].unit)


def ruleset_differences(before: RuleSet, after: RuleSet) -> list[Difference]:
    """What ``after`` changes from ``before``, in words: rules enabled or disabled, optional groups
    added or removed, thresholds held, no longer held, changed or to be entered, and products and
    their indication entries (criteria-v2 2.2)."""
    return data_differences(ruleset_data(before), ruleset_data(after))


def data_differences(old: RuleSetData, new: RuleSetData) -> list[Difference]:
    """:func:`ruleset_differences` of two rule sets as plain data (a stored version and the draft a
    preset would make of it, say)."""
    changes = []
    for entry in CATALOGUE:
        was, now = entry.code in old.enabled_rules, entry.code in new.enabled_rules
        if was != now:
            changes.append(Difference(f"rule:{entry.code}", f"Rule {entry.number}: {entry.title}",
                                      "enabled" if was else "disabled", "enabled" if now else "disabled"))
    grouped = set()
    for group, keys in OPTIONAL_GROUPS.items():
        was, now = all(key in old.thresholds for key in keys), all(key in new.thresholds for key in keys)
        if was != now:
            grouped.update(keys)
            changes.append(Difference(f"group:{group}", f"Optional group '{group}' "
                                      f"({CATALOGUE_BY_CODE[THRESHOLDS_BY_KEY[keys[0]].rule].title})",
                                      "held" if was else NOT_HELD, "held" if now else NOT_HELD))
    for key, spec in THRESHOLDS_BY_KEY.items():
        if key not in old.thresholds and key not in new.thresholds:
            continue
        if key in grouped and (key not in old.thresholds or key not in new.thresholds) and (
                old.thresholds.get(key) is None and new.thresholds.get(key) is None):
            continue  # said by the group's line: a value to be entered on one side only
        if key in old.thresholds and key in new.thresholds and old.thresholds[key] == new.thresholds[key]:
            continue
        changes.append(Difference(key, spec.label,
                                  threshold_text(key, old.thresholds[key]) if key in old.thresholds else NOT_HELD,
                                  threshold_text(key, new.thresholds[key]) if key in new.thresholds else NOT_HELD))
    for code in sorted(old.products.keys() | new.products.keys()):
        was, now = old.products.get(code), new.products.get(code)
        if was == now:
            continue
        name = (now or was).name
        if was is None or now is None or _product_fields(was) != _product_fields(now):
            changes.append(Difference(f"product:{code}", f"Product {name}", _product_text(was), _product_text(now)))
        if was is None or now is None:
            continue
        old_entries = {entry.diagnosis: entry for entry in was.indications}
        new_entries = {entry.diagnosis: entry for entry in now.indications}
        for diagnosis in sorted(old_entries.keys() | new_entries.keys()):
            if old_entries.get(diagnosis) != new_entries.get(diagnosis):
                changes.append(Difference(f"indication:{code}:{diagnosis}",
                                          f"{name}: indication for {DIAGNOSIS_WORDS.get(diagnosis, diagnosis)}",
                                          indication_text(old_entries.get(diagnosis)),
                                          indication_text(new_entries.get(diagnosis))))
    return changes


@dataclass(frozen=True)
class PresetSummary:
    """What a preset would change on top of a version, for the page that offers it."""

    code: str
    title: str
    differences: list[Difference]
    #: The labels of the thresholds the draft would hold without a value.
    to_be_entered: list[str]
    change_note: str


def preset_summaries(base: RuleSet) -> list[PresetSummary]:
    """Every preset, with what a draft made from it on top of ``base`` would change, in words, and
    the values it would leave to be entered (criteria-v2 2.4)."""
    data = ruleset_data(base)
    summaries = []
    for code, preset in PRESETS.items():
        made = draft_from_preset(data, code)
        summaries.append(PresetSummary(code=code, title=preset.title, differences=data_differences(data, made.ruleset),
                                       to_be_entered=[THRESHOLDS_BY_KEY[key].label for key in made.to_be_entered],
                                       change_note=made.change_note))
    return summaries


def ruleset_file_bytes(ruleset: RuleSet) -> bytes:
    """``ruleset`` as a rule-set file (criteria-v2 2.6), naming the version it was based on (if any)."""
    based_on = None if ruleset.based_on is None else (ruleset.based_on.name, ruleset.based_on.version)
    return ruleset_to_file(ruleset_data(ruleset), based_on)


def _product_fields(product) -> tuple:
    return (product.name, product.target, product.accepts_cryopreserved, product.investigational)


def _product_text(product) -> str:
    if product is None:
        return "absent"
    return (f"{product.name}, {product.target}, {diagnoses_text([entry.diagnosis for entry in product.indications])}"
            f"{', accepts cryopreserved' if product.accepts_cryopreserved else ''}"
            f"{', investigational' if product.investigational else ''}")


DIAGNOSIS_WORDS = dict(DIAGNOSIS_CHOICES)
_CHOICE_WORDS = {**dict(DRUG_CLASS_CHOICES), **dict(FIRST_LINE_RESPONSE_CHOICES)}


def indication_text(entry) -> str:
    """An indication entry in words (its age limits, its pathways, any one of which suffices, and
    its citation), as the engine words it for presets and change notes; "none" for no entry."""
    return "none" if entry is None else entry_text(entry)
