"""The one query layer behind the Stats API and the portal's reports (SPEC 4.4)."""

from .aggregate import metric_change, stats_aggregate, stats_timeseries
from .breakdown import stats_breakdown
from .conversions import conversion_paths
from .flows import page_flows
from .funnels import funnel, funnel_steps_parse, funnel_window_parse
from .live import live_visitors
from .properties import (
    ALL_METRICS,
    BREAKDOWN_PROPERTIES,
    FILTER_PROPERTIES,
    NONE_LABEL,
    metric_validate,
    metrics_parse,
    property_validate,
)
from .query import PERIODS, Filter, StatsQuery, stats_query_parse

__all__ = [
    "ALL_METRICS",
    "BREAKDOWN_PROPERTIES",
    "FILTER_PROPERTIES",
    "NONE_LABEL",
    "PERIODS",
    "Filter",
    "StatsQuery",
    "conversion_paths",
    "funnel",
    "funnel_steps_parse",
    "funnel_window_parse",
    "live_visitors",
    "metric_change",
    "metric_validate",
    "metrics_parse",
    "page_flows",
    "property_validate",
    "stats_aggregate",
    "stats_breakdown",
    "stats_query_parse",
    "stats_timeseries",
]
