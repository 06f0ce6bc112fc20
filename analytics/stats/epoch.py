"""Times as whole microseconds since 1970: what reports fetch when they read many times.

Thousands of time-zone-aware datetimes cost far more to fetch than integers.
"""

from datetime import UTC, datetime, timedelta

from django.db.models import BigIntegerField, Func

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


class EpochMicroseconds(Func):
    """A time as whole microseconds since 1970 (PostgreSQL, exact: EXTRACT gives a numeric).

    Conversion paths' raw reads fetch thousands of them.
    """

    template = "(EXTRACT(EPOCH FROM %(expressions)s) * 1000000)::bigint"
    output_field = BigIntegerField()
