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
from statistics import median

from django.db.models import Count

from ..models import Attribution
from .memory import with_report_memory
from .metrics import mean_seconds, rate
from .properties import shown_value
from .query import StatsQuery
from .rollups import rollup_first_touch_visitors, rollup_signup_paths, rollup_signup_touches, rollup_usable
from .scope import sessions_in
from .signups import Signup, signups_of

TOUCH_KEYS = ("channel", "source", "campaign")


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
