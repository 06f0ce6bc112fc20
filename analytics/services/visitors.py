"""Visitors: the row every write of a visitor's data starts by locking."""

from identity.models import Environment

from ..models import Visitor


def visitor_get_for_update(*, environment: Environment, public_id: str) -> Visitor:
    """The visitor's row, created when new, locked until the caller's transaction ends.

    Insert-or-ignore then lock, rather than get_or_create: two requests for the same
    new visitor never raise, and the second waits on the first's row lock and then
    sees what it wrote (its `user_id`). The collect writer locks many visitors at
    once the same way (`collect_writer._lock_visitors`).
    """
    Visitor.objects.bulk_create([Visitor(environment=environment, public_id=public_id)], ignore_conflicts=True)
    return Visitor.objects.select_for_update().get(environment=environment, public_id=public_id)
