"""Writing browser batches: many at once, set-based, in one transaction (SPEC 5).

Every collect batch ends here, judged and enriched by `services.collect`: one at
a time when a request writes its own batch, hundreds at a time when
`collect_writer` drains the queue. Whatever the number, a chunk costs the same
dozen statements: lock the visitors, drop duplicates, load their recent sessions,
then insert and update everything in bulk. This module only writes.

Visitor rows are locked first, in primary-key order, so that two writers (two
gunicorn workers, or a request racing the queue writer) sessionise one visitor
one after the other and see each other's `messageId`s. The unique constraints on
(environment, message_id) remain the backstop.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import IntegrityError, connection, transaction

from ascendkit_site import ids
from identity.models import EndUser, Environment

from ..items import BrowserBatch
from ..models import Attribution, Event, Pageview, Session, Visitor
from ..selectors import stored_message_ids
from ..stats.rollups import rollup_days_touch
from .bulk import instance_new, objects_create, rows_copy, rows_insert, rows_update
from .events import outbox_add
from .sessions import PageVisit, SessionBook, session_books_save, sessions_around
from .stitching import TOUCH_FIELDS, attribution_fill_from_session, visitor_restitch_on_commit
from .visitors import VisitorWanted, visitors_lock


@dataclass(frozen=True)
class RecordResult:
    accepted: int
    duplicates: int


@dataclass
class _VisitorWork:
    """What a chunk holds for one visitor: its items, oldest first, with their batches."""

    environment: Environment
    public_id: str
    entries: list = field(default_factory=list)  # (batch position, item, client)
    visitor: Visitor | None = None

    @property
    def first_at(self) -> datetime:
        return self.entries[0][1].at

    @property
    def last_at(self) -> datetime:
        return self.entries[-1][1].at


def browser_batches_write(*, batches: list[BrowserBatch]) -> list[RecordResult]:
    """Store the batches' items sessionised; answer each batch's accepted and duplicate counts."""
    for attempt in range(2):
        try:
            return _write(batches)
        except IntegrityError:
            # The one race the visitor locks cannot serialise: the same messageId sent
            # at once under two visitor IDs. The other write has committed by now (the
            # unique index waited for it), so a second go finds it a duplicate.
            if attempt:
                raise
    raise AssertionError("unreachable")


def _write(batches: list[BrowserBatch]) -> list[RecordResult]:
    counts = [[0, 0] for _ in batches]
    works = _works_by_visitor(batches)
    if works:
        with transaction.atomic():
            _lock_visitors(works)
            seen = _stored_message_ids(works)
            for work in works.values():
                work.entries = _without_duplicates(work, counts, seen=seen)
            fresh = [work for work in works.values() if work.entries]
            if fresh:
                _store(fresh)
    return [RecordResult(accepted=accepted, duplicates=duplicates) for accepted, duplicates in counts]


def _works_by_visitor(batches: list[BrowserBatch]) -> dict[tuple[int, str], _VisitorWork]:
    works: dict[tuple[int, str], _VisitorWork] = {}
    for position, batch in enumerate(batches):
        if not batch.items:
            continue
        key = (batch.environment.id, batch.visitor_public_id)
        work = works.setdefault(key, _VisitorWork(environment=batch.environment, public_id=batch.visitor_public_id))
        work.entries += [(position, item, batch.client) for item in batch.items]
    for work in works.values():
        work.entries.sort(key=lambda entry: entry[1].at)
    return works


def _lock_visitors(works: dict[tuple[int, str], _VisitorWork]) -> None:
    """Lock every visitor of the chunk (creating the new ones) and widen their seen times."""
    locked = visitors_lock(
        wanted=[
            VisitorWanted(
                environment=work.environment, public_id=work.public_id, first_at=work.first_at, last_at=work.last_at
            )
            for work in works.values()
        ]
    )
    seen_changed = []
    for key, work in works.items():
        visitor = work.visitor = locked[key]
        if work.first_at < visitor.first_seen_at or work.last_at > visitor.last_seen_at:
            visitor.first_seen_at = min(visitor.first_seen_at, work.first_at)
            visitor.last_seen_at = max(visitor.last_seen_at, work.last_at)
            seen_changed.append(visitor)
    rows_update(model=Visitor, objects=seen_changed, fields=["first_seen_at", "last_seen_at"])


def _stored_message_ids(works: dict[tuple[int, str], _VisitorWork]) -> dict[int, set[str]]:
    """Per environment, the chunk's message IDs that are already stored (read once per chunk)."""
    wanted = defaultdict(set)
    for (environment_id, _), work in works.items():
        wanted[environment_id].update(item.message_id for _, item, _ in work.entries)
    return {
        environment_id: stored_message_ids(environment_id=environment_id, message_ids=message_ids)
        for environment_id, message_ids in wanted.items()
    }


def _without_duplicates(work: _VisitorWork, counts: list[list[int]], *, seen: dict[int, set[str]]) -> list:
    seen_here = seen[work.environment.id]
    fresh = []
    for position, item, client in work.entries:
        if item.message_id in seen_here:
            counts[position][1] += 1
        else:
            seen_here.add(item.message_id)  # a repeat later in the chunk is a duplicate too
            counts[position][0] += 1
            fresh.append((position, item, client))
    return fresh


def _store(works: list[_VisitorWork]) -> None:
    books = {}
    placed = []  # (visitor, item, session, pageview visit or None)
    recent = sessions_around(
        spans=[
            (work.visitor, timedelta(minutes=work.environment.session_timeout_minutes), work.first_at, work.last_at)
            for work in works
        ]
    )
    for work in works:
        book = SessionBook(
            visitor=work.visitor,
            timeout=timedelta(minutes=work.environment.session_timeout_minutes),
            sessions=recent.get(work.visitor.pk, []),
        )
        books[work.visitor.pk] = book
        for _, item, client in work.entries:
            if item.is_pageview:
                visit = PageVisit(at=item.at, page=item.page, traffic=item.traffic)
                placed.append((work.visitor, item, book.add_pageview(visit, client), visit))
            else:
                placed.append((work.visitor, item, book.add_event(item.at, client), None))
    session_books_save(books.values())

    pageviews, events = [], []
    for visitor, item, session, visit in placed:
        session = books[visitor.pk].resolve(session)
        if visit is not None:
            pageviews.append(_pageview(visitor, item, session, visit))
        else:
            events.append(_event(visitor, item, session))
    # Duplicates were removed under the visitors' locks; the unique constraints catch
    # the one race left (see browser_batches_write).
    _insert(model=Pageview, rows=pageviews)
    _insert(model=Event, rows=events)
    touched = [session for book in books.values() for session in book.sessions]
    rollup_days_touch(environments=[work.environment for work in works], sessions=touched)
    _outbox_events_of_users(events)
    _first_touches_update(books.values())
    for book in books.values():
        if _arrived_after_its_link(book):
            # Pages from before signup delivered after it (the SDK batches): the
            # user's first and signup touches must be worked out again.
            visitor_restitch_on_commit(visitor=book.visitor)


def _insert(*, model, rows: list[dict]) -> None:
    if connection.vendor == "postgresql" and len(rows) > 1:
        rows_copy(model=model, rows=rows)
    else:
        rows_insert(model=model, rows=rows)


def _outbox_events_of_users(events: list[dict]) -> None:
    """Events of visitors that already belong to a user go to journeys and webhooks.

    Only those after the user signed up: pre-signup events never do, neither when
    the browser delivers them late nor once their visitor is linked later.
    """
    of_users = [event for event in events if event["user_id"]]
    if not of_users:
        return
    signed_up_at = dict(
        EndUser.objects.filter(pk__in={event["user_id"] for event in of_users}).values_list("pk", "created_at")
    )
    after_signup = [event for event in of_users if event["timestamp"] >= signed_up_at[event["user_id"]]]
    if not after_signup:
        return
    stored = Event.objects.filter(
        environment_id__in={event["environment_id"] for event in after_signup},
        public_id__in=[event["public_id"] for event in after_signup],
    )
    outbox_add(events=list(stored))


def _first_touches_update(books) -> None:
    """Keep each visitor's first touch: the source of its earliest session with a pageview."""
    candidates = {}
    for book in books:
        if book.entries:
            session, visit = min(book.entries, key=lambda entry: entry[1].at)
            candidates[book.visitor.pk] = (book.visitor, book.resolve(session), visit)
    if not candidates:
        return
    current = {
        touch.visitor_id: touch
        for touch in Attribution.objects.filter(visitor_id__in=candidates, kind=Attribution.Kind.FIRST_TOUCH)
    }
    new, changed = [], []
    for visitor_pk, (visitor, session, visit) in candidates.items():
        touch = current.get(visitor_pk)
        if touch is not None and touch.at <= visit.at:
            continue
        if touch is None:
            touch = instance_new(
                Attribution,
                cached={"visitor": visitor},
                environment_id=visitor.environment_id,
                visitor_id=visitor.pk,
                kind=Attribution.Kind.FIRST_TOUCH,
            )
            new.append(touch)
        else:
            changed.append(touch)
        attribution_fill_from_session(touch, session)
    # Nothing reads the new touches back here: no keys needed, so no extra statement.
    objects_create(model=Attribution, objects=new, with_keys=False)
    rows_update(model=Attribution, objects=changed, fields=TOUCH_FIELDS)


def _arrived_after_its_link(book: SessionBook) -> bool:
    visitor = book.visitor
    if visitor.user_id is None or visitor.linked_at is None:
        return False
    return any(book.resolve(session).started_at <= visitor.linked_at for session, _ in book.entries)


def _pageview(visitor: Visitor, item, session: Session, visit: PageVisit) -> dict:
    page, traffic = item.page, visit.traffic
    return {
        "environment_id": visitor.environment_id,
        "session_id": session.pk,
        "visitor_id": visitor.pk,
        "user_id": visitor.user_id,
        "message_id": item.message_id,
        "timestamp": item.at,
        "hostname": page.hostname,
        "path": page.path,
        "title": item.title,
        "referrer_host": traffic.referrer_host,
        "referrer_path": traffic.referrer_path,
        "utm_source": page.utm_source,
        "utm_medium": page.utm_medium,
        "utm_campaign": page.utm_campaign,
        "utm_term": page.utm_term,
        "utm_content": page.utm_content,
        # The session's source, device and place, so breakdowns need no join.
        "source": session.source,
        "channel": session.channel,
        "browser": session.browser,
        "os": session.os,
        "device_type": session.device_type,
        "country": session.country,
        "region": session.region,
        "city": session.city,
    }


def _event(visitor: Visitor, item, session: Session) -> dict:
    return {
        "environment_id": visitor.environment_id,
        "public_id": ids.mint("evt"),
        "session_id": session.pk,
        "visitor_id": visitor.pk,
        "user_id": visitor.user_id,
        "kind": Event.Kind.BROWSER,
        "name": item.name,
        "properties": item.properties,
        "message_id": item.message_id,
        "timestamp": item.at,
        "hostname": item.page.hostname if item.page else "",
        "path": item.page.path if item.page else "",
    }
