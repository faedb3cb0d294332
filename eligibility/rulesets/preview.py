"""The impact preview: every open checklist evaluated under the active version and a draft, and
compared. The open checklists come from the packages above (patients and their review), which
register a provider (:func:`open_cases_provider`): rule sets do not depend on them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from django.utils import timezone

from ..rules import CaseValidationError, Engine, dumps, in_catalogue_order
from .models import RuleSet
from .selectors import engine_for, ruleset_data, ruleset_get


class OpenCase(NamedTuple):
    """An open checklist as the preview needs it."""

    public_id: Any  # the patient's opaque identifier
    study_id: str
    initials: str
    stage: str
    data: dict
    signed: bool  # a standing signature on the current checklist


#: The function that lists the open cases (registered by the review package).
_PROVIDERS: list[Callable[[], Iterable[OpenCase]]] = []


def open_cases_provider(function: Callable[[], Iterable[OpenCase]]) -> Callable[[], Iterable[OpenCase]]:
    """Register the function that lists the open cases (a decorator)."""
    _PROVIDERS.append(function)
    return function


def open_cases() -> Iterable[OpenCase]:
    for provider in _PROVIDERS:
        yield from provider()


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


def item_changes(before, after) -> list[tuple[str, str | None, str | None]]:
    """(code, status before, status after) of each item whose status or reason differs, matched by
    code in catalogue order (criteria-v2 2.1): an item on one side only is a change, its other
    status ``None`` (a rule enabled or disabled by the draft)."""
    old_by_code = {item.code: item for item in before}
    new_by_code = {item.code: item for item in after}
    changes = []
    for code in in_catalogue_order(old_by_code.keys() | new_by_code.keys()):
        old, new = old_by_code.get(code), new_by_code.get(code)
        if old is None or new is None or old.status != new.status or old.reason != new.reason:
            changes.append((code, old and old.status, new and new.status))
    return changes


def impact_preview(*, draft: RuleSet) -> Impact:
    """Evaluate every open assessment under the active version and under ``draft`` and compare
    (the caller refuses a draft that is not publishable first: see the views)."""
    active_engine = engine_for(ruleset_get())
    draft_engine = Engine(ruleset_data(draft))
    impact = Impact()
    # Every stored case is evaluated on today's date in the programme's time zone unless its snapshot
    # holds an ``as_of`` (criteria-v2 2.5), never the date an earlier evaluation recorded.
    today = timezone.localdate()
    for public_id, study_id, initials, stage, data, signed in open_cases():
        impact.total += 1
        raw = dumps({**data, "stage": stage})  # stored data was validated when saved: encoded once, read twice
        try:
            before = active_engine.evaluate(active_engine.parse_json(raw, today))
            after = draft_engine.evaluate(draft_engine.parse_json(raw, today))
        except CaseValidationError as exc:
            impact.unevaluable.append({"public_id": public_id, "study_id": study_id, "initials": initials,
                                       "errors": exc.errors})
            continue
        items = item_changes(before.items, after.items)
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
