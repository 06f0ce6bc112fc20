"""`make bench`: `POST /v1/analytics/collect`, inline and queued: throughput, latency, a ceiling, a baseline.

    .venv/bin/python bench/run.py [--duration 20] [--mode inline|queued|both] [--quick] [--profile]
        [--threads 1] [--batch-mix realistic|uniform]

1. A fresh PostgreSQL database (dropped and recreated), migrated, one environment;
   each mode then runs in its own copy of it (`CREATE DATABASE … TEMPLATE`), so both
   start from the same empty tables.
2. Per mode, gunicorn, two sync workers, production settings (DEBUG off, no access
   log, no broker: tasks in-process), `TRUSTED_PROXY_COUNT=1` so the clients'
   addresses come from `X-Forwarded-For` and the geo lookup runs for real.
   - inline (COLLECT_QUEUE=false): each request writes its batch;
   - queued (COLLECT_QUEUE=true): each request stores its batch as one
     `analytics_collectbatch` row, and one `manage.py collect_writer` process beside
     gunicorn, on the same cores, writes them.
3. Warm-up, which also measures the rate to size the timed run's traffic (and, in
   queued mode, waits for its batches to be written).
4. Baseline, half before and half after the timed run: the same requests without
   a key, answered 401 before any database work: what Django and gunicorn cost on
   this machine right now.
5. The timed ingestion run: realistic batched traffic from thousands of visitors
   (bench/traffic.py; `--batch-mix uniform`: 1..10 items a request, uniformly,
   across session boundaries), sent by a separate asyncio process
   (bench/loadgen.py), the queue's backlog sampled every second; then the wait
   for the backlog to drain (bounded), and the checks: rows stored against events
   accepted, visitors and sessions against what the answered requests should have
   made.
6. The COPY ceiling for the rows that run stored (bench/copy_ceiling.py).
7. Stitching a visitor with 10,000 pageviews (bench/stitch.py).
8. A query census of collect requests, and with `--profile` a cProfile breakdown
   (bench/profile_collect.py), of the inline path; in queued mode also of the
   queued request path and of the writer draining batches in-process.

Everything is printed as one summary block and written to bench/results/latest.json.
gunicorn and the writer are stopped and the databases dropped at the end, also on
errors and Ctrl-C.
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

import psycopg

if __package__ in (None, ""):  # run as `python bench/run.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import backlog, copy_ceiling, database, ingest, report, traffic  # noqa: E402
from bench.config import (  # noqa: E402
    DEFAULT_DB_NAME,
    MODES,
    PYTHON,
    RESULTS_DIR,
    ROOT,
    conninfo,
    django_env,
    mode_env,
)
from bench.server import Stack  # noqa: E402

log = ingest.log
MAX_PREPARED_REQUESTS = 300_000
DRAIN_TIMEOUT_SECONDS = 120.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of timed ingestion per mode (default 20)")
    parser.add_argument(
        "--mode", choices=(*MODES, "both"), default="both", help="how collect stores a batch (default both)"
    )
    parser.add_argument("--quick", action="store_true", help="a 5-second smoke run per mode with short side phases")
    parser.add_argument("--profile", action="store_true", help="also profile collect in-process with cProfile")
    parser.add_argument("--concurrency", type=int, default=16, help="connections of the load generator")
    parser.add_argument(
        "--visitors",
        type=int,
        default=20000,
        help="simulated visitors at most (fewer in a short or slow run: about four requests each)",
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument(
        "--threads", type=int, default=4, help="threads per gunicorn worker (default 4: gthread workers; 1: sync)"
    )
    parser.add_argument(
        "--batch-mix",
        choices=traffic.BATCH_MIXES,
        default="realistic",
        help="items per request: realistic (one session's items, mostly a few, ~2.2) or uniform (1..10 across "
        "session boundaries, ~5.5); default realistic",
    )
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=DRAIN_TIMEOUT_SECONDS,
        help="seconds to wait for the queue to drain after the load (default 120)",
    )
    parser.add_argument(
        "--db-name", default=DEFAULT_DB_NAME, help="the throwaway database (dropped first); modes add _inline/_queued"
    )
    parser.add_argument("--keep-db", action="store_true", help="leave the bench databases in place at the end")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration = 5.0
    if not 1 <= args.duration <= 600:
        parser.error("--duration must be between 1 and 600 seconds")
    if not 1 <= args.concurrency <= 256:
        parser.error("--concurrency must be between 1 and 256")
    if not 1 <= args.drain_timeout <= 600:
        parser.error("--drain-timeout must be between 1 and 600 seconds")
    if len(args.db_name) > 56:
        parser.error("--db-name must be at most 56 characters (the modes add a suffix)")
    args.modes = MODES if args.mode == "both" else (args.mode,)
    return args


def _terminate(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def _django_script(module: str, db_name: str, *script_args: str, timeout: float, mode: str = "inline") -> dict:
    """Run one of the in-process parts in its own interpreter with the bench settings."""
    done = subprocess.run(
        [str(PYTHON), "-m", module, *script_args],
        cwd=ROOT,
        env=django_env(db_name, ALLOWED_HOSTS="127.0.0.1,testserver", **mode_env(mode)),
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


def _loadavg() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def run(args: argparse.Namespace, results: dict, workdir: Path, teardown: dict) -> None:
    quick = args.quick
    results["config"] = {
        "duration_s": args.duration,
        "modes": list(args.modes),
        "concurrency": args.concurrency,
        "workers": args.workers,
        "threads": args.threads,
        "batch_mix": args.batch_mix,
        "visitors": args.visitors,
        "drain_timeout_s": args.drain_timeout,
        "quick": quick,
        "profile": args.profile,
    }
    results["machine"] = {
        "cores": os.cpu_count(),
        "loadavg_at_start": _loadavg(),
        "python": platform.python_version(),
    }

    template = args.db_name
    log(f"database {template}: recreate, migrate, create environment")
    teardown["databases"].append(template)
    database.recreate(template)
    database.migrate(template)
    environment = database.create_environment(template)
    env_key = environment["envKey"]
    results["machine"]["postgres"] = "PostgreSQL " + _postgres_version(template)
    for name in ("autovacuum", "synchronous_commit", "shared_buffers"):
        results["machine"][f"pg_{name}"] = database.server_setting(template, name)

    warm_requests = traffic.build(seed=1, visitors=1000, requests=6000 if quick else 10000, batch_mix=args.batch_mix)
    results["modes"] = {}
    mode_databases = {}
    for mode in args.modes:
        figures = results["modes"][mode] = {}
        mode_databases[mode] = f"{template}_{mode}"
        try:
            run_mode(mode, args, mode_databases[mode], template, env_key, warm_requests, workdir, figures, teardown)
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # the other mode and the side phases still run
            figures["error"] = f"{type(exc).__name__}: {exc}"
            log(f"{mode}: FAILED: {figures['error']}")
            traceback.print_exc()
        figures["loadavg_at_end"] = _loadavg()
    results["machine"]["loadavg_at_end"] = _loadavg()

    # Stitching does not depend on the mode: the first mode's database.
    stitch_db = mode_databases[args.modes[0]]
    log("stitching")
    try:
        database.analyze(stitch_db)
        results["stitch"] = _django_script("bench.stitch", stitch_db, "--env-key", env_key, timeout=600)
    except (RuntimeError, subprocess.TimeoutExpired, psycopg.Error) as exc:
        results["stitch"] = {"error": str(exc)[-2000:]}

    census_requests = 100 if quick else 300
    profile_requests = (150 if quick else 400) if args.profile else 0
    for mode in args.modes:
        log(
            f"{mode}: query census ({census_requests} requests)"
            + (f" and cProfile ({profile_requests})" if args.profile else "")
            + (", then the writer in-process" if mode == "queued" else "")
        )
        profile_args = ["--env-key", env_key, "--census", str(census_requests), "--profile", str(profile_requests)]
        if mode == "queued":
            profile_args.append("--writer")
        suffix = "" if mode == "inline" else f"_{mode}"
        try:
            found = _django_script("bench.profile_collect", mode_databases[mode], *profile_args, timeout=900, mode=mode)
            results["census" + suffix] = found.get("census")
            results["profile" + suffix] = found.get("profile")
            if "writer" in found:
                results["writer_in_process"] = found["writer"]
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            results["census" + suffix] = {"error": str(exc)[-2000:]}


def run_mode(
    mode: str,
    args: argparse.Namespace,
    db_name: str,
    template: str,
    env_key: str,
    warm_requests: list,
    workdir: Path,
    figures: dict,
    teardown: dict,
) -> None:
    """One mode, in its own copy of the migrated database; the figures go into `figures` as they come."""
    quick = args.quick
    figures["database"] = db_name
    figures["loadavg_at_start"] = _loadavg()
    teardown["databases"].append(db_name)
    database.copy_of(template, db_name)

    stack = Stack(db_name=db_name, mode=mode, workers=args.workers, workdir=workdir, threads=args.threads)
    teardown["stacks"].append(stack)
    log(f"{mode}: starting " + ("collect_writer and gunicorn" if stack.writer else "gunicorn"))
    try:
        stack.start(env_key)
    except Exception:
        figures["logs"] = stack.log_tails(3000)
        raise
    log(f"{mode}: ready on {stack.base_url}, workers {stack.worker_pids()}, writer {stack.writer_pids() or '-'}")
    sampler = backlog.Sampler(db_name)
    first_new_pageview = None
    try:
        load = {"server": stack, "db_name": db_name, "concurrency": args.concurrency, "workdir": workdir}
        warm_seconds = 2.0 if quick else 4.0
        log(f"{mode}: warm-up {warm_seconds:.0f}s (also sizes the timed run)")
        warm = ingest.run_load(
            prepared=warm_requests, duration=warm_seconds, env_key=env_key, label=f"{mode}-warmup", **load
        )
        figures["warmup"] = _brief(warm)
        figures["warmup_drain"] = backlog.wait_drained(sampler, timeout=args.drain_timeout, writer=stack.writer)
        if not figures["warmup_drain"]["drained"]:
            log(f"{mode}: the warm-up's batches did not drain: {figures['warmup_drain']}")
        # Planner statistics as on a live database. Without them (autovacuum is off on some
        # development servers) the dedupe lookup scans the environment's whole table.
        database.analyze(db_name)

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
        log(f"{mode}: baseline (before) {baseline_seconds:.0f}s of POST collect without a key (401)")
        baseline_before = ingest.run_load(label=f"{mode}-baseline-before", **baseline)

        # Twice what the warm-up rate predicts, so the deadline ends the run, not the list;
        # the same rule in both modes, so each sends about the first half of its list and
        # sees the same mix of new and returning visitors.
        wanted = int(max(warm["requests_per_s"], 50.0) * args.duration * 2.0) + 2000
        wanted = min(wanted, MAX_PREPARED_REQUESTS)
        # About four requests per visitor, so that sessions continue across requests.
        visitors = min(args.visitors, max(500, wanted // 4))
        log(f"{mode}: traffic: preparing ~{wanted:,} requests from {visitors:,} visitors")
        began = time.perf_counter()
        prepared = traffic.build(seed=2, visitors=visitors, requests=int(wanted * 1.15), batch_mix=args.batch_mix)
        figures["traffic"] = {
            "batch_mix": args.batch_mix,
            "visitors": visitors,
            **traffic.describe(prepared),
            "prepared_in_s": round(time.perf_counter() - began, 1),
        }

        first_new_pageview = database.pageview_max_id(db_name)
        stored_before = database.table_counts(db_name)
        log(f"{mode}: ingestion {args.duration:.0f}s, {args.concurrency} connections")
        figures["ingest"] = ingest.run_load(
            prepared=prepared,
            duration=args.duration,
            env_key=env_key,
            label=f"{mode}-ingest",
            sampler=sampler,
            drain_timeout=args.drain_timeout,
            **load,
        )
        del prepared
        ingested = figures["ingest"]
        drain = ingested.get("drain") or {}
        log(
            f"{mode}: {ingested['requests_per_s']:,.0f} requests/s, {ingested['accepted_events_per_s']:,.0f} "
            f"accepted events/s, p99 {ingested['latency_ms']['p99']:.1f} ms; backlog at the end "
            f"{ingested['backlog']['at_end_of_load']}, drain {drain.get('drain_s')} s ({drain.get('outcome')})"
        )
        stored_after = database.table_counts(db_name)
        figures["stored"] = {table: stored_after[table] - stored_before.get(table, 0) for table in stored_after}
        if "analytics_collectbatch" in stored_after:
            figures["stored"]["analytics_collectbatch"] = stored_after["analytics_collectbatch"]  # left, not a delta
        figures["checks"] = _checks(ingested, figures["stored"], db_name)

        log(f"{mode}: baseline (after) {baseline_seconds:.0f}s")
        baseline_after = ingest.run_load(label=f"{mode}-baseline-after", **baseline)
        figures["baseline"] = ingest.combine([baseline_before, baseline_after])
    except Exception:
        figures["logs"] = stack.log_tails(3000)
        raise
    finally:
        sampler.close()
        stack.stop()
    # Whatever gunicorn (warnings and up) and the writer wrote: empty on a clean run but
    # for the writer's last line.
    figures["logs"] = {**stack.log_tails(3000), **figures.get("logs", {})}
    if stack.writer is not None and stack.writer.returncode not in (None, 0, -15):
        figures["writer_exit"] = stack.writer.returncode

    log(f"{mode}: COPY ceiling")
    figures["copy_ceiling"] = copy_ceiling.run(db_name, after_id=first_new_pageview)


def _checks(ingested: dict, stored: dict, db_name: str) -> dict:
    """What the database holds after the timed run (and the drain) against what was answered."""
    rows = stored["analytics_pageview"] + stored["analytics_event"]
    return {
        "accepted_events": ingested["accepted_events"],
        "stored_pageviews_plus_events": rows,
        "stored_equals_accepted": rows == ingested["accepted_events"],
        "duplicates_answered": ingested["duplicates"],
        "message_id_repeats_in_db": database.message_id_repeats(db_name),
        "visitors_expected": ingested["expected_visitors"],
        "visitors_stored": stored["analytics_visitor"],
        "sessions_expected": ingested["expected_sessions"],
        "sessions_stored": stored["analytics_session"],
        "bot_items_answered": ingested["bot_items"],
        "bot_hits_counted": stored["bot hits counted"],
        "batches_left_in_queue": stored.get("analytics_collectbatch"),
        "errors": ingested["errors"],
    }


def _brief(figures: dict) -> dict:
    keys = ("requests_per_s", "accepted_events_per_s", "latency_ms", "errors", "statuses", "duration_s")
    return {key: figures[key] for key in keys}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    results: dict = {"started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    workdir = Path(tempfile.mkdtemp(prefix="ascendkit-bench-"))
    teardown: dict = {"stacks": [], "databases": []}
    status = 0
    try:
        run(args, results, workdir, teardown)
    except KeyboardInterrupt:
        results["error"] = "interrupted"
        status = 130
    except Exception as exc:  # reported, then torn down
        results["error"] = f"{type(exc).__name__}: {exc}"
        traceback.print_exc()
        status = 1
    finally:
        for stack in teardown["stacks"]:
            if status:
                for name, tail in stack.log_tails(2000).items():
                    log(f"{stack.mode}: {name} log tail:\n{tail}")
            stack.stop()
        if not args.keep_db:
            for name in reversed(teardown["databases"]):
                try:
                    database.drop(name)
                except Exception as exc:  # the summary still matters
                    log(f"could not drop {name}: {exc}")
        for leftover in workdir.iterdir():
            leftover.unlink(missing_ok=True)
        workdir.rmdir()
    if any(figures.get("error") for figures in (results.get("modes") or {}).values()) and not status:
        status = 1

    results["derived"] = report.derive(results)
    results["where_time_goes"] = report.where_time_goes(results.get("census"), results.get("profile"))
    results["where_time_goes_queued"] = report.where_time_goes(
        results.get("census_queued"), results.get("profile_queued")
    )
    pstats_texts = {}
    for key in ("profile", "profile_queued"):
        profile = results.get(key) or {}
        if "pstats_text" in profile:
            pstats_texts[key] = profile.pop("pstats_text")
    print("\n".join(report.summary_lines(results)))
    for key, text in pstats_texts.items():
        results[key]["pstats_text"] = text
    out = RESULTS_DIR / "latest.json"
    report.write_json(results, out)
    print(f"written: {out.relative_to(ROOT)}")
    return status


if __name__ == "__main__":
    sys.exit(main())
