"""Queueing Celery tasks from request code."""

import logging

from django.db import transaction
from kombu.exceptions import OperationalError as BrokerUnavailable

logger = logging.getLogger(__name__)


def enqueue_on_commit(task, *args, **kwargs) -> None:
    """Queue `task` once the current transaction commits.

    The data the task works on is already committed, so a broker outage must not
    fail the request: the task's periodic sweep picks the work up later.
    """

    def send():
        try:
            task.apply_async(args=args, kwargs=kwargs)
        except BrokerUnavailable:
            logger.warning("Broker unavailable; %s left for the periodic sweep.", task.name)

    transaction.on_commit(send)
