"""Celery tasks: thin, load by ID, call a service; the retry policy lives here."""

from celery import shared_task
from django.db import DatabaseError

from .services.collect import collect_queue_drain
from .services.deletion import visitors_purge_anonymous
from .services.outbox import outbox_dispatch_pending
from .services.stitching import visitor_stitch, visitors_pending_stitch
from .stats.rollups import rollups_refresh

# The database being briefly away is the failure worth retrying; anything else is
# a bug, and the periodic sweeps pick the work up again once it is fixed.
RETRY_ON = (DatabaseError,)

# Chunks of queued collect batches one sweep writes at most (a chunk is up to 500).
COLLECT_SWEEP_CHUNKS = 20


@shared_task(autoretry_for=RETRY_ON, retry_backoff=5, retry_backoff_max=300, retry_jitter=True, max_retries=8)
def stitch_visitor(visitor_id: int) -> dict:
    """Give a linked visitor's history to its user (SPEC 5, Stitching); safe to run again."""
    result = visitor_stitch(visitor_id=visitor_id)
    return {"sessions": result.sessions, "pageviews": result.pageviews, "events": result.events}


@shared_task
def stitch_pending_visitors() -> int:
    """Queue again the links whose rewrite never completed (CELERY_BEAT_SCHEDULE); returns how many."""
    visitor_ids = visitors_pending_stitch()
    for visitor_id in visitor_ids:
        stitch_visitor.delay(visitor_id)
    return len(visitor_ids)


@shared_task(autoretry_for=RETRY_ON, retry_backoff=5, max_retries=3)
def outbox_dispatch() -> int:
    """Hand pending outbox entries to the registered consumers; returns how many went out.

    Queued after every commit that adds entries and run every minute by beat; runs
    overlap safely because each entry is claimed before it is handed on.
    """
    return outbox_dispatch_pending()


@shared_task
def purge_anonymous_visitors() -> dict:
    """The daily retention purge (CELERY_BEAT_SCHEDULE); returns what it removed.

    No retry: it is idempotent, and the next day's run finishes what a failed one left.
    """
    return visitors_purge_anonymous().as_dict()


@shared_task
def collect_queue_sweep() -> int:
    """Write queued collect batches that are waiting (CELERY_BEAT_SCHEDULE); returns how many.

    `collect_writer` normally empties the queue within a second. This sweep keeps
    queued data flowing, a few chunks a minute, when no writer is running.
    """
    written = 0
    for _ in range(COLLECT_SWEEP_CHUNKS):
        taken = collect_queue_drain()
        written += taken
        if not taken:
            break
    return written


@shared_task
def refresh_rollups() -> dict:
    """Recompute the report rollups' changed days (CELERY_BEAT_SCHEDULE); returns {env ID: first day}.

    No retry: the marks stay until a refresh succeeds, and the next run takes them.
    """
    return {environment_id: day.isoformat() for environment_id, day in rollups_refresh().items()}
