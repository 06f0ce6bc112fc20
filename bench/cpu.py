"""CPU seconds used by processes and by the whole machine, from /proc (Linux)."""

import os
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


def process_seconds(pid: int) -> float | None:
    """User + system CPU seconds of one process so far; None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    # After the command name: state is field 3, utime field 14, stime field 15 (1-based).
    return (int(fields[11]) + int(fields[12])) / _TICKS


def children(pid: int) -> list[int]:
    """Processes whose parent is `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[-1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def postgres_background(postmaster: int | None) -> list[int]:
    """The server's own processes (WAL writer, checkpointer, autovacuum…), not client backends."""
    if postmaster is None:
        return []
    return [
        pid
        for pid in children(postmaster)
        if not any(mark in command_line(pid) for mark in ("(", "[local]"))  # "db 127.0.0.1(5432) idle"
    ]


def machine_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of all cores since boot."""
    values = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    total = sum(values[:8])  # guest time is already counted in user
    return (total - idle) / _TICKS, total / _TICKS


class CpuSample:
    """CPU counters of named process groups at one moment."""

    def __init__(self, groups: dict[str, list[int]]):
        self.processes = {
            name: {pid: seconds for pid in pids if (seconds := process_seconds(pid)) is not None}
            for name, pids in groups.items()
        }
        self.machine = machine_seconds()


def cpu_used(before: CpuSample, after: CpuSample, wall_seconds: float, reported: dict[str, float]) -> dict:
    """CPU seconds per group between two samples and as a share of the machine's cores.

    A process that appeared in between counts from zero; one that ended counts up to
    the last sample that saw it. `reported` adds groups that measured themselves (the
    load generator, which has exited by the second sample).
    """
    cores = os.cpu_count() or 1
    groups = {}
    for name, now in after.processes.items():
        then = before.processes.get(name, {})
        seconds = sum(now[pid] - then.get(pid, 0.0) for pid in now)
        groups[name] = seconds
    groups.update(reported)
    busy = after.machine[0] - before.machine[0]
    groups["everything else (other tenants, short-lived processes)"] = max(0.0, busy - sum(groups.values()))
    capacity = wall_seconds * cores
    return {
        "cores": cores,
        "wall_s": round(wall_seconds, 2),
        "machine_busy_pct": round(100 * busy / capacity, 1) if capacity else 0.0,
        "by_group": {
            name: {"cpu_s": round(seconds, 2), "pct_of_machine": round(100 * seconds / capacity, 1) if capacity else 0}
            for name, seconds in groups.items()
        },
    }
