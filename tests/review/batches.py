"""A save landing between two batches of a re-evaluation, through public hooks only.

Each batch of :func:`eligibility.review.reevaluation.reevaluate_open_assessments` is its own
transaction and announces its new evaluations (``patients.signals.evaluations_replaced``); an
on-commit callback registered then runs once that batch has committed and before the next begins.
Needs a transactional test (``django_db(transaction=True)``): in a test wrapped in one transaction
nothing commits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.db import transaction

from eligibility.patients.signals import evaluations_replaced


@contextmanager
def after_the_first_batch(publisher, action: Callable[[], object]) -> Iterator[list]:
    """Run ``action()`` once, when the first batch that ``publisher`` re-evaluated has committed;
    yields a list that then holds what ``action`` returned."""
    results: list = []
    scheduled: list = []

    def receiver(sender, replacements, by, **kwargs):
        if by == publisher and not scheduled:  # the action's own save announces itself too
            scheduled.append(True)
            transaction.on_commit(lambda: results.append(action()))

    evaluations_replaced.connect(receiver, weak=False)
    try:
        yield results
    finally:
        evaluations_replaced.disconnect(receiver)
