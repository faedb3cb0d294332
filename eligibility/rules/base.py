"""The rule base class: a small object given its thresholds once, asked about many cases.

Modelled on Django's password validators: each rule takes the values it compares against when
it is built, ``evaluate()`` returns a stable status with a reason naming the values and
thresholds it used, and the engine runs every rule and collects every result.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from decimal import Decimal
from operator import attrgetter
from typing import Any, ClassVar

from .arithmetic import native, plain
from .case import Case
from .statuses import SEVERITY
from .thresholds import THRESHOLDS, RuleSetData, ThresholdSpec, default_ruleset

#: What a rule returns: ``(status, reason, inputs)``; ``inputs`` maps JSON paths to the values read.
#: Rules that compute values (criteria-v2 section 6.3) add a fourth member, ``derived``; a result
#: citing more than its rule's ``source`` adds a fifth, its ``source`` (``derived`` then may be ``None``).
Outcome = (tuple[str, str, dict[str, Any]] | tuple[str, str, dict[str, Any], dict[str, Any]]
           | tuple[str, str, dict[str, Any], dict[str, Any] | None, str])


class Rule:
    """One criterion of the catalogue. Subclasses set the class attributes and ``evaluate``."""

    code: ClassVar[str]
    phase: ClassVar[str]
    title: ClassVar[str]
    source: ClassVar[str]
    #: The editable thresholds this rule compares against, in the order of ``THRESHOLDS``. Derived
    #: when the class is created from the one declaration, each spec's ``rule``: never listed here.
    thresholds: ClassVar[tuple[ThresholdSpec, ...]] = ()
    #: Every case attribute (dotted path) ``evaluate`` may read: the rule is a pure function of
    #: these and its thresholds, so the engine may reuse a result for equal values (a test
    #: checks that no rule reads anything else). Values must be hashable (the structs are frozen).
    reads: ClassVar[tuple[str, ...]]
    #: The ``derived`` values of a pending item (criteria-v2 6.3: every field null), for the rules that
    #: compute values; ``None`` for the others, whose items have no ``derived``.
    derived_when_pending: ClassVar[Mapping[str, Any] | None] = None

    def __init_subclass__(cls, **kwargs: Any):
        super().__init_subclass__(**kwargs)
        if "code" in cls.__dict__:
            cls.thresholds = tuple(spec for spec in THRESHOLDS if cls.code in spec.rules)

    def __init__(self, ruleset: RuleSetData | None = None, **thresholds: Decimal):
        """The rule with the values of ``ruleset`` (its thresholds and product catalogue).

        A test may give just the thresholds it is about, by key, as Django's validators take
        theirs: ``DrivingCounselled(driving_restriction_weeks=Decimal(2))``; the others keep the
        values of ``ruleset`` (the source documents' when none is given).
        """
        unknown = thresholds.keys() - {spec.key for spec in self.thresholds}
        if unknown:
            raise TypeError(f"{type(self).__name__} reads no threshold {', '.join(sorted(unknown))}")
        self.ruleset = ruleset if ruleset is not None else default_ruleset()
        held = self.ruleset.thresholds
        #: This rule's threshold values, by key: only those the rule set holds (an optional group
        #: not held switches its extension off, criteria-v2 section 2.3).
        self.values: Mapping[str, Decimal] = {
            spec.key: thresholds.get(spec.key, held.get(spec.key)) for spec in self.thresholds
            if spec.key in thresholds or held.get(spec.key) is not None}
        # Converted and formatted once: every evaluation compares with and quotes them.
        self.limits = {key: native(value) for key, value in self.values.items()}
        self.texts = {key: plain(value) for key, value in self.values.items()}

    def key_function(self) -> Callable[[Case], Hashable]:
        """A function giving the values this rule reads from a case: equal values, equal results."""
        return attrgetter(*self.reads)

    def evaluate(self, case: Case) -> Outcome:
        """Check ``case`` against this criterion."""
        raise NotImplementedError

    def thresholds_used(self, inputs: Mapping[str, Any]) -> list[tuple[ThresholdSpec, Decimal]]:
        """The thresholds (with this rule's values) a result with these ``inputs`` was judged by,
        shown beside the item: all of the rule's unless the rule says otherwise."""
        return [(spec, self.values[spec.key]) for spec in self.thresholds if spec.key in self.values]

    def holds_group(self, group: str) -> bool:
        """Whether the rule set holds every threshold of optional ``group`` (criteria-v2 2.3)."""
        return all(spec.key in self.values for spec in self.thresholds if spec.group == group)


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
