"""Pre-aggregated reports: per local day, what the Stats reports would read from the raw rows.

Five tables per environment, each row one local day (Environment.time_zone, recorded
in RollupState): `RollupDay`, the additive sums (sessions, pageviews, bounces,
durations, events, signups) per property value; `RollupVisitors`, for distinct
visitors; `RollupFlow`, for page flows: sessions per (start, step, page, next page);
`RollupTrail`, for funnels: each page's and event's items of the day, packed;
`RollupSignup`, for conversion paths: each user created that day, as they count.

Visitors are not additive: a visitor active on two days of a period counts once.
So for each (visitor, value, day) the visitor was active on, the build finds the
gap in days since that visitor's previous active day with that value, and stores
the count of visitors per (day, value, gap), gap NULL for a first appearance. In a
period [from, to] each visitor is counted exactly once, on their first active day
in it: the one day whose previous active day falls before `from`, that is whose gap
is NULL or greater than day - from. Every later day of theirs in the period has a
gap of at most day - from. Exact for any period, in rows per (day, value, gap).

Reports read these only without filters, over more than one day, and while the
rollups' time zone is the environment's (`read.rollup_usable`); otherwise, and on
SQLite, they read the raw rows as before.
"""

from .build import rollup_environment_rebuild, rollup_environment_refresh, rollups_refresh
from .marks import rollup_day_mark, rollup_days_touch, rollup_rows_first_day, rollup_rows_touch
from .read import (
    rollup_daily,
    rollup_event_sums,
    rollup_first_touch_visitors,
    rollup_flow_steps,
    rollup_page_sums,
    rollup_property_sums,
    rollup_signup_paths,
    rollup_signup_touches,
    rollup_totals,
    rollup_trails,
    rollup_usable,
)

__all__ = [
    "rollup_daily",
    "rollup_day_mark",
    "rollup_days_touch",
    "rollup_environment_rebuild",
    "rollup_environment_refresh",
    "rollup_event_sums",
    "rollup_first_touch_visitors",
    "rollup_flow_steps",
    "rollup_page_sums",
    "rollup_property_sums",
    "rollup_rows_first_day",
    "rollup_rows_touch",
    "rollup_signup_paths",
    "rollup_signup_touches",
    "rollup_totals",
    "rollup_trails",
    "rollup_usable",
    "rollups_refresh",
]
