"""What a rule set may hold (criteria-v2 sections 2.2, 2.3 and 5.4), and the edits that keep it so.

``ruleset_errors`` names every problem of a rule set in one pass: by threshold key, by the JSON path
of a product field (``products.<code>.indications[0].pathways[1].label``), or ``enabled_rules``.
A draft may hold thresholds "to be entered" (``None``); a publishable rule set may not.

The edits (``rules_enable``, ``rules_disable``, ``group_add``, ``group_remove``) return a new
:class:`RuleSetData`: enabling a rule or adding an optional group adds its thresholds at their
catalogue defaults (``None`` where the default is "none"); disabling keeps them (2.3).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from decimal import Decimal

from .catalogue import CATALOGUE_BY_CODE
from .thresholds import (
    DEFAULT_PRODUCTS,
    OPTIONAL_GROUPS,
    RETIRED_THRESHOLDS,
    THRESHOLDS,
    THRESHOLDS_BY_KEY,
    ProductSpec,
    RuleSetData,
    ordered_pair_errors,
)
from .vocabulary import DIAGNOSIS, DRUG_CLASS, FIRST_LINE_RESPONSE

#: The product codes of criteria.md 5: a rule set's catalogue holds some or all of them, no other.
PRODUCT_CODES: frozenset[str] = frozenset(product.code for product in DEFAULT_PRODUCTS)
TARGETS = ("CD19", "BCMA", "EBV")
#: Diagnosis codes an indication entry may name (every diagnosis of the case format but "other").
ENTRY_DIAGNOSES = tuple(code for code in DIAGNOSIS if code != "other")
PATHWAY_DISEASE_STATUSES = ("relapsed", "refractory")
MAX_PRIOR_LINES = 20
MAX_AGE_YEARS = Decimal(120)
#: Errors are named in the order of the threshold table (unknown keys after it, sorted).
_ORDER = {spec.key: index for index, spec in enumerate(THRESHOLDS)}
TO_BE_ENTERED = "is to be entered: give it a value before the rule set is previewed or published"


def _codes_text(codes: Iterable[str]) -> str:
    return ", ".join(sorted(codes))


def _whole(value, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def product_errors(product: ProductSpec) -> dict[str, list[str]]:
    """Every problem of one product's data (criteria-v2 5.4), keyed by its path inside the product
    (``indications[0].pathways[1].label``); empty when the product is valid."""
    errors: dict[str, list[str]] = {}

    def add(path: str, message: str) -> None:
        errors.setdefault(path, []).append(message)

    if not product.name or not product.name.strip():
        add("name", "is required")
    if product.target not in TARGETS:
        add("target", f"must be one of {', '.join(TARGETS)}")
    seen: dict[str, int] = {}
    for index, entry in enumerate(product.indications):
        at = f"indications[{index}]"
        if entry.diagnosis not in ENTRY_DIAGNOSES:
            add(f"{at}.diagnosis", f"is not a known diagnosis ({entry.diagnosis})")
        elif entry.diagnosis in seen:
            add(f"{at}.diagnosis", f"repeats the diagnosis of indications[{seen[entry.diagnosis]}]: one entry per "
                                   "diagnosis")
        else:
            seen[entry.diagnosis] = index
        for name in ("min_age_years", "max_age_years"):
            age = getattr(entry, name)
            if age is not None and (not age.is_finite() or not Decimal(0) <= age <= MAX_AGE_YEARS):
                add(f"{at}.{name}", f"must be between 0 and {MAX_AGE_YEARS} years")
        low, high = entry.min_age_years, entry.max_age_years
        if low is not None and high is not None and low.is_finite() and high.is_finite() and low > high:
            add(f"{at}.min_age_years", "must not be above the maximum age")
        if not entry.pathways:
            add(f"{at}.pathways", "needs at least one pathway")
        for number, pathway in enumerate(entry.pathways):
            way = f"{at}.pathways[{number}]"
            if len(entry.pathways) > 1 and not pathway.label.strip():
                add(f"{way}.label", "is required when the entry has more than one pathway")
            if pathway.min_prior_lines is not None and not _whole(pathway.min_prior_lines, 0, MAX_PRIOR_LINES):
                add(f"{way}.min_prior_lines", f"must be a whole number from 0 to {MAX_PRIOR_LINES}, or null")
            if pathway.min_relapse_number is not None and not _whole(pathway.min_relapse_number, 1, 20):
                add(f"{way}.min_relapse_number", "must be a whole number from 1 to 20, or null")
            if unknown := set(pathway.required_drug_classes) - DRUG_CLASS.keys():
                add(f"{way}.required_drug_classes", f"holds unknown drug classes: {_codes_text(unknown)}")
            for name, allowed in (("first_line_response_in", FIRST_LINE_RESPONSE),
                                  ("disease_status_in", PATHWAY_DISEASE_STATUSES)):
                values = getattr(pathway, name)
                if values is None:
                    continue
                if not values:
                    add(f"{way}.{name}", "is empty: use null when the condition is not set")
                elif unknown := set(values) - set(allowed):
                    add(f"{way}.{name}", f"holds unknown values: {_codes_text(unknown)} (allowed: "
                                         f"{', '.join(allowed)})")
    return errors


def _required_keys(enabled: frozenset[str]) -> dict[str, str]:
    """The required thresholds (not of an optional group) of the enabled rules, with a rule reading each."""
    required = {}
    for spec in THRESHOLDS:
        if spec.group is None:
            reading = [code for code in spec.rules if code in enabled]
            if reading:
                required[spec.key] = reading[0]
    return required


def ruleset_errors(data: RuleSetData, *, publishable: bool) -> dict[str, list[str]]:
    """Every problem of ``data`` (criteria-v2 2.2, 2.3, 5.4) in one pass.

    Keys: a threshold key, ``enabled_rules``, or a product path (``products.<code>.<path inside
    the product>``). With ``publishable`` also every held threshold without a value and a rule set
    enabling no rule (what the impact preview and publishing refuse)."""
    errors: dict[str, list[str]] = {}

    def add(key: str, message: str) -> None:
        errors.setdefault(key, []).append(message)

    if unknown := set(data.enabled_rules) - CATALOGUE_BY_CODE.keys():
        add("enabled_rules", f"holds unknown rule codes: {_codes_text(unknown)}")
    if publishable and not data.enabled_rules:
        add("enabled_rules", "must enable at least one rule")
    held = data.thresholds
    for key, value in sorted(held.items(), key=lambda item: (_ORDER.get(item[0], len(_ORDER)), item[0])):
        spec = THRESHOLDS_BY_KEY.get(key)
        if key in RETIRED_THRESHOLDS:
            add(key, "is retired: minimum prior lines are set in each product's indication entries")
        elif spec is None:
            add(key, "is not a known threshold")
        elif value is None:
            if publishable:
                add(key, TO_BE_ENTERED)
        else:
            for problem in spec.validation_errors(value):
                add(key, problem)
    for key, code in _required_keys(frozenset(data.enabled_rules)).items():
        if key not in held:
            add(key, f"is required while the rule '{CATALOGUE_BY_CODE[code].title}' is enabled")
    for group, keys in OPTIONAL_GROUPS.items():
        missing = [key for key in keys if key not in held]
        if missing and len(missing) < len(keys):
            for key in missing:
                add(key, f"is missing from the optional group '{group}': hold all of {', '.join(keys)} or none "
                         f"(missing: {', '.join(missing)})")
    valued = {key: value for key, value in held.items()
              if key in THRESHOLDS_BY_KEY and value is not None and not THRESHOLDS_BY_KEY[key].validation_errors(value)}
    for key, problems in ordered_pair_errors(valued).items():
        errors.setdefault(key, []).extend(problems)
    for code, product in data.products.items():
        if code not in PRODUCT_CODES:
            add(f"products.{code}", "is not a product of the catalogue")
        if product.code != code:
            add(f"products.{code}", f"holds the data of another product ({product.code})")
        for path, problems in product_errors(product).items():
            errors.setdefault(f"products.{code}.{path}", []).extend(problems)
    return errors


def _known(codes: Iterable[str]) -> frozenset[str]:
    codes = frozenset(codes)
    if unknown := codes - CATALOGUE_BY_CODE.keys():
        raise ValueError(f"Unknown rule codes: {_codes_text(unknown)}")
    return codes


def rules_enable(data: RuleSetData, codes: Iterable[str]) -> RuleSetData:
    """``data`` with ``codes`` enabled; each required threshold they read that is not held is added
    at its catalogue default (``None``, "to be entered", where the default is "none"). Thresholds
    held already keep their values."""
    enabled = data.enabled_rules | _known(codes)
    thresholds = dict(data.thresholds)
    for key in _required_keys(enabled):
        if key not in thresholds:
            thresholds[key] = THRESHOLDS_BY_KEY[key].default
    return replace(data, enabled_rules=enabled, thresholds=thresholds)


def rules_disable(data: RuleSetData, codes: Iterable[str]) -> RuleSetData:
    """``data`` with ``codes`` disabled; their thresholds stay (re-enabling keeps the values)."""
    return replace(data, enabled_rules=data.enabled_rules - _known(codes))


def _group(group: str) -> tuple[str, ...]:
    if group not in OPTIONAL_GROUPS:
        raise ValueError(f"Unknown optional group: {group}")
    return OPTIONAL_GROUPS[group]


def group_add(data: RuleSetData, group: str) -> RuleSetData:
    """``data`` holding optional ``group`` whole: its thresholds not held are added at their defaults
    (``None`` where the default is "none"); those held keep their values."""
    thresholds = dict(data.thresholds)
    for key in _group(group):
        if key not in thresholds:
            thresholds[key] = THRESHOLDS_BY_KEY[key].default
    return replace(data, thresholds=thresholds)


def group_remove(data: RuleSetData, group: str) -> RuleSetData:
    """``data`` without optional ``group``: its extension of a version-1 rule switches off."""
    keys = _group(group)
    return replace(data, thresholds={key: value for key, value in data.thresholds.items() if key not in keys})


def groups_held(data: RuleSetData) -> list[str]:
    """The optional groups ``data`` holds whole."""
    return [group for group, keys in OPTIONAL_GROUPS.items() if all(key in data.thresholds for key in keys)]
