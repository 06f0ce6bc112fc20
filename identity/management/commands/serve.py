"""`make run`'s server: gunicorn, plus what must run beside it on one machine.

On the embedded default (no REDIS_URL) tasks run in-process and no beat is running,
so the daily anonymous purge and the other periodic work run in a `run_periodic`
child beside gunicorn. With REDIS_URL set, production runs a Celery worker and beat
as their own services. In queued collect mode (COLLECT_QUEUE) a `collect_writer`
child writes the queued batches.
"""

import argparse
import ipaddress
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

MANAGE_PY = Path(settings.BASE_DIR) / "manage.py"
STOP_TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class ServeCommands:
    server: list[str]
    periodic: list[str] | None  # None: a Celery beat elsewhere runs the schedule
    writer: list[str] | None = None  # the collect writer, in queued collect mode

    def background(self) -> list[tuple[str, list[str]]]:
        named = [("The periodic tasks process", self.periodic), ("The collect writer", self.writer)]
        return [(name, command) for name, command in named if command]


def bind_address(host: str, port: int) -> str:
    # An IPv6 literal needs brackets to keep its colons apart from the port's.
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{host}:{port}"


def is_loopback(host: str) -> bool:
    if host.strip("[]") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


SLOW_CLIENT_WARNING = (
    "gunicorn is bound to {host}, beyond this machine: it reads request bodies in its own threads, so slow "
    "clients can hold them all. In production, bind it to 127.0.0.1 and put nginx in front (deploy/nginx.conf)."
)


def build_commands(
    *, host: str, port: int, workers: int, redis_url: str, collect_queue: bool = False, threads: int = 4
) -> ServeCommands:
    """The processes to start; kept apart from starting them so it can be tested."""
    server = [
        sys.executable,
        "-m",
        "gunicorn",
        "ascendkit_site.wsgi:application",
        "--bind",
        bind_address(host, port),
        "--workers",
        str(workers),
        # As the README's production runs it: threads, behind nginx.
        "--threads",
        str(threads),
        "--timeout",
        "30",
        # No --access-logfile: gunicorn's access log would record every client address.
    ]
    periodic = None if redis_url else [sys.executable, str(MANAGE_PY), "run_periodic"]
    writer = [sys.executable, str(MANAGE_PY), "collect_writer"] if collect_queue else None
    return ServeCommands(server=server, periodic=periodic, writer=writer)


def _port(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= 65535:
        raise argparse.ArgumentTypeError(f"{value!r} is not a TCP port (1-65535)")
    return int(value)


def _workers(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of workers (1 or more)")
    return int(value)


class Command(BaseCommand):
    help = "Serve the project with gunicorn; without REDIS_URL, also run the periodic tasks in a child process."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=_port, default=8000)
        parser.add_argument("--workers", type=_workers, default=2)
        parser.add_argument("--threads", type=_workers, default=4)

    def handle(self, *args, **options):
        commands = build_commands(
            host=options["host"],
            port=options["port"],
            workers=options["workers"],
            threads=options["threads"],
            redis_url=settings.REDIS_URL,
            collect_queue=settings.COLLECT_QUEUE,
        )
        if not is_loopback(options["host"]):
            self.stderr.write(SLOW_CLIENT_WARNING.format(host=options["host"]))
        if commands.periodic is None:
            self.stdout.write(
                "REDIS_URL is set: run `celery -A ascendkit_site worker` and `celery -A ascendkit_site beat` "
                "as their own services; this serves HTTP only."
            )
        else:
            self.stdout.write("Embedded default: tasks run in-process; periodic tasks run beside the server.")
        returncode = run_until_server_exits(commands, log=self.stderr.write)
        if returncode:
            raise CommandError(f"gunicorn exited with status {returncode}.", returncode=returncode)


def run_until_server_exits(commands: ServeCommands, *, log) -> int:
    """Start the processes, forward SIGINT/SIGTERM to them, stop the others when the server ends."""
    background = []
    try:
        for name, command in commands.background():
            background.append((name, subprocess.Popen(command)))
        server = subprocess.Popen(commands.server)
    except OSError:
        for _, process in background:
            _stop(process)
        raise
    children = [server] + [process for _, process in background]
    stopping = False

    def forward(signum, frame):
        nonlocal stopping
        stopping = True
        # Ctrl-C in a terminal reaches the whole process group anyway; a SIGTERM from
        # a supervisor reaches only this process, so it is passed on.
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    previous = {signum: signal.signal(signum, forward) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        reported = set()
        while (returncode := server.poll()) is None:
            for name, process in background:
                if name not in reported and not stopping and process.poll() is not None:
                    # Serving goes on; only that process's work stops.
                    log(f"{name} exited with status {process.returncode}; its work is stopped.")
                    reported.add(name)
            time.sleep(0.5)
        return returncode
    finally:
        for _, process in background:
            _stop(process)
        if server.poll() is None:
            _stop(server)
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _stop(process: subprocess.Popen | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
