"""Timed HTTP phases: calibration, the no-database baseline, and the ingestion run itself.

The timed run can also sample the queue's backlog every second and, after the
load, wait for the collect writer to drain it; the CPU is then accounted for the
load, for the drain, and for both together.
"""

import json
import pickle
import subprocess
import sys
import time
from pathlib import Path

from . import backlog, database, traffic
from .config import APP_GUNICORN, APP_SAMPLER, APP_WRITER, COLLECT_PATH, PYTHON, ROOT
from .cpu import CpuSample, cpu_used, postgres_background
from .server import Stack

STARTUP_TIMEOUT_SECONDS = 120  # unpickling a large request list before the timed phase
TAIL_TIMEOUT_SECONDS = 60  # requests in flight at the deadline, then writing the result


GUNICORN = "gunicorn workers"
WRITER = "collect writer"
BACKENDS_GUNICORN = "postgres backends (gunicorn)"
BACKENDS_WRITER = "postgres backends (collect writer)"
BACKENDS_OTHER = "postgres backends (other, bench db)"
BACKENDS_SAMPLER = "postgres backend (backlog sampler)"
BACKGROUND = "postgres background"
LOADGEN = "load generator"
# What serving the traffic costs: the processes and their database connections.
SERVER_GROUPS = (GUNICORN, WRITER, BACKENDS_GUNICORN, BACKENDS_WRITER)


def run_load(
    *,
    server: Stack,
    db_name: str,
    prepared: list[traffic.Prepared],
    duration: float,
    concurrency: int,
    env_key: str,
    workdir: Path,
    label: str,
    expect: int = 202,
    cycle: bool = False,
    sampler: backlog.Sampler | None = None,
    drain_timeout: float | None = None,
) -> dict:
    """Run the load generator in its own process; its figures plus the CPU each side used.

    With a `sampler`, the backlog and the stored rows are sampled every second during
    the load; with `drain_timeout` too, the run then waits for the backlog to drain.
    """
    requests_file = workdir / f"{label}.requests.pickle"
    out_file = workdir / f"{label}.result.json"
    with open(requests_file, "wb") as handle:
        pickle.dump(prepared, handle, protocol=pickle.HIGHEST_PROTOCOL)
    command = [
        str(PYTHON),
        "-m",
        "bench.loadgen",
        "--url",
        server.base_url + COLLECT_PATH,
        "--requests",
        str(requests_file),
        "--out",
        str(out_file),
        "--duration",
        str(duration),
        "--concurrency",
        str(concurrency),
        "--expect",
        str(expect),
    ]
    if env_key:
        command += ["--env-key", env_key]
    if cycle:
        command.append("--cycle")
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        started_line = _read_line(process, STARTUP_TIMEOUT_SECONDS)
        if started_line.strip() != "started":
            raise RuntimeError(f"The load generator did not start ({started_line!r}).")
        groups = _cpu_groups(server, db_name)
        if sampler is not None:
            sampler.start()
        before, began = CpuSample(groups), time.monotonic()
        process.wait(timeout=duration + TAIL_TIMEOUT_SECONDS)
        # Processes that started during the run count from zero.
        groups = _merged(groups, _cpu_groups(server, db_name))
        after, wall = CpuSample(groups), time.monotonic() - began
        end_of_load = sampler.stop() if sampler is not None else None  # the drain is timed from here
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    if process.returncode != 0:
        raise RuntimeError(f"The load generator failed ({process.returncode}).")
    result = json.loads(out_file.read_text())
    loadgen_cpu = {LOADGEN: result.pop("cpu_s")}
    result["cpu"] = cpu_used(before, after, wall, loadgen_cpu)
    result["wall_s"] = round(wall, 3)  # from "started" to the load generator's exit
    requests_file.unlink(missing_ok=True)
    if sampler is None:
        return result

    samples = sampler.samples
    backlogs = [sample["backlog"] for sample in samples if sample.get("backlog") is not None]
    result["backlog"] = {
        "at_end_of_load": end_of_load["backlog"],
        "max_during_load": max(backlogs) if backlogs else None,
        "samples": samples,
    }
    if drain_timeout is None:
        return result
    writer = server.writer
    drain = backlog.wait_drained(sampler, timeout=drain_timeout, writer=writer, since=began + wall, first=end_of_load)
    groups = _merged(groups, _cpu_groups(server, db_name))
    drained, drain_wall = CpuSample(groups), time.monotonic() - began
    drain["cpu"] = cpu_used(after, drained, drain_wall - wall, {})
    result["drain"] = drain
    result["cpu_load_and_drain"] = cpu_used(before, drained, drain_wall, loadgen_cpu)
    if writer is not None and not writer.alive() and writer.returncode is not None:
        drain["writer_exit"] = writer.returncode
        drain["writer_log_tail"] = writer.log_tail(3000)
    return result


def _cpu_groups(server: Stack, db_name: str) -> dict[str, list[int]]:
    backends = database.backends_by_application(db_name)
    return {
        GUNICORN: server.worker_pids(),
        WRITER: server.writer_pids(),
        BACKENDS_GUNICORN: backends.pop(APP_GUNICORN, []),
        BACKENDS_WRITER: backends.pop(APP_WRITER, []),
        BACKENDS_SAMPLER: backends.pop(APP_SAMPLER, []),
        BACKENDS_OTHER: [pid for pids in backends.values() for pid in pids],
        BACKGROUND: postgres_background(database.postmaster_pid(db_name)),
    }


def _merged(first: dict[str, list[int]], second: dict[str, list[int]]) -> dict[str, list[int]]:
    return {name: sorted(set(first.get(name, [])) | set(second.get(name, []))) for name in first.keys() | second}


def _read_line(process: subprocess.Popen, timeout: float) -> str:
    """The child's next stdout line, waiting at most `timeout` seconds."""
    import selectors

    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise RuntimeError(f"The load generator printed nothing within {timeout:.0f}s.")
    return process.stdout.readline()


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def combine(runs: list[dict]) -> dict:
    """One figure set for several runs of the same load: rates over their summed time.

    Latency percentiles are the mean of the runs' (each run's list is gone by now).
    """
    duration = sum(run["duration_s"] for run in runs)
    requests = sum(run["requests"] for run in runs)
    statuses: dict[str, int] = {}
    for run in runs:
        for status, count in run["statuses"].items():
            statuses[status] = statuses.get(status, 0) + count
    combined = {
        "duration_s": round(duration, 3),
        "concurrency": runs[0]["concurrency"],
        "requests": requests,
        "requests_per_s": round(requests / duration, 1) if duration else 0.0,
        "accepted_events": sum(run["accepted_events"] for run in runs),
        "statuses": statuses,
        "errors": sum(run["errors"] for run in runs),
        "error_kinds": {},
        "latency_ms": {
            key: round(sum(run["latency_ms"][key] for run in runs) / len(runs), 2) for key in runs[0]["latency_ms"]
        },
        "runs": [
            {
                "requests_per_s": run["requests_per_s"],
                "latency_ms": run["latency_ms"],
                "cpu": run.get("cpu"),
            }
            for run in runs
        ],
    }
    cpus = [run["cpu"] for run in runs if run.get("cpu")]
    if cpus:
        wall = sum(cpu["wall_s"] for cpu in cpus)
        cores = cpus[0]["cores"]
        seconds: dict[str, float] = {}
        for cpu in cpus:
            for group, value in cpu["by_group"].items():
                seconds[group] = seconds.get(group, 0.0) + value["cpu_s"]
        busy = sum(cpu["machine_busy_pct"] * cpu["wall_s"] for cpu in cpus) / wall if wall else 0.0
        combined["cpu"] = {
            "cores": cores,
            "wall_s": round(wall, 2),
            "machine_busy_pct": round(busy, 1),
            "by_group": {
                group: {"cpu_s": round(value, 2), "pct_of_machine": round(100 * value / (wall * cores), 1)}
                for group, value in seconds.items()
            },
        }
    return combined
