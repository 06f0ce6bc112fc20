"""The ceiling: how fast PostgreSQL takes the same pageview rows through COPY.

The rows are the ones the HTTP run stored (`id > after_id`), read back with
`COPY … TO STDOUT`, then written with psycopg 3's `cursor.copy` into
`analytics_pageview_copy`, made `LIKE analytics_pageview INCLUDING ALL`: the same
columns, defaults, identity and indexes (the unique one included: the rows are
unique already), but no foreign keys, which LIKE does not copy. Each round is one
transaction, commit included in the time; the median round counts.
"""

import statistics
import time

import psycopg

from .config import conninfo

ROUNDS = 3
COPY_TABLE = "analytics_pageview_copy"


def run(db_name: str, *, after_id: int) -> dict:
    with psycopg.connect(conninfo(db_name), connect_timeout=5) as conn:
        chunks: list[bytes] = []
        with (
            conn.cursor() as cursor,
            cursor.copy(
                f"COPY (SELECT * FROM analytics_pageview WHERE id > {int(after_id)} ORDER BY id) TO STDOUT"
            ) as copy,
        ):
            for chunk in copy:
                chunks.append(bytes(chunk))
        rows = sum(chunk.count(b"\n") for chunk in chunks)
        conn.execute(f"DROP TABLE IF EXISTS {COPY_TABLE}")
        conn.execute(f"CREATE TABLE {COPY_TABLE} (LIKE analytics_pageview INCLUDING ALL)")
        conn.commit()
        if not rows:
            return {"rows": 0, "rows_per_s": 0.0, "rounds_s": []}

        rounds = []
        for _ in range(ROUNDS):
            conn.execute(f"TRUNCATE {COPY_TABLE}")
            conn.commit()
            began = time.perf_counter()
            with conn.cursor() as cursor, cursor.copy(f"COPY {COPY_TABLE} FROM STDIN") as copy:
                for chunk in chunks:
                    copy.write(chunk)
            conn.commit()
            rounds.append(time.perf_counter() - began)
        stored = conn.execute(f"SELECT count(*) FROM {COPY_TABLE}").fetchone()[0]
        indexes = conn.execute("SELECT count(*) FROM pg_indexes WHERE tablename = %s", (COPY_TABLE,)).fetchone()[0]
        conn.execute(f"DROP TABLE {COPY_TABLE}")
        conn.commit()
    median = statistics.median(rounds)
    return {
        "rows": rows,
        "rows_stored_last_round": stored,
        "bytes": sum(len(chunk) for chunk in chunks),
        "rounds_s": [round(seconds, 4) for seconds in rounds],
        "rows_per_s": round(rows / median, 1),
        "table": f"{COPY_TABLE}: LIKE analytics_pageview INCLUDING ALL ({indexes} indexes, no foreign keys)",
    }
