"""Where the time of one collect request goes, measured in-process against PostgreSQL.

    python -m bench.profile_collect --env-key KEY [--census N] [--profile N] [--writer]

The request path measured is whichever COLLECT_QUEUE selects in the environment:
inline (the request writes its batch) or queued (it stores one batch row).

The requests are the benchmark's realistic traffic (fresh visitors), sent through
`django.test.Client`, which runs the whole Django stack (middleware, DRF, the view)
without gunicorn. One process, one request at a time: no contention.

- census (always): statements per request by kind and table, transactions, time
  inside the driver's execute and commit (wall clock: round trip plus server work),
  and the time per request and per accepted event;
- profile (`--profile N`): N more requests under cProfile: the top functions by
  cumulative and by self time, and the Python time outside the driver split into
  ORM, Django/DRF, the project's own code, enrichment (user agent, geo, client IP,
  URL/referrer/channel) and JSON, by self time charged along the call graph
  (cumulative times cannot be added up: they double count whenever the ORM calls
  back into project code, `PublicIdModel.save`, and back again).

Thread CPU clocks split the census's wall time into Python outside the database
calls, the driver's CPU inside them, and waiting on PostgreSQL; a sampling
profiler would not do: a sampler thread needs the GIL and sees the main thread
mostly where it releases it, at the driver's I/O.

- writer (`--writer`, queued mode): the batches the requests above left in the
  queue, topped up to WRITER_BATCHES, drained in-process by the collect writer's
  own function, one chunk (the command's default size) at a time: per chunk its
  wall time, statements by kind, batches and rows written; per batch and per event.
  With `--profile`, as many batches again drained under cProfile: the top functions.

Prints one line `RESULT {json}`.
"""

import argparse
import cProfile
import io
import json
import pstats
import re
import sys
import time
from collections import defaultdict

from . import traffic
from .config import COLLECT_PATH

WARMUP_REQUESTS = 60
SEED = 9090
WRITER_SEED = 9191
WRITER_BATCHES = 1000
WRITER_CHUNK = 500  # `manage.py collect_writer --chunk` default
_TABLE = re.compile(r'\b(?:FROM|INTO|UPDATE)\s+"?(\w+)"?', re.IGNORECASE)


def emit(result: dict) -> None:
    print("RESULT " + json.dumps(result), flush=True)


def statement_kind(sql: str) -> str:
    text = sql.lstrip()
    verb = text.split(None, 1)[0].upper() if text else "?"
    match = _TABLE.search(text)
    kind = f"{verb} {match.group(1) if match else ''}".strip()
    upper = text.upper()
    if "FOR UPDATE" in upper:
        kind += " FOR UPDATE"
    if "ON CONFLICT" in upper:
        kind += " ON CONFLICT"
    if " UNION " in upper:
        kind += " UNION"
    return kind


class Sender:
    def __init__(self, env_key: str):
        from django.test import Client

        self.client = Client(HTTP_HOST="127.0.0.1")
        self.env_key = env_key

    def send(self, request: traffic.Prepared, profiler: cProfile.Profile | None = None):
        headers = dict(request.headers)
        body = traffic.body_with_sent_at(request, traffic.sent_at_now())
        if profiler:
            profiler.enable()
        response = self.client.generic(
            "POST",
            COLLECT_PATH,
            data=body,
            content_type=headers["Content-Type"],
            HTTP_X_ASCENDKIT_ENV_KEY=self.env_key,
            HTTP_USER_AGENT=headers["User-Agent"],
            HTTP_ORIGIN=headers["Origin"],
            HTTP_X_FORWARDED_FOR=headers["X-Forwarded-For"],
        )
        if profiler:
            profiler.disable()
        return response


def _accepted(responses) -> tuple[int, int]:
    accepted = errors = 0
    for response in responses:
        if response.status_code == 202:
            accepted += json.loads(response.content)["accepted"]
        else:
            errors += 1
    return accepted, errors


class StatementClock:
    """Statements by kind, and the time inside the driver's execute and commit."""

    def __init__(self):
        self.kinds: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
        self.clock = {"execute": 0.0, "commit": 0.0, "commits": 0, "db_cpu": 0.0}
        self.paused = False  # the measurement's own statements are not counted

    def __call__(self, execute, sql, params, many, context):
        if self.paused:
            return execute(sql, params, many, context)
        began, cpu = time.perf_counter(), time.thread_time()
        try:
            return execute(sql, params, many, context)
        finally:
            elapsed = time.perf_counter() - began
            self.clock["db_cpu"] += time.thread_time() - cpu
            entry = self.kinds[statement_kind(sql)]
            entry[0] += 1
            entry[1] += elapsed
            self.clock["execute"] += elapsed

    def __enter__(self):
        from django.db import connection

        original_commit = connection._commit

        def timed_commit():
            began, cpu = time.perf_counter(), time.thread_time()
            try:
                return original_commit()
            finally:
                self.clock["commit"] += time.perf_counter() - began
                self.clock["db_cpu"] += time.thread_time() - cpu
                self.clock["commits"] += 1

        connection._commit = timed_commit
        self._wrapper = connection.execute_wrapper(self)
        self._wrapper.__enter__()
        return self

    def __exit__(self, *exc):
        from django.db import connection

        self._wrapper.__exit__(*exc)
        del connection._commit

    @property
    def statements(self) -> int:
        return sum(entry[0] for entry in self.kinds.values())

    @property
    def database_s(self) -> float:
        """Wall time inside execute and commit."""
        return self.clock["execute"] + self.clock["commit"]

    def by_kind(self, count: int, unit: str) -> dict:
        return {
            kind: {f"per_{unit}": round(n / count, 2), f"ms_per_{unit}": round(1000 * seconds / count, 3)}
            for kind, (n, seconds) in sorted(self.kinds.items(), key=lambda pair: -pair[1][1])
        }


def census(sender: Sender, requests: list[traffic.Prepared]) -> dict:
    responses = []
    with StatementClock() as recorder:
        began, cpu = time.perf_counter(), time.thread_time()
        for request in requests:
            responses.append(sender.send(request))
        wall, cpu = time.perf_counter() - began, time.thread_time() - cpu
    clock = recorder.clock
    accepted, errors = _accepted(responses)
    count = len(requests)
    statements = recorder.statements
    database = recorder.database_s
    return {
        "requests": count,
        "accepted_events": accepted,
        "errors": errors,
        "ms_per_request": round(1000 * wall / count, 3),
        # This process's CPU; the rest of the wall time it waited (on the server, for a core).
        "python_cpu_ms_per_request": round(1000 * cpu / count, 3),
        "python_cpu_outside_db_calls_ms_per_request": round(1000 * (cpu - clock["db_cpu"]) / count, 3),
        "driver_cpu_inside_db_calls_ms_per_request": round(1000 * clock["db_cpu"] / count, 3),
        "waiting_inside_db_calls_ms_per_request": round(1000 * (database - clock["db_cpu"]) / count, 3),
        "ms_per_event": round(1000 * wall / max(1, accepted), 3),
        "statements_per_request": round(statements / count, 2),
        # psycopg sends BEGIN before a transaction's first statement, then COMMIT.
        "round_trips_per_request": round((statements + 2 * clock["commits"]) / count, 2),
        "transactions_per_request": round(clock["commits"] / count, 2),
        "db_execute_and_commit_pct_of_wall": round(100 * database / wall, 1),
        "db_ms_per_request": round(1000 * database / count, 3),
        "commit_ms_per_request": round(1000 * clock["commit"] / count, 3),
        "statements": recorder.by_kind(count, "request"),
    }


# --- The collect writer, in-process ---------------------------------------------------------


def _queue_size() -> int:
    from analytics.models import CollectBatch

    return CollectBatch.objects.count()


def _stored_rows(recorder: "StatementClock | None" = None) -> int:
    from analytics.models import Event, Pageview

    if recorder is not None:
        recorder.paused = True
    try:
        return Pageview.objects.count() + Event.objects.count()
    finally:
        if recorder is not None:
            recorder.paused = False


def _fill_queue(sender: Sender, wanted: int, seed: int) -> int:
    """Send fresh visitors' requests (queued mode: each leaves one batch) until `wanted` are queued."""
    have = _queue_size()
    if have >= wanted:
        return have
    missing = wanted - have
    more = traffic.build(seed=seed, visitors=max(200, missing // 3), requests=int(missing * 1.3) + 50)
    for request in more:
        if request.bot:
            continue
        sender.send(request)
        have += 1
        if have >= wanted:
            break
    return _queue_size()


def writer(sender: Sender, *, batches: int, chunk: int, profile_too: bool, top: int) -> dict:
    """Drain the queue in-process with the writer's own function, chunk by chunk."""
    try:
        from analytics.services.collect_writer import collect_queue_drain
    except ImportError as exc:
        return {"skipped": f"analytics.services.collect_writer.collect_queue_drain is not importable ({exc})"}
    from django.conf import settings

    if not settings.COLLECT_QUEUE:
        return {"skipped": "COLLECT_QUEUE is off: the requests left nothing in the queue"}

    queued = _fill_queue(sender, batches, WRITER_SEED)
    chunks = []
    with StatementClock() as recorder:
        began, cpu = time.perf_counter(), time.thread_time()
        while True:
            stored = _stored_rows(recorder)
            statements, chunk_began = recorder.statements, time.perf_counter()
            taken = collect_queue_drain(limit=chunk)
            elapsed = time.perf_counter() - chunk_began
            if not taken:
                break
            chunks.append(
                {
                    "batches": taken,
                    "rows_written": _stored_rows(recorder) - stored,
                    "ms": round(1000 * elapsed, 1),
                    "statements": recorder.statements - statements,
                }
            )
        wall, cpu = time.perf_counter() - began, time.thread_time() - cpu
    batches_written = sum(entry["batches"] for entry in chunks)
    rows = sum(entry["rows_written"] for entry in chunks)
    work = sum(entry["ms"] for entry in chunks) / 1000 or wall
    result = {
        "chunk_limit": chunk,
        "batches_queued": queued,
        "batches_written": batches_written,
        "rows_written": rows,
        "left_in_queue": _queue_size(),
        "chunks": chunks,
        "ms_per_chunk": round(1000 * work / max(1, len(chunks)), 1),
        "ms_per_batch": round(1000 * work / max(1, batches_written), 3),
        "ms_per_event": round(1000 * work / max(1, rows), 3),
        "events_per_s": round(rows / work, 1) if work else None,
        "statements_per_chunk": round(sum(entry["statements"] for entry in chunks) / max(1, len(chunks)), 1),
        "python_cpu_pct_of_wall": round(100 * (cpu - recorder.clock["db_cpu"]) / wall, 1) if wall else None,
        "db_execute_and_commit_pct_of_wall": round(100 * recorder.database_s / wall, 1) if wall else None,
        # The last call, which found the queue empty, included.
        "statements_by_kind_per_chunk": recorder.by_kind(max(1, len(chunks)), "chunk"),
    }
    if profile_too:
        _fill_queue(sender, batches, WRITER_SEED + 1)
        profiler = cProfile.Profile()
        profiled = 0
        profiler.enable()
        while taken := collect_queue_drain(limit=chunk):
            profiled += taken
        profiler.disable()
        stats = pstats.Stats(profiler)
        split = split_by_category(stats.stats)
        python = sum(seconds for category, seconds in split.items() if category != DB) or 1.0
        result["profile"] = {
            "python_split": {
                category: round(seconds / python, 4)
                for category, seconds in sorted(split.items(), key=lambda pair: -pair[1])
                if category != DB
            },
            "batches": profiled,
            "top_self": _top(stats.stats, 2, top, max(1, profiled)),
            "unit": "per batch",
        }
    return result


# --- Splitting the Python time: cProfile's call graph ---------------------------------------

DB = "db"
# A function's self time belongs to its own category, or else (stdlib, builtins, other
# libraries) to the category it was called from: `ipaddress` under the geo lookup is
# enrichment, `copy` under the ORM is ORM. cProfile keeps self time per caller edge,
# so one level is exact; further up, callers are weighted by their cumulative time.
CATEGORIES = (
    (DB, lambda f: "psycopg" in f),
    ("ORM: Django query compilation, model instances, backend wrapper", lambda f: "/django/db/" in f),
    ("JSON: body parsing, answer rendering, property checks", lambda f: "/json/" in f or "_json." in f),
    (
        "enrichment: user agent, geo, client IP, URL/referrer/channel",
        lambda f: any(part in f for part in ("/analytics/enrichment/", "/ua_parser", "/geoip2/", "/maxminddb/")),
    ),
    (
        "project Python: validation, sessionisation, cleaning, IDs",
        lambda f: any(part in f for part in ("/analytics/", "/identity/", "/ascendkit_site/")),
    ),
    (
        "Django/DRF: request, middleware, dispatch, response",
        lambda f: any(part in f for part in ("/django/", "/rest_framework/", "/whitenoise/")),
    ),
)
OTHER = "other: test client, interpreter"


def _own_category(func) -> str | None:
    filename, _line, name = func
    where = filename if filename != "~" else name
    for category, matches in CATEGORIES:
        if matches(where):
            return category
    return None


def split_by_category(raw: dict) -> dict[str, float]:
    """Self time of every function, charged to categories (seconds over the whole run)."""
    context_memo: dict = {}

    def context(func, depth: int = 0) -> dict[str, float]:
        own = _own_category(func)
        if own:
            return {own: 1.0}
        if func in context_memo:
            return context_memo[func]
        context_memo[func] = {OTHER: 1.0}  # guards recursion
        callers = raw.get(func, (0, 0, 0, 0, {}))[4]
        weights = {caller: edge[3] for caller, edge in callers.items() if edge[3] > 0}
        total = sum(weights.values())
        if not total or depth > 40:
            return context_memo[func]
        mix: dict[str, float] = defaultdict(float)
        for caller, weight in weights.items():
            for category, fraction in context(caller, depth + 1).items():
                mix[category] += fraction * weight / total
        context_memo[func] = dict(mix)
        return context_memo[func]

    seconds: dict[str, float] = defaultdict(float)
    for func, (_cc, _nc, tt, _ct, callers) in raw.items():
        own = _own_category(func)
        if own:
            seconds[own] += tt
            continue
        if not callers:
            seconds[OTHER] += tt
            continue
        for caller, edge in callers.items():  # edge: calls, primitive calls, self time, cumulative
            for category, fraction in context(caller).items():
                seconds[category] += edge[2] * fraction
    return dict(seconds)


# --- cProfile: the functions --------------------------------------------------------------


def _short(func) -> str:
    filename, line, name = func
    for marker in ("site-packages/", "/lib/python3.11/", "/work/main/"):
        if marker in filename:
            filename = filename.split(marker, 1)[1]
            break
    return f"{filename}:{line}({name})" if filename != "~" else name


def _top(raw: dict, key: int, count: int, requests: int) -> list[dict]:
    ordered = sorted(raw.items(), key=lambda pair: -pair[1][key])[:count]
    return [
        {
            "function": _short(func),
            "calls_per_request": round(nc / requests, 2),
            "self_us_per_request": round(1e6 * tt / requests, 1),
            "cum_us_per_request": round(1e6 * ct / requests, 1),
        }
        for func, (_cc, nc, tt, ct, _callers) in ordered
    ]


def profile(sender: Sender, requests: list[traffic.Prepared], top: int) -> dict:
    profiler = cProfile.Profile()
    responses = [sender.send(request, profiler) for request in requests]
    accepted, errors = _accepted(responses)
    stats = pstats.Stats(profiler)
    count = len(requests)
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(40)
    split = split_by_category(stats.stats)
    python = sum(seconds for category, seconds in split.items() if category != DB) or 1.0
    return {
        "requests": count,
        "accepted_events": accepted,
        "errors": errors,
        "ms_per_request_under_profiler": round(1000 * stats.total_tt / count, 3),
        # Shares of the time outside the driver (cProfile's own overhead inflates call-heavy
        # code, so only the proportions are used; the census gives the absolute time).
        "python_split": {
            category: round(seconds / python, 4)
            for category, seconds in sorted(split.items(), key=lambda pair: -pair[1])
            if category != DB
        },
        "top_cumulative": _top(stats.stats, 3, top, count),
        # The collect path's own steps, and the transaction's end (commit and its hooks).
        "steps_cumulative": _top(
            {
                func: entry
                for func, entry in stats.stats.items()
                if (_own_category((func[0], 0, "")) or "").startswith("project")
                or (func[0].endswith("django/db/transaction.py") and func[2] == "__exit__")
            },
            3,
            top,
            count,
        ),
        "top_self": _top(stats.stats, 2, top, count),
        "pstats_text": text.getvalue()[-16000:],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--env-key", required=True)
    parser.add_argument("--census", type=int, default=300)
    parser.add_argument("--profile", type=int, default=0)
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--seed", type=int, default=SEED, help="another seed for another set of visitors")
    parser.add_argument("--writer", action="store_true", help="queued mode: drain the queue in-process, timed")
    parser.add_argument("--writer-batches", type=int, default=WRITER_BATCHES)
    parser.add_argument("--writer-chunk", type=int, default=WRITER_CHUNK)
    args = parser.parse_args(argv)

    import django

    django.setup()
    total = WARMUP_REQUESTS + args.census + args.profile
    # Some visitors run out of simulated history before their quota: ask for more.
    requests = traffic.build(seed=args.seed, visitors=max(200, total // 3), requests=int(total * 1.4) + 50)[:total]
    warmup, rest = requests[:WARMUP_REQUESTS], requests[WARMUP_REQUESTS:]
    sender = Sender(args.env_key)
    for request in warmup:  # caches, the geo reader, the connection
        sender.send(request)
    result = {"census": census(sender, rest[: args.census])}
    if args.profile:
        result["profile"] = profile(sender, rest[args.census : args.census + args.profile], args.top)
    if args.writer:
        result["writer"] = writer(
            sender, batches=args.writer_batches, chunk=args.writer_chunk, profile_too=bool(args.profile), top=args.top
        )
    emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
