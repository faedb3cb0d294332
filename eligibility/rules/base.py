"""The rule base class: a small object given its thresholds once, asked about many cases.

Modelled on Django's password validators: each rule takes the values it compares against when
it is built, ``evaluate()`` returns a stable status with a reason naming the values and
thresholds it used, and the engine runs every rule and collects every result.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from operator import attrgetter
from typing import Any, ClassVar

from .arithmetic import native, plain
from .case import Case
from .statuses import SEVERITY
from .thresholds import RuleSetData

#: What a rule returns: ``(status, reason, inputs)``; ``inputs`` maps JSON paths to the values read.
Outcome = tuple[str, str, dict[str, Any]]


class Rule:
    """One criterion of the catalogue. Subclasses set the class attributes and ``evaluate``."""

    code: ClassVar[str]
    phase: ClassVar[str]
    title: ClassVar[str]
    source: ClassVar[str]
    #: Keys of the thresholds this rule reads (shown beside its result).
    threshold_keys: ClassVar[tuple[str, ...]] = ()
    #: Every case attribute (dotted path) ``evaluate`` may read: the rule is a pure function of
    #: these and its thresholds, so the engine may reuse a result for equal values (a test
    #: checks that no rule reads anything else). Values must be hashable (the structs are frozen).
    reads: ClassVar[tuple[str, ...]]

    def __init__(self, ruleset: RuleSetData):
        self.ruleset = ruleset
        self.thresholds = {key: ruleset.thresholds[key] for key in self.threshold_keys}
        # Converted and formatted once: every evaluation compares with and quotes them.
        self.limits = {key: native(value) for key, value in self.thresholds.items()}
        self.texts = {key: plain(value) for key, value in self.thresholds.items()}

    def key_function(self) -> Callable[[Case], Hashable]:
        """A function giving the values this rule reads from a case: equal values, equal results."""
        return attrgetter(*self.reads)

    def evaluate(self, case: Case) -> Outcome:
        """Check ``case`` against this criterion."""
        raise NotImplementedError


def worst(findings: list[tuple[str, str]]) -> tuple[str, str]:
    """The worst ``(status, reason)`` of several findings within one rule; reasons of that status
    are joined so that every problem is named."""
    top = max(SEVERITY[status] for status, _ in findings)
    status = next(status for status, _ in findings if SEVERITY[status] == top)
    return status, " ".join(reason for found, reason in findings if found == status)


def yes_no(value: bool | None) -> str:
    """A recorded boolean in words."""
    return "not recorded" if value is None else ("yes" if value else "no")


def label(value: str | None) -> str:
    """An enum value in words (``not_tested`` -> ``not tested``)."""
    return "not recorded" if value is None else value.replace("_", " ")
