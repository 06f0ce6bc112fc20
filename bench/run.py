"""`make bench`: throughput and latency of `POST /v1/analytics/collect`, with a ceiling and a baseline.

    .venv/bin/python bench/run.py [--duration 30] [--quick] [--profile] [--concurrency 16]

1. A fresh PostgreSQL database (dropped and recreated), migrated, one environment.
2. gunicorn, two sync workers, production settings (DEBUG off, no access log, no
   broker: tasks in-process), `TRUSTED_PROXY_COUNT=1` so the clients' addresses come
   from `X-Forwarded-For` and the geo lookup runs for real.
3. Warm-up, which also measures the rate to size the main run's traffic.
4. Baseline, half before and half after the timed run: the same requests without
   a key, answered 401 before any database work: what Django and gunicorn cost on
   this machine right now.
5. The timed ingestion run: realistic batched traffic from thousands of visitors
   (bench/traffic.py), sent by a separate asyncio process (bench/loadgen.py).
6. The COPY ceiling for the rows that run stored (bench/copy_ceiling.py).
7. Stitching a visitor with 10,000 pageviews (bench/stitch.py).
8. A query census of collect requests, and with `--profile` a cProfile breakdown
   (bench/profile_collect.py).

Everything is printed as one summary block and written to bench/results/latest.json.
gunicorn is stopped and the database dropped at the end, also on errors and Ctrl-C.
"""

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/run.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import copy_ceiling, database, ingest, report, traffic  # noqa: E402
from bench.config import DEFAULT_DB_NAME, PYTHON, RESULTS_DIR, ROOT, conninfo, django_env  # noqa: E402
from bench.server import Gunicorn  # noqa: E402

log = ingest.log
MAX_PREPARED_REQUESTS = 300_000


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of timed ingestion (default 30)")
    parser.add_argument("--quick", action="store_true", help="a 5-second smoke run with short side phases")
    parser.add_argument("--profile", action="store_true", help="also profile collect in-process with cProfile")
    parser.add_argument("--concurrency", type=int, default=16, help="connections of the load generator")
    parser.add_argument(
        "--visitors",
        type=int,
        default=5000,
        help="simulated visitors at most (fewer in a short or slow run: about four requests each)",
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument("--db-name", default=DEFAULT_DB_NAME, help="the throwaway database (dropped first)")
    parser.add_argument("--keep-db", action="store_true", help="leave the bench database in place at the end")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration = 5.0
    if not 1 <= args.duration <= 600:
        parser.error("--duration must be between 1 and 600 seconds")
    if not 1 <= args.concurrency <= 256:
        parser.error("--concurrency must be between 1 and 256")
    return args


def _terminate(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def _django_script(module: str, db_name: str, *script_args: str, timeout: float) -> dict:
    """Run one of the in-process parts in its own interpreter with the bench settings."""
    done = subprocess.run(
        [str(PYTHON), "-m", module, *script_args],
        cwd=ROOT,
        env=django_env(db_name, ALLOWED_HOSTS="127.0.0.1,testserver"),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    raise RuntimeError(f"{module} failed ({done.returncode}):\n{done.stderr[-3000:]}")


def _postgres_version(db_name: str) -> str:
    import psycopg

    with psycopg.connect(conninfo(db_name), connect_timeout=5) as conn:
        return conn.execute("SHOW server_version").fetchone()[0]


def run(args: argparse.Namespace, results: dict, workdir: Path) -> None:
    quick = args.quick
    results["config"] = {
        "duration_s": args.duration,
        "concurrency": args.concurrency,
        "workers": args.workers,
        "visitors": args.visitors,
        "quick": quick,
        "profile": args.profile,
    }
    results["machine"] = {
        "cores": os.cpu_count(),
        "loadavg_at_start": [round(value, 2) for value in os.getloadavg()],
        "python": platform.python_version(),
    }

    log(f"database {args.db_name}: recreate, migrate, create environment")
    database.recreate(args.db_name)
    database.migrate(args.db_name)
    environment = database.create_environment(args.db_name)
    env_key = environment["envKey"]
    results["machine"]["postgres"] = "PostgreSQL " + _postgres_version(args.db_name)
    for name in ("autovacuum", "synchronous_commit", "shared_buffers"):
        results["machine"][f"pg_{name}"] = database.server_setting(args.db_name, name)

    server = Gunicorn(db_name=args.db_name, workers=args.workers, log_path=workdir / "gunicorn.log")
    results["_server"] = server
    log("gunicorn: starting")
    server.start()
    server.wait_ready(env_key)
    log(f"gunicorn: ready on {server.base_url}, workers {server.worker_pids()}")

    load = {"server": server, "db_name": args.db_name, "concurrency": args.concurrency, "workdir": workdir}

    warm_seconds = 2.0 if quick else 4.0
    log(f"warm-up: {warm_seconds:.0f}s (also sizes the timed run)")
    warm_requests = traffic.build(seed=1, visitors=1000, requests=6000 if quick else 10000)
    warm = ingest.run_load(prepared=warm_requests, duration=warm_seconds, env_key=env_key, label="warmup", **load)
    results["warmup"] = _brief(warm)
    # Planner statistics as on a live database. Without them (autovacuum is off on some
    # development servers) the dedupe lookup scans the environment's whole table.
    database.analyze(args.db_name)

    # The baseline runs half before and half after the timed run: the machine's other
    # load changes by the minute, and the mean of both sides brackets the run.
    baseline_seconds = 2.0 if quick else min(6.0, max(3.0, args.duration / 5))
    baseline = {
        "prepared": warm_requests,
        "duration": baseline_seconds,
        "env_key": "",
        "expect": 401,
        "cycle": True,
        **load,
    }
    log(f"baseline (before): {baseline_seconds:.0f}s of POST collect without a key (401)")
    baseline_before = ingest.run_load(label="baseline-before", **baseline)

    # Twice what the warm-up rate predicts, so the deadline ends the run, not the list.
    wanted = int(max(warm["requests_per_s"], 50.0) * args.duration * 2.0) + 2000
    wanted = min(wanted, MAX_PREPARED_REQUESTS)
    # About four requests per visitor, so that sessions continue across requests; the
    # full population when the run is long or fast enough.
    visitors = min(args.visitors, max(500, wanted // 4))
    log(f"traffic: preparing ~{wanted:,} requests from {visitors:,} visitors")
    began = time.perf_counter()
    prepared = traffic.build(seed=2, visitors=visitors, requests=int(wanted * 1.15))
    results["traffic"] = {
        "visitors": visitors,
        **traffic.describe(prepared),
        "prepared_in_s": round(time.perf_counter() - began, 1),
    }

    first_new_pageview = database.pageview_max_id(args.db_name)
    stored_before = database.table_counts(args.db_name)
    log(f"ingestion: {args.duration:.0f}s, {args.concurrency} connections")
    results["ingest"] = ingest.run_load(
        prepared=prepared, duration=args.duration, env_key=env_key, label="ingest", **load
    )
    del prepared
    log(
        f"ingestion: {results['ingest']['accepted_events_per_s']:,.0f} events/s, "
        f"p99 {results['ingest']['latency_ms']['p99']:.1f} ms"
    )
    log(f"baseline (after): {baseline_seconds:.0f}s")
    baseline_after = ingest.run_load(label="baseline-after", **baseline)
    results["baseline"] = ingest.combine([baseline_before, baseline_after])
    server.stop()
    stored_after = database.table_counts(args.db_name)
    results["stored"] = {table: stored_after[table] - stored_before[table] for table in stored_after}

    log("COPY ceiling")
    results["copy_ceiling"] = copy_ceiling.run(args.db_name, after_id=first_new_pageview)

    database.analyze(args.db_name)
    log("stitching")
    try:
        results["stitch"] = _django_script("bench.stitch", args.db_name, "--env-key", env_key, timeout=600)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        results["stitch"] = {"error": str(exc)[-2000:]}

    census_requests = 100 if quick else 300
    profile_requests = (150 if quick else 400) if args.profile else 0
    log(f"query census ({census_requests} requests)" + (f" and cProfile ({profile_requests})" if args.profile else ""))
    profile_args = ["--env-key", env_key, "--census", str(census_requests), "--profile", str(profile_requests)]
    try:
        found = _django_script("bench.profile_collect", args.db_name, *profile_args, timeout=900)
        results["census"] = found.get("census")
        results["profile"] = found.get("profile")
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        results["census"] = {"error": str(exc)[-2000:]}


def _brief(figures: dict) -> dict:
    keys = ("requests_per_s", "accepted_events_per_s", "latency_ms", "errors", "statuses", "duration_s")
    return {key: figures[key] for key in keys}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    results: dict = {"started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    workdir = Path(tempfile.mkdtemp(prefix="ascendkit-bench-"))
    status = 0
    try:
        run(args, results, workdir)
    except KeyboardInterrupt:
        results["error"] = "interrupted"
        status = 130
    except Exception as exc:  # reported, then torn down
        results["error"] = f"{type(exc).__name__}: {exc}"
        traceback.print_exc()
        status = 1
    finally:
        server = results.pop("_server", None)
        if server is not None:
            if status:
                tail = server.log_tail(2000)
                if tail:
                    log("gunicorn log tail:\n" + tail)
            server.stop()
        if not args.keep_db:
            try:
                database.drop(args.db_name)
            except Exception as exc:  # the summary still matters
                log(f"could not drop {args.db_name}: {exc}")
        for leftover in workdir.iterdir():
            leftover.unlink(missing_ok=True)
        workdir.rmdir()

    results["derived"] = report.derive(results)
    results["where_time_goes"] = report.where_time_goes(results.get("census"), results.get("profile"))
    profile = results.get("profile") or {}
    pstats_text = profile.pop("pstats_text", None)
    print("\n".join(report.summary_lines(results)))
    if pstats_text:
        results["profile"]["pstats_text"] = pstats_text
    out = RESULTS_DIR / "latest.json"
    report.write_json(results, out)
    print(f"written: {out.relative_to(ROOT)}")
    return status


if __name__ == "__main__":
    sys.exit(main())
