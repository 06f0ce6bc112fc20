"""Building the rollups: one environment's changed days recomputed from the raw rows.

Writers mark the local days they change (`marks.py`). `rollups_refresh` takes each
environment's marks and, in one transaction, deletes its rollup rows from the
earliest marked day on and inserts them again with three set-based statements.
From the earliest day on, not the marked days alone: a visitor's gap (see the
package's docstring) on a later day depends on the earlier days, and a session
that moved to an earlier start left its old day too.

Marks and data commit together in the writer's transaction, and each statement
here reads what had committed when it began (READ COMMITTED): a mark this refresh
reads was committed with its rows, which the statements after it see, and only the
marks it read are deleted. A mark committed later stays for the next refresh.
"""

from datetime import date, datetime, time, timedelta

from django.db import connection, transaction
from django.db.models import Min
from django.utils import timezone

from identity.models import EndUser, Environment

from ...models import (
    Event,
    RollupDay,
    RollupDirtyDay,
    RollupFlow,
    RollupSignup,
    RollupState,
    RollupTrail,
    RollupVisitors,
    Session,
)
from ..memory import REPORT_WORK_MEM
from ..packed import ITEM
from ..properties import EVENT, PAGE, SESSION_COLUMNS
from ..query import CUSTOM_MAX_DAYS, StatsQuery, environment_zone
from ..signups import signups_of

# A previous active day further back than the longest period a report may ask for
# is as good as none: such gaps are stored as NULL, and the refresh looks back no further.
GAP_HORIZON_DAYS = CUSTOM_MAX_DAYS

# Visitors by their first touch (conversion paths), as the JSON array [channel, source,
# campaign]: one value per visitor, so its gaps are the visitor's own.
FIRST_TOUCH = "first_touch"

# (property, value) rows of a session `s`: "" is the whole environment.
_SESSION_VALUES = ", ".join(["('', '')", *(f"('{name}', s.{column})" for name, column in SESSION_COLUMNS.items())])

_SUMS_SQL = f"""
INSERT INTO analytics_rollupday
    (environment_id, day, property, value, sessions, pageviews, bounces, durations, events, signups)
SELECT %(environment)s, day, property, value,
       SUM(sessions), SUM(pageviews), SUM(bounces), SUM(durations), SUM(events), SUM(signups)
FROM (
    -- Sessions, their pageviews, bounces and durations, on the day they started.
    SELECT (s.started_at AT TIME ZONE %(zone)s)::date AS day, p.property, p.value,
           1 AS sessions, s.pageview_count AS pageviews,
           CASE WHEN s.is_bounce THEN 1 ELSE 0 END AS bounces,
           CASE WHEN s.is_bounce THEN 0 ELSE s.duration_seconds END AS durations,
           0 AS events, 0 AS signups
    FROM analytics_session s
    CROSS JOIN LATERAL (VALUES {_SESSION_VALUES}) AS p (property, value)
    WHERE s.environment_id = %(environment)s AND s.started_at >= %(since)s
  UNION ALL
    -- Per page: its views and the sessions that viewed it (each session is on one day).
    SELECT (s.started_at AT TIME ZONE %(zone)s)::date, '{PAGE}', v.path,
           COUNT(DISTINCT v.session_id), COUNT(*), 0, 0, 0, 0
    FROM analytics_pageview v
    JOIN analytics_session s ON s.id = v.session_id
    WHERE v.environment_id = %(environment)s AND s.environment_id = %(environment)s
      AND s.started_at >= %(since)s AND v.timestamp >= %(since)s
    GROUP BY 1, v.path
  UNION ALL
    -- Custom events on their own day, by name and by their session's values (none without one).
    SELECT (e.timestamp AT TIME ZONE %(zone)s)::date, p.property, p.value, 0, 0, 0, 0, 1, 0
    FROM analytics_event e
    LEFT JOIN analytics_session s ON s.id = e.session_id
    CROSS JOIN LATERAL (VALUES ('{EVENT}', e.name), {_SESSION_VALUES}) AS p (property, value)
    WHERE e.environment_id = %(environment)s AND e.name LIKE 'app.%%' AND e.timestamp >= %(since)s
      AND p.value IS NOT NULL
  UNION ALL
    -- Signups on the user's creation day, by their signup-touch session's values.
    SELECT (u.created_at AT TIME ZONE %(zone)s)::date, p.property, p.value, 0, 0, 0, 0, 0, 1
    FROM identity_enduser u
    LEFT JOIN analytics_attribution a ON a.user_id = u.id AND a.kind = 'signup_touch'
    LEFT JOIN analytics_session s ON s.id = a.session_id
    CROSS JOIN LATERAL (VALUES {_SESSION_VALUES}) AS p (property, value)
    WHERE u.environment_id = %(environment)s AND u.created_at >= %(since)s AND p.value IS NOT NULL
  UNION ALL
    -- Signups per page their signup session viewed (a page viewed twice counts once).
    SELECT day, '{PAGE}', path, 0, 0, 0, 0, 0, COUNT(*)
    FROM (
        SELECT DISTINCT u.id, (u.created_at AT TIME ZONE %(zone)s)::date AS day, v.path
        FROM identity_enduser u
        JOIN analytics_attribution a ON a.user_id = u.id AND a.kind = 'signup_touch'
        JOIN analytics_pageview v ON v.session_id = a.session_id
        WHERE u.environment_id = %(environment)s AND u.created_at >= %(since)s
    ) AS signed_up
    GROUP BY day, path
) AS parts
WHERE day >= %(since_day)s
GROUP BY day, property, value
"""

# Each (visitor, property value, day) the visitor was active on, with the days since
# its previous one; then counted per (day, value, gap). Visitors active since the
# first recomputed day are read back to the horizon, so their gaps are whole.
_VISITORS_SQL = f"""
WITH active_visitors AS (
    SELECT visitor_id FROM analytics_session
    WHERE environment_id = %(environment)s AND started_at >= %(since)s
    UNION
    SELECT visitor_id FROM analytics_event
    WHERE environment_id = %(environment)s AND timestamp >= %(since)s AND visitor_id IS NOT NULL
),
active_days AS (
    SELECT DISTINCT s.visitor_id, p.property, p.value, (s.started_at AT TIME ZONE %(zone)s)::date AS day
    FROM analytics_session s
    CROSS JOIN LATERAL (VALUES {_SESSION_VALUES}) AS p (property, value)
    WHERE s.environment_id = %(environment)s AND s.started_at >= %(lookback)s
      AND s.visitor_id IN (SELECT visitor_id FROM active_visitors)
  UNION ALL
    SELECT DISTINCT v.visitor_id, '{PAGE}', v.path, (s.started_at AT TIME ZONE %(zone)s)::date
    FROM analytics_pageview v
    JOIN analytics_session s ON s.id = v.session_id
    WHERE v.environment_id = %(environment)s AND s.environment_id = %(environment)s
      AND s.started_at >= %(lookback)s AND v.timestamp >= %(lookback)s
      AND v.visitor_id IN (SELECT visitor_id FROM active_visitors)
  UNION ALL
    SELECT DISTINCT s.visitor_id, '{FIRST_TOUCH}', json_build_array(a.channel, a.source, a.campaign)::text,
           (s.started_at AT TIME ZONE %(zone)s)::date
    FROM analytics_session s
    JOIN analytics_attribution a
      ON a.environment_id = %(environment)s AND a.kind = 'first_touch' AND a.visitor_id = s.visitor_id
    WHERE s.environment_id = %(environment)s AND s.started_at >= %(lookback)s
      AND s.visitor_id IN (SELECT visitor_id FROM active_visitors)
  UNION ALL
    SELECT DISTINCT e.visitor_id, '{EVENT}', e.name, (e.timestamp AT TIME ZONE %(zone)s)::date
    FROM analytics_event e
    WHERE e.environment_id = %(environment)s AND e.name LIKE 'app.%%' AND e.timestamp >= %(lookback)s
      AND e.visitor_id IN (SELECT visitor_id FROM active_visitors)
),
gaps AS (
    SELECT day, property, value,
           day - LAG(day) OVER (PARTITION BY visitor_id, property, value ORDER BY day) AS gap
    FROM active_days
)
INSERT INTO analytics_rollupvisitors (environment_id, day, property, value, gap, visitors)
SELECT %(environment)s, day, property, value, CASE WHEN gap < %(horizon)s THEN gap END, COUNT(*)
FROM gaps
WHERE day >= %(since_day)s
GROUP BY day, property, value, 5
"""

# The page flows' walk (flows.py), stored per day and start: each session's pages
# in time order without reloads, from its entry ("") and from its first view of
# each page it viewed; for each of five steps, the page and the one after it.
_FLOWS_SQL = """
WITH viewed AS (
    SELECT v.session_id, v.path, v.timestamp, v.id, (s.started_at AT TIME ZONE %(zone)s)::date AS day,
           LAG(v.path) OVER (PARTITION BY v.session_id ORDER BY v.timestamp, v.id) AS previous_path
    FROM analytics_pageview v
    JOIN analytics_session s ON s.id = v.session_id
    WHERE v.environment_id = %(environment)s AND s.environment_id = %(environment)s
      AND s.started_at >= %(since)s AND v.timestamp >= %(since)s
),
pages AS (
    SELECT session_id, day, path,
           ROW_NUMBER() OVER in_order AS position,
           LEAD(path) OVER in_order AS next_path
    FROM viewed
    WHERE previous_path IS NULL OR previous_path <> path
    WINDOW in_order AS (PARTITION BY session_id ORDER BY timestamp, id)
),
starts AS (
    SELECT session_id, '' AS start_page, 1 AS first_position FROM pages WHERE position = 1
    UNION ALL
    SELECT session_id, path, MIN(position) FROM pages GROUP BY session_id, path
)
INSERT INTO analytics_rollupflow (environment_id, day, start_page, step, page, next_page, sessions)
SELECT %(environment)s, p.day, st.start_page, p.position - st.first_position + 1, p.path, p.next_path, COUNT(*)
FROM starts st
JOIN pages p ON p.session_id = st.session_id AND p.position BETWEEN st.first_position AND st.first_position + 4
WHERE p.day >= %(since_day)s
GROUP BY p.day, st.start_page, p.position - st.first_position + 1, p.path, p.next_path
"""

# Funnels' items (funnels.py) per local day and page or event name, packed in the
# order funnels walk them: 24 bytes an item, visitor ID, time and ID.
_TRAILS_SQL = f"""
INSERT INTO analytics_rolluptrail (environment_id, day, kind, key, items)
SELECT %(environment)s, day, kind, key, string_agg({ITEM}, ''::bytea ORDER BY visitor_id, timestamp, id)
FROM (
    SELECT (timestamp AT TIME ZONE %(zone)s)::date AS day, 0 AS kind, path AS key, visitor_id, timestamp, id
    FROM analytics_pageview
    WHERE environment_id = %(environment)s AND timestamp >= %(since)s
  UNION ALL
    SELECT (timestamp AT TIME ZONE %(zone)s)::date, 1, name, visitor_id, timestamp, id
    FROM analytics_event
    WHERE environment_id = %(environment)s AND timestamp >= %(since)s AND visitor_id IS NOT NULL
) AS items
WHERE day >= %(since_day)s
GROUP BY day, kind, key
"""

# Where a clock change falls at midnight, the day's first instant is not simply its
# midnight: rows are read from a little earlier, and each statement keeps only the
# days it recomputes.
_MIDNIGHT_SLACK = timedelta(hours=3)

_ROLLUP_MODELS = (RollupDay, RollupVisitors, RollupFlow, RollupTrail, RollupSignup)


def rollups_refresh() -> dict[int, date]:
    """Recompute every environment's marked days; rebuild those whose time zone changed.

    Answers {environment ID: the first day recomputed}. Environments never built are
    built on their first mark. Nothing to do on SQLite, where nothing is marked.
    """
    if connection.vendor != "postgresql":
        return {}
    marked = set(RollupDirtyDay.objects.values_list("environment_id", flat=True).distinct())
    rezoned = {
        environment_id
        for environment_id, built_zone, zone in RollupState.objects.values_list(
            "environment_id", "time_zone", "environment__time_zone"
        )
        if built_zone != zone
    }
    refreshed = {}
    for environment in Environment.objects.filter(pk__in=marked | rezoned).order_by("pk"):
        first_day = rollup_environment_refresh(environment=environment)
        if first_day is not None:
            refreshed[environment.pk] = first_day
    return refreshed


def rollup_environment_refresh(*, environment: Environment) -> date | None:
    """One environment's marked days and every day after them, in one transaction.

    The marks read first are deleted last, by key: their rows had committed with
    them, so every statement between saw those rows. A mark that commits meanwhile
    is not among them and stays for the next refresh.
    """
    with transaction.atomic():
        _lock(environment)
        marks = list(RollupDirtyDay.objects.filter(environment=environment).values_list("pk", "day"))
        state = RollupState.objects.filter(environment=environment).first()
        if state is None or state.time_zone != environment.time_zone:
            since_day = None  # everything, in the new zone
        elif marks:
            since_day = min(day for _, day in marks)
        else:
            return None
        first_day = _build(environment, state, since_day=since_day)
        RollupDirtyDay.objects.filter(pk__in=[pk for pk, _ in marks]).delete()
        return first_day


def rollup_environment_rebuild(*, environment: Environment) -> date | None:
    """Build an environment's rollups from scratch (first use, a new time zone, the bench)."""
    with transaction.atomic():
        _lock(environment)
        marks = list(RollupDirtyDay.objects.filter(environment=environment).values_list("pk", flat=True))
        first_day = _build(environment, RollupState.objects.filter(environment=environment).first(), since_day=None)
        RollupDirtyDay.objects.filter(pk__in=marks).delete()
        return first_day


def _lock(environment: Environment) -> None:
    with connection.cursor() as cursor:
        # Two refreshes of one environment at once would insert its days twice.
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_LOCK_CLASS, environment.pk])
        # As for reports (memory.py): room to sort in memory, and no JIT, which took
        # seconds to compile these statements and saved less.
        cursor.execute("SET LOCAL work_mem = %s", [REPORT_WORK_MEM])
        cursor.execute("SET LOCAL jit = off")


_LOCK_CLASS = 7301  # the rollups' class of advisory locks


def _build(environment: Environment, state: RollupState | None, *, since_day: date | None) -> date | None:
    """Replace the rollup rows from `since_day` on (all of them when None) from the raw rows."""
    zone = environment_zone(environment)
    now = timezone.now()
    from_scratch = since_day is None
    if from_scratch:
        for model in _ROLLUP_MODELS:
            model.objects.filter(environment=environment).delete()
        since_day = _first_day(environment)
        state = state or RollupState(environment=environment)
        state.built_at = now
    else:
        for model in _ROLLUP_MODELS:
            model.objects.filter(environment=environment, day__gte=since_day).delete()
    if since_day is not None:
        params = {
            "environment": environment.pk,
            "zone": zone.key,
            "since": datetime.combine(since_day, time.min, tzinfo=zone) - _MIDNIGHT_SLACK,
            "since_day": since_day,
            "lookback": datetime.combine(since_day - timedelta(days=GAP_HORIZON_DAYS), time.min, tzinfo=zone),
            "horizon": GAP_HORIZON_DAYS,
        }
        with connection.cursor() as cursor:
            for sql in (_SUMS_SQL, _VISITORS_SQL, _FLOWS_SQL, _TRAILS_SQL):
                cursor.execute(sql, params)
            _signups_build(environment, since_day)
            if from_scratch:
                # Fresh tables have no statistics until autovacuum comes by: without
                # them the planner took the refresh's day index for the reports' reads.
                cursor.execute(f"ANALYZE {', '.join(model._meta.db_table for model in _ROLLUP_MODELS)}")
    state.time_zone = environment.time_zone
    state.refreshed_at = now
    state.save()
    return since_day


def _signups_build(environment: Environment, since_day: date) -> None:
    """Conversion paths' rows of the users created from `since_day` on, by the raw report's own code."""
    today = timezone.now().astimezone(environment_zone(environment)).date()
    days = StatsQuery(environment=environment, period="custom", date_from=since_day, date_to=max(since_day, today))
    RollupSignup.objects.bulk_create(
        [
            RollupSignup(
                environment=environment,
                day=signup.day,
                channel=signup.touch[0],
                source=signup.touch[1],
                campaign=signup.touch[2],
                seconds=signup.seconds,
                sessions=signup.sessions,
                path=signup.path and list(signup.path),
            )
            for signup in signups_of(days)
        ],
        batch_size=1000,
    )


def _first_day(environment: Environment) -> date | None:
    """The earliest local day anything of the environment counts on."""
    zone = environment_zone(environment)
    moments = [
        Session.objects.filter(environment=environment).aggregate(first=Min("started_at"))["first"],
        Event.objects.filter(environment=environment).aggregate(first=Min("timestamp"))["first"],
        EndUser.objects.filter(environment=environment).aggregate(first=Min("created_at"))["first"],
    ]
    moments = [moment for moment in moments if moment is not None]
    return min(moments).astimezone(zone).date() if moments else None
