"""Background work of the review package, on the task queue (django-tasks; the database backend
in every settings file: ``manage.py db_worker`` runs the tasks, on any number of machines).

A task's arguments are JSON (primary keys); what it did is recorded in the database, not returned
to whoever enqueued it.
"""

from __future__ import annotations

from django_tasks import TaskContext, task

from .reevaluation import reevaluation_run


@task(takes_context=True)
def reevaluate_after_publish(context: TaskContext, reevaluation_id: int) -> str:
    """The re-evaluation after a publish (or its resumption): the task's id is the worker's token
    for the lease, so a second task for the same version does nothing while this one runs."""
    run = reevaluation_run(reevaluation_id=reevaluation_id, worker=context.task_result.id)
    return "nothing to do" if run is None else run.get_status_display()
