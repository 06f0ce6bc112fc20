"""`make bench`: runs each question's module against real gunicorn processes over HTTP.

    .venv/bin/python -m bench.run [--duration 20] [--modules ingest,reports] [--keep-db]

A module is `bench/<name>.py` with `run(bench: Bench) -> dict`; one that is not there
is skipped. The harness gives modules throwaway PostgreSQL databases (copies of one
migrated template with one environment), gunicorn and manage.py processes, wrk, and CPU
counters from /proc. Figures go to the terminal and to `bench/results/latest.json`;
the exit status is 1 when a check failed.
"""

import argparse
import importlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")
MODULES = ("ingest", "reports")
DB_PREFIX = "ascendkit_bench_"  # every database the bench makes; dropped at the end
TICKS = os.sysconf("SC_CLK_TCK")
WRK_HEADERS = ("Content-Type", "User-Agent", "X-Forwarded-For")  # bench/collect.lua adds the env key and Origin


def pg(dbname: str = "postgres") -> psycopg.Connection:
    return psycopg.connect(f"host=127.0.0.1 port=5432 user=postgres dbname={dbname}", autocommit=True)


def plain_env() -> dict[str, str]:
    """The environment without the project's settings (the floor configures its own)."""
    return {name: value for name, value in os.environ.items() if name != "DJANGO_SETTINGS_MODULE"}


@dataclass
class Database:
    name: str
    env_key: str
    secret_key: str

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:5432/{self.name}"

    def value(self, sql: str):
        with pg(self.name) as conn:
            return conn.execute(sql).fetchone()[0]


@dataclass
class Server:
    """A gunicorn (and maybe a manage.py command beside it) in its own process group."""

    url: str
    processes: list[subprocess.Popen] = field(default_factory=list)

    def alive(self) -> bool:
        return all(process.poll() is None for process in self.processes)

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)
                process.wait()


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """CPU of each process and its descendants, exited ones included once reaped (/proc)."""
    stats, children = {}, {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        stats[int(entry.name)] = sum(int(value) for value in fields[11:15]) / TICKS  # utime stime cutime cstime
        children.setdefault(int(fields[1]), []).append(int(entry.name))

    def tree(pid: int) -> float:
        return stats.get(pid, 0.0) + sum(tree(child) for child in children.get(pid, []))

    return {pid: tree(pid) for pid in pids if pid in stats}


def machine_busy_seconds() -> float:
    values = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:8]]
    return (sum(values) - values[3] - values[4]) / TICKS


class Bench:
    def __init__(self, args):
        self.args = args
        self.workdir = Path(tempfile.mkdtemp(prefix="ascendkit-bench-"))
        self.failures: list[str] = []
        self._template: Database | None = None
        self.created: list[str] = []  # databases to drop at the end

    connect = staticmethod(pg)
    plain_env = staticmethod(plain_env)

    def say(self, line: str = "") -> None:
        print(line, flush=True)

    def check(self, name: str, ok: bool, detail: str) -> None:
        self.say(f"  check {'ok  ' if ok else 'FAIL'} {name}: {detail}")
        if not ok:
            self.failures.append(f"{name}: {detail}")

    def manage(self, database: Database | str, *args: str) -> str:
        env = self.django_env(database if isinstance(database, str) else database.name)
        done = subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stderr[-3000:]}")
        return done.stdout

    def django_env(self, db_name: str, **extra: str) -> dict[str, str]:
        """Production-like settings; set even when empty, so a developer's `.env` cannot choose them."""
        env = dict(os.environ, DJANGO_SETTINGS_MODULE="ascendkit_site.settings", DEBUG="false", LOG_LEVEL="WARNING")
        env.update(DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{db_name}", ALLOWED_HOSTS="127.0.0.1")
        env.update(SECRET_KEY="bench-secret-key-not-for-production-0123456789", TRUSTED_PROXY_COUNT="1")
        env.update(REDIS_URL="", COLLECT_QUEUE="false", PGAPPNAME="bench")
        return {**env, **extra}

    def backends(self, db_name: str) -> list[int]:
        """Server processes of the connections that gunicorn and manage.py made (PGAPPNAME=bench)."""
        with pg() as conn:
            query = "SELECT pid FROM pg_stat_activity WHERE datname = %s AND application_name = 'bench'"
            return [row[0] for row in conn.execute(query, (db_name,))]

    @staticmethod
    def database_name(suffix: str) -> str:
        return DB_PREFIX + suffix

    def database(self, suffix: str) -> Database:
        """A fresh copy of the migrated template, which has one environment."""
        if self._template is None:
            name = self._create(DB_PREFIX + "template")
            self.manage(name, "migrate", "--noinput")
            keys = json.loads(self.manage(name, "create_environment", "Bench", "Site", "production", "--json"))
            self._template = Database(name, keys["envKey"], keys["secretKey"])
        name = self._create(DB_PREFIX + suffix, f' TEMPLATE "{self._template.name}"')
        return Database(name, self._template.env_key, self._template.secret_key)

    def _create(self, name: str, template: str = "") -> str:
        assert name.startswith(DB_PREFIX) and name.replace("_", "").isalnum()
        with pg() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"{template}')
        self.created.append(name)
        return name

    def drop_databases(self) -> None:
        with pg() as conn:
            for name in reversed(self.created):  # the template last: its copies are made from it
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def serve(self, app: str, *, env: dict, workers: int = 2, threads: int = 1, beside: list[str] = ()) -> Server:
        """gunicorn serving `app`, and `manage.py <beside>` if given; waits until it answers."""
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        command = [PYTHON, "-m", "gunicorn", app, "-w", str(workers), "-b", f"127.0.0.1:{port}", "--timeout", "30"]
        command += ["--threads", str(threads)] if threads > 1 else []
        server = Server(url=f"http://127.0.0.1:{port}")
        log = open(self.workdir / f"{app.split(':')[0]}-{port}.log", "ab")  # noqa: SIM115 - the processes hold it
        for argv in ([PYTHON, "manage.py", *beside],) if beside else ():
            server.processes.append(
                subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True)
            )
        server.processes.insert(
            0, subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True)
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and server.alive():
            try:
                urllib.request.urlopen(server.url + "/", timeout=2).close()
                return server
            except urllib.error.HTTPError:
                return server
            except OSError:
                time.sleep(0.2)
        server.stop()
        raise RuntimeError(f"{app} did not start; see {log.name}")

    def requests_file(self, requests: list) -> str:
        """Write requests for wrk once: one file per wrk thread, a line per request."""
        prefix = str(self.workdir / f"requests-{time.monotonic_ns()}")
        for thread in range(2):
            with open(f"{prefix}.{thread}", "wb") as out:
                for request in requests[thread::2]:
                    fields = [str(request.items)] + [request.headers[name] for name in WRK_HEADERS]
                    out.write("\t".join(fields).encode() + b"\t" + request.body + b"\n")
        return prefix

    def wrk(self, url: str, prefix: str, *, env_key: str, duration: float, connections: int = 16) -> dict:
        """Send each request once for `duration` s, all connections starting together; wrk's figures."""
        lead, timeout = 3.0, 5  # wrk reads the requests during the lead; no request may take longer
        start = time.time() + lead
        command = [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{int(lead + duration + timeout + 1)}s",
            f"--timeout={timeout}s",
        ]
        command += ["-s", str(ROOT / "bench" / "collect.lua"), url, "--", prefix, env_key, str(start), str(duration)]
        before = os.times()
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        after = os.times()
        line = next(line for line in done.stdout.splitlines() if line.startswith("BENCH "))
        result = json.loads(line.removeprefix("BENCH "))
        result["wrk_cpu_s"] = (
            after.children_user + after.children_system - before.children_user - before.children_system
        )
        result["seconds"] = max(1e-9, result["last"] - result["first"])
        return result


def load(name: str):
    """The module `bench/<name>.py`, or None when there is no such file (an error inside it still raises)."""
    try:
        return importlib.import_module(f"bench.{name}")
    except ModuleNotFoundError as error:
        if error.name != f"bench.{name}":
            raise
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--modules", default=",".join(MODULES), help="comma-separated, run in order")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of each timed load")
    parser.add_argument("--keep-db", action="store_true", help="keep the ascendkit_bench_* databases")
    args = parser.parse_args(argv)
    bench, results = Bench(args), {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    try:
        for name in args.modules.split(","):
            if (module := load(name)) is None:
                bench.say(f"== {name}: skipped, bench/{name}.py is not there")
                continue
            bench.say(f"== {name}")
            results[name] = module.run(bench)
    finally:
        if not args.keep_db:
            bench.drop_databases()
    results["failures"] = bench.failures
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    (ROOT / "bench" / "results" / "latest.json").write_text(json.dumps(results, indent=2))
    bench.say(f"== {'FAILED: ' + '; '.join(bench.failures) if bench.failures else 'all checks passed'}")
    return 1 if bench.failures else 0


if __name__ == "__main__":
    sys.exit(main())
