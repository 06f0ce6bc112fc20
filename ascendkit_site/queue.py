"""Queueing Celery tasks from service code, by task name.

Services name the task rather than import it: tasks import services, never the
other way round. Celery finds each app's `tasks` module itself
(`autodiscover_tasks` in `celery.py`), the first time a task is needed.
"""

import logging

from django.db import transaction

from .celery import app

logger = logging.getLogger(__name__)


def enqueue_on_commit(task_name: str, *args) -> None:
    """Queue the task named `task_name` once the current transaction commits.

    The data the task works on is already committed, so no failure to reach the
    broker may fail the request: it is logged, and the task's periodic sweep
    picks the work up later.
    """
    task = _registered_task(task_name)

    def send():
        try:
            task.apply_async(args=args)
        except Exception:
            logger.warning("Could not queue %s; left for its periodic sweep.", task_name, exc_info=True)

    transaction.on_commit(send)


def _registered_task(task_name: str):
    if task_name not in app.tasks:
        # The web process has not needed a task yet: let Celery import the apps'
        # `tasks` modules (a worker does this when it starts).
        app.loader.import_default_modules()
    return app.tasks[task_name]  # an unknown name is a bug, raised at once
