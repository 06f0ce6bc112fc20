"""The final summary block and bench/results/latest.json."""

import json
from pathlib import Path

TARGET_EVENTS_PER_S = 1500
TARGET_P99_MS = 150


def write_json(results: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, sort_keys=False) + "\n")


def _ratio(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 3) if denominator else None


def derive(results: dict) -> dict:
    """Ratios and verdicts from the measured figures."""
    ingest = results.get("ingest") or {}
    baseline = results.get("baseline") or {}
    ceiling = results.get("copy_ceiling") or {}
    events = ingest.get("accepted_events_per_s", 0.0)
    p99 = (ingest.get("latency_ms") or {}).get("p99")
    cpu = (ingest.get("cpu") or {}).get("by_group", {})
    server_cpu = sum(
        cpu.get(name, {}).get("cpu_s", 0.0) for name in ("gunicorn workers", "postgres backends (bench db)")
    )
    accepted = ingest.get("accepted_events", 0)
    requests = ingest.get("requests", 0)
    cores = (ingest.get("cpu") or {}).get("cores", 1)
    wall = (ingest.get("cpu") or {}).get("wall_s", 0.0)
    base_cpu = (baseline.get("cpu") or {}).get("by_group", {})

    def cpu_ms_per_request(groups: dict, name: str, count: int) -> float | None:
        seconds = groups.get(name, {}).get("cpu_s")
        return round(1000 * seconds / count, 3) if seconds is not None and count else None

    return {
        "ingest_cpu_ms_per_request": {
            "gunicorn workers": cpu_ms_per_request(cpu, "gunicorn workers", requests),
            "postgres backends": cpu_ms_per_request(cpu, "postgres backends (bench db)", requests),
            "load generator": cpu_ms_per_request(cpu, "load generator", requests),
        },
        "baseline_cpu_ms_per_request": {
            "gunicorn workers": cpu_ms_per_request(base_cpu, "gunicorn workers", baseline.get("requests", 0)),
            "load generator": cpu_ms_per_request(base_cpu, "load generator", baseline.get("requests", 0)),
        },
        "ingest_events_per_s_over_copy_rows_per_s": _ratio(events, ceiling.get("rows_per_s", 0.0)),
        "ingest_requests_per_s_over_baseline_requests_per_s": _ratio(
            ingest.get("requests_per_s", 0.0), baseline.get("requests_per_s", 0.0)
        ),
        "ingest_events_per_s_over_baseline_requests_per_s": _ratio(events, baseline.get("requests_per_s", 0.0)),
        "server_cpu_ms_per_event (gunicorn + postgres backends)": round(1000 * server_cpu / accepted, 3)
        if accepted
        else None,
        # What the cores would give at this CPU cost per event with nothing else running
        # but the load generator: a noise-resistant reading of the run.
        "projected_events_per_s_on_idle_cores": round(
            (cores - cpu.get("load generator", {}).get("cpu_s", 0.0) / wall) / (server_cpu / accepted), 1
        )
        if accepted and server_cpu and wall
        else None,
        "target_events_per_s": TARGET_EVENTS_PER_S,
        "target_p99_ms": TARGET_P99_MS,
        "meets_events_target": events >= TARGET_EVENTS_PER_S,
        "meets_p99_target": p99 is not None and p99 < TARGET_P99_MS,
    }


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
            f"    accepted events: {figures['accepted_events']:,} = {figures['accepted_events_per_s']:,.0f} events/s "
            f"(items sent {figures['items_sent']:,}, duplicates {figures['duplicates']}, rejected "
            f"{figures['rejected_items']}, bot requests {figures['bot_requests']})",
        )
    if figures.get("exhausted"):
        lines.append("    NOTE: the prepared requests ran out before the deadline; the rate is a lower bound")
    cpu = figures.get("cpu")
    if cpu:
        parts = ", ".join(f"{group} {value['pct_of_machine']:.0f}%" for group, value in cpu["by_group"].items())
        lines.append(f"    CPU of the {cpu['cores']} cores: busy {cpu['machine_busy_pct']:.0f}% — {parts}")
    return lines


def summary_lines(results: dict) -> list[str]:
    derived = results.get("derived") or {}
    lines = ["", "=" * 100, "AscendKit collect benchmark", "=" * 100]
    machine = results.get("machine", {})
    lines.append(
        f"machine: {machine.get('cores')} cores, load average at start {machine.get('loadavg_at_start')}; "
        f"{machine.get('postgres', '')} (autovacuum {machine.get('pg_autovacuum')}, synchronous_commit "
        f"{machine.get('pg_synchronous_commit')}; the bench ANALYZEs after the warm-up, as autovacuum would)"
    )
    lines.append(
        "setup: gunicorn 2 sync workers (no access log, tasks in-process); the load generator is a separate "
        "asyncio process on the same 2 cores and competes with gunicorn and PostgreSQL for them."
    )
    traffic = results.get("traffic") or {}
    if traffic:
        lines.append(
            f"traffic: {traffic.get('visitors'):,} visitors arriving over the run, {traffic.get('requests'):,} "
            "prepared requests, "
            f"{traffic.get('items_per_request')} items/request, {traffic.get('bot_requests_pct')}% bot requests, "
            f"{traffic.get('body_bytes_mean')} bytes/body"
        )
    lines.append("")
    lines += _load_lines("HTTP ingestion", results.get("ingest"))
    baseline = results.get("baseline")
    lines += _load_lines("baseline (POST collect, no key: 401 before any database work)", baseline)
    if baseline and baseline.get("runs"):
        sides = " / ".join(f"{run['requests_per_s']:,.0f}" for run in baseline["runs"])
        lines.append(f"    requests/s before / after the timed run: {sides}")
    ceiling = results.get("copy_ceiling")
    if ceiling:
        lines.append(
            f"COPY ceiling: {ceiling['rows']:,} pageview rows, {ceiling['rows_per_s']:,.0f} rows/s "
            f"(rounds {ceiling['rounds_s']} s; {ceiling.get('table', '')})"
        )
    lines.append("")
    lines.append(
        f"ratio HTTP ingestion events/s ÷ COPY rows/s: {derived.get('ingest_events_per_s_over_copy_rows_per_s')}"
    )
    lines.append(
        "ratio ingestion requests/s ÷ baseline requests/s: "
        f"{derived.get('ingest_requests_per_s_over_baseline_requests_per_s')}  "
        f"(events/s ÷ baseline requests/s: {derived.get('ingest_events_per_s_over_baseline_requests_per_s')})"
    )
    lines.append(
        f"server CPU per accepted event: {derived.get('server_cpu_ms_per_event (gunicorn + postgres backends)')} ms; "
        f"CPU ms per ingestion request {derived.get('ingest_cpu_ms_per_request')}; "
        f"per baseline request {derived.get('baseline_cpu_ms_per_request')}"
    )
    lines.append(
        "projected events/s with the cores to itself (server CPU per event, load generator's share kept): "
        f"{derived.get('projected_events_per_s_on_idle_cores')}"
    )
    ingest = results.get("ingest") or {}
    if ingest:
        verdict_events = "PASS" if derived.get("meets_events_target") else "FAIL"
        verdict_p99 = "PASS" if derived.get("meets_p99_target") else "FAIL"
        lines.append(
            f"targets: ≥{TARGET_EVENTS_PER_S:,} events/s {verdict_events} ({ingest['accepted_events_per_s']:,.0f}); "
            f"p99 < {TARGET_P99_MS} ms {verdict_p99} ({ingest['latency_ms']['p99']:.1f})"
        )
    stored = results.get("stored")
    if stored:
        lines.append("stored by the timed run: " + ", ".join(f"{table} {count:,}" for table, count in stored.items()))
    lines.append("")
    lines += _stitch_lines(results.get("stitch"))
    lines += _census_lines(results.get("census"))
    lines += _profile_lines(results)
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


def _census_lines(census: dict | None) -> list[str]:
    if not census:
        return []
    if census.get("error"):
        return [f"query census: failed: {census['error']}"]
    lines = [
        f"query census (in-process, one request at a time, {census['requests']} requests): "
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


def _profile_lines(results: dict) -> list[str]:
    breakdown = results.get("where_time_goes")
    profile = results.get("profile")
    lines = []
    if breakdown:
        lines.append(
            f"where the time per request goes (in-process, {breakdown['ms_per_request']:.2f} ms/request, "
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
