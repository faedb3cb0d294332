"""The engine: runs every rule in catalogue order and computes the overall result and counts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import logistics, screening
from .base import Rule
from .case import Case, parse_case, parse_case_json
from .statuses import PENDING, PHASE_LABELS, PHASE_ORDER, PHASES, STATUSES, overall_result
from .thresholds import RuleSetData
from .vocabulary import STAGE as STAGE_LABELS

#: Every rule class in catalogue order (criteria.md section 6).
RULE_CLASSES: tuple[type[Rule], ...] = screening.RULES + logistics.RULES
RULE_CODES: tuple[str, ...] = tuple(rule.code for rule in RULE_CLASSES)


@dataclass(frozen=True)
class Checklist:
    """The result of one evaluation: criteria.md section 4, plus the rule set it came from."""

    case_id: Any
    stage: str
    ruleset_name: str
    ruleset_version: int
    overall: str
    counts: dict[str, int]
    items: list[dict[str, Any]]

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


class Engine:
    """All rules of one rule set, built once, applied to any number of cases."""

    def __init__(self, ruleset: RuleSetData):
        self.ruleset = ruleset
        self.rules: tuple[Rule, ...] = tuple(rule_class(ruleset) for rule_class in RULE_CLASSES)
        self.product_codes = frozenset(ruleset.products)
        self.by_code = {rule.code: rule for rule in self.rules}
        # Reasons of pending items depend only on the stage: built once per stage.
        self._pending_reasons = {
            stage: {
                rule.code: (f"Belongs to the {PHASE_LABELS[rule.phase].lower()} checks; "
                            f"not evaluated at the {STAGE_LABELS[stage].lower()} stage.")
                for rule in self.rules
            }
            for stage in PHASES
        }

    def parse(self, data: dict[str, Any]) -> Case:
        """Validate a case given as Python values against this rule set's catalogue."""
        return parse_case(data, self.product_codes)

    def parse_json(self, raw: bytes | str) -> Case:
        """Validate a case given as JSON text against this rule set's catalogue."""
        return parse_case_json(raw, self.product_codes)

    def evaluate(self, case: Case) -> Checklist:
        """Run every rule; rules of phases after the case's stage are ``pending``."""
        stage = case.stage
        last_phase = PHASE_ORDER[stage]
        pending_reasons = self._pending_reasons[stage]
        counts = dict.fromkeys(STATUSES, 0)
        items = []
        for rule in self.rules:
            if PHASE_ORDER[rule.phase] > last_phase:
                status, reason, inputs = PENDING, pending_reasons[rule.code], {}
            else:
                status, reason, inputs = rule.evaluate(case)
            counts[status] += 1
            items.append({
                "code": rule.code,
                "phase": rule.phase,
                "title": rule.title,
                "status": status,
                "reason": reason,
                "source": rule.source,
                "inputs": inputs,
            })
        return Checklist(
            case_id=case.case_id,
            stage=stage,
            ruleset_name=self.ruleset.name,
            ruleset_version=self.ruleset.version,
            overall=overall_result(counts),
            counts=counts,
            items=items,
        )
