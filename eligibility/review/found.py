"""What the checklist page's first query found beside the checklist (issue 15).

The page reads, besides its checklist, the checklist's decisions, signatures and review requests,
the signatures its making voided on the checklist before, and the episode's questions and item
notes: one statement each, most of them finding nothing on a checklist under work (a tenth of the
page's time each, py-spy, most of it the round trip). The first query (``selectors.
patient_with_checklist``) asks whether each has rows (``EXISTS``, by the same keys or looser ones)
and notes it on the evaluation; a read of one it found none of is not run. What the page shows is
then as of that first statement for those parts (the page's statements were never one snapshot:
each runs at its own instant). An evaluation read another way has no note: everything is read.
"""

from __future__ import annotations

from collections.abc import Iterable

#: The parts noted, and the evaluation's attribute holding the ones found.
PARTS = ("dispositions", "signoffs", "review_requests", "replaced_signoffs", "questions", "item_notes")
_ATTRIBUTE = "_rows_found"


def note_found(evaluation, found: Iterable[str]) -> None:
    """Note on ``evaluation`` the parts (of :data:`PARTS`) that have rows; the others have none."""
    found = frozenset(found)
    if not found <= set(PARTS):
        raise ValueError(f"found: unknown parts {sorted(found - set(PARTS))}")
    setattr(evaluation, _ATTRIBUTE, found)


def may_have(evaluation, part: str) -> bool:
    """False only if the first query found no row of ``part`` for ``evaluation``: read it otherwise."""
    if part not in PARTS:
        raise ValueError(f"found: unknown part {part!r}")
    found = getattr(evaluation, _ATTRIBUTE, None)
    return found is None or part in found
