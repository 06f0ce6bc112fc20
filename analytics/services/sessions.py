"""Sessionisation: which session each item of a visitor joins (SPEC 5, "Sessions").

A session is a run of activity with no gap longer than the environment's timeout.
Items can arrive late and out of order, so an item joins whichever session its
time falls within a timeout of, and when an item closes the gap between two
sessions they become one. Callers hold the visitor's row lock while this runs, so
two batches of one visitor never build sessions side by side.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection

from ascendkit_site import ids

from ..enrichment.sources import PageUrl, Traffic
from ..items import Client
from ..models import Attribution, Event, Pageview, Session, Visitor
from .bulk import instance_new, instances_select, objects_create, rows_update

# Copied from the session's first pageview; a later, earlier-timed pageview replaces them.
ENTRY_FIELDS = (
    "first_pageview_at",
    "entry_path",
    "hostname",
    "referrer_host",
    "referrer_path",
    "source",
    "medium",
    "channel",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
)
CLIENT_FIELDS = (
    "browser",
    "os",
    "device_type",
    "country",
    "region",
    "city",
    "screen_width",
    "screen_height",
    "locale",
    "time_zone",
)
UPDATED_FIELDS = (
    "started_at",
    "last_activity_at",
    "duration_seconds",
    "pageview_count",
    "event_count",
    "is_bounce",
    "last_pageview_at",
    "exit_path",
    *ENTRY_FIELDS,
    *CLIENT_FIELDS,
)


@dataclass(frozen=True)
class PageVisit:
    """A pageview as the session sees it."""

    at: datetime
    page: PageUrl
    traffic: Traffic


class SessionBook:
    """The visitor's sessions around a batch's time span, changed in memory, then saved."""

    def __init__(self, *, visitor: Visitor, timeout: timedelta, sessions: list[Session]):
        """`sessions`: the visitor's sessions around the items to come (loaded by the caller)."""
        self.visitor = visitor
        self.timeout = timeout
        self.sessions = sorted(sessions, key=lambda s: s.started_at)
        self._changed: set[int] = set()  # id() of sessions to write
        self._merged: dict[int, Session] = {}  # id() of a folded session -> the one it joined
        # (session, pageview) pairs where a pageview became a session's entry: the
        # candidates for the visitor's first touch.
        self.entries: list[tuple[Session, PageVisit]] = []

    def add_pageview(self, visit: PageVisit, client: Client) -> Session:
        session = self._session_at(visit.at, client)
        session.pageview_count += 1
        if session.first_pageview_at is None or visit.at < session.first_pageview_at:
            _set_entry(session, visit)
            self.entries.append((session, visit))
        if session.last_pageview_at is None or visit.at >= session.last_pageview_at:
            session.last_pageview_at = visit.at
            session.exit_path = visit.page.path
        return session

    def add_event(self, at: datetime, client: Client) -> Session:
        session = self._session_at(at, client)
        session.event_count += 1
        return session

    def join_event(self, at: datetime) -> Session | None:
        """Count a business event in the session its time belongs to; None when there is none.

        A business event never starts a session on its own: it joins a visitor's
        browsing when there is some around its time, and, like any activity, it
        extends that session and may bridge two.
        """
        session = self._session_covering(at)
        if session is not None:
            self._stretch(session, at)
            session.event_count += 1
        return session

    def resolve(self, session: Session) -> Session:
        """The session an item ended in, after merges."""
        while id(session) in self._merged:
            session = self._merged[id(session)]
        return session

    def settle(self) -> tuple[list[Session], list[Session]]:
        """Merge sessions that now touch; return the sessions to create and those to update."""
        self._merge_touching()
        for session in self.sessions:
            session.recompute_derived()
        created = [s for s in self.sessions if s.pk is None]
        changed = [s for s in self.sessions if s.pk is not None and id(s) in self._changed]
        return created, changed

    def _session_covering(self, at: datetime) -> Session | None:
        for session in self.sessions:
            if session.started_at - self.timeout <= at <= session.last_activity_at + self.timeout:
                return session
        return None

    def _stretch(self, session: Session, at: datetime) -> None:
        session.started_at = min(session.started_at, at)
        session.last_activity_at = max(session.last_activity_at, at)
        self._changed.add(id(session))

    def _session_at(self, at: datetime, client: Client) -> Session:
        session = self._session_covering(at)
        if session is not None:
            self._stretch(session, at)
            return session
        session = self._new_session(at, client)
        self.sessions.append(session)
        self.sessions.sort(key=lambda s: s.started_at)
        self._changed.add(id(session))
        return session

    def _new_session(self, at: datetime, client: Client) -> Session:
        visitor = self.visitor
        session = instance_new(
            Session,
            cached={"visitor": visitor},
            environment_id=visitor.environment_id,
            visitor_id=visitor.pk,
            user_id=visitor.user_id,
            started_at=at,
            last_activity_at=at,
            # bulk inserts skip save(), where public IDs are usually minted.
            public_id=ids.mint("ses"),
        )
        _set_client(session, client)
        return session

    def _merge_touching(self) -> None:
        """Fold each session into the one before it when the gap between them closed."""
        kept: list[Session] = []
        for session in sorted(self.sessions, key=lambda s: s.started_at):
            previous = kept[-1] if kept else None
            touched = previous is not None and (id(previous) in self._changed or id(session) in self._changed)
            if touched and session.started_at - previous.last_activity_at <= self.timeout:
                self._fold(previous, session)
            else:
                kept.append(session)
        self.sessions = kept

    def _fold(self, into: Session, other: Session) -> None:
        into.started_at = min(into.started_at, other.started_at)
        into.last_activity_at = max(into.last_activity_at, other.last_activity_at)
        into.pageview_count += other.pageview_count
        into.event_count += other.event_count
        if other.first_pageview_at is not None and (
            into.first_pageview_at is None or other.first_pageview_at < into.first_pageview_at
        ):
            for field in ENTRY_FIELDS + CLIENT_FIELDS:
                setattr(into, field, getattr(other, field))
        if other.last_pageview_at is not None and (
            into.last_pageview_at is None or other.last_pageview_at >= into.last_pageview_at
        ):
            into.last_pageview_at = other.last_pageview_at
            into.exit_path = other.exit_path
        self._changed.add(id(into))
        self._merged[id(other)] = into
        if other.pk is not None:
            _move_rows(from_session=other, to_session=into)
            other.delete()


def sessions_around(*, spans: list[tuple[Visitor, timedelta, datetime, datetime]]) -> dict[int, list[Session]]:
    """The visitors' sessions that items between `first` and `last` could join, in one query.

    `spans`: (visitor, session timeout, first item time, last item time). Keyed by visitor pk.
    """
    if not spans:
        return {}
    longest_timeout = max(timeout for _, timeout, _, _ in spans)
    environment_ids = list({visitor.environment_id for visitor, _, _, _ in spans})
    visitor_ids = [visitor.pk for visitor, _, _, _ in spans]
    since = min(first for _, _, first, _ in spans) - longest_timeout
    until = max(last for _, _, _, last in spans) + longest_timeout
    if connection.vendor == "postgresql":
        # Arrays bound server-side: a chunk asks for a thousand visitors' sessions.
        sessions = instances_select(
            Session,
            where="environment_id = ANY(%s) AND visitor_id = ANY(%s) AND last_activity_at >= %s AND started_at <= %s",
            params=[environment_ids, visitor_ids, since, until],
            then="ORDER BY started_at",
        )
    else:
        sessions = Session.objects.filter(
            environment_id__in=environment_ids,
            visitor_id__in=visitor_ids,
            last_activity_at__gte=since,
            started_at__lte=until,
        ).order_by("started_at")
    by_visitor: dict[int, list[Session]] = {}
    for session in sessions:
        by_visitor.setdefault(session.visitor_id, []).append(session)
    return by_visitor


def session_books_save(books) -> None:
    """Write what the books changed: updated sessions in one statement, new ones in another."""
    created, changed = [], []
    for book in books:
        new, updated = book.settle()
        created += new
        changed += updated
    rows_update(model=Session, objects=changed, fields=UPDATED_FIELDS)
    objects_create(model=Session, objects=created)


def _set_entry(session: Session, visit: PageVisit) -> None:
    traffic, page = visit.traffic, visit.page
    session.first_pageview_at = visit.at
    session.entry_path = page.path
    session.hostname = page.hostname
    session.referrer_host = traffic.referrer_host
    session.referrer_path = traffic.referrer_path
    session.source = traffic.source
    session.medium = traffic.medium
    session.channel = traffic.channel
    session.utm_source = page.utm_source
    session.utm_medium = page.utm_medium
    session.utm_campaign = page.utm_campaign
    session.utm_term = page.utm_term
    session.utm_content = page.utm_content


def _set_client(session: Session, client: Client) -> None:
    session.browser = client.device.browser
    session.os = client.device.os
    session.device_type = client.device.device_type
    session.country = client.place.country
    session.region = client.place.region
    session.city = client.place.city
    session.screen_width = client.screen_width
    session.screen_height = client.screen_height
    session.locale = client.locale
    session.time_zone = client.time_zone


def _move_rows(*, from_session: Session, to_session: Session) -> None:
    # `into` may be new and unsaved yet; it is saved before its rows are moved.
    if to_session.pk is None:
        to_session.recompute_derived()
        Session.objects.bulk_create([to_session])
    environment_id = from_session.environment_id
    Pageview.objects.filter(environment_id=environment_id, session=from_session).update(session=to_session)
    Event.objects.filter(environment_id=environment_id, session=from_session).update(session=to_session)
    # Touches follow their session too, so a signup touch stays known across a merge.
    Attribution.objects.filter(environment_id=environment_id, session=from_session).update(session=to_session)
