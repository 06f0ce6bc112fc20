"""Totals over a period, the same metrics per chart bucket, and the previous period.

A chart has every bucket of the period, zeros included: hours of the day for a
one-day period (in the environment's time zone, so 23 or 25 of them when clocks
change; the repeated hour when clocks go back is one bucket, as in Plausible), days
otherwise. Sessions and their pageviews count in the bucket in which the session
started, events when they happened, signups when the user was created.
"""

from datetime import UTC, datetime, timedelta

from django.db.models.functions import TruncDate, TruncHour

from .memory import with_report_memory
from .metrics import TOTAL, Grouping, metric_sums, metrics_finish
from .properties import ALL_METRICS, RATE_METRICS, metrics_validate
from .query import StatsQuery
from .rollups import rollup_daily, rollup_totals, rollup_usable


@with_report_memory
def stats_aggregate(*, query: StatsQuery, metrics=ALL_METRICS, compare: bool = False) -> dict:
    """{"visitors": 4, …} over the period; with `compare`, each metric against the previous period.

    Compared, a metric is {"value", "previous", "change"}. As in Plausible, a rate
    (bounce and conversion rate) changes in percentage points, with one decimal;
    any other metric in percent of its previous value, a whole number: 100 when it
    rose from 0, and 0 when both are 0.
    """
    metrics = metrics_validate(metrics)
    current = _totals(query, metrics)
    if not compare:
        return current
    previous = _totals(query.previous_period(), metrics)
    return {
        name: {
            "value": current[name],
            "previous": previous[name],
            "change": metric_change(name, previous[name], current[name]),
        }
        for name in metrics
    }


def _totals(query: StatsQuery, metrics) -> dict:
    sums = rollup_totals(query) if rollup_usable(query) else metric_sums(query, metrics, Grouping())
    return metrics_finish(sums.get(TOTAL, {}), metrics)


def metric_change(metric: str, previous, current):
    """Plausible's convention: rates in percentage points, the rest in percent."""
    if metric in RATE_METRICS:
        return round(current - previous, 1)
    if previous == 0:
        return 100 if current > 0 else 0
    return int(round((current - previous) * 100 / previous))


@with_report_memory
def stats_timeseries(*, query: StatsQuery, metrics=ALL_METRICS) -> list[dict]:
    """[{"date": "2026-11-29", …}] per day, or per hour ("2026-11-29T13:00:00+01:00") for one day."""
    metrics = metrics_validate(metrics)
    zone = query.zone
    if query.is_hourly:

        def bucket(field):
            return TruncHour(field, tzinfo=zone)

        def key(value):
            # The local wall-clock hour: the repeated hour of a DST change is one bucket.
            return value.astimezone(zone).replace(tzinfo=None)

        buckets = _hours(query)
    else:

        def bucket(field):
            return TruncDate(field, tzinfo=zone)

        def key(value):
            return value

        buckets = [query.date_from + timedelta(days=n) for n in range(query.days)]

    grouping = Grouping(
        sessions=bucket("started_at"),
        pageviews=bucket("session__started_at"),
        events=bucket("timestamp"),
        signups=bucket("created_at"),
    )
    if rollup_usable(query):
        sums = rollup_daily(query)  # never hourly
    else:
        sums = {key(group): row for group, row in metric_sums(query, metrics, grouping).items()}
    series = []
    for local in buckets:
        label = local.replace(tzinfo=zone).isoformat() if query.is_hourly else local.isoformat()
        series.append({"date": label, **metrics_finish(sums.get(local, {}), metrics)})
    return series


def _hours(query: StatsQuery) -> list[datetime]:
    """The day's distinct local wall-clock hours, walking real hours in UTC."""
    zone = query.zone
    moment, end = query.start.astimezone(UTC), query.end.astimezone(UTC)
    hours: list[datetime] = []
    while moment < end:
        local = moment.astimezone(zone).replace(minute=0, second=0, microsecond=0, tzinfo=None)
        if local not in hours:
            hours.append(local)
        moment += timedelta(hours=1)
    return hours
