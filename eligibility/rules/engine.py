"""The engine: runs every rule in catalogue order and computes the overall result and counts."""

from __future__ import annotations

import datetime
from decimal import Decimal
from operator import itemgetter
from typing import Any

import orjson

from . import clinical, laboratory, logistics, screening
from .base import Rule
from .case import Case, case_json, case_type, decode_case
from .catalogue import CATALOGUE_POSITION
from .checklist import Checklist, ChecklistItem, dumps
from .statuses import PENDING, PHASE_LABELS, PHASE_ORDER, PHASES, STATUSES, overall_result
from .thresholds import RuleSetData, ThresholdSpec
from .validation import PRODUCT_CODES
from .vocabulary import STAGE as STAGE_LABELS

#: Every rule class in catalogue order (criteria-v2 section 2.1: by phase, then by rule number).
RULE_CLASSES: tuple[type[Rule], ...] = tuple(sorted(
    screening.RULES + logistics.RULES + clinical.RULES + laboratory.RULES,
    key=lambda rule: CATALOGUE_POSITION[rule.code]))
RULE_CODES: tuple[str, ...] = tuple(rule.code for rule in RULE_CLASSES)

_ITEM, _ENCODED, _WEIGHT = itemgetter(0), itemgetter(1), itemgetter(2)
#: Counting statuses is on the hot path: each result carries a weight with a 1 in the byte of its
#: status (status i adds 1 << 8*i), so one C-level sum() counts every status at once (26 < 256).
_STATUS_WEIGHTS = {status: 1 << (8 * index) for index, status in enumerate(STATUSES)}


def _unpack_counts(packed: int) -> dict[str, int]:
    return {status: (packed >> (8 * index)) & 0xFF for index, status in enumerate(STATUSES)}

#: Results remembered per rule (bounded: a batch of any length runs in constant memory).
CACHE_LIMIT = 4096


class Engine:
    """All rules of one rule set, built once, applied to any number of cases.

    Every rule is a pure function of the case values it declares in ``reads`` and of its
    thresholds, so the engine remembers each rule's item (and its JSON encoding) per distinct
    values read and reuses it: a batch mostly repeats the same findings.
    """

    def __init__(self, ruleset: RuleSetData):
        self.ruleset = ruleset
        #: The rules this rule set enables, in catalogue order: a disabled rule gives no item.
        self.rules: tuple[Rule, ...] = tuple(
            rule_class(ruleset) for rule_class in RULE_CLASSES if rule_class.code in ruleset.enabled_rules)
        # A rule set is evaluated only once every threshold its rules require has a value (drafts may
        # hold some "to be entered"; the preview and publishing refuse them the same way).
        unset = sorted({spec.key for rule in self.rules for spec in rule.thresholds
                        if spec.group is None and spec.key not in rule.values})
        if unset:
            raise ValueError(f"Rule set {ruleset.name!r} cannot be evaluated: thresholds without a value: "
                             f"{', '.join(unset)}")
        self.product_codes = frozenset(ruleset.products)
        # Every product code of criteria.md 5 is valid input whatever this catalogue holds: a code
        # the rule set left out is rule 1's exclusion, not an input error (criteria-v2 6.1 rule 1 a).
        self.case_type = case_type(PRODUCT_CODES | self.product_codes)
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

    @staticmethod
    def _item(rule: Rule, status: str, reason: str, inputs: dict[str, Any],
              derived: dict[str, Any] | None = None, source: str | None = None) -> tuple[ChecklistItem, bytes, int]:
        """An item of the checklist, its JSON encoding after a comma (items are joined that way) and
        its status weight (see ``_STATUS_WEIGHTS``). ``derived``: the computed values of the rules
        that give them (criteria-v2 section 6.3); ``source``: where a result cites more than its
        rule (rule 1 adds the matched indication entry's source)."""
        item = ChecklistItem(code=rule.code, phase=rule.phase, title=rule.title, status=status, reason=reason,
                             source=rule.source if source is None else source, inputs=inputs, derived=derived)
        return item, b"," + dumps(item.as_dict()), _STATUS_WEIGHTS[status]

    def _pending(self, rule: Rule, stage: str) -> tuple[ChecklistItem, bytes, int]:
        reason = (f"Belongs to the {PHASE_LABELS[rule.phase].lower()} checks; "
                  f"not evaluated at the {STAGE_LABELS[stage].lower()} stage.")
        return self._item(rule, PENDING, reason, {}, rule.derived_when_pending)

    def parse(self, data: dict[str, Any], as_of: datetime.date | None = None) -> Case:
        """Validate a case given as Python values against this rule set's catalogue; ``as_of``: the
        evaluation date of a case that records none (``None``: today)."""
        return decode_case(self.case_type, case_json(data), as_of)

    def parse_json(self, raw: bytes | str, as_of: datetime.date | None = None) -> Case:
        """Validate a case given as JSON text against this rule set's catalogue (``as_of`` as in ``parse``)."""
        return decode_case(self.case_type, raw, as_of)

    def _computed(self, rule: Rule, case: Case, cache: dict, key) -> tuple[ChecklistItem, bytes, int]:
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
        counts = {status: sum(item.status == status for item in items) for status in STATUSES}
        return Checklist(case_id=case.case_id, stage=case.stage, ruleset_name=self.ruleset.name,
                         ruleset_version=self.ruleset.version, overall=overall_result(counts), counts=counts,
                         items=items)

    def thresholds_used(self, item: ChecklistItem) -> list[tuple[ThresholdSpec, Decimal]]:
        """The thresholds of this rule set that ``item`` was judged by, with their values (asked of
        the item's rule; none for a code this catalogue does not hold)."""
        rule = self.by_code.get(item.code)
        return rule.thresholds_used(item.inputs) if rule is not None else []
