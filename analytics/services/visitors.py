"""Visitors: the row every write of a visitor's data starts by locking."""

from datetime import datetime

from identity.models import Environment

from ..models import Visitor


def visitor_get_for_update(
    *, environment: Environment, public_id: str, first_at: datetime | None = None, last_at: datetime | None = None
) -> Visitor:
    """The visitor's row, created when new, locked until the caller's transaction ends.

    Insert-or-ignore then lock, rather than get_or_create: two requests for the same
    new visitor never raise, and the second waits on the first's row lock and then
    sees what it wrote (its sessions, its `user_id`). With `first_at`/`last_at`, the
    visitor's first- and last-seen times are widened to cover them.
    """
    new = Visitor(environment=environment, public_id=public_id)
    if first_at is not None and last_at is not None:
        new.first_seen_at, new.last_seen_at = first_at, last_at
    Visitor.objects.bulk_create([new], ignore_conflicts=True)
    visitor = Visitor.objects.select_for_update().get(environment=environment, public_id=public_id)
    if (
        first_at is not None
        and last_at is not None
        and (first_at < visitor.first_seen_at or last_at > visitor.last_seen_at)
    ):
        visitor.first_seen_at = min(visitor.first_seen_at, first_at)
        visitor.last_seen_at = max(visitor.last_seen_at, last_at)
        visitor.save(update_fields=["first_seen_at", "last_seen_at"])
    return visitor
