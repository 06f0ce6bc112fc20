"""Recording events that journeys and webhooks consume."""

from datetime import datetime

from django.utils import timezone

from ascendkit_site import ids
from ascendkit_site.queue import enqueue_on_commit
from identity.models import EndUser

from ..models import Event, OutboxEntry, Session, Visitor


def event_record_builtin(
    *,
    user: EndUser,
    name: str,
    properties: dict | None = None,
    at: datetime | None = None,
    visitor: Visitor | None = None,
    session: Session | None = None,
) -> Event:
    """Record a built-in `user.*` event and hand it to the outbox.

    Call it inside the transaction of the change that causes the event, so both
    commit or neither does.
    """
    public_id = ids.mint("evt")
    event = Event.objects.create(
        environment_id=user.environment_id,
        public_id=public_id,
        message_id=public_id,
        kind=Event.Kind.BUILTIN,
        name=name,
        properties=properties or {},
        timestamp=at or timezone.now(),
        user=user,
        visitor=visitor,
        session=session,
    )
    outbox_add(events=[event])
    return event


def outbox_add(*, events: list[Event]) -> None:
    """Hand stored events to journeys and webhooks, in the caller's transaction.

    The dispatch task is queued after commit; a periodic sweep covers a broker outage.
    """
    if not events:
        return
    OutboxEntry.objects.bulk_create([OutboxEntry(environment_id=event.environment_id, event=event) for event in events])
    enqueue_on_commit("analytics.tasks.outbox_dispatch")
