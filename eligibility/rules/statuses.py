"""Statuses, phases and stages of criteria.md sections 1 and 2 (a public interface)."""

PASS = "pass"  # noqa: S105 (a status, not a password)
FLAG = "flag"
MISSING = "missing"
DEFER = "defer"
EXCLUDE = "exclude"
PENDING = "pending"

#: Item statuses in the order of the ``counts`` object.
STATUSES = (PASS, FLAG, MISSING, DEFER, EXCLUDE, PENDING)
#: Statuses that block the stage until resolved.
BLOCKING = frozenset({MISSING, DEFER, EXCLUDE})
#: Within a rule, the worse status wins: a higher rank is worse.
SEVERITY = {PASS: 0, FLAG: 1, MISSING: 2, DEFER: 3, EXCLUDE: 4}

SCREENING = "screening"
PRE_APHERESIS = "pre_apheresis"
PRE_LYMPHODEPLETION = "pre_lymphodepletion"
PRE_INFUSION = "pre_infusion"
PHASES = (SCREENING, PRE_APHERESIS, PRE_LYMPHODEPLETION, PRE_INFUSION)
PHASE_ORDER = {phase: index for index, phase in enumerate(PHASES)}
DEFAULT_STAGE = PRE_INFUSION

NOT_ELIGIBLE = "not_eligible"
DEFERRED = "deferred"
INCOMPLETE = "incomplete"
CLEARED_WITH_FLAGS = "cleared_with_flags"
CLEARED = "cleared"

STATUS_LABELS = {
    PASS: "Pass",
    FLAG: "Flag",
    MISSING: "Missing",
    DEFER: "Defer",
    EXCLUDE: "Exclude",
    PENDING: "Pending",
}
PHASE_LABELS = {
    SCREENING: "Screening",
    PRE_APHERESIS: "Before leukapheresis",
    PRE_LYMPHODEPLETION: "Before lymphodepletion",
    PRE_INFUSION: "Before infusion",
}
#: Overall results, worst first, with their labels.
OVERALL_LABELS = {
    NOT_ELIGIBLE: "Not eligible",
    DEFERRED: "Deferred",
    INCOMPLETE: "Incomplete",
    CLEARED_WITH_FLAGS: "Cleared with flags",
    CLEARED: "Cleared",
}


def overall_result(counts: dict[str, int]) -> str:
    """Overall result from the item counts (``pending`` items do not count)."""
    if counts[EXCLUDE]:
        return NOT_ELIGIBLE
    if counts[DEFER]:
        return DEFERRED
    if counts[MISSING]:
        return INCOMPLETE
    if counts[FLAG]:
        return CLEARED_WITH_FLAGS
    return CLEARED
