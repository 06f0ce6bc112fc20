"""Turning report answers into what templates draw: KPI cards, bar widths, flow diagrams.

Pure functions over the query layer's answers: no queries here. Bar widths are
whole percentages that `portal.css` maps to classes (`w-0` … `w-100`), because
the Content-Security-Policy allows no inline `style` attributes.
"""

from dataclasses import dataclass, field

from analytics.stats.properties import NONE_LABEL

from .querystring import can_filter_on, filter_added, with_params

KPIS = [
    ("visitors", "Visitors"),
    ("sessions", "Sessions"),
    ("pageviews", "Pageviews"),
    ("views_per_session", "Views / session"),
    ("bounce_rate", "Bounce rate"),
    ("visit_duration", "Visit duration"),
    ("signups", "Signups"),
    ("conversion_rate", "Conversion"),
]
RATES = {"bounce_rate", "conversion_rate"}
# A rise is bad news for these.
LOWER_IS_BETTER = {"bounce_rate"}


def bar_width(value, total) -> int:
    """A whole percentage 0–100 of `total`, at least 1 for a non-zero value so it shows."""
    if not total or not value:
        return 0
    return max(1, min(100, round(100 * value / total)))


def duration_text(seconds) -> str:
    """`1h 02m`, `3m 05s` or `42s`."""
    seconds = round(seconds or 0)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def metric_text(metric: str, value) -> str:
    """A metric as the portal prints it; the same digits as the Stats API answers."""
    if value is None:
        return "–"
    if metric == "visit_duration":
        return duration_text(value)
    if metric in RATES:
        return f"{value:.1f}%"
    if metric == "views_per_session":
        return f"{value:.2f}"
    return f"{value:,}"


def change_text(metric: str, change) -> str:
    if change is None:
        return "new"
    sign = "+" if change > 0 else ("−" if change < 0 else "±")
    magnitude = abs(change)
    if metric in RATES:
        return f"{sign}{magnitude:.1f} pp"
    return f"{sign}{magnitude:g}%"


@dataclass(frozen=True)
class Kpi:
    metric: str
    label: str
    value: str
    raw: object
    previous: str
    change: str
    trend: str  # "good", "bad" or "flat"


def kpis(aggregate: dict) -> list[Kpi]:
    """The KPI row: each metric's value, its previous period's value and the change."""
    cards = []
    for metric, label in KPIS:
        answer = aggregate.get(metric) or {}
        change = answer.get("change")
        if not change:
            trend = "flat"
        else:
            rising = change > 0
            trend = "bad" if rising == (metric in LOWER_IS_BETTER) else "good"
        cards.append(
            Kpi(
                metric=metric,
                label=label,
                value=metric_text(metric, answer.get("value")),
                raw=answer.get("value"),
                previous=metric_text(metric, answer.get("previous")),
                change=change_text(metric, change),
                trend=trend,
            )
        )
    return cards


@dataclass(frozen=True)
class BarRow:
    label: str
    value: str
    metrics: list[str]
    width: int
    href: str | None = None


@dataclass
class BreakdownCard:
    key: str
    title: str
    tabs: list[dict]
    property: str
    columns: list[str]
    rows: list[BarRow] = field(default_factory=list)


def breakdown_rows(
    *, rows: list[dict], property: str, metrics: list[str], total, params: dict, base_url: str = ""
) -> list[BarRow]:
    """Top-N rows with their bar (share of `total`) and a link that adds the row as a filter."""
    filters = params.get("filters", "")
    drawn = []
    for row in rows:
        value = row.get(property)
        value = NONE_LABEL if value in (None, "") else str(value)
        href = None
        if can_filter_on(value):
            href = base_url + with_params(params, filters=filter_added(filters, property, value))
        drawn.append(
            BarRow(
                label=value,
                value=value,
                metrics=[metric_text(metric, row.get(metric)) for metric in metrics],
                width=bar_width(row.get(metrics[0]), total),
                href=href,
            )
        )
    return drawn
