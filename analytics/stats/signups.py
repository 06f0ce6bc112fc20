"""The users created in a period, as conversion paths count them (see conversions.py).

Read from the raw rows, by the report itself when it cannot use the rollups, and
by the rollups' build to store them (`RollupSignup`).
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from django.db import connection
from django.db.models import Count, F

from ..models import Attribution, Session
from .epoch import EpochMicroseconds
from .query import StatsQuery
from .scope import signups_in

SIGNUP = "signup"
ELLIPSIS = "…"
PATH_PAGES_MAX = 5


@dataclass(frozen=True)
class Signup:
    """What conversion paths need of one user created in the period."""

    day: date  # the local day of the signup
    touch: tuple[str, str, str]  # the user's first touch (channel, source, campaign); "" each without one
    seconds: float | None  # from the first touch to the signup; None without a first touch
    sessions: int | None  # sessions started up to the signup; None without a first touch
    path: tuple[str, ...] | None  # source, pages, "signup"; None without a signup session


def signups_of(query: StatsQuery) -> list[Signup]:
    """The users created in the period, from the raw rows (and to build the rollups from).

    Four set-based reads (the users, their visitors' first touches, their sessions up
    to signup, their signup sessions' pages) joined here: per-user correlated
    subqueries ran once per user and row.
    """
    users = list(signups_in(query).values_list("pk", _time("created_at"), "created_at"))
    if not users:
        return []
    user_ids = signups_in(query).values("pk")
    first_touches = _first_touches(query, user_ids)
    sessions_before = _sessions_before_signup(query, user_ids)
    paths = _signup_paths(query)
    zone = query.zone
    signups = []
    for pk, created_at, created in users:
        touch = first_touches.get(pk)
        path = paths.get(pk)
        day = created.astimezone(zone).date()
        if touch is None:
            signups.append(Signup(day=day, touch=("", "", ""), seconds=None, sessions=None, path=path))
            continue
        channel, source, campaign, touched_at = touch
        seconds = max(0.0, _seconds_between(touched_at, created_at))
        signups.append(
            Signup(
                day=day,
                touch=(channel, source, campaign),
                seconds=seconds,
                sessions=sessions_before.get(pk, 0),
                path=path,
            )
        )
    return signups


def _first_touches(query: StatsQuery, user_ids) -> dict:
    """{user: (channel, source, campaign, at)}: the earliest first touch among the user's visitors
    (analytics.selectors.user_first_touch)."""
    touches = (
        Attribution.objects.filter(
            environment=query.environment, kind=Attribution.Kind.FIRST_TOUCH, visitor__user_id__in=user_ids
        )
        .order_by("visitor__user_id", "at", "pk")
        .values_list("visitor__user_id", "channel", "source", "campaign", _time("at"))
    )
    first: dict = {}
    for user_id, channel, source, campaign, at in touches:
        first.setdefault(user_id, (channel, source, campaign, at))
    return first


def _time(field: str):
    """A time column as read here: on PostgreSQL whole microseconds since 1970, which cost
    far less to fetch than thousands of time-zone-aware datetimes; elsewhere a datetime."""
    return EpochMicroseconds(field) if connection.vendor == "postgresql" else F(field)


def _seconds_between(start, end) -> float:
    if isinstance(start, int):
        return (end - start) / 1_000_000  # what timedelta.total_seconds() gives, exactly
    return (end - start).total_seconds()


def _sessions_before_signup(query: StatsQuery, user_ids) -> dict:
    """{user: sessions started up to (and at) the user's creation}."""
    rows = (
        Session.objects.filter(
            environment=query.environment, user_id__in=user_ids, started_at__lte=F("user__created_at")
        )
        .values("user_id")
        .annotate(count=Count("pk"))
        .order_by()
    )
    return {row["user_id"]: row["count"] for row in rows}


def _signup_paths(query: StatsQuery) -> dict[int, tuple[str, ...]]:
    """{user: their way into signup}, for the users who signed up in a session."""
    signups = (
        signups_in(query)
        .filter(signup_touch__session__isnull=False)
        .values_list("pk", "signup_touch__session__source", "signup_touch__session__channel")
    )
    pages = _pages_before_signup(query)
    return {pk: tuple(_path_steps(source or channel or "Direct", pages.get(pk, []))) for pk, source, channel in signups}


def _pages_before_signup(query: StatsQuery) -> dict:
    """{user: the paths their signup session viewed up to the signup, in time order}.

    The database keeps only the views up to each user's creation, so neither the later
    views nor their times travel to Python.
    """
    views = (
        Attribution.objects.filter(
            environment=query.environment,
            kind=Attribution.Kind.SIGNUP_TOUCH,
            user__in=signups_in(query).values("pk"),
            session__pageviews__environment=query.environment,
            session__pageviews__timestamp__lte=F("user__created_at"),
        )
        .order_by("user_id", "session__pageviews__timestamp", "session__pageviews__id")
        .values_list("user_id", "session__pageviews__path")
    )
    pages = defaultdict(list)
    for user_id, path in views:
        pages[user_id].append(path)
    return pages


def _path_steps(source: str, pages: list[str]) -> list[str]:
    collapsed = []
    for page in pages:
        if not collapsed or collapsed[-1] != page:
            collapsed.append(page)
    if len(collapsed) > PATH_PAGES_MAX:
        collapsed = [*collapsed[:2], ELLIPSIS, *collapsed[-2:]]
    return [source, *collapsed, SIGNUP]
