"""Handing stored events to their consumers (journeys, webhooks) through the outbox.

Events are written to the outbox in the transaction that stores them
(`events.outbox_add`); this module reads it back. Each entry is claimed with a
conditional UPDATE, as healthchecks' `sendalerts` claims a `Flip`: only the worker
whose UPDATE matched the row hands the event on, so two dispatchers running at
once never deliver one event twice.

Delivery is at least once in one case only: a worker that dies between calling
the consumers and marking the entry done leaves a claim that goes stale after
CLAIM_TIMEOUT, and the entry is dispatched again. Consumers should therefore be
quick (queue their own work) and idempotent per event public ID, which webhook
deliveries are by their delivery ID.
"""

import functools
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone
from django.utils.module_loading import import_string

from ..models import Event, OutboxEntry

logger = logging.getLogger(__name__)

# A claim older than this belongs to a worker that died mid-dispatch.
CLAIM_TIMEOUT = timedelta(minutes=5)
# After this many failures an entry stays in the table for a human (the admin
# shows `last_error`) instead of failing every minute forever.
MAX_ATTEMPTS = 10
LAST_ERROR_MAX = 500

Consumer = Callable[[Event], None]

_consumers: list[Consumer] = []


def register_consumer(consumer: Consumer) -> Consumer:
    """Have `consumer(event)` called once for every event put in the outbox.

    Usable as a decorator; registering the same function twice has no effect. The
    project's own consumers are listed in the setting `OUTBOX_CONSUMERS` instead.
    """
    if consumer not in _consumers:
        _consumers.append(consumer)
    return consumer


def unregister_consumer(consumer: Consumer) -> None:
    if consumer in _consumers:
        _consumers.remove(consumer)


def registered_consumers() -> list[Consumer]:
    """The consumers named in `OUTBOX_CONSUMERS` (the apps above analytics), then any registered."""
    return [*_configured_consumers(), *_consumers]


@functools.cache
def _configured_consumers() -> tuple[Consumer, ...]:
    # Named in settings, the project's one place that knows every app: analytics
    # hands events up to journeys without importing anything above it.
    return tuple(import_string(path) for path in settings.OUTBOX_CONSUMERS)


def outbox_dispatch_pending(*, limit: int = 500) -> int:
    """Claim pending entries one by one, hand each event to every consumer; return how many succeeded.

    A failure (any consumer raising) counts an attempt, keeps a short error and
    releases the claim, so the next run tries the entry again.
    """
    now = timezone.now()
    candidates = list(
        OutboxEntry.objects.filter(dispatched_at__isnull=True, attempts__lt=MAX_ATTEMPTS)
        .filter(Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - CLAIM_TIMEOUT))
        .order_by("created_at", "pk")
        .values_list("pk", "claimed_at")[:limit]
    )
    dispatched = 0
    for entry_id, seen_claim in candidates:
        claim = _claim(entry_id, seen_claim)
        if claim is None:
            continue  # another worker won it
        if _dispatch(entry_id, claim):
            dispatched += 1
    return dispatched


def _claim(entry_id: int, seen_claim: datetime | None) -> datetime | None:
    """Stamp the entry as ours if it still is as we saw it; the claim time, or None when we lost."""
    claimed_at = timezone.now()
    entry = OutboxEntry.objects.filter(pk=entry_id, dispatched_at__isnull=True)
    # Match the exact claim we read: of two workers taking over one stale claim,
    # only the first UPDATE still finds the old value.
    entry = entry.filter(claimed_at__isnull=True) if seen_claim is None else entry.filter(claimed_at=seen_claim)
    return claimed_at if entry.update(claimed_at=claimed_at) == 1 else None


def _dispatch(entry_id: int, claimed_at: datetime) -> bool:
    ours = OutboxEntry.objects.filter(pk=entry_id, claimed_at=claimed_at)
    event = Event.objects.filter(outbox_entry__pk=entry_id).first()
    if event is None:  # erased since it was queued; the entry went with it
        return False
    try:
        for consumer in registered_consumers():
            consumer(event)
    except Exception as error:  # any consumer failing: keep the entry for a retry
        logger.exception("Outbox entry %s failed in a consumer.", entry_id)
        ours.update(
            attempts=F("attempts") + 1,
            last_error=f"{type(error).__name__}: {error}"[:LAST_ERROR_MAX],
            claimed_at=None,
        )
        return False
    ours.update(dispatched_at=timezone.now())
    return True


def outbox_settle_undispatched(*, environment_id: int, user_ids: list[int]) -> int:
    """Mark the users' pending entries done without handing them to any consumer; how many.

    For generated history only (demo traffic): its backdated events are the past,
    not something journeys should act on or webhooks announce.
    """
    if not user_ids:
        return 0
    return OutboxEntry.objects.filter(
        environment_id=environment_id, dispatched_at__isnull=True, event__user_id__in=user_ids
    ).update(dispatched_at=timezone.now())
