"""Rule sets, reads: a version and its values as plain data for the engine, engines of published
versions (built once per process), and the differences between two versions."""

from __future__ import annotations

from dataclasses import dataclass

from ..common.display import diagnoses_text
from ..rules import THRESHOLDS_BY_KEY, Engine, IndicationEntry, Pathway, ProductSpec, RuleSetData, plain
from .models import Product, RuleSet, RuleSetEvent, Threshold


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
    """Every threshold and product of ``ruleset`` as plain values (two queries)."""
    thresholds = dict(ruleset.thresholds.values_list("key", "value"))
    # Until the products store their indication entries, they are read as criteria-v2 5.2 migrates
    # them: one pathway per diagnosis with the rule set's minimum prior lines for it.
    minimums = {key.removeprefix("min_prior_lines_"): int(thresholds.pop(key))
                for key in list(thresholds) if key.startswith("min_prior_lines_")}
    products = {
        product.code: ProductSpec(
            code=product.code,
            name=product.name,
            target=product.target,
            accepts_cryopreserved=product.accepts_cryopreserved,
            investigational=product.investigational,
            indications=tuple(
                IndicationEntry(
                    diagnosis=diagnosis,
                    min_age_years=product.min_age_years if diagnosis in product.age_limit_diagnoses else None,
                    max_age_years=product.max_age_years if diagnosis in product.age_limit_diagnoses else None,
                    pathways=(Pathway(min_prior_lines=minimums.get(diagnosis)),))
                for diagnosis in sorted(product.diagnoses)),
        )
        for product in ruleset.products.all()
    }
    return RuleSetData(name=ruleset.name, version=ruleset.version, thresholds=thresholds, products=products)


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


def engine_cache_clear() -> None:
    """Forget the engines built so far. A published version never changes, so a running process
    never needs this; a test does: its rolled-back database lets the next test publish different
    values under the same (primary key, version)."""
    _ENGINES.clear()


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
        RuleSetEvent.Action.NAMED, RuleSetEvent.Action.NOTED]).values_list("by_id", flat=True))
    ids.discard(None)
    return ids


def ruleset_events(ruleset: RuleSet) -> list[RuleSetEvent]:
    """What happened to ``ruleset`` beyond its values, oldest first: naming, approvals, withdrawals, publication."""
    return list(ruleset.events.select_related("by"))


def product_names() -> dict[str, str]:
    """Every product code any rule-set version has named, with its name in the latest version that
    has it (one query): for pages that show a recorded product outside one checklist's version."""
    return dict(Product.objects.order_by("ruleset__version").values_list("code", "name"))


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
            name = (new.products.get(code) or old.products[code]).name
            changes.append(Difference(f"product:{code}", f"Product {name}", "",
                                      _product_text(old.products.get(code)), _product_text(new.products.get(code))))
    return changes


def _product_text(product) -> str:
    if product is None:
        return "absent"
    return (f"{product.name}, {product.target}, {diagnoses_text(product.diagnoses)}"
            f"{', accepts cryopreserved' if product.accepts_cryopreserved else ''}"
            f"{', investigational' if product.investigational else ''}")
