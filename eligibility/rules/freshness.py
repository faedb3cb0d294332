"""Freshness (issue 14, criteria.md section 17): what expires before the next planned date.

The engine judges a dated value against its anchor when a case is evaluated (section 9.2); this
module looks ahead. For every dated item of section 9.3 whose rule the rule set enables (rules 16,
17 and 25 only in their dated mode, i.e. when the version holds their optional group), whose window
W the version holds, with a value date d recorded and an anchor date A recorded and not before
``as_of`` (planned, or today), the value is current for A iff ``A - W <= d <= A`` (the markers:
``<= A + markers_max_days_after_collection``). Then:

- ``valid_until = d + W``: the last anchor date the value would still be current for;
- ``repeat_from = A - W`` and ``repeat_by = A``: when a new value must be taken to be current for A;
- ``expires_before_anchor``: ``valid_until < A``, the value will be out of date on the anchor day
  (the engine already reports it as missing: "repeat within W days before ...").

A value after its anchor (beyond the days allowed) is not an expiry: its age is not the problem,
and the engine reports it. Items of one anchor measured on the same day with the same window are
grouped ("bilirubin, AST, ALT"). Pure: no Django, no database; the case is given as its JSON values
(``assessment.data``), so that a list page need not decode whole cases.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .thresholds import THRESHOLDS, RuleSetData

#: The anchors (section 9.1) and their words on screens.
ANCHOR_WORDS = {
    "leukapheresis_date": "collection",
    "lymphodepletion_start_date": "lymphodepletion",
    "infusion_date": "infusion",
}


@dataclass(frozen=True)
class DatedItem:
    """One dated item of criteria.md 9.3."""

    key: str
    words: str  # on screens: "ALC", "infectious-disease markers"
    path: str  # the case path of the value's date ("alc.measured_on")
    rules: tuple[str, ...]  # the rules that judge it (any enabled one makes it count)
    anchor: str  # the anchor's case key
    window: str  # the threshold holding W in days
    group: str | None = None  # the optional group the rule needs for its dated mode
    after: str | None = None  # the threshold holding the days after A that still count
    verb: str = "measured"  # how the date is said: "drawn", "tested", "measured", "taken"
    redo: str = "repeat"  # what to do: "redraw", "repeat"
    plural: bool = False
    #: The rule judges the date even without its group (version 1's rule 17: drawn within W days of
    #: the collection, before or after): then a value up to W days after the anchor counts too.
    undated_within: bool = False


_LABS = "pre_lymphodepletion_tests_max_days"
_LD = "lymphodepletion_start_date"

#: Every dated item, in the order of the path (collection, lymphodepletion, infusion).
DATED_ITEMS: tuple[DatedItem, ...] = (
    DatedItem("alc", "ALC", "alc.measured_on", ("alc",), "leukapheresis_date", "alc_max_age_days",
              group="dated ALC"),
    DatedItem("infectious_markers", "infectious-disease markers", "infections.markers_tested_on",
              ("infectious_markers",), "leukapheresis_date", "markers_window_days", group="dated markers",
              after="markers_max_days_after_collection", verb="drawn", redo="redraw", plural=True,
              undated_within=True),
    DatedItem("sars_cov_2", "SARS-CoV-2 PCR", "infections.sars_cov_2_tested_on", ("sars_cov_2",), _LD, _LABS,
              verb="tested"),
    DatedItem("bilirubin", "bilirubin", "labs.bilirubin.measured_on", ("hepatic_function",), _LD, _LABS),
    DatedItem("ast", "AST", "labs.ast.measured_on", ("hepatic_function",), _LD, _LABS),
    DatedItem("alt", "ALT", "labs.alt.measured_on", ("hepatic_function",), _LD, _LABS),
    DatedItem("creatinine_clearance", "creatinine clearance", "labs.creatinine_clearance.measured_on",
              ("renal_function",), _LD, _LABS),
    DatedItem("creatinine", "creatinine", "labs.creatinine.measured_on", ("renal_function", "easix"), _LD, _LABS),
    DatedItem("lvef", "LVEF", "lvef.measured_on", ("cardiac_function",), _LD, _LABS),
    DatedItem("spo2_room_air", "SpO2 on room air", "spo2_room_air.measured_on", ("pulmonary_function",), _LD, _LABS),
    DatedItem("platelets", "platelets", "labs.platelets.measured_on", ("car_hematotox", "easix"), _LD, _LABS,
              plural=True),
    DatedItem("anc", "ANC", "labs.anc.measured_on", ("car_hematotox",), _LD, _LABS),
    DatedItem("haemoglobin", "haemoglobin", "labs.haemoglobin.measured_on", ("car_hematotox",), _LD, _LABS),
    DatedItem("crp", "CRP", "labs.crp.measured_on", ("car_hematotox", "easix"), _LD, _LABS),
    DatedItem("ferritin", "ferritin", "labs.ferritin.measured_on", ("car_hematotox",), _LD, _LABS),
    DatedItem("ldh", "LDH", "labs.ldh.measured_on", ("easix",), _LD, _LABS),
    DatedItem("temperature", "temperature", "temperature.measured_at", ("fever",), "infusion_date",
              "fever_max_days_before_infusion", group="dated fever", verb="taken"),
)


@dataclass(frozen=True)
class Expiry:
    """A dated value (or several, of one anchor, measured the same day) and when it stops being current."""

    words: str  # "infectious-disease markers", "bilirubin, AST, ALT"
    paths: tuple[str, ...]  # the case paths of the values' dates
    measured_on: datetime.date  # d
    anchor_key: str  # "leukapheresis_date"
    anchor_words: str  # "collection"
    anchor_on: datetime.date  # A
    window_days: int  # W
    valid_until: datetime.date  # d + W
    repeat_from: datetime.date  # A - W
    repeat_by: datetime.date  # A
    expires_before_anchor: bool  # valid_until < A
    planned: bool  # A after as_of (else A is as_of: today)
    verb: str = "measured"
    redo: str = "repeat"
    plural: bool = False

    @property
    def subject(self) -> str:
        """The item's words with a capital first letter ("ALC", "Infectious-disease markers")."""
        return self.words[:1].upper() + self.words[1:]

    @property
    def anchor_text(self) -> str:
        """"the planned collection on 2026-12-01" (a planned anchor) or "the collection on 2026-12-01"."""
        planned = "planned " if self.planned else ""
        return f"the {planned}{self.anchor_words} on {self.anchor_on.isoformat()}"

    @property
    def repeat_text(self) -> str:
        """"redraw between 2026-11-01 and 2026-12-01"; "repeat on 2026-12-01" for a window of 0 days."""
        if self.repeat_from == self.repeat_by:
            return f"{self.redo} on {self.repeat_by.isoformat()}"
        return f"{self.redo} between {self.repeat_from.isoformat()} and {self.repeat_by.isoformat()}"

    @property
    def text(self) -> str:
        """The sentence of criteria.md 17.3."""
        verb = "expire" if self.plural else "expires"
        if self.expires_before_anchor:
            return (f"{self.subject} {verb} before {self.anchor_text} ({self.verb} {self.measured_on.isoformat()}, "
                    f"current until {self.valid_until.isoformat()}): {self.repeat_text}")
        return (f"{self.subject} {self.verb} {self.measured_on.isoformat()} current until "
                f"{self.valid_until.isoformat()}, for {self.anchor_text}")

    @property
    def short(self) -> str:
        """For a list row, after "Expires:": "infectious-disease markers before collection on 2026-12-01"."""
        return f"{self.words} before {self.anchor_words} on {self.anchor_on.isoformat()}"


def _date(value: Any) -> datetime.date | None:
    """A date of the case's JSON (a date-time by its first 10 characters); ``None`` when absent or bad."""
    if isinstance(value, datetime.date):
        return value if not isinstance(value, datetime.datetime) else value.date()
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return datetime.date.fromisoformat(value[:10])
    except ValueError:
        return None


def _at(data: Mapping[str, Any], path: str) -> Any:
    value: Any = data
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


_GROUP_KEYS: dict[tuple[str, str], tuple[str, ...]] = {}
for _spec in THRESHOLDS:
    if _spec.group is not None:
        for _rule in _spec.rules:
            _GROUP_KEYS[(_rule, _spec.group)] = _GROUP_KEYS.get((_rule, _spec.group), ()) + (_spec.key,)
del _spec, _rule


def _held(thresholds: Mapping[str, Decimal | None], key: str) -> bool:
    return thresholds.get(key) is not None


def judged(item: DatedItem, ruleset: RuleSetData) -> bool:
    """Whether the rule set judges ``item`` by its date: one of its rules enabled (in its dated mode
    where the rule has one: every threshold of the group held, or a rule that judges the date in
    either mode, as version 1's rule 17 does) and its window held."""
    return _mode(item, ruleset) is not None


def _mode(item: DatedItem, ruleset: RuleSetData) -> str | None:
    """"dated" (the rule's dated mode, or a rule without modes), "within" (version 1's rule 17:
    within W days before or after the anchor), or ``None`` (not judged by its date)."""
    thresholds = ruleset.thresholds
    if not _held(thresholds, item.window):
        return None
    enabled = [rule for rule in item.rules if rule in ruleset.enabled_rules]
    for rule in enabled:
        if item.group is None or all(_held(thresholds, key) for key in _GROUP_KEYS.get((rule, item.group), ())):
            return "dated"
    return "within" if enabled and item.undated_within else None


def expiries(case: Mapping[str, Any], ruleset: RuleSetData, *, as_of: datetime.date,
             within_days: int = 0) -> list[Expiry]:
    """What goes stale in ``case`` (its JSON values) under ``ruleset``, seen on ``as_of``.

    Lists every value out of date for its anchor (``expires_before_anchor``) and, with
    ``within_days`` > 0, also the values current for it whose ``valid_until`` falls before
    ``as_of + within_days`` (expiring in the coming days). Items of one anchor, date, window and
    state are grouped. In the order of the anchors, then of :data:`DATED_ITEMS`.
    """
    if not isinstance(case, Mapping):
        return []
    horizon = as_of + datetime.timedelta(days=within_days)
    found: dict[tuple, list[DatedItem]] = {}
    facts: dict[tuple, tuple] = {}
    for item in DATED_ITEMS:
        # The case's dates first (most items of a case have none to look ahead to), then the rule set.
        anchor = _date(case.get(item.anchor))
        if anchor is None or anchor < as_of:
            continue  # nothing to look ahead to
        measured_on = _date(_at(case, item.path))
        if measured_on is None or measured_on > as_of:
            continue  # not recorded, or a date the engine counts as not recorded (9.1)
        mode = _mode(item, ruleset)
        if mode is None:
            continue
        window = int(ruleset.thresholds[item.window])
        # Version 1's rule 17 ("within"): W days of the collection, before or after.
        after = window if mode == "within" else int(ruleset.thresholds.get(item.after) or 0) if item.after else 0
        if measured_on > anchor + datetime.timedelta(days=after):
            continue  # after the anchor: not a matter of age (the engine says why)
        valid_until = measured_on + datetime.timedelta(days=window)
        stale = valid_until < anchor
        if not stale and not valid_until < horizon:
            continue
        key = (item.anchor, measured_on, window, stale)
        found.setdefault(key, []).append(item)
        facts[key] = (anchor, valid_until)
    order = {anchor: position for position, anchor in enumerate(ANCHOR_WORDS)}
    listed = []
    for key in sorted(found, key=lambda key: (order[key[0]], key[1])):
        items = found[key]
        anchor_key, measured_on, window, stale = key
        anchor, valid_until = facts[key]
        first = items[0]
        listed.append(Expiry(
            words=", ".join(item.words for item in items), paths=tuple(item.path for item in items),
            measured_on=measured_on, anchor_key=anchor_key, anchor_words=ANCHOR_WORDS[anchor_key], anchor_on=anchor,
            window_days=window, valid_until=valid_until, repeat_from=anchor - datetime.timedelta(days=window),
            repeat_by=anchor, expires_before_anchor=stale, planned=anchor > as_of,
            verb=first.verb if len(items) == 1 else "measured", redo=first.redo if len(items) == 1 else "repeat",
            plural=first.plural or len(items) > 1))
    return listed


__all__ = ["ANCHOR_WORDS", "DATED_ITEMS", "DatedItem", "Expiry", "expiries", "judged"]
