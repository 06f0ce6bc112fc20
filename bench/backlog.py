"""The queue's backlog and the rows stored, sampled on a connection of their own.

`analytics_collectbatch` holds the batches accepted in queued mode and not yet
written; in inline mode it stays empty (and may not exist on older code). Each
sample is one statement: the backlog, and pageviews + events stored so far. The
connection's application_name sets its server process apart from the served load
in the CPU accounting.
"""

import threading
import time

import psycopg

from .config import APP_SAMPLER, conninfo

SAMPLE_INTERVAL_SECONDS = 1.0
DRAIN_POLL_SECONDS = 0.25
DRAIN_STALL_SECONDS = 30.0  # neither the backlog nor the stored rows moved: stop waiting
BATCH_TABLE = "analytics_collectbatch"


class Sampler:
    def __init__(self, db_name: str):
        self.conn = psycopg.connect(conninfo(db_name, APP_SAMPLER), autocommit=True, connect_timeout=5)
        self.backend_pid = self.conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        self.has_queue = self.conn.execute("SELECT to_regclass(%s) IS NOT NULL", (BATCH_TABLE,)).fetchone()[0]
        backlog = f"(SELECT count(*) FROM {BATCH_TABLE})" if self.has_queue else "NULL::bigint"
        self._query = (
            f"SELECT {backlog}, (SELECT count(*) FROM analytics_pageview) + (SELECT count(*) FROM analytics_event)"
        )
        self.samples: list[dict] = []  # {"t": seconds since start(), "backlog": n, "stored": n}
        self._origin = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sample(self) -> dict:
        backlog, stored = self.conn.execute(self._query).fetchone()
        return {"t": round(time.monotonic() - self._origin, 2), "backlog": backlog, "stored": stored}

    def start(self) -> None:
        """Sample every second in a thread until `stop()`; the first sample is now."""
        self._origin = time.monotonic()
        self.samples = [self.sample()]
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="backlog-sampler", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_INTERVAL_SECONDS):
            try:
                self.samples.append(self.sample())
            except psycopg.Error as exc:
                self.samples.append({"t": round(time.monotonic() - self._origin, 2), "error": str(exc)[:300]})
                return

    def stop(self) -> dict:
        """Stop the thread; one last sample, taken now (the end of the load)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        last = self.sample()
        self.samples.append(last)
        return last

    def parked(self) -> dict:
        """What is left in the table: batches by attempts, and their errors (a few)."""
        if not self.has_queue:
            return {}
        found: dict = {"by_attempts": {}, "errors": []}
        try:
            for attempts, count in self.conn.execute(
                f"SELECT attempts, count(*) FROM {BATCH_TABLE} GROUP BY attempts ORDER BY attempts"
            ):
                found["by_attempts"][str(attempts)] = count
            found["errors"] = [
                row[0]
                for row in self.conn.execute(
                    f"SELECT DISTINCT last_error FROM {BATCH_TABLE} WHERE last_error <> '' LIMIT 5"
                )
            ]
        except psycopg.Error as exc:  # the table's columns are not what this expects
            found["error"] = str(exc)[:300]
        return found

    def close(self) -> None:
        self.conn.close()


def wait_drained(
    sampler: Sampler, *, timeout: float, writer=None, since: float | None = None, first: dict | None = None
) -> dict:
    """Wait until the batch table is empty, `timeout` seconds at most.

    Also ends early when the writer has exited or when nothing has moved for
    DRAIN_STALL_SECONDS. `drain_s` is the time from `since` (a `time.monotonic()`
    moment: the end of the load, whose sample is `first`), or else from the call,
    to the empty table.
    """
    began = time.monotonic() if since is None else since
    first = sampler.sample() if first is None else first
    last, moved_at, reason = first, began, "drained"
    while last["backlog"]:
        now = time.monotonic()
        if now - began >= timeout:
            reason = f"timeout after {timeout:.0f}s"
            break
        if writer is not None and not writer.alive():
            reason = f"collect_writer exited ({writer.returncode})"
            break
        if now - moved_at >= DRAIN_STALL_SECONDS:
            reason = f"no progress for {DRAIN_STALL_SECONDS:.0f}s"
            break
        time.sleep(DRAIN_POLL_SECONDS)
        current = sampler.sample()
        if (current["backlog"], current["stored"]) != (last["backlog"], last["stored"]):
            moved_at = time.monotonic()
        last = current
    elapsed = time.monotonic() - began
    result = {
        "drained": not last["backlog"],
        "outcome": reason,
        "drain_s": round(elapsed, 2) if first["backlog"] else 0.0,
        "backlog_at_start": first["backlog"],
        "backlog_at_end": last["backlog"],
        "stored_during_drain": last["stored"] - first["stored"],
    }
    if last["backlog"]:
        result["left_in_table"] = sampler.parked()
    return result
