"""Room for a report's sorts and hashes on PostgreSQL.

Distinct counts and window functions over a month of rows sort hundreds of
thousands of values; with PostgreSQL's default 4 MB of `work_mem` they spill to
disk. Each report runs in a read-only transaction that raises it for itself alone
(`SET LOCAL`), so the server's setting stays what it is for everything else.

The same transaction turns JIT compilation off: a report's plan costs are above
PostgreSQL's JIT threshold, and compiling its expressions took 35-210 ms per
query on this machine's two cores, more than it saved on a month of rows.
"""

import functools

from django.db import connection, transaction

REPORT_WORK_MEM = "64MB"


def with_report_memory(selector):
    @functools.wraps(selector)
    def run(*args, **kwargs):
        if connection.vendor != "postgresql":
            return selector(*args, **kwargs)
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL work_mem = %s", [REPORT_WORK_MEM])
                cursor.execute("SET LOCAL jit = off")
            return selector(*args, **kwargs)

    return run
