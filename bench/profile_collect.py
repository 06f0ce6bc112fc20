"""Where the time of one collect request goes, measured in-process against PostgreSQL.

    python -m bench.profile_collect --env-key KEY [--census N] [--profile N]

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


def census(sender: Sender, requests: list[traffic.Prepared]) -> dict:
    from django.db import connection

    kinds: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    clock = {"execute": 0.0, "commit": 0.0, "commits": 0, "db_cpu": 0.0}

    def wrapper(execute, sql, params, many, context):
        began, cpu = time.perf_counter(), time.thread_time()
        try:
            return execute(sql, params, many, context)
        finally:
            elapsed = time.perf_counter() - began
            clock["db_cpu"] += time.thread_time() - cpu
            entry = kinds[statement_kind(sql)]
            entry[0] += 1
            entry[1] += elapsed
            clock["execute"] += elapsed

    original_commit = connection._commit

    def timed_commit():
        began, cpu = time.perf_counter(), time.thread_time()
        try:
            return original_commit()
        finally:
            clock["commit"] += time.perf_counter() - began
            clock["db_cpu"] += time.thread_time() - cpu
            clock["commits"] += 1

    connection._commit = timed_commit
    responses = []
    try:
        with connection.execute_wrapper(wrapper):
            began, cpu = time.perf_counter(), time.thread_time()
            for request in requests:
                responses.append(sender.send(request))
            wall, cpu = time.perf_counter() - began, time.thread_time() - cpu
    finally:
        del connection._commit
    accepted, errors = _accepted(responses)
    count = len(requests)
    statements = sum(entry[0] for entry in kinds.values())
    database = clock["execute"] + clock["commit"]  # wall time inside execute and commit
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
        "statements": {
            kind: {"per_request": round(n / count, 2), "ms_per_request": round(1000 * seconds / count, 3)}
            for kind, (n, seconds) in sorted(kinds.items(), key=lambda pair: -pair[1][1])
        },
    }


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
    emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
