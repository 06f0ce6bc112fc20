from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from analytics.services.collect import collect_queue_flush
from analytics.stats import (
    ALL_METRICS,
    live_visitors,
    stats_aggregate,
    stats_breakdown,
    stats_query_parse,
    stats_timeseries,
)
from ascendkit_site.errors import ApplicationError

from ..access import environment_for_member
from ..presenters import BreakdownCard, breakdown_rows, kpis
from ..querystring import filter_removed, filters_split, report_params, with_params
from .common import page_context, report_error

# Every metric but the count of custom events, which has its own card.
KPI_METRICS = tuple(metric for metric in ALL_METRICS if metric != "events")
CHART_METRICS = ("visitors", "pageviews")
ROWS_PER_CARD = 10

# Each card shows one property at a time; its tab is a query parameter, so a
# plain link switches it and the page asks for five breakdowns, not eighteen.
CARDS = [
    (
        "sources",
        "Sources",
        [
            ("channel", "Channels"),
            ("source", "Sources"),
            ("referrer", "Referrers"),
            ("utm_source", "UTM source"),
            ("utm_medium", "UTM medium"),
            ("utm_campaign", "UTM campaign"),
            ("utm_term", "UTM term"),
            ("utm_content", "UTM content"),
        ],
    ),
    ("pages", "Pages", [("page", "Top pages"), ("entry_page", "Entry pages"), ("exit_page", "Exit pages")]),
    ("locations", "Locations", [("country", "Countries"), ("region", "Regions"), ("city", "Cities")]),
    ("devices", "Devices", [("browser", "Browsers"), ("os", "Operating systems"), ("device", "Devices")]),
    ("events", "Custom events", [("event", "Events")]),
]
CARD_METRICS = {
    "page": ("visitors", "pageviews"),
    "entry_page": ("visitors", "sessions"),
    "exit_page": ("visitors", "sessions"),
    "event": ("visitors", "events"),
}
DEFAULT_CARD_METRICS = ("visitors", "sessions")
PERIODS = [("day", "Today"), ("7d", "7 days"), ("30d", "30 days"), ("90d", "90 days")]
TAB_PARAMS = tuple(key for key, _, _ in CARDS)


@login_required
def dashboard(request, org, project, environment):
    """KPIs against the previous period, the chart, breakdown cards, live visitors."""
    access = environment_for_member(request, org, project, environment)
    params = report_params(request.GET)
    # The dashboard's tabs ride along in every link it draws.
    state = {**params, **{key: request.GET[key] for key in TAB_PARAMS if request.GET.get(key)}}
    try:
        query = stats_query_parse(environment=access.environment, params=params)
        collect_queue_flush(environment=access.environment)  # accepted traffic shows, even if still queued
        aggregate = stats_aggregate(query=query, metrics=KPI_METRICS, compare=True)
        series = stats_timeseries(query=query, metrics=CHART_METRICS)
        total_visitors = aggregate["visitors"]["value"]
        cards = [_card(query, state, request.GET, key, title, tabs, total_visitors) for key, title, tabs in CARDS]
    except ApplicationError as error:
        return report_error(request, access, "dashboard", error)
    context = page_context(
        request,
        access,
        "dashboard",
        query=query,
        kpis=kpis(aggregate),
        chart={"metrics": list(CHART_METRICS), "hourly": query.is_hourly, "rows": series},
        series=series,
        chart_metrics=CHART_METRICS,
        cards=cards,
        live_visitors=live_visitors(environment=access.environment),
        **picker_context(state),
    )
    return render(request, "portal/dashboard.html", context)


def _card(query, state, get, key, title, tabs, total_visitors) -> BreakdownCard:
    properties = [name for name, _ in tabs]
    chosen = get.get(key) if get.get(key) in properties else properties[0]
    metrics = CARD_METRICS.get(chosen, DEFAULT_CARD_METRICS)
    rows = stats_breakdown(query=query, property=chosen, metrics=metrics, limit=ROWS_PER_CARD)
    return BreakdownCard(
        key=key,
        title=title,
        property=chosen,
        columns=[metric.replace("_", " ").capitalize() for metric in metrics],
        tabs=[
            {"label": label, "url": with_params(state, **{key: name}) + f"#card-{key}", "current": name == chosen}
            for name, label in tabs
        ],
        rows=breakdown_rows(rows=rows, property=chosen, metrics=list(metrics), total=total_visitors, params=state),
    )


def picker_context(state: dict) -> dict:
    """The period links, the custom range form and the removable filter chips."""
    filters = state.get("filters", "")
    current = state.get("period", "30d")
    date_from, _, date_to = state.get("date", "").partition(",")
    return {
        "periods": [
            {"label": label, "url": with_params(state, period=period, date=None), "current": period == current}
            for period, label in PERIODS
        ],
        "custom_current": current == "custom",
        "date_from": date_from,
        "date_to": date_to,
        "hidden_state": [
            (name, value)
            for name, values in state.items()
            if name not in ("period", "date")
            for value in (values if isinstance(values, list) else [values])
        ],
        "filter_chips": [
            {
                "property": name,
                "value": value,
                "remove_url": with_params(state, filters=filter_removed(filters, name) or None),
            }
            for name, value in filters_split(filters)
        ],
        "clear_filters_url": with_params(state, filters=None) if filters else None,
    }
