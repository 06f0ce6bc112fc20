"""Queueing Celery tasks from request code."""

import logging
import time

from django.db import transaction

logger = logging.getLogger(__name__)

# After a failed publish, this process stops trying for a while: a Redis that hangs
# rather than refuses would otherwise cost every request a socket timeout. The work
# is not lost either way: the periodic sweeps find it in the database.
BROKER_PAUSE_SECONDS = 5.0

_paused_until = 0.0


def enqueue_on_commit(task, *args, **kwargs) -> None:
    """Queue `task` once the current transaction commits.

    The data the task works on is already committed, so a broker outage must not
    fail the request: the task's periodic sweep picks the work up later.
    """
    transaction.on_commit(lambda: enqueue_now(task, *args, **kwargs))


def enqueue_now(task, *args, **kwargs) -> bool:
    """Publish `task`; on any failure log it and answer False instead of raising.

    Every failure counts, not only kombu's OperationalError: the broker, the result
    backend and the serializer each raise their own exceptions, and none of them may
    turn a committed write into an error answer.
    """
    global _paused_until
    if task.app.conf.task_always_eager:
        # In-process (no broker): a failure here is the task's own, and shows.
        task.apply_async(args=args, kwargs=kwargs)
        return True
    if time.monotonic() < _paused_until:
        logger.warning("Broker recently unavailable; %s left for the periodic sweep.", task.name)
        return False
    try:
        task.apply_async(args=args, kwargs=kwargs)
    except Exception as error:  # noqa: BLE001 - see the docstring
        _paused_until = time.monotonic() + BROKER_PAUSE_SECONDS
        logger.warning("Could not queue %s (%s); it is left for the periodic sweep.", task.name, type(error).__name__)
        return False
    return True


def broker_pause_reset() -> None:
    """Forget a previous failure (tests, and a process that knows the broker is back)."""
    global _paused_until
    _paused_until = 0.0
