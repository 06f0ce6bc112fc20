"""Dirty marks: the local days whose raw rows changed since the rollups last read them.

Writers call these in the transaction that changes the rows, so a mark is visible
exactly when its data is. Each call is one statement, however many rows it covers.
Only PostgreSQL keeps rollups; elsewhere these do nothing.
"""

from collections.abc import Iterable
from datetime import date

from django.db import connection

from identity.models import EndUser, Environment

from ...models import Event, RollupDirtyDay, Session
from ..query import environment_zone


def rollup_days_touch(
    *,
    environments: Iterable[Environment],
    sessions: Iterable[Session] = (),
    events: Iterable[Event] = (),
    users: Iterable[EndUser] = (),
) -> None:
    """Mark as changed the local days that these rows count on, in one statement.

    A session (with its pageviews) counts on the day it started, an event on its own
    day, a signup on the user's creation day. `environments` gives each row's
    environment and its time zone, without a query.
    """
    if connection.vendor != "postgresql":
        return
    zones = {environment.id: environment_zone(environment) for environment in environments}
    moments = [
        *((session.environment_id, session.started_at) for session in sessions),
        *((event.environment_id, event.timestamp) for event in events),
        *((user.environment_id, user.created_at) for user in users),
    ]
    days = {(environment_id, moment.astimezone(zones[environment_id]).date()) for environment_id, moment in moments}
    if days:
        RollupDirtyDay.objects.bulk_create(
            [RollupDirtyDay(environment_id=environment_id, day=day) for environment_id, day in sorted(days)]
        )


# The earliest local day on which rows of these visitors (or of this user) count:
# the refresh recomputes from the earliest dirty day on, so that one mark covers them.
_EARLIEST_DAY_SQL = """
SELECT (MIN(moment) AT TIME ZONE %(zone)s)::date
FROM (
    SELECT MIN(started_at) FROM analytics_session
    WHERE environment_id = %(environment)s AND (visitor_id = ANY(%(visitors)s) OR user_id = %(user)s)
    UNION ALL
    SELECT MIN(timestamp) FROM analytics_event
    WHERE environment_id = %(environment)s AND (visitor_id = ANY(%(visitors)s) OR user_id = %(user)s)
    UNION ALL
    SELECT created_at FROM identity_enduser WHERE environment_id = %(environment)s AND id = %(user)s
) AS rows (moment)
"""


def rollup_rows_first_day(*, environment_id: int, visitor_ids: Iterable[int] = (), user: EndUser | None = None):
    """The earliest day these visitors' rows, and the user's (with the signup), count on; None if none."""
    if connection.vendor != "postgresql":
        return None
    environment = Environment.objects.only("time_zone").get(pk=environment_id)
    params = {
        "environment": environment_id,
        "zone": environment_zone(environment).key,
        "visitors": list(visitor_ids),
        "user": user.pk if user is not None else None,
    }
    with connection.cursor() as cursor:
        cursor.execute(_EARLIEST_DAY_SQL, params)
        return cursor.fetchone()[0]


def rollup_day_mark(*, environment_id: int, day: date | None) -> None:
    """Mark one day as changed; to be called in the transaction that changes its rows, or after it."""
    if day is not None:
        RollupDirtyDay.objects.bulk_create(
            [RollupDirtyDay(environment_id=environment_id, day=day)], ignore_conflicts=True
        )


def rollup_rows_touch(*, environment_id: int, visitor_ids: Iterable[int] = ()) -> None:
    """Mark the days of these visitors' rows, in the transaction that is about to delete them."""
    rollup_day_mark(
        environment_id=environment_id,
        day=rollup_rows_first_day(environment_id=environment_id, visitor_ids=visitor_ids),
    )
