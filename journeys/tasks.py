"""Celery tasks: thin, load by ID, call a service; the retry policy lives here."""

import logging

from celery import shared_task
from django.db import DatabaseError
from kombu.exceptions import OperationalError as BrokerUnavailable

from analytics.models import Event
from ascendkit_site.queue import enqueue_on_commit

from .services.consumer import event_consume, pending_entries_recheck
from .services.webhooks import deliveries_due, delivery_attempt

logger = logging.getLogger(__name__)

# Retries this soon are queued with a countdown; later ones are left to the
# sweep, since a broker holds long countdowns badly (Redis redelivers them after
# its visibility timeout).
COUNTDOWN_MAX_SECONDS = 300
DELIVER_TASK = "journeys.tasks.webhook_deliver"


def outbox_event_consume(event: Event) -> None:
    """The outbox consumer (named in the setting `OUTBOX_CONSUMERS`): journeys, then the deliveries' tasks."""
    for delivery_id in event_consume(event=event):
        enqueue_on_commit(DELIVER_TASK, delivery_id)


@shared_task(autoretry_for=(DatabaseError,), retry_backoff=5, max_retries=3)
def webhook_deliver(delivery_id: int) -> str | None:
    """Attempt one delivery if it is due and unclaimed; queue the next attempt when it is soon.

    A failed HTTP attempt is not a task failure: the delivery's own schedule
    (`next_attempt_at`) decides, and the sweep catches whatever this misses.
    """
    outcome = delivery_attempt(delivery_id=delivery_id)
    if outcome is None:
        return None
    if outcome.retry_in is not None and outcome.retry_in.total_seconds() <= COUNTDOWN_MAX_SECONDS:
        try:
            webhook_deliver.apply_async(args=(delivery_id,), countdown=outcome.retry_in.total_seconds())
        except BrokerUnavailable:
            logger.warning("Broker unavailable; the retry of delivery %s is left for the sweep.", delivery_id)
    return outcome.delivery.status


@shared_task
def webhook_deliveries_sweep() -> int:
    """Queue an attempt of every due delivery (CELERY_BEAT_SCHEDULE); returns how many.

    Each attempt is a task of its own, so one slow endpoint does not hold up the
    rest; a delivery queued twice is sent once (the claim).
    """
    delivery_ids = deliveries_due()
    for delivery_id in delivery_ids:
        webhook_deliver.delay(delivery_id)
    return len(delivery_ids)


@shared_task
def journey_pending_entries_sweep() -> int:
    """Decide pending journey entries after late pages restitched a visitor (CELERY_BEAT_SCHEDULE)."""
    delivery_ids = pending_entries_recheck()
    for delivery_id in delivery_ids:
        enqueue_on_commit(DELIVER_TASK, delivery_id)
    return len(delivery_ids)
