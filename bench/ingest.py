"""Timed HTTP phases: calibration, the no-database baseline, and the ingestion run itself."""

import json
import pickle
import subprocess
import sys
import time
from pathlib import Path

from . import database, traffic
from .config import COLLECT_PATH, PYTHON, ROOT
from .cpu import CpuSample, cpu_used, postgres_background
from .server import Gunicorn

STARTUP_TIMEOUT_SECONDS = 120  # unpickling a large request list before the timed phase
TAIL_TIMEOUT_SECONDS = 60  # requests in flight at the deadline, then writing the result


def run_load(
    *,
    server: Gunicorn,
    db_name: str,
    prepared: list[traffic.Prepared],
    duration: float,
    concurrency: int,
    env_key: str,
    workdir: Path,
    label: str,
    expect: int = 202,
    cycle: bool = False,
) -> dict:
    """Run the load generator in its own process; its figures plus the CPU each side used."""
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
        before, began = CpuSample(groups), time.monotonic()
        process.wait(timeout=duration + TAIL_TIMEOUT_SECONDS)
        # Backends that connected during the run count from zero.
        groups["postgres backends (bench db)"] = sorted(
            set(groups["postgres backends (bench db)"]) | set(database.backend_pids(db_name))
        )
        after, wall = CpuSample(groups), time.monotonic() - began
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    if process.returncode != 0:
        raise RuntimeError(f"The load generator failed ({process.returncode}).")
    result = json.loads(out_file.read_text())
    result["cpu"] = cpu_used(before, after, wall, {"load generator": result.pop("cpu_s")})
    requests_file.unlink(missing_ok=True)
    return result


def _cpu_groups(server: Gunicorn, db_name: str) -> dict[str, list[int]]:
    return {
        "gunicorn workers": server.worker_pids(),
        "postgres backends (bench db)": database.backend_pids(db_name),
        "postgres background": postgres_background(database.postmaster_pid(db_name)),
    }


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
