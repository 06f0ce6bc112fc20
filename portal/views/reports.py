from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from analytics.services.collect import collect_queue_flush
from analytics.stats import (
    conversion_paths,
    funnel,
    funnel_window_parse,
    page_flows,
    stats_breakdown,
    stats_query_parse,
)
from ascendkit_site.errors import ApplicationError

from ..access import environment_for_member
from ..flowchart import layout
from ..forms import FLOW_MAX_STEPS, FLOW_MIN_STEPS, FUNNEL_MAX_STEPS
from ..presenters import bar_width, duration_text
from ..querystring import report_params
from .common import page_context, report_error
from .dashboard import picker_context

CHANNEL_ROWS = 25
PATH_ROWS = 15
SUGGESTIONS = 30


def _query(request, access):
    params = report_params(request.GET)
    query = stats_query_parse(environment=access.environment, params=params)
    collect_queue_flush(environment=access.environment)  # accepted traffic shows, even if still queued
    return params, query


def _suggestions(query, property_name: str, metric: str) -> list[str]:
    """Values for a datalist: the period's most visited pages or most frequent events."""
    rows = stats_breakdown(query=query, property=property_name, metrics=(metric,), limit=SUGGESTIONS)
    return [row[property_name] for row in rows]


@login_required
def conversions(request, org, project, environment):
    """How visitors become users: first-touch channels, and the page sequences that led to signup."""
    access = environment_for_member(request, org, project, environment)
    try:
        params, query = _query(request, access)
        answer = conversion_paths(query=query, limit=CHANNEL_ROWS)
    except ApplicationError as error:
        return report_error(request, access, "conversions", error)
    top_users = max((path["users"] for path in answer["paths"]), default=0)
    channels = [
        {
            **row,
            "time_text": duration_text(row["median_time_to_signup"])
            if row["median_time_to_signup"] is not None
            else "–",
            "width": bar_width(row["conversion_rate"], 100),
        }
        for row in answer["channels"]
    ]
    paths = [{**path, "width": bar_width(path["users"], top_users)} for path in answer["paths"][:PATH_ROWS]]
    context = page_context(
        request, access, "conversions", query=query, channels=channels, paths=paths, **picker_context(params)
    )
    return render(request, "portal/conversions.html", context)


def _steps_param(text: str | None) -> int:
    try:
        steps = int(text or FLOW_MIN_STEPS)
    except ValueError:
        steps = FLOW_MIN_STEPS
    return max(FLOW_MIN_STEPS, min(FLOW_MAX_STEPS, steps))


@login_required
def flows(request, org, project, environment):
    """Page-to-page transitions from a chosen page (or the entry pages), 3–5 steps, with drop-off."""
    access = environment_for_member(request, org, project, environment)
    from_page = (request.GET.get("from") or "").strip() or None
    steps = _steps_param(request.GET.get("steps"))
    try:
        params, query = _query(request, access)
        answer = page_flows(query=query, from_page=from_page, steps=steps)
        pages = _suggestions(query, "page", "pageviews")
    except ApplicationError as error:
        return report_error(request, access, "flows", error)
    chart = layout(answer)
    state = {**params, **({"from": from_page} if from_page else {}), "steps": str(steps)}
    context = page_context(
        request,
        access,
        "flows",
        query=query,
        from_page=from_page or "",
        steps=steps,
        step_choices=range(FLOW_MIN_STEPS, FLOW_MAX_STEPS + 1),
        chart=chart,
        table=_flow_table(chart),
        pages=pages,
        **picker_context(state),
    )
    return render(request, "portal/flows.html", context)


def _flow_table(chart) -> list[dict]:
    """The diagram's numbers, node by node: visitors, where they went next, how many left."""
    if chart is None:
        return []
    return [
        {
            "node": node,
            "next": sorted(
                ({"page": link.target.page, "visitors": link.visitors} for link in chart.links if link.source is node),
                key=lambda row: -row["visitors"],
            ),
        }
        for node in chart.nodes
    ]


@login_required
def funnels(request, org, project, environment):
    """An ad-hoc funnel: steps that are page paths or `event:` names, within a conversion window."""
    access = environment_for_member(request, org, project, environment)
    steps = [step.strip() for step in request.GET.getlist("step") if step.strip()][:FUNNEL_MAX_STEPS]
    try:
        window = funnel_window_parse(request.GET.get("window"))
        params, query = _query(request, access)
        answer = funnel(query=query, steps=steps, window_hours=window) if len(steps) >= 2 else None
        pages = _suggestions(query, "page", "pageviews")
        events = [f"event:{name}" for name in _suggestions(query, "event", "events")]
    except ApplicationError as error:
        return report_error(request, access, "funnels", error)
    rows = []
    if answer:
        first = answer["steps"][0]["visitors"] if answer["steps"] else 0
        rows = [{**row, "width": bar_width(row["visitors"], first)} for row in answer["steps"]]
    inputs = steps + [""] * (max(3, len(steps) + 1) - len(steps))
    state = {**params, "window": str(window), **({"step": steps} if steps else {})}
    context = page_context(
        request,
        access,
        "funnels",
        query=query,
        inputs=inputs[:FUNNEL_MAX_STEPS],
        window=window,
        rows=rows,
        asked=len(steps),
        suggestions=pages + events,
        **picker_context(state),
    )
    return render(request, "portal/funnels.html", context)
