"""Rule sets, writes: drafts copied from the active version, validated edits of thresholds and
products, discarding, and publishing (one transaction; what publishing then does to patients'
checklists is done by the packages above, told by :data:`.signals.ruleset_published`)."""

from __future__ import annotations

import re
from decimal import Decimal

from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from ..rules import threshold_set_errors
from .models import DIAGNOSIS_CHOICES, Product, RuleSet, Threshold
from .selectors import ruleset_get
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


def ruleset_published_notify(*, ruleset: RuleSet, by) -> list:
    """After a publish committed: tell the packages above (they re-evaluate open checklists) and
    return what each reports (e.g. how many were re-evaluated)."""
    return [response for _, response in ruleset_published.send(sender=RuleSet, ruleset=ruleset, by=by)
            if response is not None]


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
