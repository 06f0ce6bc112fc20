"""Celery tasks: thin, load by ID, call a service; the retry policy lives here."""

from celery import shared_task


@shared_task
def outbox_dispatch():
    """Hand pending outbox entries to the registered consumers."""
    raise NotImplementedError
