"""Background work of the review package, on the task queue (django-tasks; the database backend
in every settings file: ``manage.py db_worker`` runs the tasks, on any number of machines).

A task's arguments are JSON (primary keys); what it did is recorded in the database, not returned
to whoever enqueued it.
"""

from __future__ import annotations

from django_tasks import TaskContext, task

from .reevaluation import reevaluation_run


@task(takes_context=True)
def reevaluate_after_publish(context: TaskContext, reevaluation_id: int, helper: bool = False) -> str:
    """The re-evaluation after a publish (or its resumption, or a part of it: the first worker
    enqueues one of these for each other part, ``helper``: it joins a running one, never restarts
    one): the task's id is the worker's token for the lease of each part it takes."""
    run = reevaluation_run(reevaluation_id=reevaluation_id, worker=context.task_result.id, helper=helper)
    if run is None:
        return "nothing to do"
    if run.status == run.Status.RUNNING:
        return "its parts done; other workers hold the parts left"
    return run.get_status_display()
