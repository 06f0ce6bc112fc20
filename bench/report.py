"""The final summary block and bench/results/latest.json."""

import json
from pathlib import Path

from .ingest import GUNICORN, LOADGEN, SERVER_GROUPS, WRITER

TARGET_EVENTS_PER_S = 1500
TARGET_P99_MS = 150

MODE_TITLES = {
    "inline": "inline (COLLECT_QUEUE=false): gunicorn, each request writes its own batch",
    "queued": "queued (COLLECT_QUEUE=true): gunicorn stores each batch as one row + ONE collect_writer process "
    "writes them (same 2 cores)",
}


def write_json(results: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, sort_keys=False) + "\n")


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    return round(numerator / denominator, 3) if numerator is not None and denominator else None


def _cpu_s(cpu: dict | None, name: str) -> float:
    return ((cpu or {}).get("by_group") or {}).get(name, {}).get("cpu_s", 0.0)


def derive(results: dict) -> dict:
    """Per mode: the sustained stored rate, ratios, CPU per event and verdicts."""
    return {mode: _derive_mode(figures) for mode, figures in (results.get("modes") or {}).items()}


def _derive_mode(figures: dict) -> dict:
    ingest = figures.get("ingest") or {}
    if not ingest:
        return {}
    baseline = figures.get("baseline") or {}
    ceiling = figures.get("copy_ceiling") or {}
    stored = figures.get("stored") or {}
    drain = ingest.get("drain") or {}
    events = ingest.get("accepted_events_per_s", 0.0)
    p99 = (ingest.get("latency_ms") or {}).get("p99")
    load_s = ingest.get("wall_s") or ingest.get("duration_s", 0.0)
    drain_s = drain.get("drain_s", 0.0)
    rows = stored.get("analytics_pageview", 0) + stored.get("analytics_event", 0)
    sustained = round(rows / (load_s + drain_s), 1) if load_s + drain_s else None
    # The CPU of the whole job: the load and, in queued mode, the drain after it.
    cpu = ingest.get("cpu_load_and_drain") or ingest.get("cpu") or {}
    server_cpu = sum(_cpu_s(cpu, name) for name in SERVER_GROUPS)
    requests = ingest.get("requests", 0)
    cores = cpu.get("cores", 1)
    baseline_rps = baseline.get("requests_per_s", 0.0)
    copy_rows = ceiling.get("rows_per_s", 0.0)

    def per_request(name: str) -> float | None:
        return round(1000 * _cpu_s(cpu, name) / requests, 3) if requests else None

    loadgen_share = _cpu_s(ingest.get("cpu"), LOADGEN) / load_s if load_s else 0.0
    return {
        "load_s": round(load_s, 2),
        "drain_s": drain_s,
        "drained": drain.get("drained", True),
        "stored_pageviews_plus_events": rows,
        "sustained_stored_rows_per_s": sustained,
        "requests_per_s_over_baseline_requests_per_s": _ratio(ingest.get("requests_per_s"), baseline_rps),
        "accepted_events_per_s_over_baseline_requests_per_s": _ratio(events, baseline_rps),
        "sustained_stored_per_s_over_baseline_requests_per_s": _ratio(sustained, baseline_rps),
        "accepted_events_per_s_over_copy_rows_per_s": _ratio(events, copy_rows),
        "sustained_stored_per_s_over_copy_rows_per_s": _ratio(sustained, copy_rows),
        "cpu_ms_per_request (load and drain)": {name: per_request(name) for name in (*SERVER_GROUPS, LOADGEN)},
        "baseline_cpu_ms_per_request": {
            name: round(1000 * _cpu_s(baseline.get("cpu"), name) / baseline["requests"], 3)
            if baseline.get("requests")
            else None
            for name in (GUNICORN, WRITER, LOADGEN)
        },
        "server_cpu_s (load and drain)": round(server_cpu, 2),
        "server_cpu_ms_per_stored_event": round(1000 * server_cpu / rows, 3) if rows else None,
        # What the cores would give at this CPU cost per event with nothing else running
        # but the load generator: a noise-resistant reading of the run.
        "projected_events_per_s_on_idle_cores": round((cores - loadgen_share) / (server_cpu / rows), 1)
        if rows and server_cpu
        else None,
        "target_events_per_s": TARGET_EVENTS_PER_S,
        "target_p99_ms": TARGET_P99_MS,
        "meets_events_target (sustained stored rate)": bool(sustained and sustained >= TARGET_EVENTS_PER_S),
        "meets_p99_target": p99 is not None and p99 < TARGET_P99_MS,
    }


def _cpu_line(label: str, cpu: dict | None) -> list[str]:
    if not cpu:
        return []
    parts = ", ".join(
        f"{group} {value['pct_of_machine']:.0f}% ({value['cpu_s']:.1f}s)"
        for group, value in cpu["by_group"].items()
        if value["cpu_s"] > 0
    )
    return [
        f"    CPU {label} ({cpu['wall_s']:.1f}s, {cpu['cores']} cores): busy {cpu['machine_busy_pct']:.0f}% — {parts}"
    ]


def _load_lines(name: str, figures: dict | None) -> list[str]:
    if not figures:
        return [f"{name}: not run"]
    latency = figures["latency_ms"]
    lines = [
        f"{name}: {figures['requests_per_s']:,.0f} requests/s over {figures['duration_s']:.1f}s, "
        f"{figures['concurrency']} connections",
        f"    latency ms: p50 {latency['p50']:.1f}  p90 {latency['p90']:.1f}  p99 {latency['p99']:.1f}  "
        f"max {latency['max']:.1f}",
        f"    statuses {figures['statuses']}, errors {figures['errors']}"
        + (f" {figures['error_kinds']}" if figures.get("error_kinds") else ""),
    ]
    if figures.get("accepted_events"):
        lines.insert(
            1,
            f"    accepted events (202 answers): {figures['accepted_events']:,} = "
            f"{figures['accepted_events_per_s']:,.0f} events/s (items sent {figures['items_sent']:,}, duplicates "
            f"{figures['duplicates']}, rejected {figures['rejected_items']}, bot requests {figures['bot_requests']})",
        )
    for status, body in (figures.get("error_samples") or {}).items():
        lines.append(f"    an answer {status}: {body[:400]}")
    if figures.get("exhausted"):
        lines.append("    NOTE: the prepared requests ran out before the deadline; the rate is a lower bound")
    lines += _cpu_line("during the load", figures.get("cpu"))
    return lines


def _backlog_lines(ingest: dict) -> list[str]:
    backlog = ingest.get("backlog")
    if not backlog:
        return []
    samples = backlog.get("samples") or []
    series = " ".join(str(sample.get("backlog", "?")) for sample in samples)
    stored = [sample["stored"] for sample in samples if "stored" in sample]
    lines = [
        f"    queue backlog (analytics_collectbatch rows): at the end of the load {backlog['at_end_of_load']}, "
        f"max during the load {backlog['max_during_load']}",
        f"    backlog each second: {series}",
    ]
    if len(stored) > 1:
        per_second = [later - earlier for earlier, later in zip(stored, stored[1:], strict=False)]
        lines.append(
            "    rows stored each second during the load (the last interval is partial): "
            + " ".join(str(n) for n in per_second)
        )
    drain = ingest.get("drain")
    if drain:
        lines.append(
            f"    drain after the load: {drain['drain_s']:.1f}s ({drain['outcome']}), backlog "
            f"{drain['backlog_at_start']} → {drain['backlog_at_end']}, rows stored meanwhile "
            f"{drain['stored_during_drain']:,}"
        )
        if drain.get("left_in_table"):
            lines.append(f"    LEFT IN THE QUEUE: {drain['left_in_table']}")
        if drain.get("writer_log_tail"):
            lines.append(f"    collect_writer exited {drain.get('writer_exit')}; its output:")
            lines += ["      " + line for line in drain["writer_log_tail"].splitlines()[-30:]]
        if drain["drain_s"]:
            lines += _cpu_line("during the drain", drain.get("cpu"))
            lines += _cpu_line("load + drain", ingest.get("cpu_load_and_drain"))
    return lines


def _checks_lines(checks: dict | None) -> list[str]:
    if not checks:
        return []
    verdict = "OK" if checks["stored_equals_accepted"] else "MISMATCH"
    return [
        f"    check: pageviews + events stored {checks['stored_pageviews_plus_events']:,} vs accepted "
        f"{checks['accepted_events']:,}: {verdict}; duplicates answered {checks['duplicates_answered']}, "
        f"message IDs stored twice {checks['message_id_repeats_in_db']}; batches left in the queue "
        f"{checks['batches_left_in_queue']}",
        f"    check: visitors stored {checks['visitors_stored']:,} (expected from the answered requests "
        f"{checks['visitors_expected']:,}); sessions stored {checks['sessions_stored']:,} (expected "
        f"{checks['sessions_expected']:,}); bot items answered {checks['bot_items_answered']}, bot hits counted "
        f"{checks['bot_hits_counted']}",
    ]


def _mode_lines(mode: str, figures: dict, derived: dict) -> list[str]:
    lines = ["", "-" * 100, f"mode {MODE_TITLES.get(mode, mode)}", "-" * 100]
    lines.append(
        f"load average at the start of the mode {figures.get('loadavg_at_start')}, at its end "
        f"{figures.get('loadavg_at_end')}"
    )
    traffic = figures.get("traffic") or {}
    if traffic:
        lines.append(
            f"traffic: {traffic.get('visitors'):,} visitors arriving over the run, {traffic.get('requests'):,} "
            "prepared requests, "
            f"{traffic.get('items_per_request')} items/request"
            + (
                f" ({traffic['multi_session_requests_pct']}% of requests span sessions)"
                if traffic.get("multi_session_requests_pct")
                else ""
            )
            + f", {traffic.get('bot_requests_pct')}% bot requests, "
            f"{traffic.get('body_bytes_mean')} bytes/body"
        )
    warm = figures.get("warmup")
    if warm:
        drain = figures.get("warmup_drain") or {}
        lines.append(
            f"warm-up: {warm['requests_per_s']:,.0f} requests/s, {warm['accepted_events_per_s']:,.0f} events/s, "
            f"statuses {warm['statuses']}"
            + (f"; its queue drained in {drain['drain_s']:.1f}s ({drain['outcome']})" if drain.get("drain_s") else "")
        )
    ingest = figures.get("ingest")
    lines += _load_lines("HTTP ingestion", ingest)
    if ingest:
        lines += _backlog_lines(ingest)
    if derived.get("sustained_stored_rows_per_s") is not None:
        lines.append(
            f"    SUSTAINED stored rate: {derived['sustained_stored_rows_per_s']:,.0f} rows/s = "
            f"{derived['stored_pageviews_plus_events']:,} pageviews + events stored by the end of the drain ÷ "
            f"({derived['load_s']:.1f}s load + {derived['drain_s']:.1f}s drain)"
            + ("" if derived.get("drained") else "  [NOT DRAINED: the queue still held batches]")
            + " — the honest throughput figure (a 202 in queued mode is a promise, not a stored row)"
        )
    lines += _checks_lines(figures.get("checks"))
    baseline = figures.get("baseline")
    lines += _load_lines("baseline (POST collect, no key: 401 before any database work)", baseline)
    if baseline and baseline.get("runs"):
        sides = " / ".join(f"{run['requests_per_s']:,.0f}" for run in baseline["runs"])
        lines.append(f"    requests/s before / after the timed run: {sides}")
    ceiling = figures.get("copy_ceiling")
    if ceiling:
        lines.append(
            f"COPY ceiling: {ceiling['rows']:,} pageview rows, {ceiling['rows_per_s']:,.0f} rows/s "
            f"(rounds {ceiling['rounds_s']} s; {ceiling.get('table', '')})"
        )
    if derived:
        lines.append(
            "ratios ÷ baseline requests/s: requests/s "
            f"{derived['requests_per_s_over_baseline_requests_per_s']}, accepted events/s "
            f"{derived['accepted_events_per_s_over_baseline_requests_per_s']}, sustained stored rows/s "
            f"{derived['sustained_stored_per_s_over_baseline_requests_per_s']}"
        )
        lines.append(
            "ratios ÷ COPY rows/s: accepted events/s "
            f"{derived['accepted_events_per_s_over_copy_rows_per_s']}, sustained stored rows/s "
            f"{derived['sustained_stored_per_s_over_copy_rows_per_s']}"
        )
        lines.append(
            f"server CPU (gunicorn + writer + their postgres backends, load and drain): "
            f"{derived['server_cpu_s (load and drain)']}s = {derived['server_cpu_ms_per_stored_event']} ms per stored "
            f"event; CPU ms per request {_compact(derived['cpu_ms_per_request (load and drain)'])}; per baseline "
            f"request {_compact(derived['baseline_cpu_ms_per_request'])}"
        )
        lines.append(
            "projected stored events/s with the cores to itself (server CPU per event, load generator's share kept): "
            f"{derived['projected_events_per_s_on_idle_cores']}"
        )
        if ingest:
            verdict_events = "PASS" if derived["meets_events_target (sustained stored rate)"] else "FAIL"
            verdict_p99 = "PASS" if derived["meets_p99_target"] else "FAIL"
            lines.append(
                f"targets: ≥{TARGET_EVENTS_PER_S:,} stored events/s sustained {verdict_events} "
                f"({derived['sustained_stored_rows_per_s']:,.0f}); p99 < {TARGET_P99_MS} ms {verdict_p99} "
                f"({ingest['latency_ms']['p99']:.1f})"
            )
    stored = figures.get("stored")
    if stored:
        lines.append(
            "stored by the timed run (and its drain): "
            + ", ".join(f"{table} {count:,}" for table, count in stored.items())
            + " (analytics_collectbatch: rows left)"
        )
    if figures.get("error"):
        lines.append(f"MODE FAILED: {figures['error']}")
    for name, tail in (figures.get("logs") or {}).items():
        lines.append(f"{name} output (tail):")
        lines += ["    " + line for line in tail.splitlines()[-30:]]
    return lines


def _compact(values: dict) -> str:
    return ", ".join(f"{name} {value}" for name, value in values.items() if value)


def _comparison_lines(results: dict) -> list[str]:
    modes = results.get("modes") or {}
    derived = results.get("derived") or {}
    names = [mode for mode in modes if (modes[mode].get("ingest"))]
    if not names:
        return []

    def row(label: str, value) -> str:
        cells = []
        for mode in names:
            try:
                cells.append(f"{value(modes[mode], derived.get(mode) or {})}")
            except (KeyError, TypeError, ZeroDivisionError):
                cells.append("-")
        return f"{label:<52}" + "".join(f"{cell:>22}" for cell in cells)

    def ms(figures, key):
        return figures["ingest"]["latency_ms"][key]

    lines = ["", "=" * 100, "the two modes side by side (same machine, same traffic rule, fresh database each)"]
    lines.append(f"{'':<52}" + "".join(f"{mode:>22}" for mode in names))
    lines += [
        row("HTTP requests/s", lambda f, d: f"{f['ingest']['requests_per_s']:,.0f}"),
        row("accepted events/s (202 answers)", lambda f, d: f"{f['ingest']['accepted_events_per_s']:,.0f}"),
        row("latency p50 / p99 ms", lambda f, d: f"{ms(f, 'p50'):.1f} / {ms(f, 'p99'):.1f}"),
        row(
            "queue backlog at end of load / max",
            lambda f, d: f"{f['ingest']['backlog']['at_end_of_load']} / {f['ingest']['backlog']['max_during_load']}",
        ),
        row(
            "drain after the load, s",
            lambda f, d: f"{d['drain_s']:.1f}" + ("" if d["drained"] else " (NOT drained)"),
        ),
        row("pageviews + events stored", lambda f, d: f"{d['stored_pageviews_plus_events']:,}"),
        row("SUSTAINED stored rows/s (the honest figure)", lambda f, d: f"{d['sustained_stored_rows_per_s']:,.0f}"),
        row("baseline requests/s (401 path)", lambda f, d: f"{f['baseline']['requests_per_s']:,.0f}"),
        row(
            "÷ baseline: requests/s, sustained rows/s",
            lambda f, d: (
                f"{d['requests_per_s_over_baseline_requests_per_s']} / "
                f"{d['sustained_stored_per_s_over_baseline_requests_per_s']}"
            ),
        ),
        row("COPY ceiling rows/s", lambda f, d: f"{f['copy_ceiling']['rows_per_s']:,.0f}"),
        row(
            "÷ COPY: accepted events/s, sustained rows/s",
            lambda f, d: (
                f"{d['accepted_events_per_s_over_copy_rows_per_s']} / "
                f"{d['sustained_stored_per_s_over_copy_rows_per_s']}"
            ),
        ),
        row("server CPU ms per stored event", lambda f, d: f"{d['server_cpu_ms_per_stored_event']}"),
        row(
            "projected stored events/s on idle cores", lambda f, d: f"{d['projected_events_per_s_on_idle_cores']:,.0f}"
        ),
        row(
            "stored = accepted? (stored / accepted)",
            lambda f, d: (
                ("yes" if f["checks"]["stored_equals_accepted"] else "NO")
                + f" ({f['checks']['stored_pageviews_plus_events']:,} / {f['checks']['accepted_events']:,})"
            ),
        ),
        row(
            "sessions stored / expected",
            lambda f, d: f"{f['checks']['sessions_stored']:,} / {f['checks']['sessions_expected']:,}",
        ),
        row(
            "sessions per 1,000 stored rows",
            lambda f, d: f"{1000 * f['checks']['sessions_stored'] / d['stored_pageviews_plus_events']:.0f}",
        ),
        row(
            "visitors stored / expected",
            lambda f, d: f"{f['checks']['visitors_stored']:,} / {f['checks']['visitors_expected']:,}",
        ),
        row("errors (non-202, failed requests)", lambda f, d: f"{f['ingest']['errors']}"),
        row(
            "load average at start / end of the mode",
            lambda f, d: f"{f['loadavg_at_start'][0]} / {f['loadavg_at_end'][0]}",
        ),
    ]
    return lines


BATCH_MIX_TITLES = {
    "realistic": "realistic (a request holds one session's items, sizes mostly a few, ~2.2 items a request)",
    "uniform": "uniform (every request 1..10 items, uniformly, the visitor's next items across session "
    "boundaries, ~5.5 items a request)",
}


def summary_lines(results: dict) -> list[str]:
    derived = results.get("derived") or {}
    lines = ["", "=" * 100, "AscendKit collect benchmark", "=" * 100]
    machine = results.get("machine", {})
    lines.append(
        f"machine: {machine.get('cores')} cores, load average at start {machine.get('loadavg_at_start')}, at the "
        f"end of the modes {machine.get('loadavg_at_end')}; {machine.get('postgres', '')} (autovacuum "
        f"{machine.get('pg_autovacuum')}, synchronous_commit {machine.get('pg_synchronous_commit')}; the bench "
        "ANALYZEs after the warm-up, as autovacuum would)"
    )
    config = results.get("config") or {}
    workers, threads = config.get("workers", 2), config.get("threads", 1)
    serving = (
        f"{workers} sync workers" if threads <= 1 else f"{workers} gthread workers × {threads} threads (keep-alive)"
    )
    lines.append(
        f"setup: gunicorn {serving} (no access log, tasks in-process), in queued mode plus one collect_writer; "
        "the load generator is a separate asyncio process on the same 2 cores and competes with them and "
        "PostgreSQL for them. Each mode runs in its own fresh copy of the migrated database."
    )
    lines.append(f"batch mix: {BATCH_MIX_TITLES.get(config.get('batch_mix', 'realistic'), config.get('batch_mix'))}")
    for mode, figures in (results.get("modes") or {}).items():
        lines += _mode_lines(mode, figures, derived.get(mode) or {})
    lines += _comparison_lines(results)
    lines.append("")
    lines += _stitch_lines(results.get("stitch"))
    lines += _census_lines(results.get("census"), "inline request path")
    lines += _profile_lines(results)
    lines += _census_lines(results.get("census_queued"), "queued request path")
    lines += _profile_lines(results, "_queued", "queued request path")
    lines += _writer_lines(results.get("writer_in_process"))
    if results.get("error"):
        lines.append(f"ERROR: {results['error']}")
    lines.append("=" * 100)
    return lines


def _stitch_lines(stitch: dict | None) -> list[str]:
    if not stitch:
        return ["stitching: not run"]
    if stitch.get("skipped"):
        return [f"stitching: skipped: {stitch['skipped']}"]
    if stitch.get("error"):
        return [f"stitching: failed: {stitch['error']}"]
    history = stitch["history"]
    return [
        f"stitching a visitor with {history['pageviews']:,} pageviews / {history['sessions']} sessions / "
        f"{history['events']:,} events:",
        f"    link + stitch on commit {stitch['link_and_stitch_ms']:.0f} ms (ran on commit: "
        f"{stitch['stitch_ran_on_commit']}); stitch alone {stitch['stitch_alone_ms']:.0f} ms; "
        f"again with nothing to do {stitch['stitch_again_noop_ms']:.0f} ms",
        f"    rows rewritten {stitch['rows_rewritten']}, first touch set {stitch['user_first_touch_set']}, "
        f"signup touch set {stitch['user_signup_touch_set']}",
    ]


def _census_lines(census: dict | None, title: str) -> list[str]:
    if not census:
        return []
    if census.get("error"):
        return [f"query census, {title}: failed: {census['error']}"]
    lines = [
        f"query census, {title} (in-process, one request at a time, {census['requests']} requests): "
        f"{census['ms_per_request']:.2f} ms/request, {census['ms_per_event']:.2f} ms/event; "
        f"{census['statements_per_request']} statements + BEGIN/COMMIT = {census['round_trips_per_request']} "
        f"round trips/request, {census['transactions_per_request']} transactions/request; "
        f"DB execute+commit {census['db_execute_and_commit_pct_of_wall']}% of wall "
        f"({census['db_ms_per_request']:.2f} ms/request, commit {census['commit_ms_per_request']:.2f} ms)",
        f"    per request: {census['python_cpu_outside_db_calls_ms_per_request']:.2f} ms Python CPU outside database "
        f"calls + {census['driver_cpu_inside_db_calls_ms_per_request']:.2f} ms driver CPU inside them + "
        f"{census['waiting_inside_db_calls_ms_per_request']:.2f} ms waiting on PostgreSQL",
    ]
    for kind, figures in census["statements"].items():
        lines.append(f"    {figures['per_request']:>5.2f}× {figures['ms_per_request']:>6.3f} ms  {kind}")
    return lines


def where_time_goes(census: dict | None, profile: dict | None) -> dict | None:
    """Milliseconds per request by kind: the census's clocks, its Python part split by the profile."""
    if not census or census.get("error"):
        return None
    parts = {
        "waiting on PostgreSQL (round trips, server work, commit)": census["waiting_inside_db_calls_ms_per_request"],
        "psycopg CPU inside the calls (query composition and quoting, send, results)": census[
            "driver_cpu_inside_db_calls_ms_per_request"
        ],
    }
    python = census["python_cpu_outside_db_calls_ms_per_request"]
    if profile and profile.get("python_split"):
        for category, fraction in profile["python_split"].items():
            parts[category] = python * fraction
    else:
        parts["Python outside database calls (run with --profile to split it)"] = python
    total = sum(parts.values()) or 1.0
    return {
        "ms_per_request": round(total, 3),
        "ms_per_event": census["ms_per_event"],
        "parts": {name: {"ms": round(ms, 3), "pct": round(100 * ms / total, 1)} for name, ms in parts.items()},
    }


def _profile_lines(results: dict, suffix: str = "", title: str = "inline request path") -> list[str]:
    breakdown = results.get("where_time_goes" + suffix)
    profile = results.get("profile" + suffix)
    lines = []
    if breakdown:
        lines.append(
            f"where the time per request goes, {title} (in-process, {breakdown['ms_per_request']:.2f} ms/request, "
            f"{breakdown['ms_per_event']:.2f} ms/event):"
        )
        for name, part in breakdown["parts"].items():
            lines.append(f"    {part['pct']:>5.1f}%  {part['ms']:>6.2f} ms  {name}")
    if profile and not profile.get("error"):
        lines.append("  the collect path's steps, cumulative (cProfile; µs per request):")
        for row in profile.get("steps_cumulative", [])[:14]:
            lines.append(f"    {row['cum_us_per_request']:>8.0f}  ×{row['calls_per_request']:<7} {row['function']}")
        lines.append(
            f"  top functions by self time (cProfile, {profile['requests']} requests, "
            f"{profile['ms_per_request_under_profiler']:.2f} ms/request under it; µs per request):"
        )
        for row in profile["top_self"][:12]:
            lines.append(f"    {row['self_us_per_request']:>8.0f}  ×{row['calls_per_request']:<7} {row['function']}")
    return lines


def _writer_lines(writer: dict | None) -> list[str]:
    if not writer:
        return []
    if writer.get("skipped"):
        return [f"collect writer in-process: skipped: {writer['skipped']}"]
    lines = [
        f"collect writer in-process (collect_queue_drain, chunks of {writer['chunk_limit']}): "
        f"{writer['batches_written']:,} batches / {writer['rows_written']:,} rows in {len(writer['chunks'])} chunks; "
        f"{writer['ms_per_chunk']:.0f} ms/chunk, {writer['ms_per_batch']:.2f} ms/batch, "
        f"{writer['ms_per_event']:.3f} ms/event = {writer['events_per_s']:,.0f} events/s on one core; "
        f"{writer['statements_per_chunk']} statements/chunk; DB execute+commit "
        f"{writer['db_execute_and_commit_pct_of_wall']}% of wall, Python outside DB calls "
        f"{writer['python_cpu_pct_of_wall']}%; left in the queue {writer['left_in_queue']}",
        "    chunks: "
        + "; ".join(
            f"{chunk['batches']} batches, {chunk['rows_written']} rows, {chunk['ms']:.0f} ms, "
            f"{chunk['statements']} statements"
            for chunk in writer["chunks"]
        ),
    ]
    for kind, figures in writer["statements_by_kind_per_chunk"].items():
        lines.append(f"    {figures['per_chunk']:>6.1f}× {figures['ms_per_chunk']:>8.1f} ms  {kind}")
    profile = writer.get("profile")
    if profile:
        split = ", ".join(f"{share * 100:.0f}% {name.split(':')[0]}" for name, share in profile["python_split"].items())
        lines.append(f"    writer's Python time (cProfile, {profile['batches']} batches): {split}")
        for row in profile["top_self"][:10]:
            lines.append(
                f"    {row['self_us_per_request']:>8.0f} µs/batch  ×{row['calls_per_request']:<7} {row['function']}"
            )
    return lines
