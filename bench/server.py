"""The serving side: gunicorn, two sync workers, as production serves the API, and in
queued mode one `manage.py collect_writer` beside it."""

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from .config import APP_GUNICORN, APP_WRITER, COLLECT_PATH, GUNICORN, PYTHON, ROOT, SITE_ORIGIN, django_env, mode_env
from .cpu import children

READY_TIMEOUT_SECONDS = 45
STOP_TIMEOUT_SECONDS = 15
WRITER_SETTLE_SECONDS = 2.0  # a writer that fails on start-up has exited by then


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stop(process: subprocess.Popen | None) -> None:
    """SIGTERM to a process started in its own session, SIGKILL to that group if it lingers."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


def _tail(path: Path, limit: int) -> str:
    try:
        return path.read_text(errors="replace")[-limit:]
    except OSError:
        return ""


class Gunicorn:
    def __init__(self, *, db_name: str, workers: int, log_path: Path, mode: str = "inline", threads: int = 1):
        self.db_name = db_name
        self.workers = workers
        self.threads = threads
        self.mode = mode
        self.port = free_port()
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        command = [
            str(GUNICORN),
            "ascendkit_site.wsgi:application",
            "-w",
            str(self.workers),
            "-b",
            f"127.0.0.1:{self.port}",
            "--error-logfile",
            str(self.log_path),
            "--log-level",
            "warning",
            "--timeout",
            "30",
        ]
        if self.threads > 1:
            # gthread workers: keep-alive connections, and a thread waiting on
            # PostgreSQL leaves the core to another.
            command += ["--threads", str(self.threads)]
        # No --access-logfile: gunicorn writes no access log unless told to.
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=django_env(self.db_name, PGAPPNAME=APP_GUNICORN, **mode_env(self.mode)),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def worker_pids(self) -> list[int]:
        return children(self.process.pid) if self.process else []

    def wait_ready(self, env_key: str) -> None:
        """Wait until a real collect request is stored; fail loudly with the server's log otherwise."""
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        last_error = "no answer"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited ({self.process.returncode}):\n{self.log_tail()}")
            try:
                status, body = self._smoke(env_key)
            except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
                last_error = str(exc)
                time.sleep(0.25)
                continue
            if status == 202:
                return
            raise RuntimeError(f"The smoke collect request answered {status}: {body[:2000]}\n{self.log_tail()}")
        raise RuntimeError(f"gunicorn did not answer within {READY_TIMEOUT_SECONDS}s ({last_error}).")

    def _smoke(self, env_key: str) -> tuple[int, str]:
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        body = {
            "visitorId": "vis_BenchSmokeVisitor000000",
            "sentAt": now,
            "context": {"userAgent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"},
            "events": [{"type": "pageview", "messageId": f"smoke{time.time_ns()}", "url": f"{SITE_ORIGIN}/"}],
        }
        request = urllib.request.Request(
            self.base_url + COLLECT_PATH,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "X-AscendKit-Env-Key": env_key},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, response.read().decode(errors="replace")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(errors="replace")

    def log_tail(self, limit: int = 4000) -> str:
        return _tail(self.log_path, limit)

    def stop(self) -> None:
        """SIGTERM to the master (it stops its workers), SIGKILL to the group if it lingers."""
        process, self.process = self.process, None
        _stop(process)


class CollectWriter:
    """`manage.py collect_writer`: one long-running process that drains the batch table.

    Same settings as gunicorn's (the bench database, COLLECT_QUEUE=true); its stdout
    and stderr go to one log file.
    """

    def __init__(self, *, db_name: str, log_path: Path):
        self.db_name = db_name
        self.log_path = log_path
        self.process: subprocess.Popen | None = None
        self.returncode: int | None = None

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [str(PYTHON), "manage.py", "collect_writer"],
                cwd=ROOT,
                env=django_env(self.db_name, PGAPPNAME=APP_WRITER, **mode_env("queued")),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_settled(self) -> None:
        """Fail loudly, with its output, if the writer exits on start-up."""
        deadline = time.monotonic() + WRITER_SETTLE_SECONDS
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"collect_writer exited ({self.returncode}) on start-up:\n{self.log_tail()}")
            time.sleep(0.1)

    def alive(self) -> bool:
        if self.process is None:
            return False
        code = self.process.poll()
        if code is not None:
            self.returncode = code
            return False
        return True

    def pids(self) -> list[int]:
        if not self.alive():
            return []
        return [self.process.pid, *children(self.process.pid)]

    def log_tail(self, limit: int = 4000) -> str:
        return _tail(self.log_path, limit)

    def stop(self) -> None:
        """SIGTERM (the writer finishes its chunk), SIGKILL to its group if it lingers."""
        process, self.process = self.process, None
        _stop(process)
        if process is not None:
            self.returncode = process.returncode


class Stack:
    """What serves one mode: gunicorn, and for "queued" the collect writer."""

    def __init__(self, *, db_name: str, mode: str, workers: int, workdir: Path, threads: int = 1):
        self.db_name = db_name
        self.mode = mode
        self.server = Gunicorn(
            db_name=db_name, workers=workers, log_path=workdir / f"gunicorn-{mode}.log", mode=mode, threads=threads
        )
        self.writer = (
            CollectWriter(db_name=db_name, log_path=workdir / "collect_writer.log") if mode == "queued" else None
        )

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def start(self, env_key: str) -> None:
        if self.writer:
            self.writer.start()
            self.writer.wait_settled()
        self.server.start()
        self.server.wait_ready(env_key)

    def worker_pids(self) -> list[int]:
        return self.server.worker_pids()

    def writer_pids(self) -> list[int]:
        return self.writer.pids() if self.writer else []

    def log_tails(self, limit: int = 2000) -> dict[str, str]:
        tails = {"gunicorn": self.server.log_tail(limit)}
        if self.writer:
            tails["collect_writer"] = self.writer.log_tail(limit)
        return {name: text for name, text in tails.items() if text}

    def stop(self) -> None:
        self.server.stop()
        if self.writer:
            self.writer.stop()
