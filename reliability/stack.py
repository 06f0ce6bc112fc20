"""The production configuration on loopback, in processes this run owns and may break.

A PostgreSQL cluster of its own (another port, a temporary directory), a
redis-server of its own, granian as the README runs it (2 workers x 4 threads),
`collect_writer`, a Celery worker and beat, and nginx with `deploy/nginx.conf` in
front. The machine's shared PostgreSQL and Redis are never touched.
"""

import contextlib
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import redis

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
PG_BIN = Path(subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True).stdout.strip() or "/usr/bin")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port} after {seconds} s")


def _as_postgres(command: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root.
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@dataclass
class Stack:
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="ascendkit-reliability-")))
    pg_port: int = field(default_factory=free_port)
    redis_port: int = field(default_factory=free_port)
    web_port: int = field(default_factory=free_port)
    proxy_port: int = field(default_factory=free_port)
    processes: dict = field(default_factory=dict)
    keys: dict = field(default_factory=dict)
    restarts: dict = field(default_factory=dict)
    stopping: threading.Event = field(default_factory=threading.Event)

    # --- configuration ------------------------------------------------------------

    @property
    def pgdata(self) -> Path:
        return self.workdir / "pgdata"

    @property
    def database_url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.pg_port}/ascendkit"

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def proxy_url(self) -> str:
        return f"http://127.0.0.1:{self.proxy_port}"

    def env(self) -> dict:
        return {
            **os.environ,
            "DEBUG": "false",
            "SECURE_SSL_REDIRECT": "false",  # plain HTTP on loopback
            "SECRET_KEY": "reliability-run-signing-key-not-for-production",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DATABASE_URL": self.database_url,
            "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "COLLECT_QUEUE": "true",
            # A CDN in front of nginx: the test addresses in X-Forwarded-For are the
            # clients' as far as the server knows, so the privacy sweep means something.
            "TRUSTED_PROXY_COUNT": "2",
            "LOG_LEVEL": "INFO",
        }

    def log(self, name: str) -> Path:
        return self.workdir / f"{name}.log"

    # --- processes ----------------------------------------------------------------

    def spawn(self, name: str, command: list[str], **kwargs) -> subprocess.Popen:
        handle = self.log(name).open("ab")
        process = subprocess.Popen(
            command, cwd=ROOT, env=self.env(), stdout=handle, stderr=subprocess.STDOUT, start_new_session=True, **kwargs
        )
        self.processes[name] = process
        return process

    def manage(self, *arguments: str) -> str:
        done = subprocess.run(
            [PYTHON, "manage.py", *arguments], cwd=ROOT, env=self.env(), capture_output=True, text=True, check=True
        )
        return done.stdout

    def start(self) -> None:
        self.postgres_init()
        self.postgres_start()
        self.redis_start()
        self.manage("migrate", "--noinput", "-v", "0")
        self.keys = json.loads(self.manage("create_environment", "Reliability", "Web", "production", "--json"))
        self.web_start()
        self.writer_start()
        self.supervised = {
            "worker": [PYTHON, "-m", "celery", "-A", "ascendkit_site", "worker", "-l", "info"],
            "beat": [PYTHON, "-m", "celery", "-A", "ascendkit_site", "beat", "-l", "info", "-s",
                     str(self.workdir / "beat-schedule")],
        }  # fmt: skip
        for name, command in self.supervised.items():
            self.spawn(name, command)
        threading.Thread(target=self.supervise, daemon=True).start()
        self.proxy_start()
        wait_for_port(self.web_port)
        wait_for_port(self.proxy_port)
        self.wait_ready()

    def supervise(self) -> None:
        """Restart the worker and beat when they exit, as systemd's Restart=always does.

        The Celery worker can exit when Redis goes away while it holds an unacknowledged
        task (kombu fails to restore it: "'NoneType' object has no attribute 'hostname'").
        """
        while not self.stopping.wait(1):
            for name, command in self.supervised.items():
                if self.processes[name].poll() is not None and not self.stopping.is_set():
                    self.restarts[name] = self.restarts.get(name, 0) + 1
                    self.spawn(name, command)

    def wait_ready(self, seconds: float = 120) -> None:
        """Until both web workers have loaded the app: 20 quick answers in a row."""
        deadline = time.monotonic() + seconds
        quick = 0
        while quick < 20 and time.monotonic() < deadline:
            started = time.monotonic()
            try:
                with urllib.request.urlopen(f"{self.proxy_url}/v1/auth/me", timeout=5):
                    pass
            except urllib.error.HTTPError as answer:
                quick = quick + 1 if answer.code == 401 and time.monotonic() - started < 0.5 else 0
            except OSError:
                quick = 0
            if not quick:
                time.sleep(0.2)
        if quick < 20:
            raise RuntimeError(f"the server did not answer quickly within {seconds} s")

    def postgres_init(self) -> None:
        self.pgdata.mkdir()
        if os.geteuid() == 0:
            postgres = pwd.getpwnam("postgres")
            os.chown(self.workdir, postgres.pw_uid, postgres.pw_gid)
            os.chown(self.pgdata, postgres.pw_uid, postgres.pw_gid)
        command = [str(PG_BIN / "initdb"), "-D", str(self.pgdata), "-U", "postgres", "-A", "trust", "--no-sync"]
        subprocess.run(_as_postgres(command), check=True, capture_output=True)

    def postgres_start(self) -> None:
        options = f"-p {self.pg_port} -k {self.workdir} -c listen_addresses=127.0.0.1"
        command = [str(PG_BIN / "pg_ctl"), "-D", str(self.pgdata), "-o", options, "-l", str(self.log("postgres"))]
        subprocess.run(_as_postgres([*command, "-w", "start"]), check=True, capture_output=True)
        created = subprocess.run(
            [str(PG_BIN / "psql"), "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", "postgres", "-tAc",
             "SELECT 1 FROM pg_database WHERE datname = 'ascendkit'"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        if not created:
            subprocess.run(
                [str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", "postgres", "ascendkit"],
                check=True,
            )

    def postgres_stop(self) -> None:
        command = [str(PG_BIN / "pg_ctl"), "-D", str(self.pgdata), "-m", "immediate", "-w", "stop"]
        subprocess.run(_as_postgres(command), check=True, capture_output=True)

    def redis_start(self) -> None:
        self.spawn(
            "redis",
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.redis_port), "--save", "", "--appendonly", "no"],
        )
        wait_for_port(self.redis_port)

    def redis_stop(self) -> None:
        self.kill("redis")

    def web_start(self) -> None:
        self.spawn(
            "web",
            # As the README runs it.
            [PYTHON, "-m", "granian", "--interface", "wsgi", "--workers", "2", "--blocking-threads", "4",
             "--no-ws", "--respawn-failed-workers", "--respawn-interval", "1", "--log-level", "warning",
             "--host", "127.0.0.1", "--port", str(self.web_port), "ascendkit_site.wsgi:application"],
        )  # fmt: skip

    def web_workers(self) -> list[int]:
        master = self.processes["web"].pid
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        return [int(pid) for pid in children]

    def writer_start(self) -> None:
        self.spawn("writer", [PYTHON, "manage.py", "collect_writer"])

    def proxy_start(self) -> None:
        config = self.workdir / "nginx.conf"
        site = (ROOT / "deploy" / "nginx.conf").read_text()
        site = site.replace("listen 80;", f"listen 127.0.0.1:{self.proxy_port};")
        site = site.replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{self.web_port};")
        site = site.replace("/var/log/nginx/ascendkit.error.log", str(self.log("nginx")))
        for temp in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.workdir / f"nginx-{temp}").mkdir(exist_ok=True)
        config.write_text(
            "pid {w}/nginx.pid;\nerror_log {log} crit;\ndaemon off;\nworker_processes 1;\n"
            "events {{ worker_connections 1024; }}\n"
            "http {{\n client_body_temp_path {w}/nginx-client_body;\n proxy_temp_path {w}/nginx-proxy;\n"
            " fastcgi_temp_path {w}/nginx-fastcgi;\n uwsgi_temp_path {w}/nginx-uwsgi;\n"
            " scgi_temp_path {w}/nginx-scgi;\n{site}\n}}\n".format(w=self.workdir, log=self.log("nginx"), site=site)
        )
        self.spawn("nginx", [shutil.which("nginx") or "nginx", "-p", str(self.workdir), "-c", str(config)])

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        process = self.processes.get(name)
        if process and process.poll() is None:
            process.send_signal(sig)
            process.wait(timeout=30)

    def stop(self, *, keep_files: bool = False) -> None:
        self.stopping.set()
        for name in ("nginx", "web", "writer", "worker", "beat"):
            self.kill(name, signal.SIGTERM)
        self.kill("redis")
        with contextlib.suppress(subprocess.CalledProcessError):
            self.postgres_stop()
        if not keep_files:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # --- reading what was stored --------------------------------------------------

    def sql(self, query: str) -> list[tuple]:
        with psycopg.connect(f"host=127.0.0.1 port={self.pg_port} user=postgres dbname=ascendkit") as connection:
            return connection.execute(query).fetchall()

    def dump(self) -> str:
        command = [str(PG_BIN / "pg_dump"), "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", "postgres", "ascendkit"]
        return subprocess.run(command, capture_output=True, text=True, check=True).stdout

    def logs(self) -> str:
        return "\n".join(path.read_text(errors="replace") for path in self.workdir.glob("*.log"))

    def redis_contents(self) -> str:
        client = redis.Redis(port=self.redis_port, socket_timeout=2)
        chunks = []
        for key in client.scan_iter(count=1000):
            chunks.append(repr(key))
            kind = client.type(key)
            if kind == b"string":
                chunks.append(repr(client.get(key)))
            elif kind == b"list":
                chunks.extend(repr(value) for value in client.lrange(key, 0, -1))
            elif kind == b"hash":
                chunks.append(repr(client.hgetall(key)))
            elif kind == b"set":
                chunks.append(repr(client.smembers(key)))
            elif kind == b"zset":
                chunks.append(repr(client.zrange(key, 0, -1)))
        return "\n".join(chunks)
