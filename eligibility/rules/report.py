"""A checklist as text for a terminal: grouped by phase, status in words, reasons and sources."""

from __future__ import annotations

from .checklist import Checklist
from .statuses import OVERALL_LABELS, PHASE_LABELS, PHASES, STATUS_LABELS, STATUSES

#: Markers that carry the status without colour (ASCII: any terminal, any log).
STATUS_MARKS = {"pass": "[ok]", "flag": "[!]", "missing": "[?]", "defer": "[||]", "exclude": "[x]", "pending": "[..]"}


def checklist_text(checklist: Checklist) -> str:
    """The checklist as readable text."""
    width = max(len(STATUS_LABELS[status]) for status in STATUSES) + 5
    counts = ", ".join(f"{checklist.counts[status]} {status}" for status in STATUSES)
    lines = [
        f"Case: {checklist.case_id if checklist.case_id is not None else '(no case_id)'}",
        f"Stage: {checklist.stage}",
        f"Rule set: {checklist.ruleset_name}, version {checklist.ruleset_version}",
        f"Overall: {OVERALL_LABELS[checklist.overall].upper()} ({checklist.overall})",
        f"Counts: {counts}",
    ]
    for phase in PHASES:
        items = [item for item in checklist.items if item.phase == phase]
        lines += ["", f"== {PHASE_LABELS[phase]} ({phase}) =="]
        for item in items:
            mark = f"{STATUS_MARKS[item.status]} {STATUS_LABELS[item.status].upper()}"
            lines.append(f"{mark:<{width}} {item.title} ({item.code})")
            lines.append(f"{'':<{width}} {item.reason}")
            if item.status != "pending":
                lines.append(f"{'':<{width}} Source: {item.source}")
    return "\n".join(lines) + "\n"


def errors_text(errors: list[dict[str, str]], *, line: int | None = None, case_id=None) -> str:
    """Input errors as text, one bad field a line."""
    where = f"line {line}" if line is not None else "the case"
    if case_id is not None:
        where += f" (case_id {case_id})"
    head = f"Rejected {where}: {len(errors)} bad field(s)."
    return "\n".join([head] + [f"  {error['field']}: {error['message']}" for error in errors]) + "\n"
