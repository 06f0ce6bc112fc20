"""The load generator: its own process, asyncio + aiohttp, a fixed number of connections.

    python -m bench.loadgen --url URL --requests FILE --out FILE --duration S --concurrency N
        [--env-key KEY] [--expect 202] [--cycle]

FILE holds a pickled list of `traffic.Prepared`, in send order. Each of N workers
takes the next request, stamps `sentAt` with the clock, POSTs it and records the
latency (send to last byte of the answer). No new request starts after the
deadline; requests in flight are awaited. Without `--cycle` the run also ends when
the list is used up (reported as `exhausted`): each item is sent once, as a browser
would. The client keeps connections alive; gunicorn's sync workers (the default)
close every connection after one answer anyway, so each request is also a TCP
connect, as for a browser whose request is the first on a connection; gthread
workers (`--threads` > 1) keep them open.

It prints "started" when the timed phase begins (the parent samples CPU counters
then) and writes its figures as JSON to --out. Besides the rates and latencies, the
figures say what the database should hold afterwards: the distinct simulated
visitors and sessions of the requests answered with accepted items (bots left out),
and the items of bot requests; and for answers other than the expected status, a
few of their bodies.
"""

import argparse
import asyncio
import json
import pickle
import sys
import time
from collections import Counter

import aiohttp

from .traffic import body_with_sent_at, sent_at_now

REQUEST_TIMEOUT_SECONDS = 10
ENV_KEY_HEADER = "X-AscendKit-Env-Key"
ERROR_SAMPLES = 5


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


async def run(args, prepared: list) -> dict:
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    statuses: Counter = Counter()
    failures: Counter = Counter()
    per_second: Counter = Counter()
    totals = {"accepted": 0, "duplicates": 0, "rejected": 0, "items_sent": 0, "bot_requests": 0, "bot_items": 0}
    visitors: set[int] = set()
    sessions: set[int] = set()
    error_samples: dict[str, str] = {}
    state = {"next": 0, "exhausted": False}
    expect = args.expect

    connector = aiohttp.TCPConnector(limit=args.concurrency, limit_per_host=args.concurrency, force_close=False)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout, skip_auto_headers=("User-Agent",)) as http:
        print("started", flush=True)
        started = loop.time()
        cpu_started = time.process_time()
        deadline = started + args.duration

        async def worker():
            while loop.time() < deadline:
                index = state["next"]
                if index >= len(prepared):
                    if not args.cycle:
                        state["exhausted"] = True
                        return
                    index = 0
                state["next"] = index + 1
                request = prepared[index]
                headers = dict(request.headers)
                if args.env_key:
                    headers[ENV_KEY_HEADER] = args.env_key
                body = body_with_sent_at(request, sent_at_now())
                began = time.perf_counter()
                try:
                    async with http.post(args.url, data=body, headers=headers) as response:
                        payload = await response.read()
                        status = response.status
                except (aiohttp.ClientError, TimeoutError) as exc:
                    failures[type(exc).__name__] += 1
                    continue
                latency = time.perf_counter() - began
                latencies.append(latency)
                statuses[status] += 1
                per_second[int(loop.time() - started)] += 1
                if status != expect:
                    if len(error_samples) < ERROR_SAMPLES:
                        error_samples.setdefault(str(status), payload[:600].decode(errors="replace"))
                    continue
                totals["items_sent"] += request.items
                totals["bot_requests"] += request.bot
                if request.bot:
                    totals["bot_items"] += request.items
                if status == 202:
                    answer = json.loads(payload)
                    totals["accepted"] += answer["accepted"]
                    totals["duplicates"] += answer["duplicates"]
                    totals["rejected"] += len(answer["rejected"])
                    if answer["accepted"] and not request.bot:
                        visitors.add(request.visitor)
                        # A uniform-mix request can hold the end of one session and the next's start.
                        sessions.update(range(request.session, request.session + request.sessions))

        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
        elapsed = loop.time() - started
        cpu_seconds = time.process_time() - cpu_started

    latencies.sort()
    completed = len(latencies)
    unexpected = sum(count for status, count in statuses.items() if status != expect)
    return {
        "duration_s": round(elapsed, 3),
        "concurrency": args.concurrency,
        "requests": completed,
        "requests_per_s": round(completed / elapsed, 1) if elapsed else 0.0,
        "accepted_events": totals["accepted"],
        "accepted_events_per_s": round(totals["accepted"] / elapsed, 1) if elapsed else 0.0,
        "duplicates": totals["duplicates"],
        "rejected_items": totals["rejected"],
        "items_sent": totals["items_sent"],
        "bot_requests": totals["bot_requests"],
        "bot_items": totals["bot_items"],
        "expected_visitors": len(visitors),
        "expected_sessions": len(sessions),
        "statuses": {str(status): count for status, count in sorted(statuses.items())},
        "errors": unexpected + sum(failures.values()),
        "error_kinds": dict(failures),
        "error_samples": error_samples,
        "latency_ms": {
            "p50": round(percentile(latencies, 0.50) * 1000, 2),
            "p90": round(percentile(latencies, 0.90) * 1000, 2),
            "p99": round(percentile(latencies, 0.99) * 1000, 2),
            "max": round(latencies[-1] * 1000, 2) if latencies else 0.0,
            "mean": round(sum(latencies) / completed * 1000, 2) if completed else 0.0,
        },
        "requests_per_second_timeline": [per_second[second] for second in range(int(elapsed) + 1)],
        "exhausted": state["exhausted"],
        "cpu_s": round(cpu_seconds, 3),
        "prepared": len(prepared),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--requests", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--duration", type=float, required=True)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--env-key", default="")
    parser.add_argument("--expect", type=int, default=202)
    parser.add_argument("--cycle", action="store_true")
    args = parser.parse_args(argv)
    with open(args.requests, "rb") as handle:
        prepared = pickle.load(handle)
    if not prepared:
        print("no requests to send", file=sys.stderr)
        return 2
    result = asyncio.run(run(args, prepared))
    with open(args.out, "w") as handle:
        json.dump(result, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main())
