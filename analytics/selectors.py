"""Reads of analytics rows for one user: the profile and the timeline (SPEC 4.3).

Both read only rows of the user's environment, and only through `user`: rows
become the user's when stitching writes `user_id` on them, so a history that is
still being rewritten shows up as the task progresses.
"""

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import Count, Q
from django.utils.dateparse import parse_datetime

from identity.models import EndUser

from .models import Attribution, Event, Pageview, Session, Visitor
from .services.bulk import pg_rows

TIMELINE_DEFAULT_LIMIT = 100
TIMELINE_MAX_LIMIT = 500

PAGEVIEW = "pageview"
EVENT = "event"


@dataclass(frozen=True)
class UserStats:
    sessions: int
    pageviews: int
    pre_signup_pageviews: int
    pre_signup_events: int


@dataclass(frozen=True)
class UserProfile:
    user: EndUser
    first_touch: Attribution | None
    signup_touch: Attribution | None
    visitor_ids: list[str]
    stats: UserStats


def user_profile(*, user: EndUser) -> UserProfile:
    """The user with their attribution, visitors and counts of their history.

    "Pre-signup" is before the user's `created_at`: traffic of the visitors they
    later signed up or logged in on.
    """
    environment_id = user.environment_id
    visitor_ids = list(
        Visitor.objects.filter(environment_id=environment_id, user=user)
        .order_by("first_seen_at", "pk")
        .values_list("public_id", flat=True)
    )
    before_signup = Q(timestamp__lt=user.created_at)
    pageviews = Pageview.objects.filter(environment_id=environment_id, user=user).aggregate(
        total=Count("pk"), pre_signup=Count("pk", filter=before_signup)
    )
    pre_signup_events = Event.objects.filter(environment_id=environment_id, user=user).filter(before_signup).count()
    return UserProfile(
        user=user,
        first_touch=user_first_touch(user=user),
        signup_touch=user_signup_touch(user=user),
        visitor_ids=visitor_ids,
        stats=UserStats(
            sessions=Session.objects.filter(environment_id=environment_id, user=user).count(),
            pageviews=pageviews["total"],
            pre_signup_pageviews=pageviews["pre_signup"],
            pre_signup_events=pre_signup_events,
        ),
    )


def user_first_touch(*, user: EndUser) -> Attribution | None:
    """The earliest first touch among all the user's visitors (SPEC 5, Stitching rule 2).

    Read through `Visitor.user`, which the linking request sets, so the touch is
    known at once, before the history rewrite has run.
    """
    # The user's few visitors first, then their touches by the per-visitor index,
    # earliest picked here: an `ORDER BY at LIMIT 1` over a join lets the planner walk
    # every first touch of the environment in time order (it does, with stale statistics).
    visitor_ids = list(
        Visitor.objects.filter(environment_id=user.environment_id, user=user).values_list("pk", flat=True)
    )
    if not visitor_ids:
        return None
    touches = Attribution.objects.filter(
        environment_id=user.environment_id, kind=Attribution.Kind.FIRST_TOUCH, visitor_id__in=visitor_ids
    )
    return min(touches, key=lambda touch: (touch.at, touch.pk), default=None)


def user_signup_touch(*, user: EndUser) -> Attribution | None:
    """The source of the session the user signed up in (rule 3), once stitching has found it.

    Signup records which visitor it happened on; the row gets its session when that
    session's pageviews have arrived and the stitch has run.
    """
    return Attribution.objects.filter(
        environment_id=user.environment_id, user=user, kind=Attribution.Kind.SIGNUP_TOUCH, session__isnull=False
    ).first()


def stored_message_ids(*, environment_id: int, message_ids) -> set[str]:
    """Which of these message IDs the environment has stored, as a pageview or an event.

    The one dedupe key of an environment (SPEC 3), shared by collect and business
    events. A writer chunk asks for thousands at once: on PostgreSQL they go as one
    array parameter, which costs the ORM nothing per value.
    """
    if not message_ids:
        return set()
    if connection.vendor == "postgresql":
        # Named parameters: the array, used twice, is sent once.
        wanted = "WHERE environment_id = %(environment)s AND message_id = ANY(%(message_ids)s)"
        rows = pg_rows(
            f"SELECT message_id FROM {Pageview._meta.db_table} {wanted} "
            f"UNION SELECT message_id FROM {Event._meta.db_table} {wanted}",
            {"environment": environment_id, "message_ids": list(message_ids)},
            planned_each_time=True,
        )
        return {message_id for (message_id,) in rows}
    pageviews = Pageview.objects.filter(environment_id=environment_id, message_id__in=message_ids)
    events = Event.objects.filter(environment_id=environment_id, message_id__in=message_ids)
    return set(pageviews.values_list("message_id", flat=True).union(events.values_list("message_id")))


class InvalidCursor(ValueError):
    pass


@dataclass(frozen=True)
class TimelineItem:
    type: str  # PAGEVIEW or EVENT
    id: int
    at: datetime
    session_id: str | None
    visitor_id: str | None
    pre_signup: bool
    # pageviews
    hostname: str = ""
    path: str = ""
    title: str = ""
    # events
    name: str = ""
    properties: dict | None = None

    @property
    def sort_key(self) -> tuple:
        return (self.at, self.type, self.id)

    @property
    def url(self) -> str:
        # Host and path as stored: the scheme is not kept, and the query string
        # only as the separate utm_* fields, so nothing here is made up.
        return f"{self.hostname}{self.path}"


@dataclass(frozen=True)
class TimelinePage:
    items: list[TimelineItem]
    next_cursor: str | None


def user_timeline(*, user: EndUser, cursor: str | None = None, limit: int = TIMELINE_DEFAULT_LIMIT) -> TimelinePage:
    """The user's pageviews and events merged, oldest first, a page at a time.

    Ordered by (time, type, row ID), which is unique, so a keyset cursor never
    skips or repeats an item even when many share a timestamp. Raises
    InvalidCursor for a cursor this function did not make.
    """
    limit = max(1, min(limit, TIMELINE_MAX_LIMIT))
    after = cursor_decode(cursor) if cursor else None
    environment_id = user.environment_id
    common = ("pk", "timestamp", "session__public_id", "visitor__public_id")

    pageviews = _after(Pageview.objects.filter(environment_id=environment_id, user=user), PAGEVIEW, after)
    events = _after(Event.objects.filter(environment_id=environment_id, user=user), EVENT, after)
    items = [
        TimelineItem(
            type=PAGEVIEW,
            id=row["pk"],
            at=row["timestamp"],
            session_id=row["session__public_id"],
            visitor_id=row["visitor__public_id"],
            pre_signup=row["timestamp"] < user.created_at,
            hostname=row["hostname"],
            path=row["path"],
            title=row["title"],
        )
        for row in pageviews.order_by("timestamp", "pk").values(*common, "hostname", "path", "title")[: limit + 1]
    ]
    items += [
        TimelineItem(
            type=EVENT,
            id=row["pk"],
            at=row["timestamp"],
            session_id=row["session__public_id"],
            visitor_id=row["visitor__public_id"],
            pre_signup=row["timestamp"] < user.created_at,
            name=row["name"],
            properties=row["properties"],
        )
        for row in events.order_by("timestamp", "pk").values(*common, "name", "properties")[: limit + 1]
    ]
    items.sort(key=lambda item: item.sort_key)
    page = items[:limit]
    next_cursor = cursor_encode(page[-1]) if len(items) > limit else None
    return TimelinePage(items=page, next_cursor=next_cursor)


def _after(queryset, type_name: str, after: tuple[datetime, str, int] | None):
    """Rows of one type that sort after the cursor's (time, type, id)."""
    if after is None:
        return queryset
    at, after_type, after_id = after
    if type_name > after_type:
        return queryset.filter(timestamp__gte=at)
    if type_name < after_type:
        return queryset.filter(timestamp__gt=at)
    return queryset.filter(Q(timestamp__gt=at) | Q(timestamp=at, pk__gt=after_id))


def cursor_encode(item: TimelineItem) -> str:
    raw = json.dumps([item.at.isoformat(), item.type, item.id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def cursor_decode(cursor: str) -> tuple[datetime, str, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at_text, type_name, row_id = json.loads(raw)
        at = parse_datetime(at_text)
    except (binascii.Error, ValueError, TypeError):
        raise InvalidCursor(cursor) from None
    valid = at is not None and at.tzinfo is not None and type_name in (PAGEVIEW, EVENT)
    if not valid or not isinstance(row_id, int) or isinstance(row_id, bool):
        raise InvalidCursor(cursor)
    return at, type_name, row_id
