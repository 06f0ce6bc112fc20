"""Reading the rollups: the same sums the raw reports compute, from a few rows per day.

Each function answers in the shape of its raw counterpart (`metric_sums`,
breakdown's page and event sums, flows' step counts), so the reports finish,
round and sort both the same way.
"""

import json
from collections import Counter

from django.contrib.postgres.aggregates import ArrayAgg
from django.db import connection
from django.db.models import Count, Q, Sum

from ...models import RollupDay, RollupFlow, RollupSignup, RollupState, RollupTrail
from ..metrics import TOTAL
from ..packed import packed_fetch
from ..properties import EVENT, PAGE
from ..query import StatsQuery
from .build import FIRST_TOUCH, GAP_HORIZON_DAYS

WHOLE = ""  # the property (and value) of the environment's totals


def rollup_usable(query: StatsQuery) -> bool:
    """No filters, more than one day (a day is charted by the hour), and rollups built in this zone."""
    if connection.vendor != "postgresql" or query.filters or query.is_hourly or query.days > GAP_HORIZON_DAYS:
        return False
    return RollupState.objects.filter(environment=query.environment, time_zone=query.environment.time_zone).exists()


def _days(query: StatsQuery, property_name: str):
    return RollupDay.objects.filter(
        environment=query.environment, property=property_name, day__gte=query.date_from, day__lte=query.date_to
    )


_SUMS = {name: Sum(name) for name in ("sessions", "pageviews", "bounces", "durations", "events", "signups")}


def _value_sums(query: StatsQuery, property_name: str):
    """The period's sums per value of one property."""
    return _days(query, property_name).values("value").annotate(**_SUMS).order_by()


def _as_metric_sums(row: dict) -> dict:
    """The names `metrics_finish` reads; without filters every session is a landing."""
    return {
        "sessions": row["sessions"] or 0,
        "pageview_total": row["pageviews"] or 0,
        "landings": row["sessions"] or 0,
        "bounces": row["bounces"] or 0,
        "durations": row["durations"] or 0,
        "events": row["events"] or 0,
        "signups": row["signups"] or 0,
    }


# A visitor counts once in a period [from, to]: on the first day in it that they
# were active (with the value). That is the day whose previous active day is
# before `from`: no previous day (gap NULL) or a gap longer than day - from.
_PERIOD_VISITORS_SQL = """
SELECT value, SUM(visitors) FROM analytics_rollupvisitors
WHERE environment_id = %s AND property = %s AND day BETWEEN %s AND %s
  AND (gap IS NULL OR gap > day - %s::date)
GROUP BY value
"""
# Per day, every visitor active that day counts: one-day periods need no gap.
_DAILY_VISITORS_SQL = """
SELECT day, SUM(visitors) FROM analytics_rollupvisitors
WHERE environment_id = %s AND property = %s AND day BETWEEN %s AND %s
GROUP BY day
"""


def _visitors(query: StatsQuery, property_name: str, *, daily: bool = False) -> dict:
    sql, params = (_DAILY_VISITORS_SQL, []) if daily else (_PERIOD_VISITORS_SQL, [query.date_from])
    with connection.cursor() as cursor:
        cursor.execute(sql, [query.environment.pk, property_name, query.date_from, query.date_to, *params])
        return {group: int(visitors) for group, visitors in cursor.fetchall()}


def rollup_first_touch_visitors(query: StatsQuery) -> dict[tuple[str, str, str], int]:
    """Visitors with a session in the period, per first touch (channel, source, campaign)."""
    return {tuple(json.loads(value)): visitors for value, visitors in _visitors(query, FIRST_TOUCH).items()}


def rollup_totals(query: StatsQuery) -> dict:
    """{TOTAL: sums} over the period, as `metric_sums` with no grouping."""
    row = _days(query, WHOLE).aggregate(**_SUMS)
    return {TOTAL: {**_as_metric_sums(row), "visitors": _visitors(query, WHOLE).get(WHOLE, 0)}}


def rollup_daily(query: StatsQuery) -> dict:
    """{day: sums}, as `metric_sums` grouped by the local day."""
    rows = _days(query, WHOLE).values("day").annotate(**_SUMS).order_by()
    visitors = _visitors(query, WHOLE, daily=True)
    return {row["day"]: {**_as_metric_sums(row), "visitors": visitors.get(row["day"], 0)} for row in rows}


def rollup_property_sums(query: StatsQuery, property_name: str) -> dict:
    """{value: sums} for a session property, as the breakdown's `metric_sums`."""
    rows = _value_sums(query, property_name)
    visitors = _visitors(query, property_name)
    return {row["value"]: {**_as_metric_sums(row), "visitors": visitors.get(row["value"], 0)} for row in rows}


def rollup_page_sums(query: StatsQuery) -> dict:
    """{path: sums} for the pages viewed in the period, with their landings and signups."""
    rows = _value_sums(query, PAGE)
    visitors = _visitors(query, PAGE)
    landed = {row["value"]: row for row in _value_sums(query, "entry_page")}
    sums = {}
    for row in rows:
        if not row["pageviews"]:
            continue  # a page that only signed-up sessions viewed on other days
        path = row["value"]
        landing = _as_metric_sums(landed.get(path) or dict.fromkeys(_SUMS))
        sums[path] = {
            "pageviews": row["pageviews"],
            "sessions": row["sessions"],
            "visitors": visitors.get(path, 0),
            "signups": row["signups"],
            "landings": landing["landings"],
            "bounces": landing["bounces"],
            "durations": landing["durations"],
        }
    return sums


def rollup_event_sums(query: StatsQuery) -> dict:
    """{name: {events, visitors}} for the period's custom events."""
    rows = _days(query, EVENT).values("value").annotate(events=Sum("events")).order_by()
    visitors = _visitors(query, EVENT)
    return {row["value"]: {"events": row["events"], "visitors": visitors.get(row["value"], 0)} for row in rows}


def rollup_flow_steps(query: StatsQuery, from_page: str | None) -> Counter:
    """Sessions per (step from 0, page, next page or None), as flows' `flow_steps_of`."""
    rows = (
        RollupFlow.objects.filter(
            environment=query.environment,
            start_page=from_page or WHOLE,
            day__gte=query.date_from,
            day__lte=query.date_to,
        )
        .values_list("step", "page", "next_page")
        .annotate(sessions=Sum("sessions"))
        .order_by()
    )
    return Counter({(step - 1, page, following): sessions for step, page, following, sessions in rows})


def rollup_trails(query: StatsQuery, keys: list[tuple[int, str]]) -> dict[tuple[int, str], list[bytes]]:
    """Per (kind, key) of a funnel, the packed items of each of the period's days."""
    wanted = Q()
    for kind, key in keys:
        wanted |= Q(kind=kind, key=key)
    rows = RollupTrail.objects.filter(
        wanted, environment=query.environment, day__gte=query.date_from, day__lte=query.date_to
    ).values_list("kind", "key", "items")
    packed = {}
    for kind, key, items in packed_fetch(*rows.query.sql_with_params()):
        packed.setdefault((kind, key), []).append(items)
    return packed


def rollup_signup_touches(query: StatsQuery):
    """Per first touch of the period's users: (channel, source, campaign, signups, [seconds], [sessions])."""
    timed = Q(seconds__isnull=False)
    return (
        _signups(query)
        .values("channel", "source", "campaign")
        .annotate(
            signups=Count("pk"),
            timed_seconds=ArrayAgg("seconds", filter=timed, default=[]),
            timed_sessions=ArrayAgg("sessions", filter=timed, default=[]),
        )
        .values_list("channel", "source", "campaign", "signups", "timed_seconds", "timed_sessions")
        .order_by()
    )


def rollup_signup_paths(query: StatsQuery):
    """Per way into signup of the period's users: (steps, users)."""
    return (
        _signups(query)
        .filter(path__isnull=False)
        .values("path")
        .annotate(users=Count("pk"))
        .values_list("path", "users")
    ).order_by()


def _signups(query: StatsQuery):
    return RollupSignup.objects.filter(environment=query.environment, day__gte=query.date_from, day__lte=query.date_to)
