"""The rules engine: pure Python, no Django. Cases in, flagged checklists out.

>>> from eligibility.rules import Engine, default_ruleset
>>> engine = Engine(default_ruleset())
>>> engine.evaluate(engine.parse({"stage": "screening", "ecog": 1})).overall
'incomplete'
"""

from .case import Case, CaseValidationError, parse_case, parse_case_json
from .engine import RULE_CLASSES, RULE_CODES, Checklist, Engine
from .thresholds import RuleSetData, default_ruleset

__all__ = [
    "Case", "CaseValidationError", "Checklist", "Engine", "RULE_CLASSES", "RULE_CODES", "RuleSetData",
    "default_ruleset", "parse_case", "parse_case_json",
]
