"""Conversion paths: how visitors become users (SPEC 4.4, 8).

`channels`: per first-touch channel, source and campaign, the period's visitors
(distinct visitors with a session in the period, by their own first touch) and
signups (users created in the period, by the user's first touch: the earliest of
all their visitors'), the conversion rate between them, and the median time (in
whole seconds, from first touch to signup) and median number of sessions (started
up to the signup) it took. `paths`: the most common ways into signup: the signup
session's source, then its pages up to the signup (reloads collapsed; a long path
keeps its first two and last two pages around "…"), then "signup".
"""

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date
from statistics import median

from django.db import connection
from django.db.models import Count, F

from ..models import Attribution, Session
from .funnels import EpochMicroseconds
from .memory import with_report_memory
from .metrics import mean_seconds, rate
from .properties import shown_value
from .query import StatsQuery
from .rollups import rollup_first_touch_visitors, rollup_signup_paths, rollup_signup_touches, rollup_usable
from .scope import sessions_in, signups_in

SIGNUP = "signup"
ELLIPSIS = "…"
PATH_PAGES_MAX = 5
TOUCH_KEYS = ("channel", "source", "campaign")


@dataclass(frozen=True)
class Signup:
    """What conversion paths need of one user created in the period."""

    day: date  # the local day of the signup
    touch: tuple[str, str, str]  # the user's first touch (channel, source, campaign); "" each without one
    seconds: float | None  # from the first touch to the signup; None without a first touch
    sessions: int | None  # sessions started up to the signup; None without a first touch
    path: tuple[str, ...] | None  # source, pages, "signup"; None without a signup session


@dataclass
class TouchSignups:
    """The signups of one first touch: how many, and the time and sessions of those with one."""

    signups: int = 0
    seconds: list[float] = field(default_factory=list)
    sessions: list[int] = field(default_factory=list)


@with_report_memory
def conversion_paths(*, query: StatsQuery, limit: int | None = None) -> dict:
    """{"channels": [...], "paths": [{"steps": [...], "users": n}]}."""
    limit = limit or query.limit
    if rollup_usable(query):
        touches, paths = _rolled_up_sums(query)
    else:
        touches, paths = _sums(signups_of(query))
    return {"channels": _channels(query, touches)[:limit], "paths": _ranked_paths(paths)[:limit]}


def _sums(signups: list[Signup]) -> tuple[dict[tuple, TouchSignups], Counter]:
    """Signups per first touch, and users per way into signup."""
    touches: dict[tuple, TouchSignups] = defaultdict(TouchSignups)
    for signup in signups:
        touch = touches[signup.touch]
        touch.signups += 1
        # A user with no visitor (signed up from a server) has no first touch to measure from.
        if signup.seconds is not None:
            touch.seconds.append(signup.seconds)
            touch.sessions.append(signup.sessions)
    return touches, Counter(signup.path for signup in signups if signup.path is not None)


def _rolled_up_sums(query: StatsQuery) -> tuple[dict[tuple, TouchSignups], Counter]:
    """As `_sums`, from RollupSignup, grouped by the database."""
    touches = {
        (channel, source, campaign): TouchSignups(signups=signups, seconds=seconds, sessions=sessions)
        for channel, source, campaign, signups, seconds, sessions in rollup_signup_touches(query)
    }
    return touches, Counter({tuple(steps): users for steps, users in rollup_signup_paths(query)})


def _channels(query: StatsQuery, touches: dict[tuple, TouchSignups]) -> list[dict]:
    visitors = _visitors_by_first_touch(query)
    rows = []
    for channel, source, campaign in visitors.keys() | touches.keys():
        touch = touches.get((channel, source, campaign)) or TouchSignups()
        seen = visitors.get((channel, source, campaign), 0)
        rows.append(
            {
                "channel": shown_value(channel),
                "source": shown_value(source),
                "campaign": shown_value(campaign),
                "visitors": seen,
                "signups": touch.signups,
                "conversion_rate": rate(touch.signups, seen),
                "median_time_to_signup": _median_seconds(touch.seconds),
                "median_sessions_to_signup": _median_number(touch.sessions),
            }
        )
    rows.sort(key=lambda row: (-row["visitors"], -row["signups"], row["channel"], row["source"], row["campaign"]))
    return rows


def _ranked_paths(paths: Counter) -> list[dict]:
    ranked = sorted(paths.items(), key=lambda item: (-item[1], item[0]))
    return [{"steps": list(steps), "users": users} for steps, users in ranked]


def _visitors_by_first_touch(query: StatsQuery) -> dict[tuple, int]:
    """{(channel, source, campaign): visitors with a session in the period}."""
    if rollup_usable(query):
        return rollup_first_touch_visitors(query)
    visitors = (
        Attribution.objects.filter(
            environment=query.environment,
            kind=Attribution.Kind.FIRST_TOUCH,
            visitor_id__in=sessions_in(query).values("visitor_id"),
        )
        .values(*TOUCH_KEYS)
        # A visitor has at most one first touch (a unique constraint): counting rows counts visitors.
        .annotate(visitors=Count("pk"))
        .order_by()
    )
    return {tuple(row[key] for key in TOUCH_KEYS): row["visitors"] for row in visitors}


def _median_seconds(values: list[float]) -> int | None:
    return mean_seconds(median(values), 1) if values else None


def _median_number(values: list[int]):
    if not values:
        return None
    middle = median(values)
    return int(middle) if float(middle).is_integer() else float(middle)


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
