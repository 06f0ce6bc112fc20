"""Items packed by PostgreSQL as big-endian 64-bit integers, and their fetch in binary.

A funnel reads hundreds of thousands of (visitor, time, ID) items. As rows, each costs
the database and the driver a microsecond or more; packed into one `bytea` per page
or event (`string_agg` of `ITEM`), they cost a few bytes to copy, and numpy reads
them without a Python object per value. Times are PostgreSQL's own: microseconds
since 2000.
"""

import psycopg
from django.db import connection

# One item of a row with `visitor_id`, `timestamp` and `id`: 24 bytes.
ITEM = "int8send(visitor_id) || timestamptz_send(timestamp) || int8send(id)"
ITEM_BYTES = 24


def packed_fetch(sql: str, params) -> list[tuple]:
    """The rows of `sql`, its `bytea` columns as bytes.

    In binary: as text, bytes travel hex-encoded, twice the size, and decoding them
    cost four times the fetch.
    """
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, binary=True)
        return cursor.fetchall()
