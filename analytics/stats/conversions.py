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
from statistics import median

from django.db import connection
from django.db.models import Count, F

from ..models import Attribution, Session
from .funnels import EpochMicroseconds
from .memory import with_report_memory
from .metrics import mean_seconds, rate
from .properties import shown_value
from .query import StatsQuery
from .rollups import rollup_first_touch_visitors, rollup_usable
from .scope import sessions_in, signups_in

SIGNUP = "signup"
ELLIPSIS = "…"
PATH_PAGES_MAX = 5
TOUCH_KEYS = ("channel", "source", "campaign")


@with_report_memory
def conversion_paths(*, query: StatsQuery, limit: int | None = None) -> dict:
    """{"channels": [...], "paths": [{"steps": [...], "users": n}]}."""
    limit = limit or query.limit
    return {"channels": _channels(query)[:limit], "paths": _paths(query)[:limit]}


def _channels(query: StatsQuery) -> list[dict]:
    groups: dict = defaultdict(lambda: {"visitors": 0, "signups": []})
    for key, visitors in _visitors_by_first_touch(query).items():
        groups[key]["visitors"] = visitors
    for key, signup in _signups(query):
        groups[key]["signups"].append(signup)
    rows = []
    for (channel, source, campaign), group in groups.items():
        signups = group["signups"]
        # A user with no visitor (signed up from a server) has no first touch to measure from.
        timed = [signup for signup in signups if signup is not None]
        rows.append(
            {
                "channel": shown_value(channel),
                "source": shown_value(source),
                "campaign": shown_value(campaign),
                "visitors": group["visitors"],
                "signups": len(signups),
                "conversion_rate": rate(len(signups), group["visitors"]),
                "median_time_to_signup": _median_seconds([seconds for seconds, _ in timed]),
                "median_sessions_to_signup": _median_number([sessions for _, sessions in timed]),
            }
        )
    rows.sort(key=lambda row: (-row["visitors"], -row["signups"], row["channel"], row["source"], row["campaign"]))
    return rows


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


def _signups(query: StatsQuery):
    """Per user created in the period: its first-touch key and (seconds, sessions) to signup, or None.

    Three set-based reads (the users, their visitors' first touches, their sessions up
    to signup) joined here: per-user correlated subqueries ran once per user and row.
    """
    users = list(signups_in(query).values_list("pk", _time("created_at")))
    if not users:
        return
    user_ids = signups_in(query).values("pk")
    first_touches = _first_touches(query, user_ids)
    sessions_before = _sessions_before_signup(query, user_ids)
    for pk, created_at in users:
        touch = first_touches.get(pk)
        if touch is None:
            yield ("", "", ""), None
            continue
        channel, source, campaign, touched_at = touch
        seconds = max(0.0, _seconds_between(touched_at, created_at))
        yield (channel, source, campaign), (seconds, sessions_before.get(pk, 0))


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


def _paths(query: StatsQuery) -> list[dict]:
    signups = list(
        signups_in(query)
        .filter(signup_touch__session__isnull=False)
        .values(
            "pk",
            source=F("signup_touch__session__source"),
            channel=F("signup_touch__session__channel"),
        )
    )
    if not signups:
        return []
    pages = _pages_before_signup(query)
    paths = Counter()
    for signup in signups:
        source = signup["source"] or signup["channel"] or "Direct"
        paths[tuple(_path_steps(source, pages.get(signup["pk"], [])))] += 1
    ranked = sorted(paths.items(), key=lambda item: (-item[1], item[0]))
    return [{"steps": list(steps), "users": users} for steps, users in ranked]


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
