"""The engine: runs every rule in catalogue order and computes the overall result and counts."""

from __future__ import annotations

import json
from operator import itemgetter
from typing import Any

import orjson

from . import logistics, screening
from .base import Rule
from .case import Case, case_json, case_type, decode_case
from .statuses import PENDING, PHASE_LABELS, PHASE_ORDER, PHASES, STATUSES, overall_result
from .thresholds import RuleSetData
from .vocabulary import STAGE as STAGE_LABELS

#: Every rule class in catalogue order (criteria.md section 6).
RULE_CLASSES: tuple[type[Rule], ...] = screening.RULES + logistics.RULES
RULE_CODES: tuple[str, ...] = tuple(rule.code for rule in RULE_CLASSES)

_ITEM, _ENCODED, _WEIGHT = itemgetter(0), itemgetter(1), itemgetter(2)
#: Counting statuses is on the hot path: each result carries a weight with a 1 in the byte of its
#: status (status i adds 1 << 8*i), so one C-level sum() counts every status at once (26 < 256).
_STATUS_WEIGHTS = {status: 1 << (8 * index) for index, status in enumerate(STATUSES)}


def _unpack_counts(packed: int) -> dict[str, int]:
    return {status: (packed >> (8 * index)) & 0xFF for index, status in enumerate(STATUSES)}

#: Results remembered per rule (bounded: a batch of any length runs in constant memory).
CACHE_LIMIT = 4096


def dumps(value: Any) -> bytes:
    """Compact JSON: orjson, or the standard library for what orjson refuses (an integer beyond
    64 bits is valid input where the format sets no upper bound, e.g. doses on site)."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


class Checklist:
    """The result of one evaluation: criteria.md section 4, plus the rule set it came from.

    ``items`` are shared between checklists with equal inputs (see :class:`Engine`): read them,
    never change them.
    """

    __slots__ = ("case_id", "stage", "ruleset_name", "ruleset_version", "overall", "counts", "items",
                 "_ruleset_json", "_encoded_items")

    def __init__(self, *, case_id, stage, ruleset_name, ruleset_version, overall, counts, items,
                 ruleset_json=None, encoded_items=None):
        self.case_id = case_id
        self.stage = stage
        self.ruleset_name = ruleset_name
        self.ruleset_version = ruleset_version
        self.overall = overall
        self.counts = counts
        self.items = items
        self._ruleset_json = ruleset_json
        self._encoded_items = encoded_items

    def as_dict(self) -> dict[str, Any]:
        """The checklist output object of section 4, key for key."""
        return {
            "case_id": self.case_id,
            "stage": self.stage,
            "ruleset": {"name": self.ruleset_name, "version": self.ruleset_version},
            "overall": self.overall,
            "counts": self.counts,
            "items": self.items,
        }

    def as_json(self) -> bytes:
        """``as_dict()`` encoded as compact JSON, byte for byte what ``orjson.dumps`` gives.

        The items were encoded once when their result was first computed; only the envelope is
        encoded here (the batch path's largest saving).
        """
        if self._encoded_items is None:
            return dumps(self.as_dict())
        return b"".join(self.json_parts())

    def json_parts(self) -> list[bytes]:
        """``as_json()`` in pieces, for a writer that joins many checklists at once (one copy)."""
        items = self._encoded_items
        if items is None:
            return [dumps(self.as_dict())]
        # Each item was encoded with a leading comma; the first one goes without it.
        parts = [
            b'{"case_id":', dumps(self.case_id),
            b',"stage":"', self.stage.encode(),
            b'","ruleset":', self._ruleset_json,
            b',"overall":"', self.overall.encode(),
            b'","counts":', orjson.dumps(self.counts),
            b',"items":[', items[0][1:],
        ]
        parts += items[1:]
        parts.append(b"]}")
        return parts


class Engine:
    """All rules of one rule set, built once, applied to any number of cases.

    Every rule is a pure function of the case values it declares in ``reads`` and of its
    thresholds, so the engine remembers each rule's item (and its JSON encoding) per distinct
    values read and reuses it: a batch mostly repeats the same findings.
    """

    def __init__(self, ruleset: RuleSetData):
        self.ruleset = ruleset
        self.rules: tuple[Rule, ...] = tuple(rule_class(ruleset) for rule_class in RULE_CLASSES)
        self.product_codes = frozenset(ruleset.products)
        self.case_type = case_type(self.product_codes)
        self.by_code = {rule.code: rule for rule in self.rules}
        self._ruleset_json = orjson.dumps({"name": ruleset.name, "version": ruleset.version})
        # Per stage: the rules evaluated, each with its key function and remembered results, then
        # the ready results of the later phases' rules (pending). Rules are in phase order.
        caches = {rule.code: {} for rule in self.rules}
        self._plans = {
            stage: (
                tuple((rule, rule.key_function(), caches[rule.code]) for rule in self.rules
                      if PHASE_ORDER[rule.phase] <= PHASE_ORDER[stage]),
                [self._pending(rule, stage) for rule in self.rules if PHASE_ORDER[rule.phase] > PHASE_ORDER[stage]],
            )
            for stage in PHASES
        }
        self._caches = tuple(caches.values())

    @staticmethod
    def _item(rule: Rule, status: str, reason: str, inputs: dict[str, Any]) -> tuple[dict[str, Any], bytes, int]:
        """An item of the checklist, its JSON encoding after a comma (items are joined that way) and
        its status weight (see ``_STATUS_WEIGHTS``)."""
        item = {
            "code": rule.code,
            "phase": rule.phase,
            "title": rule.title,
            "status": status,
            "reason": reason,
            "source": rule.source,
            "inputs": inputs,
        }
        return item, b"," + dumps(item), _STATUS_WEIGHTS[status]

    def _pending(self, rule: Rule, stage: str) -> tuple[dict[str, Any], bytes, int]:
        reason = (f"Belongs to the {PHASE_LABELS[rule.phase].lower()} checks; "
                  f"not evaluated at the {STAGE_LABELS[stage].lower()} stage.")
        return self._item(rule, PENDING, reason, {})

    def parse(self, data: dict[str, Any]) -> Case:
        """Validate a case given as Python values against this rule set's catalogue."""
        return decode_case(self.case_type, case_json(data))

    def parse_json(self, raw: bytes | str) -> Case:
        """Validate a case given as JSON text against this rule set's catalogue."""
        return decode_case(self.case_type, raw)

    def _computed(self, rule: Rule, case: Case, cache: dict, key) -> tuple[dict[str, Any], bytes, int]:
        """A rule's result not seen before: compute it and remember it (a bounded memory)."""
        result = self._item(rule, *rule.evaluate(case))
        if len(cache) >= CACHE_LIMIT:
            cache.clear()
        cache[key] = result
        return result

    def evaluate(self, case: Case) -> Checklist:
        """Run every rule; rules of phases after the case's stage are ``pending``."""
        evaluated, pending = self._plans[case.stage]
        computed = self._computed
        results = [
            cache.get(key := key_of(case)) or computed(rule, case, cache, key) for rule, key_of, cache in evaluated
        ]
        results += pending
        counts = _unpack_counts(sum(map(_WEIGHT, results)))
        return Checklist(
            case_id=case.case_id,
            stage=case.stage,
            ruleset_name=self.ruleset.name,
            ruleset_version=self.ruleset.version,
            overall=overall_result(counts),
            counts=counts,
            items=list(map(_ITEM, results)),
            ruleset_json=self._ruleset_json,
            encoded_items=list(map(_ENCODED, results)),
        )

    def evaluate_uncached(self, case: Case) -> Checklist:
        """Every rule computed afresh (no reuse): the reference the cached path is tested against."""
        evaluated, pending = self._plans[case.stage]
        items = [self._item(rule, *rule.evaluate(case))[0] for rule, _, _ in evaluated] + [p[0] for p in pending]
        counts = {status: sum(item["status"] == status for item in items) for status in STATUSES}
        return Checklist(case_id=case.case_id, stage=case.stage, ruleset_name=self.ruleset.name,
                         ruleset_version=self.ruleset.version, overall=overall_result(counts), counts=counts,
                         items=items)
