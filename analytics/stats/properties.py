"""The metrics and properties a report may name, and where each property lives.

Session properties are read from the session (its first pageview's source, UTM,
device and place, its entry and exit page); `page` from each pageview; `event`
from custom events. A filter on a session property keeps whole sessions.
"""

from ascendkit_site.errors import ApplicationError

ALL_METRICS = (
    "visitors",
    "sessions",
    "pageviews",
    "views_per_session",
    "bounce_rate",
    "visit_duration",
    "signups",
    "conversion_rate",
    "events",
)
# Percentages (0-100, one decimal): their change is in percentage points.
RATE_METRICS = ("bounce_rate", "conversion_rate")

# Session property -> Session column.
SESSION_COLUMNS = {
    "entry_page": "entry_path",
    "exit_page": "exit_path",
    "channel": "channel",
    "source": "source",
    "referrer": "referrer_host",
    "utm_source": "utm_source",
    "utm_medium": "utm_medium",
    "utm_campaign": "utm_campaign",
    "utm_term": "utm_term",
    "utm_content": "utm_content",
    "country": "country",
    "region": "region",
    "city": "city",
    "browser": "browser",
    "os": "os",
    "device": "device_type",
}
PAGE = "page"
EVENT = "event"

BREAKDOWN_PROPERTIES = (
    PAGE,
    "entry_page",
    "exit_page",
    "channel",
    "source",
    "referrer",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "country",
    "region",
    "city",
    "browser",
    "os",
    "device",
    EVENT,
)
FILTER_PROPERTIES = BREAKDOWN_PROPERTIES

# What a breakdown by custom event can count: the event's visitors and occurrences.
EVENT_METRICS = ("visitors", "events")
# A page is not where events or signups happen: those are session or user facts.
PAGE_METRICS = tuple(m for m in ALL_METRICS if m != "events")

# A value that is empty in the data (no referrer, no UTM, an unknown city) is shown
# and filtered as this label.
NONE_LABEL = "(none)"


def property_validate(name: str, *, allowed=BREAKDOWN_PROPERTIES, code: str = "invalid_property", what="property"):
    if name not in allowed:
        raise ApplicationError(code, f"The {what} '{name}' is not one of {', '.join(allowed)}.")
    return name


def metric_validate(name: str) -> str:
    if name not in ALL_METRICS:
        raise ApplicationError("invalid_metric", f"The metric '{name}' is not one of {', '.join(ALL_METRICS)}.")
    return name


def metrics_parse(text: str | None, *, default=ALL_METRICS) -> tuple[str, ...]:
    """`visitors,pageviews` as a tuple of known metrics, in order, without repeats."""
    if text is None or not text.strip():
        return tuple(default)
    metrics = []
    for part in text.split(","):
        name = metric_validate(part.strip())
        if name not in metrics:
            metrics.append(name)
    return tuple(metrics)


def metrics_validate(metrics, *, allowed=ALL_METRICS, property_name: str | None = None) -> tuple[str, ...]:
    metrics = tuple(metrics)
    if not metrics:
        raise ApplicationError("invalid_metric", "Name at least one metric.")
    for name in metrics:
        metric_validate(name)
        if name not in allowed:
            raise ApplicationError(
                "invalid_metric",
                f"The metric '{name}' is not available for a breakdown by {property_name}; use {', '.join(allowed)}.",
            )
    return metrics


def stored_value(value: str) -> str:
    return "" if value == NONE_LABEL else value


def shown_value(value) -> str:
    return value if value else NONE_LABEL
