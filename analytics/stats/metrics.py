"""The metrics of SPEC 4.4, computed per group (none, a chart bucket, a breakdown value).

A report names how each table is grouped (`Grouping`); each metric is worked out
from a few sums read with one GROUP BY per table that it needs, then finished
into the SPEC's rounding: rates as percentages with one decimal,
`views_per_session` with two, `visit_duration` in whole seconds.
"""

from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Case, Count, F, IntegerField, Q, Sum, When

from .properties import PAGE, stored_value
from .query import StatsQuery
from .scope import events_in, pageviews_in, sessions_in, signups_in

TOTAL = "__total__"


@dataclass(frozen=True)
class Grouping:
    """How each table is grouped: an expression per table, or None for one total."""

    sessions: object = None
    pageviews: object = None
    events: object = None
    signups: object = None


def _rounded(value: float, digits: int) -> float:
    # Half up, as people round: Python's round() would make 12.25 into 12.2.
    exponent = Decimal(1).scaleb(-digits)
    return float(Decimal(str(value)).quantize(exponent, rounding=ROUND_HALF_UP))


def rate(part: float, whole: float) -> float:
    return _rounded(part * 100 / whole, 1) if whole else 0.0


def ratio(part: float, whole: float, digits: int = 2) -> float:
    return _rounded(part / whole, digits) if whole else 0.0


def mean_seconds(total: float, count: int) -> int:
    return int(Decimal(total / count).quantize(Decimal(1), rounding=ROUND_HALF_UP)) if count else 0


def _needs(metrics, *names) -> bool:
    return any(name in metrics for name in names)


def _grouped(queryset, expression, annotations: dict) -> dict:
    """{group: {name: value}} from one GROUP BY (or one aggregate when there is no group)."""
    if expression is None:
        return {TOTAL: queryset.aggregate(**annotations)}
    rows = queryset.values(group=expression).annotate(**annotations).order_by()
    return {row.pop("group"): row for row in rows}


def _session_sums(query: StatsQuery, expression) -> dict:
    """Sessions, visitors and the parts of bounce rate and duration, per group.

    With a `page` filter, bounce rate and duration describe the sessions that
    landed on the page (Plausible's reading); otherwise every session.
    """
    page = query.filter_value(PAGE)
    landed = Q(entry_path=stored_value(page)) if page is not None else Q(pk__isnull=False)
    duration = Case(When(is_bounce=True, then=0), default=F("duration_seconds"), output_field=IntegerField())
    return _grouped(
        sessions_in(query),
        expression,
        {
            "sessions": Count("pk"),
            "visitors": Count("visitor_id", distinct=True),
            "pageview_total": Sum("pageview_count"),
            "landings": Count("pk", filter=landed),
            "bounces": Count("pk", filter=landed & Q(is_bounce=True)),
            "durations": Sum(duration, filter=landed),
        },
    )


def metric_sums(query: StatsQuery, metrics, grouping: Grouping) -> dict:
    """{group: sums} for the metrics asked, reading only the tables they need."""
    sums: dict = defaultdict(dict)
    if _needs(
        metrics,
        "visitors",
        "sessions",
        "pageviews",
        "views_per_session",
        "bounce_rate",
        "visit_duration",
        "conversion_rate",
    ):
        for group, row in _session_sums(query, grouping.sessions).items():
            sums[group].update(row)
    if query.filter_value(PAGE) is not None and _needs(metrics, "pageviews", "views_per_session"):
        # Only the views of the filtered page count: the session totals do not say.
        for group, row in _grouped(pageviews_in(query), grouping.pageviews, {"pageviews": Count("pk")}).items():
            sums[group].update(row)
    if _needs(metrics, "signups", "conversion_rate"):
        for group, row in _grouped(signups_in(query), grouping.signups, {"signups": Count("pk")}).items():
            sums[group].update(row)
    if _needs(metrics, "events"):
        for group, row in _grouped(events_in(query), grouping.events, {"events": Count("pk")}).items():
            sums[group].update(row)
    return sums


def metrics_finish(sums: dict, metrics) -> dict:
    """The metrics, rounded as SPEC 4.4 says, from one group's sums (missing sums are 0)."""
    sessions = sums.get("sessions") or 0
    visitors = sums.get("visitors") or 0
    pageviews = sums.get("pageviews", sums.get("pageview_total")) or 0
    landings = sums.get("landings") or 0
    signups = sums.get("signups") or 0
    values = {
        "visitors": visitors,
        "sessions": sessions,
        "pageviews": pageviews,
        "views_per_session": ratio(pageviews, sessions),
        "bounce_rate": rate(sums.get("bounces") or 0, landings),
        "visit_duration": mean_seconds(sums.get("durations") or 0, landings),
        "signups": signups,
        "conversion_rate": rate(signups, visitors),
        "events": sums.get("events") or 0,
    }
    return {name: values[name] for name in metrics}
