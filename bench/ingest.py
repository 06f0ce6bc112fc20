"""Ingestion: stored events/s over HTTP against PostgreSQL, and the same load on the floor.

For each batch mix the same prepared requests go to the floor (`bench/floor.py`) and
to each configuration, one after the other, each configuration in a fresh database. A
run is a warm-up (3 s of other visitors; in queued mode until written), then the timed
load. Stored events are pageviews + events stored from the start of the timed load
until the queue has drained; the rate is over that time. CPU per stored event is what
gunicorn, the collect writer and the database's backends used over the same span.
"""

import os
import statistics
import threading
import time

from . import traffic
from .run import cpu_seconds, machine_busy_seconds

PRODUCTION_ENV = {"COLLECT_QUEUE": "true", "REDIS_URL": "redis://127.0.0.1:6379/7"}
CONFIGS = {  # name: (what it is, gunicorn threads, settings, a command beside gunicorn)
    "floor": ("bench/floor.py, gunicorn -w 2 (sync)", 1, None, []),
    "defaults": ("COLLECT_QUEUE unset, gunicorn -w 2 (sync)", 1, {}, []),
    "production": ("COLLECT_QUEUE=true + collect_writer, -w 2 --threads 4", 4, PRODUCTION_ENV, ["collect_writer"]),
}
PLAN = [("1-10", ("floor", "defaults", "production")), ("1-3", ("floor", "production"))]
RATE_MAX = 3000  # requests/s: the prepared list outlasts a configuration that serves fewer
QUEUE = "analytics_collectbatch"
STORED = "(SELECT count(*) FROM analytics_pageview) + (SELECT count(*) FROM analytics_event)"
REPEATS = """SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM (
    SELECT environment_id, message_id FROM analytics_pageview UNION ALL
    SELECT environment_id, message_id FROM analytics_event) AS stored
    GROUP BY environment_id, message_id HAVING count(*) > 1) AS repeated"""
HEADER = f"{'configuration':<12} {'req/s':>7} {'events/s':>9} {'÷floor req/s':>12} {'÷floor ev/s':>11}"
HEADER += f" {'p50 ms':>7} {'p99 ms':>7} {'drain s':>7}   µs CPU/event: gunicorn+writer, postgres, wrk"


class Backlog(threading.Thread):
    """Samples the queue's length every 0.2 s, on a connection of its own, until stopped."""

    def __init__(self, bench, database):
        super().__init__(daemon=True)
        self.conn, self.samples, self.stopping = bench.connect(database.name), [], threading.Event()
        exists = self.conn.execute(f"SELECT to_regclass('{QUEUE}') IS NOT NULL").fetchone()[0]
        self.query = f"SELECT count(*) FROM {QUEUE}" if exists else "SELECT 0"

    def run(self):
        while not self.stopping.wait(0.2):
            self.samples.append((time.time(), self.conn.execute(self.query).fetchone()[0]))

    def drained_at(self, load_end: float, timeout: float = 120) -> float | None:
        """When the queue was first empty after `load_end` (`load_end` if it never held any)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            after = [(moment, length) for moment, length in list(self.samples) if moment >= load_end]
            if after and not any(length for _, length in after):
                return load_end
            empty = next((moment for moment, length in after if not length), None)
            if empty:
                return empty
            time.sleep(0.2)
        return None

    def finish(self):
        self.stopping.set()
        self.join()
        self.conn.close()


def _server_cpu(bench, server, database) -> dict[str, float]:
    """CPU seconds so far: gunicorn and the writer with their children, and each of the database's backends."""
    gunicorn, *beside = cpu_seconds([process.pid for process in server.processes]).values()
    groups = {"gunicorn": gunicorn, "writer": sum(beside)}
    if database:
        groups.update({f"pg{pid}": value for pid, value in cpu_seconds(bench.backends(database.name)).items()})
    return groups


def measure(bench, name: str, mix: str, prefix: str, warm_prefix: str) -> dict:
    _, threads, settings, beside = CONFIGS[name]
    database = bench.database(f"{name}_{mix.replace('-', '_')}") if settings is not None else None
    if database:
        env, app = bench.django_env(database.name, **settings), "ascendkit_site.wsgi:application"
    else:
        env, app = bench.plain_env(), "bench.floor:application"
    server = bench.serve(app, env=env, threads=threads, beside=beside)
    key = database.env_key if database else "-"
    try:
        warm = bench.wrk(server.url + "/v1/analytics/collect", warm_prefix, env_key=key, duration=3)
        backlog = Backlog(bench, database) if database else None
        if database:
            backlog.start()
            if backlog.drained_at(time.time()) is None:
                raise RuntimeError(f"{name}: the warm-up's batches were not written within 120 s")
            stored_before = database.value(f"SELECT {STORED}")
        cpu_before, busy_before = _server_cpu(bench, server, database), machine_busy_seconds()
        load = bench.wrk(server.url + "/v1/analytics/collect", prefix, env_key=key, duration=bench.args.duration)
        end = backlog.drained_at(load["last"]) if database else load["last"]
        cpu_after, busy = _server_cpu(bench, server, database), machine_busy_seconds() - busy_before
        alive = server.alive()
    finally:
        server.stop()
        if backlog:
            backlog.finish()
    used = {group: cpu_after[group] - cpu_before.get(group, 0.0) for group in cpu_after}
    result = {"load": load, "warm_up": warm, "machine_busy_s": busy}
    result["gunicorn_cpu_s"], result["writer_cpu_s"] = used.pop("gunicorn"), used.pop("writer")
    result["postgres_cpu_s"] = sum(used.values())
    result["p50_ms"], result["p99_ms"] = load["p50_us"] / 1000, load["p99_us"] / 1000
    result["requests_per_s"] = load["answered"] / load["seconds"]
    if database is None:  # the floor stores nothing: its events/s are the items it parsed
        result["events"], result["seconds"] = load["accepted"], load["seconds"]
    else:
        result["events"] = database.value(f"SELECT {STORED}") - stored_before
        result["seconds"] = (end or time.time()) - load["first"]
        result["drain_s"] = (end or time.time()) - load["last"]
        _checks(bench, name, database, result, warm, load, drained=end is not None, alive=alive)
    result["events_per_s"] = result["events"] / result["seconds"]
    return result


def _checks(bench, name, database, result, warm, load, *, drained: bool, alive: bool) -> None:
    stored = database.value(f"SELECT {STORED}")
    accepted = warm["accepted"] + load["accepted"]
    bad = {
        key: count
        for run in (warm, load)
        for key, count in run.items()
        if key.startswith("status_") and key != "status_202"
    }
    bench.check(f"{name}: stored = accepted", stored == accepted, f"{stored:,} stored, {accepted:,} accepted")
    bench.check(f"{name}: no message ID stored twice", not (twice := database.value(REPEATS)), f"{twice} repeats")
    errors = bad or warm["socket_errors"] or load["socket_errors"]
    bench.check(
        f"{name}: every request answered 202", not errors, f"others: {bad}, socket errors: {load['socket_errors']}"
    )
    bench.check(f"{name}: each request sent once", not load["wraps"], f"the list ran out {load['wraps']} time(s)")
    bench.check(
        f"{name}: the queue drained and the processes lived", drained and alive, f"drained {drained}, alive {alive}"
    )


def copy_ceiling(bench, suffix: str) -> float:
    """Pageview rows/s through COPY into a LIKE … INCLUDING ALL table (same indexes, no foreign keys)."""
    with bench.connect(bench.database_name(suffix)) as conn:
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
        rows = conn.execute("SELECT count(*) FROM bench_copy").fetchone()[0]
        conn.execute("DROP TABLE bench_copy")
    return rows / statistics.median(rounds)


def _line(name: str, result: dict, floor: dict) -> str:
    per_event = 1e6 / max(1, result["events"])
    cpu = [
        result["server_cpu_s"] * per_event,
        result["postgres_cpu_s"] * per_event,
        result["load"]["wrk_cpu_s"] * per_event,
    ]
    line = f"{name:<12} {result['requests_per_s']:>7,.0f} {result['events_per_s']:>9,.0f}"
    ratios = result["events_per_s"] / floor["requests_per_s"], result["events_per_s"] / floor["events_per_s"]
    line += f" {ratios[0]:>11.2f}× {ratios[1]:>10.2f}×"
    line += f" {result['p50_ms']:>7.1f} {result['p99_ms']:>7.1f} {result.get('drain_s', 0):>7.1f}"
    return line + f" {cpu[0] + cpu[1]:>7,.0f} = {cpu[0]:>5,.0f} + {cpu[1]:>5,.0f} {cpu[2]:>8,.0f} {cpu[3]:>5,.0f}"


def run(bench) -> dict:
    results = {}
    for mix, names in PLAN:
        requests = traffic.build(requests=int(bench.args.duration * RATE_MAX), mix=mix, seed=11)
        warm = traffic.build(requests=int(3 * RATE_MAX), mix=mix, seed=12)
        mean = statistics.mean(request.items for request in requests)
        load = "/".join(f"{value:.1f}" for value in os.getloadavg())
        bench.say(f"-- {mix} items a request ({mean:.2f} on average), 16 connections, {bench.args.duration:.0f} s each")
        bench.say(f"   (load average before: {load} on {os.cpu_count()} cores)")
        prefix, warm_prefix = bench.requests_file(requests), bench.requests_file(warm)
        measured = {name: measure(bench, name, mix, prefix, warm_prefix) for name in names}
        bench.say(HEADER)
        for name in names:
            bench.say(_line(name, measured[name], measured["floor"]))
        results[mix] = measured
    results["copy_rows_per_s"] = copy_ceiling(bench, "production_1_10")
    bench.say(f"COPY ceiling: {results['copy_rows_per_s']:,.0f} pageview rows/s (the production 1-10 run's rows again)")
    return results
