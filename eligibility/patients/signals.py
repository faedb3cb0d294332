"""What the packages above patients hook into (dependencies point one way: review builds on
patients, so patients announce what happened and review acts on it, in the same transaction).

- :data:`evaluations_replaced`: sent by :func:`~.lifecycle.evaluations_install` after new
  evaluations became current, with ``replacements`` (list of :class:`~.lifecycle.Replacement`)
  and ``by``; receivers void what belonged to the replaced checklists (signatures), close what
  they asked (review requests) and carry decisions on unchanged findings over. The assessments'
  rows are locked.
- :data:`patient_restored`: sent after a withdrawn patient was restored (``patient``, ``by``).
- :data:`episode_closed`: sent after a treatment episode was closed (``assessment``, ``by``, ``note``:
  why, in words), its row locked; receivers end what was waiting on it (ready marks, review
  requests). Its checklists, decisions and signatures stay as they are: they belong to it.
- :func:`write_guard`: registers a function ``(assessment) -> str | None`` that may refuse a
  coordinator's save with a message (e.g. a work-up closed by a physician's signature).
- :func:`history_source`: registers a function ``(assessment) -> list of rows`` (``when``, ``who``,
  ``field``, ``old``, ``new``) whose rows the patient's history shows beside the recorded values
  (e.g. hand-offs: ready marks, notes, questions).
- :func:`save_notice`: registers a function ``(previous_evaluation_id, evaluation) -> str | None``
  that says, after a save's ``evaluation`` replaced that checklist, what it did (a signature voided).
"""

from __future__ import annotations

from collections.abc import Callable

from django.dispatch import Signal

evaluations_replaced = Signal()
patient_restored = Signal()
episode_closed = Signal()

#: Functions that may refuse a save of an assessment: (assessment) -> message or None.
WRITE_GUARDS: list[Callable] = []


def write_guard(function: Callable) -> Callable:
    """Register ``function`` as a write guard (a decorator)."""
    WRITE_GUARDS.append(function)
    return function


#: Functions that add rows to a patient's history: (assessment) -> [{"when", "who", "field", "old", "new"}].
HISTORY_SOURCES: list[Callable] = []


def history_source(function: Callable) -> Callable:
    """Register ``function`` as a source of history rows (a decorator)."""
    HISTORY_SOURCES.append(function)
    return function


#: What a save's new checklist did to the one it replaced: (previous id, new evaluation) -> text or None.
SAVE_NOTICES: list[Callable] = []


def save_notice(function: Callable) -> Callable:
    """Register ``function`` as a save notice (a decorator)."""
    SAVE_NOTICES.append(function)
    return function


def save_notices(previous_evaluation_id, evaluation) -> list[str]:
    """What the registered functions say of ``evaluation`` replacing ``previous_evaluation_id``."""
    return [notice for function in SAVE_NOTICES if (notice := function(previous_evaluation_id, evaluation))]


def write_refusal(assessment) -> str | None:
    """The first guard's refusal of a save of ``assessment``, or ``None``."""
    for guard in WRITE_GUARDS:
        message = guard(assessment)
        if message:
            return message
    return None


#: Parts of the patient page that other packages read (hand-offs, the signature), by name: a function
#: (episode, patient, checklist) -> QuerySet of the part's rows, its arguments references to the page's
#: patient row (``OuterRef``). The page's first query asks whether each has rows (``EXISTS``); a part
#: with none is not read (``selectors.page_part_may_have``). The conditions: the read's own, or looser.
PAGE_PARTS: dict[str, Callable] = {}


def page_part(name: str) -> Callable:
    """Register a part of the patient page (a decorator; see ``PAGE_PARTS``)."""
    def register(function: Callable) -> Callable:
        PAGE_PARTS[name] = function
        return function
    return register
