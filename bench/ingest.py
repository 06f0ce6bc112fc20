"""Ingestion: stored events/s over HTTP against PostgreSQL, beside the floor in the same run.

For each batch mix, the same prepared requests go to the floor (`bench/floor.py`) and to
each configuration in turn, each in a fresh database: a 3 s warm-up with other visitors
(in queued mode, until written), then the timed load. Stored events (pageviews + events)
count from the timed load's first request until the queue is empty. CPU per stored event:
what the web server, the collect writer and the database's backends used over the same span.
"""

import os
import statistics
import time

from . import traffic
from .run import DB_PREFIX, connect, cpu_seconds, machine_busy_seconds, value

# As the README runs production: granian with 4 threads a worker, and the writer a process of
# its own beside it (a thread in a web process shares the interpreter lock with four request
# threads, and falls behind them). "gunicorn" is the same on gunicorn, as production ran before.
PRODUCTION = {"REDIS_URL": "redis://127.0.0.1:6379/7", "COLLECT_WRITER": "external"}
CONFIGS = {  # name: web server, its threads, settings (None: the floor), a manage.py command beside it
    "floor": ("gunicorn", 1, None, []),
    "defaults": ("gunicorn", 1, {}, []),
    "gunicorn": ("gunicorn", 4, PRODUCTION, ["collect_writer"]),
    "production": ("granian", 4, PRODUCTION, ["collect_writer"]),
}
CONFIGURATIONS = ("floor", "defaults", "gunicorn", "production")
PLAN = [("1-10", CONFIGURATIONS), ("1-3", CONFIGURATIONS)]
RATE_MAX = 3000  # requests/s: a configuration that serves fewer never runs out of prepared requests
STORED = "SELECT (SELECT count(*) FROM analytics_pageview) + (SELECT count(*) FROM analytics_event)"
REPEATS = """SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM (
    SELECT environment_id, message_id FROM analytics_pageview UNION ALL
    SELECT environment_id, message_id FROM analytics_event) AS stored
    GROUP BY environment_id, message_id HAVING count(*) > 1) AS repeated"""
HEADER = "configuration  req/s  events/s  ÷floor req/s  ÷floor ev/s  p50 ms  p99 ms  drain s"
HEADER += "  CPU µs/event: web + writer, postgres, wrk"


class Queue:
    """The queue's length over time, sampled on a connection of its own (0 where there is no queue)."""

    def __init__(self, db_name: str):
        self.conn, self.samples = connect(db_name), []
        exists = self.conn.execute("SELECT to_regclass('analytics_collectbatch') IS NOT NULL").fetchone()[0]
        self.query = "SELECT count(*) FROM analytics_collectbatch" if exists else "SELECT 0"

    def sample(self) -> None:
        self.samples.append((time.time(), self.conn.execute(self.query).fetchone()[0]))

    def drained_at(self, since: float, timeout: float = 120) -> float | None:
        """When the queue was first seen empty after `since`; `since` if it held nothing then."""
        while time.time() < since + timeout:
            self.sample()
            after = [(moment, length) for moment, length in self.samples if moment >= since]
            if not any(length for _, length in after):
                return since
            if empty := [moment for moment, length in after if not length]:
                return empty[0]
            time.sleep(0.2)
        return None


def measure(bench, name: str, mix: str, prefix: str, warm_prefix: str) -> dict:
    web, threads, settings, beside = CONFIGS[name]
    database = bench.database(f"{name}_{mix.replace('-', '_')}") if settings is not None else None
    if database:
        env, app, key = bench.django_env(database.name, **settings), "ascendkit_site.wsgi:application", database.env_key
    else:  # the floor configures its own settings
        env, app, key = {**os.environ, "DJANGO_SETTINGS_MODULE": ""}, "bench.floor:application", "-"
    server = bench.serve(app, env=env, threads=threads, beside=beside, web_server=web)
    url, queue = server.url + "/v1/analytics/collect", Queue(database.name) if database else None
    try:
        warm = bench.wrk(url, warm_prefix, env_key=key, duration=3)
        if queue and queue.drained_at(time.time()) is None:
            raise RuntimeError(f"{name}: the warm-up's batches were not written within 120 s")
        stored_before = value(database.name, STORED) if database else 0
        cpu_before, busy = cpu(bench, server, database), machine_busy_seconds()
        load = bench.wrk(url, prefix, env_key=key, duration=bench.args.duration, poll=queue and queue.sample)
        end = queue.drained_at(load["last"]) if queue else load["last"]
        used = {group: seconds - cpu_before.get(group, 0.0) for group, seconds in cpu(bench, server, database).items()}
        alive, busy = server.alive(), machine_busy_seconds() - busy
    finally:
        server.stop()
        if queue:
            queue.conn.close()
    # The floor stores nothing: its events are the items it parsed.
    events = value(database.name, STORED) - stored_before if database else load["accepted"]
    seconds = (end or time.time()) - load["first"]
    result = {"load": load, "warm_up": warm, "events": events, "seconds": seconds, "machine_busy_s": busy}
    result.update(events_per_s=events / seconds, requests_per_s=load["answered"] / load["seconds"])
    result.update(drain_s=(end or time.time()) - load["last"], p50_ms=load["p50_us"] / 1e3, p99_ms=load["p99_us"] / 1e3)
    result.update({f"{group}_cpu_s": used.pop(group) for group in ("web", "writer")})
    result["postgres_cpu_s"] = sum(used.values())
    checks(bench, name, database, warm, load, drained=end is not None, alive=alive)
    return result


def cpu(bench, server, database) -> dict[str, float]:
    """CPU seconds so far: the web server and the writer with their children, and each backend of the database."""
    web, *writer = cpu_seconds([process.pid for process in server.processes])
    backends = bench.backends(database.name) if database else []
    return {"web": web, "writer": sum(writer), **dict(zip(backends, cpu_seconds(backends), strict=True))}


def checks(bench, name, database, warm, load, *, drained: bool, alive: bool) -> None:
    others = {key: n for run in (warm, load) for key, n in run.items() if key.startswith("status_") and n}
    others.pop("status_202", None)
    # wrk also counts as socket errors the idle keep-alive connections that the web server closes after the load.
    unanswered = sum(run["sent"] - run["answered"] for run in (warm, load))
    detail = f"other statuses: {others or 'none'}, {unanswered} unanswered, {load['socket_errors']} socket errors"
    bench.check(f"{name}: every request answered 202", not others and not unanswered, detail)
    bench.check(f"{name}: the processes lived", alive, "to the end" if alive else "one exited")
    if database:
        stored, accepted = value(database.name, STORED), warm["accepted"] + load["accepted"]
        bench.check(f"{name}: stored = accepted", stored == accepted, f"{stored:,} stored, {accepted:,} accepted")
        bench.check(f"{name}: no message ID stored twice", not (twice := value(database.name, REPEATS)), f"{twice}")
        bench.check(f"{name}: each request sent once", not load["wraps"], f"the list ran out {load['wraps']} times")
        bench.check(f"{name}: the queue drained", drained, "empty" if drained else "not empty after 120 s")


def copy_ceiling(db_name: str) -> float:
    """Pageview rows/s through COPY into a LIKE … INCLUDING ALL table (same indexes, no foreign keys)."""
    with connect(db_name) as conn:
        with conn.cursor().copy("COPY (SELECT * FROM analytics_pageview) TO STDOUT") as copy:
            data = [bytes(chunk) for chunk in copy]
        conn.execute("CREATE TABLE bench_copy (LIKE analytics_pageview INCLUDING ALL)")
        rounds = []
        for _ in range(3):
            conn.execute("TRUNCATE bench_copy")
            began = time.perf_counter()
            with conn.cursor().copy("COPY bench_copy FROM STDIN") as copy:
                for chunk in data:
                    copy.write(chunk)
            rounds.append(time.perf_counter() - began)
        return conn.execute("SELECT count(*) FROM bench_copy").fetchone()[0] / statistics.median(rounds)


def line(name: str, result: dict, floor: dict) -> str:
    seconds = [result[f"{group}_cpu_s"] for group in ("web", "writer", "postgres")] + [result["load"]["wrk_cpu_s"]]
    per_event = [value * 1e6 / max(1, result["events"]) for value in seconds]
    ratios = result["events_per_s"] / floor["requests_per_s"], result["events_per_s"] / floor["events_per_s"]
    text = f"{name:<13}{result['requests_per_s']:>6,.0f}{result['events_per_s']:>10,.0f}{ratios[0]:>13.2f}×"
    text += f"{ratios[1]:>12.2f}×{result['p50_ms']:>8.1f}{result['p99_ms']:>8.1f}{result['drain_s']:>9.1f}"
    return text + "  {:>6,.0f} = {:,.0f} + {:,.0f}, {:,.0f}, {:,.0f}".format(sum(per_event[:2]), *per_event)


def run(bench) -> dict:
    results = {}
    for mix, names in PLAN:
        requests = traffic.build(requests=int(bench.args.duration * RATE_MAX), mix=mix, seed=11)
        prefix = bench.requests_file(requests)
        warm_prefix = bench.requests_file(traffic.build(requests=3 * RATE_MAX, mix=mix, seed=12))
        mean, load = statistics.mean(r.items for r in requests), "/".join(f"{n:.1f}" for n in os.getloadavg())
        bench.say(f"-- {mix} items a request ({mean:.2f} on average), 16 connections, {bench.args.duration:.0f} s;")
        bench.say(f"   load average {load} on {os.cpu_count()} cores")
        results[mix] = {name: measure(bench, name, mix, prefix, warm_prefix) for name in names}
        bench.say(HEADER)
        for name in names:
            bench.say(line(name, results[mix][name], results[mix]["floor"]))
    results["copy_rows_per_s"] = copy_ceiling(DB_PREFIX + "production_1_10")
    bench.say(f"COPY ceiling: {results['copy_rows_per_s']:,.0f} pageview rows/s (production 1-10's rows, copied again)")
    return results
