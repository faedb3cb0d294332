"""Background work of the rule-set package, on the task queue (django-tasks' database backend, as
the re-evaluation after a publish: ``manage.py db_worker`` runs the tasks)."""

from __future__ import annotations

from django_tasks import TaskContext, task

from .preview import preview_run


@task(takes_context=True)
def preview_impact(context: TaskContext, preview_id: int) -> str:
    """An impact preview (or its resumption): the task's id is the worker's token for the lease,
    so a second task for the same preview does nothing while this one runs."""
    run = preview_run(preview_id=preview_id, worker=context.task_result.id)
    return "nothing to do" if run is None else run.get_status_display()
