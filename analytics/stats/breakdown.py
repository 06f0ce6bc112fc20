"""Top values of one property with their metrics (SPEC 4.4 breakdown).

A session property groups the period's sessions by their value; `page` groups
pageviews by path (the visitors and sessions that viewed the page; bounce rate and
duration of the sessions that landed on it, as Plausible shows them); `event`
groups custom events by name. Sorted by the first metric, descending, ties by
value ascending, so equal rows always come in one order.
"""

from django.db.models import Count, F, Q

from .memory import with_report_memory
from .metrics import Grouping, metric_sums, metrics_finish
from .properties import (
    EVENT,
    EVENT_METRICS,
    PAGE,
    PAGE_METRICS,
    SESSION_COLUMNS,
    metrics_validate,
    property_validate,
    shown_value,
)
from .query import StatsQuery
from .rollups import rollup_event_sums, rollup_page_sums, rollup_property_sums, rollup_usable
from .scope import events_in, pageviews_in, signups_in

DEFAULT_BREAKDOWN_METRICS = ("visitors",)


@with_report_memory
def stats_breakdown(
    *, query: StatsQuery, property: str, metrics=DEFAULT_BREAKDOWN_METRICS, limit: int | None = None
) -> list[dict]:
    """[{"channel": "Direct", "visitors": 2, …}], the top `limit` values (default: the query's)."""
    property_validate(property)
    limit = limit or query.limit
    rolled_up = rollup_usable(query)
    if property == EVENT:
        metrics = metrics_validate(metrics, allowed=EVENT_METRICS, property_name=property)
        sums = rollup_event_sums(query) if rolled_up else _event_sums(query, metrics)
    elif property == PAGE:
        metrics = metrics_validate(metrics, allowed=PAGE_METRICS, property_name=property)
        sums = rollup_page_sums(query) if rolled_up else _page_sums(query, metrics)
    else:
        metrics = metrics_validate(metrics)
        sums = rollup_property_sums(query, property) if rolled_up else _session_property_sums(query, property, metrics)
    rows = [{property: shown_value(value), **metrics_finish(row, metrics)} for value, row in sums.items()]
    first = metrics[0]
    rows = [row for row in rows if any(row[name] for name in metrics)]
    rows.sort(key=lambda row: (-row[first], row[property]))
    return rows[:limit]


def _session_property_sums(query: StatsQuery, property: str, metrics) -> dict:
    column = SESSION_COLUMNS[property]
    grouping = Grouping(
        sessions=F(column),
        pageviews=F(f"session__{column}"),
        events=F(f"session__{column}"),
        signups=F(f"signup_touch__session__{column}"),
    )
    # Signups without a signup session, and events outside sessions, have no value here.
    return {value: row for value, row in metric_sums(query, metrics, grouping).items() if value is not None}


def _page_sums(query: StatsQuery, metrics) -> dict:
    sums: dict = {}
    viewed = (
        pageviews_in(query)
        .values(group=F("path"))
        .annotate(
            pageviews=Count("pk"),
            visitors=Count("visitor_id", distinct=True),
            sessions=Count("session_id", distinct=True),
        )
    )
    for row in viewed.order_by():
        sums[row.pop("group")] = row
    if any(name in metrics for name in ("bounce_rate", "visit_duration")):
        landed = metric_sums(query, ("bounce_rate", "visit_duration"), Grouping(sessions=F("entry_path")))
        for path, row in landed.items():
            if path in sums:
                sums[path].update(landings=row["landings"], bounces=row["bounces"], durations=row["durations"])
    if any(name in metrics for name in ("signups", "conversion_rate")):
        for path, signups in _signups_by_page(query).items():
            if path in sums:
                sums[path]["signups"] = signups
    return sums


def _signups_by_page(query: StatsQuery) -> dict:
    """Signups per page their signup session viewed (a page viewed twice counts once)."""
    rows = (
        signups_in(query)
        .values(group=F("signup_touch__session__pageviews__path"))
        .annotate(signups=Count("pk", distinct=True))
        .order_by()
    )
    return {row["group"]: row["signups"] for row in rows if row["group"] is not None}


def _event_sums(query: StatsQuery, metrics) -> dict:
    rows = (
        events_in(query)
        .values(group=F("name"))
        .annotate(events=Count("pk"), visitors=Count("visitor_id", distinct=True, filter=Q(visitor__isnull=False)))
        .order_by()
    )
    return {row.pop("group"): row for row in rows}
