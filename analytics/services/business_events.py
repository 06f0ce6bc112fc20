"""Business events: `POST /v1/events` from servers and signed-in browsers (SPEC 4.2).

Each item is judged on its own; the good ones of a batch are stored in one
transaction together with their outbox entries, so an event that is stored is
always handed to journeys and webhooks, and one that is not never is.
"""

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F

from ascendkit_site import ids
from identity.models import EndUser, Environment

from ..cleaning import is_client_event_name
from ..enrichment.sources import PageUrl
from ..items import ItemRejected, item_page, item_properties, item_time, parse_client_time
from ..models import Event, Session, Visitor
from ..selectors import stored_message_ids
from ..stats.rollups import rollup_days_touch
from .events import outbox_add
from .sessions import SessionBook, session_books_save, sessions_around
from .stitching import visitor_link
from .visitors import VisitorWanted, visitors_lock


@dataclass(frozen=True)
class BusinessItem:
    index: int
    message_id: str
    name: str
    properties: dict
    at: datetime
    user_public_id: str
    visitor_public_id: str | None
    page: PageUrl | None = None  # where a browser event happened, when it says


@dataclass(frozen=True)
class EventsResult:
    accepted: int
    duplicates: int
    rejected: list[dict]


def business_events_record(
    *, environment: Environment, token_user: EndUser | None, raw_items: list, sent_at, received_at: datetime
) -> EventsResult:
    """Validate and store a batch of business events; answer what was accepted and rejected.

    `token_user` is the signed-in user of a browser call, None for a server call.
    Server items name their user; browser items belong to the token's user and
    are held to the browser's 7-day limit. A `visitorId` links that visitor.
    """
    sent = parse_client_time(sent_at)
    rejected: list[dict] = []
    items: list[BusinessItem] = []
    for index, raw in enumerate(raw_items):
        try:
            items.append(_parse_item(index, raw, token_user=token_user, sent_at=sent, received_at=received_at))
        except ItemRejected as rejection:
            rejected.append({"index": index, "reason": rejection.reason})

    users = _users_by_public_id(environment, items, token_user)
    known = []
    for item in items:
        if item.user_public_id in users:
            known.append(item)
        else:
            # Another environment's user is unknown here, exactly like a made-up one.
            rejected.append({"index": item.index, "reason": "unknown_user"})
    rejected.sort(key=lambda rejection: rejection["index"])

    accepted = _store(environment, known, users, kind=Event.Kind.SERVER if token_user is None else Event.Kind.BROWSER)
    return EventsResult(accepted=accepted, duplicates=len(known) - accepted, rejected=rejected)


def _parse_item(
    index: int, raw, *, token_user: EndUser | None, sent_at: datetime | None, received_at: datetime
) -> BusinessItem:
    if not isinstance(raw, dict):
        raise ItemRejected("invalid_item")
    name = raw.get("name")
    if not is_client_event_name(name):
        raise ItemRejected("invalid_name")

    message_id = raw.get("messageId")
    if message_id is not None and not ids.is_message_id(message_id):
        raise ItemRejected("invalid_message_id")

    user_id = raw.get("userId")
    if token_user is not None:
        if user_id is not None and user_id != token_user.public_id:
            raise ItemRejected("user_mismatch")
        user_id = token_user.public_id
    elif user_id is None:
        raise ItemRejected("missing_user_id")
    elif not ids.is_user_id(user_id):
        # Not a `usr_` ID (a NUL or a lone surrogate among them): no user has it, and
        # it never reaches a query.
        raise ItemRejected("unknown_user")

    visitor_id = raw.get("visitorId")
    if visitor_id is not None and not ids.is_visitor_id(visitor_id):
        raise ItemRejected("invalid_visitor_id")

    return BusinessItem(
        index=index,
        message_id=message_id or "",  # "" until stored: the event's own public ID, never a duplicate
        name=name,
        properties=item_properties(raw.get("properties")),
        at=_time(raw.get("timestamp"), sent_at=sent_at, received_at=received_at, browser=token_user is not None),
        user_public_id=user_id,
        visitor_public_id=visitor_id,
        page=item_page(raw.get("url")),
    )


def _time(timestamp, *, sent_at: datetime | None, received_at: datetime, browser: bool) -> datetime:
    # Server events may be backfilled from any date; browser items keep collect's 7 days.
    max_age = settings.BROWSER_MAX_AGE if browser else None
    return item_time(timestamp=timestamp, sent_at=sent_at, received_at=received_at, max_age=max_age)


def _users_by_public_id(
    environment: Environment, items: list[BusinessItem], token_user: EndUser | None
) -> dict[str, EndUser]:
    if token_user is not None:
        return {token_user.public_id: token_user}
    public_ids = {item.user_public_id for item in items}
    if not public_ids:
        return {}
    return {user.public_id: user for user in EndUser.objects.filter(environment=environment, public_id__in=public_ids)}


def _store(environment: Environment, items: list[BusinessItem], users: dict[str, EndUser], *, kind: str) -> int:
    """Store the items that are not duplicates; return how many were stored."""
    if not items:
        return 0
    with transaction.atomic():
        # Every named visitor is locked before any is linked, in the one lock order
        # that collect uses too (`visitors_lock`), so the two never deadlock.
        visitors_lock(
            wanted=[
                VisitorWanted(environment=environment, public_id=public_id)
                for public_id in {item.visitor_public_id for item in items if item.visitor_public_id}
            ]
        )
        seen = stored_message_ids(
            environment_id=environment.id, message_ids={item.message_id for item in items if item.message_id}
        )
        fresh = _without_duplicates(items, seen)
        if not fresh:
            return 0
        visitors = _visitors_link(environment, fresh, users)
        books, sessions = _sessions_join(environment, fresh, visitors)
        events = [
            _event(
                environment,
                item,
                kind=kind,
                user=users[item.user_public_id],
                visitor=visitors.get((item.user_public_id, item.visitor_public_id)),
                session=sessions.get(item.index),
            )
            for item in fresh
        ]
        # Duplicates were filtered above; a concurrent delivery of the same
        # messageId may still win the insert, and the constraint makes ours a no-op.
        Event.objects.bulk_create(events, ignore_conflicts=True)
        # Exactly the rows this call inserted carry the public IDs minted here.
        stored = list(Event.objects.filter(environment=environment, public_id__in=[e.public_id for e in events]))
        _sessions_uncount_lost(books, events, stored)
        rollup_days_touch(environments=[environment], sessions=sessions.values(), events=events)
        outbox_add(events=stored)
    return len(stored)


def _without_duplicates(items: list[BusinessItem], seen: set[str]) -> list[BusinessItem]:
    """Items whose messageId is new to the environment, the first of repeats within the batch."""
    fresh = []
    for item in items:
        if item.message_id:
            if item.message_id in seen:
                continue
            seen.add(item.message_id)
        fresh.append(item)
    return fresh


def _visitors_link(
    environment: Environment, items: list[BusinessItem], users: dict[str, EndUser]
) -> dict[tuple[str, str], Visitor]:
    """Link each (user, visitorId) pair of the batch; the visitors that are now the user's.

    A visitor that belongs to another user is left out: its rows, and their
    erasure, are that user's.
    """
    pairs = sorted({(item.visitor_public_id, item.user_public_id) for item in items if item.visitor_public_id})
    linked = {}
    for visitor_public_id, user_public_id in pairs:
        result = visitor_link(environment=environment, user=users[user_public_id], visitor_public_id=visitor_public_id)
        if result.linked:
            linked[(user_public_id, visitor_public_id)] = result.visitor
    return linked


def _sessions_join(
    environment: Environment, items: list[BusinessItem], visitors: dict[tuple[str, str], Visitor]
) -> tuple[dict[int, SessionBook], dict[int, Session]]:
    """Count each item in its visitor's session, with collect's sessioniser; sessions by item index.

    An item joins a session its time falls within the environment's timeout of
    (SPEC 5, Sessions: events are activity too), and one that closes the gap
    between two sessions merges them. A business event never starts a session: a
    visitor with no traffic around that time has none to join, and the event stays
    sessionless. The caller holds the visitors' row locks.
    """
    timeout = timedelta(minutes=environment.session_timeout_minutes)
    items_by_visitor: dict[int, tuple[Visitor, list[BusinessItem]]] = {}
    for item in items:
        visitor = visitors.get((item.user_public_id, item.visitor_public_id))
        if visitor is not None:
            items_by_visitor.setdefault(visitor.pk, (visitor, []))[1].append(item)
    if not items_by_visitor:
        return {}, {}
    recent = sessions_around(
        spans=[
            (visitor, timeout, min(i.at for i in its), max(i.at for i in its))
            for visitor, its in items_by_visitor.values()
        ]
    )
    books, joined = {}, {}
    for visitor_pk, (visitor, visitor_items) in items_by_visitor.items():
        book = books[visitor_pk] = SessionBook(visitor=visitor, timeout=timeout, sessions=recent.get(visitor_pk, []))
        for item in sorted(visitor_items, key=lambda item: item.at):
            session = book.join_event(item.at)
            if session is not None:
                joined[item.index] = (book, session)
    session_books_save(books.values())
    return books, {index: book.resolve(session) for index, (book, session) in joined.items()}


def _sessions_uncount_lost(books: dict[int, SessionBook], events: list[Event], stored: list[Event]) -> None:
    """Take back the count of events a concurrent delivery stored first (ours were not inserted)."""
    stored_ids = {event.public_id for event in stored}
    lost = Counter(event.session.pk for event in events if event.session and event.public_id not in stored_ids)
    for session_pk, count in lost.items():
        Session.objects.filter(pk=session_pk).update(event_count=F("event_count") - count)


def _event(
    environment: Environment,
    item: BusinessItem,
    *,
    kind: str,
    user: EndUser,
    visitor: Visitor | None,
    session: Session | None,
) -> Event:
    public_id = ids.mint("evt")
    return Event(
        environment=environment,
        public_id=public_id,
        message_id=item.message_id or public_id,
        kind=kind,
        name=item.name,
        properties=item.properties,
        timestamp=item.at,
        user=user,
        visitor=visitor,
        session=session,
        hostname=item.page.hostname if item.page else "",
        path=item.page.path if item.page else "",
    )
