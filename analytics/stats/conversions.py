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

from django.db.models import Count, F, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce

from ..models import Attribution, Pageview, Session
from .memory import with_report_memory
from .metrics import mean_seconds, rate
from .properties import shown_value
from .query import StatsQuery
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
    visitors = (
        Attribution.objects.filter(
            environment=query.environment,
            kind=Attribution.Kind.FIRST_TOUCH,
            visitor_id__in=sessions_in(query).values("visitor_id"),
        )
        .values(*TOUCH_KEYS)
        .annotate(visitors=Count("visitor_id", distinct=True))
        .order_by()
    )
    groups: dict = defaultdict(lambda: {"visitors": 0, "signups": []})
    for row in visitors:
        groups[tuple(row[key] for key in TOUCH_KEYS)]["visitors"] = row["visitors"]
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


def _median_seconds(values: list[float]) -> int | None:
    return mean_seconds(median(values), 1) if values else None


def _median_number(values: list[int]):
    if not values:
        return None
    middle = median(values)
    return int(middle) if float(middle).is_integer() else float(middle)


def _signups(query: StatsQuery):
    """Per user created in the period: its first-touch key and (seconds, sessions) to signup, or None."""
    sessions_before = (
        Session.objects.filter(
            environment=query.environment, user_id=OuterRef("pk"), started_at__lte=OuterRef("created_at")
        )
        .order_by()
        .values("user_id")
        .annotate(count=Count("pk"))
        .values("count")
    )
    # The user's first touch: the earliest among their visitors' (analytics.selectors.user_first_touch).
    first_touch = Attribution.objects.filter(
        environment=query.environment, kind=Attribution.Kind.FIRST_TOUCH, visitor__user=OuterRef("pk")
    ).order_by("at", "pk")

    def touch(field):
        return Subquery(first_touch.values(field)[:1])

    users = signups_in(query).annotate(
        channel=Coalesce(touch("channel"), Value("")),
        source=Coalesce(touch("source"), Value("")),
        campaign=Coalesce(touch("campaign"), Value("")),
        touched_at=touch("at"),
        sessions_before=Coalesce(Subquery(sessions_before), Value(0)),
    )
    for user in users.values("channel", "source", "campaign", "touched_at", "created_at", "sessions_before"):
        key = (user["channel"], user["source"], user["campaign"])
        if user["touched_at"] is None:
            yield key, None
        else:
            seconds = max(0.0, (user["created_at"] - user["touched_at"]).total_seconds())
            yield key, (seconds, user["sessions_before"])


def _paths(query: StatsQuery) -> list[dict]:
    signups = list(
        signups_in(query)
        .filter(signup_touch__session__isnull=False)
        .values(
            "created_at",
            session_id=F("signup_touch__session_id"),
            source=F("signup_touch__session__source"),
            channel=F("signup_touch__session__channel"),
        )
    )
    if not signups:
        return []
    pages = defaultdict(list)
    pageviews = Pageview.objects.filter(
        environment=query.environment, session_id__in=[signup["session_id"] for signup in signups]
    ).order_by("session_id", "timestamp", "pk")
    for session_id, at, path in pageviews.values_list("session_id", "timestamp", "path"):
        pages[session_id].append((at, path))
    paths = Counter()
    for signup in signups:
        before = [path for at, path in pages[signup["session_id"]] if at <= signup["created_at"]]
        paths[tuple(_path_steps(signup["source"] or signup["channel"] or "Direct", before))] += 1
    ranked = sorted(paths.items(), key=lambda item: (-item[1], item[0]))
    return [{"steps": list(steps), "users": users} for steps, users in ranked]


def _path_steps(source: str, pages: list[str]) -> list[str]:
    collapsed = []
    for page in pages:
        if not collapsed or collapsed[-1] != page:
            collapsed.append(page)
    if len(collapsed) > PATH_PAGES_MAX:
        collapsed = [*collapsed[:2], ELLIPSIS, *collapsed[-2:]]
    return [source, *collapsed, SIGNUP]
