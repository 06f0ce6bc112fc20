"""Queueing Celery tasks from service code, by task name.

Services name the task rather than import it: tasks import services, never the
other way round. Celery finds each app's `tasks` module itself
(`autodiscover_tasks` in `celery.py`), the first time a task is needed.
"""

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import transaction

from .celery import app

logger = logging.getLogger(__name__)

# After a failed publish, this process stops trying for a while: a Redis that hangs
# rather than refuses would otherwise cost every request a socket timeout. The work
# is not lost either way: the periodic sweeps find it in the database.
BROKER_PAUSE_SECONDS = 5.0

_paused_until = 0.0

# While `tasks_held` is active in this thread: the (task name, args) queued on commit,
# in order, once each. A context variable, so another thread's commits are not held.
_held: ContextVar[dict[tuple, None] | None] = ContextVar("held_tasks", default=None)


def enqueue_on_commit(task_name: str, *args) -> None:
    """Queue the task named `task_name` once the current transaction commits.

    The data the task works on is already committed, so no failure to reach the
    broker may fail the request: it is logged, and the task's periodic sweep picks
    the work up later.
    """
    task = registered_task(task_name)
    transaction.on_commit(lambda: _publish_or_hold(task, args))


def _publish_or_hold(task, args: tuple) -> None:
    held = _held.get()
    if held is not None:
        held[(task.name, args)] = None
        return
    enqueue_now(task, *args)


@contextmanager
def tasks_held() -> Iterator[dict[tuple, None]]:
    """Collect the tasks that commits inside the block would queue, instead of queueing them.

    For bulk writers (demo traffic) that do the tasks' work once per chunk rather
    than once per row: the caller answers for every (task name, args) held, running
    the work itself or handing it on with `enqueue_now`. Repeats are held once.
    """
    if _held.get() is not None:
        raise RuntimeError("tasks_held does not nest.")
    held: dict[tuple, None] = {}
    token = _held.set(held)
    try:
        yield held
    finally:
        _held.reset(token)


def enqueue_now(task, *args) -> bool:
    """Publish `task`; on any failure log it and answer False instead of raising.

    Every failure counts, not only kombu's OperationalError: the broker, the result
    backend and the serializer each raise their own exceptions, and none of them may
    turn a committed write into an error answer.
    """
    global _paused_until
    if task.app.conf.task_always_eager:
        # In-process (no broker): a failure here is the task's own, and shows.
        task.apply_async(args=args)
        return True
    if time.monotonic() < _paused_until:
        logger.warning("Broker recently unavailable; %s left for the periodic sweep.", task.name)
        return False
    try:
        task.apply_async(args=args)
    except Exception as error:  # noqa: BLE001 - see the docstring
        _paused_until = time.monotonic() + BROKER_PAUSE_SECONDS
        logger.warning("Could not queue %s (%s); it is left for the periodic sweep.", task.name, type(error).__name__)
        return False
    return True


def broker_pause_reset() -> None:
    """Forget a previous failure (tests, and a process that knows the broker is back)."""
    global _paused_until
    _paused_until = 0.0


# While `tasks_held` is active in this thread: the (task name, args) queued on commit,
# in order, once each. A context variable, so another thread's commits are not held.
_held: ContextVar[dict[tuple, None] | None] = ContextVar("held_tasks", default=None)


def registered_task(task_name: str):
    """The Celery task of that name; an unknown name is a bug, raised at once."""
    if task_name not in app.tasks:
        # The web process has not needed a task yet: let Celery import the apps'
        # `tasks` modules (a worker does this when it starts).
        app.loader.import_default_modules()
    return app.tasks[task_name]
