"""`make bench`: each question's module against real web server processes, over HTTP only.

    .venv/bin/python -m bench.run [--duration 20] [--modules ingest,reports] [--keep-db]

A module is `bench/<name>.py` with `run(bench: Bench) -> dict`; one that is not there is
skipped. The harness gives it fresh PostgreSQL databases (copies of one migrated template
with one environment), gunicorn or granian and manage.py processes, wrk, and CPU counters from
/proc. Figures go to the terminal and `bench/results/latest.json`; a failed check exits 1.
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
from pathlib import Path
from typing import NamedTuple

import psycopg

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")
MODULES = ("ingest", "reports")
DB_PREFIX = "ascendkit_bench_"
TICKS = os.sysconf("SC_CLK_TCK")
WRK_HEADERS = ("Content-Type", "User-Agent", "X-Forwarded-For")  # bench/collect.lua adds the env key and Origin


def connect(db_name: str = "postgres") -> psycopg.Connection:
    return psycopg.connect(f"host=127.0.0.1 port=5432 user=postgres dbname={db_name}", autocommit=True)


def value(db_name: str, sql: str):
    with connect(db_name) as conn:
        return conn.execute(sql).fetchone()[0]


def cpu_seconds(pids: list[int]) -> list[float]:
    """CPU of each process with its descendants, the exited ones included once reaped (from /proc)."""
    own, children = {}, {}
    for entry in Path("/proc").iterdir():
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if entry.name.isdigit():
            own[int(entry.name)] = sum(int(field) for field in fields[11:15]) / TICKS  # utime stime cutime cstime
            children.setdefault(int(fields[1]), []).append(int(entry.name))

    def tree(pid: int) -> float:
        return own.get(pid, 0.0) + sum(tree(child) for child in children.get(pid, []))

    return [tree(pid) for pid in pids]


def machine_busy_seconds() -> float:
    user, nice, system, idle, iowait, irq, softirq = map(int, Path("/proc/stat").read_text().split()[1:8])
    return (user + nice + system + irq + softirq) / TICKS


class Database(NamedTuple):
    name: str
    env_key: str
    secret_key: str


class Server(NamedTuple):
    url: str
    processes: list[subprocess.Popen]  # the web server first

    def alive(self) -> bool:
        return all(process.poll() is None for process in self.processes)

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)
                process.wait()


class Bench:
    def __init__(self, args):
        self.args, self.failures, self.created = args, [], []  # created: databases to drop at the end
        self.workdir = Path(tempfile.mkdtemp(prefix="ascendkit-bench-"))
        self.template: Database | None = None

    def say(self, line: str = "") -> None:
        print(line, flush=True)

    def check(self, name: str, ok: bool, detail: str) -> None:
        self.say(f"  check {'ok  ' if ok else 'FAIL'} {name}: {detail}")
        self.failures += [] if ok else [f"{name}: {detail}"]

    def django_env(self, db_name: str, **extra: str) -> dict[str, str]:
        """Production-like settings, all set (even empty) so that a developer's `.env` cannot choose them."""
        env = dict(
            os.environ,
            DJANGO_SETTINGS_MODULE="ascendkit_site.settings",
            DEBUG="false",
            SECURE_SSL_REDIRECT="false",
            LOG_LEVEL="WARNING",
        )
        env.update(DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{db_name}", ALLOWED_HOSTS="127.0.0.1")
        env.update(SECRET_KEY="bench-secret-key-not-for-production-0123456789", TRUSTED_PROXY_COUNT="1")
        # COLLECT_QUEUE and COLLECT_WRITER are left to the settings' defaults unless a configuration sets them.
        env = {key: value for key, value in env.items() if key not in ("COLLECT_QUEUE", "COLLECT_WRITER")}
        return {**env, "REDIS_URL": "", "PGAPPNAME": "bench", **extra}

    def manage(self, db_name: str, *args: str) -> str:
        done = subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=self.django_env(db_name), capture_output=True)
        if done.returncode:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stderr.decode()[-3000:]}")
        return done.stdout.decode()

    def database(self, suffix: str) -> Database:
        """`ascendkit_bench_<suffix>`, a fresh copy of the migrated template, which has one environment."""
        if self.template is None:
            name = self._create(DB_PREFIX + "template")
            self.manage(name, "migrate", "--noinput")
            keys = json.loads(self.manage(name, "create_environment", "Bench", "Site", "production", "--json"))
            self.template = Database(name, keys["envKey"], keys["secretKey"])
        name = self._create(DB_PREFIX + suffix, f' TEMPLATE "{self.template.name}"')
        # The copy went through the WAL, and the previous run left its own: a checkpoint
        # now, so that each run starts from the same state of PostgreSQL, and none pays
        # for the one before it with a checkpoint in the middle of its load.
        with connect() as conn:
            conn.execute("CHECKPOINT")
        return self.template._replace(name=name)

    def _create(self, name: str, template: str = "") -> str:
        assert name.startswith(DB_PREFIX) and name.replace("_", "").isalnum()
        with connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"{template}')
        self.created.append(name)
        return name

    def backends(self, db_name: str) -> list[int]:
        """The server processes of the connections the web server and manage.py made (PGAPPNAME=bench)."""
        query = "SELECT pid FROM pg_stat_activity WHERE datname = %s AND application_name = 'bench'"
        with connect() as conn:
            return [row[0] for row in conn.execute(query, (db_name,))]

    def serve(
        self, app: str, *, env: dict, workers: int = 2, threads: int = 1, beside: list[str] = (), web_server="gunicorn"
    ) -> Server:
        """gunicorn (or granian) serving `app` (and `manage.py <beside>` next to it), once it answers."""
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if web_server == "granian":
            web = f"-m granian --interface wsgi --workers {workers} --blocking-threads {threads} --no-ws"
            web += f" --log-level warning --host 127.0.0.1 --port {port} {app}"
        else:
            web = f"-m gunicorn {app} -w {workers} --threads {threads} -b 127.0.0.1:{port}"
        log = open(self.workdir / f"server-{port}.log", "ab")  # noqa: SIM115 - the processes write to it
        commands = [[PYTHON, *web.split()]] + ([[PYTHON, "manage.py", *beside]] if beside else [])
        popen = {"cwd": ROOT, "env": env, "stdout": log, "stderr": log, "start_new_session": True}
        server = Server(f"http://127.0.0.1:{port}", [subprocess.Popen(command, **popen) for command in commands])
        for _ in range(300):
            if not server.alive():
                break
            try:
                urllib.request.urlopen(server.url + "/", timeout=2).close()
                return server
            except urllib.error.HTTPError:  # an answer all the same
                return server
            except OSError:
                time.sleep(0.2)
        server.stop()
        raise RuntimeError(f"{app} did not start: {log.name}")

    def requests_file(self, requests: list) -> str:
        """The requests for wrk, written once: a file per wrk thread, a line per request."""
        prefix = str(self.workdir / f"requests-{time.monotonic_ns()}")
        for thread in (0, 1):
            with open(f"{prefix}.{thread}", "wb") as out:
                for request in requests[thread::2]:
                    fields = [str(request.items)] + [request.headers[name] for name in WRK_HEADERS]
                    out.write("\t".join(fields).encode() + b"\t" + request.body + b"\n")
        return prefix

    def wrk(self, url: str, prefix: str, *, env_key: str, duration: float, poll=None) -> dict:
        """Each request sent once over 16 connections for `duration` s; `poll()` runs every 0.2 s meanwhile."""
        lead, timeout = 3, 5  # wrk reads the requests during the lead; no request may take longer than timeout
        command = ["wrk", "-t2", "-c16", f"-d{int(lead + duration + timeout + 1)}s", f"--timeout={timeout}s", "-s"]
        start, before, reading = time.time() + lead, sum(os.times()[2:4]), None  # CPU of the children waited for
        command += [str(ROOT / "bench" / "collect.lua"), url, "--", prefix, env_key, str(start), str(duration)]
        with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
            while process.poll() is None:
                time.sleep(0.2)
                if reading is None and time.time() >= start:  # what wrk used to read the requests
                    reading = cpu_seconds([process.pid])[0]
                if poll:
                    poll()
            line = next(line for line in process.stdout if line.startswith("BENCH "))
        result = json.loads(line.removeprefix("BENCH "))
        result["wrk_cpu_s"] = sum(os.times()[2:4]) - before - (reading or 0.0)
        return {**result, "seconds": max(1e-9, result["last"] - result["first"])}


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
    parser.add_argument("--modules", default=",".join(MODULES), help="comma-separated, run in this order")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of each timed load (default 20)")
    parser.add_argument("--keep-db", action="store_true", help="keep the ascendkit_bench_* databases")
    args = parser.parse_args(argv)
    bench, results = Bench(args), {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    try:
        for name in args.modules.split(","):
            module = load(name)
            bench.say(f"== {name}" + ("" if module else f": skipped, bench/{name}.py is not there"))
            results[name] = module.run(bench) if module else "skipped"
    finally:
        with connect() as conn:
            for name in [] if args.keep_db else reversed(bench.created):  # the template last
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    (ROOT / "bench" / "results" / "latest.json").write_text(json.dumps({**results, "failures": bench.failures}))
    bench.say("== " + ("FAILED: " + "; ".join(bench.failures) if bench.failures else "all checks passed"))
    return 1 if bench.failures else 0


if __name__ == "__main__":
    sys.exit(main())
