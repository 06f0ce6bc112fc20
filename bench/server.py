"""gunicorn, two sync workers, the way production serves the API."""

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from .config import COLLECT_PATH, GUNICORN, ROOT, SITE_ORIGIN, django_env
from .cpu import children

READY_TIMEOUT_SECONDS = 45
STOP_TIMEOUT_SECONDS = 15


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Gunicorn:
    def __init__(self, *, db_name: str, workers: int, log_path: Path):
        self.db_name = db_name
        self.workers = workers
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
        # No --access-logfile: gunicorn writes no access log unless told to.
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=django_env(self.db_name),
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
        try:
            return self.log_path.read_text(errors="replace")[-limit:]
        except OSError:
            return ""

    def stop(self) -> None:
        """SIGTERM to the master (it stops its workers), SIGKILL to the group if it lingers."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
