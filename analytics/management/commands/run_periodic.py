"""`python manage.py run_periodic [--once]`: Celery beat's job for the embedded default.

With no Redis there is no broker for beat to send to, so this runs the entries of
`CELERY_BEAT_SCHEDULE` in this process when each is due, judged by the entry's own
Celery schedule object, exactly as beat would. Every entry runs once at start-up.
Production runs `celery beat` and a worker instead.
"""

import logging
import signal
import threading
from dataclasses import dataclass
from datetime import datetime

from celery import Celery
from celery.schedules import BaseSchedule, maybe_schedule
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections

from ascendkit_site.celery import app as celery_app

logger = logging.getLogger("analytics.periodic")

# Re-read the clock at least this often, so a wall-clock jump (suspend, NTP) is
# noticed as beat's `max_interval` does.
MAX_SLEEP_SECONDS = 60.0


@dataclass
class PeriodicEntry:
    name: str
    task_name: str
    schedule: BaseSchedule
    args: tuple = ()
    kwargs: dict | None = None
    last_run_at: datetime | None = None
    warned_missing: bool = False


class PeriodicRunner:
    """Runs beat-schedule entries in-process: every entry at start, then each when due."""

    def __init__(self, *, app: Celery, beat_schedule: dict, stop: threading.Event | None = None):
        self.app = app
        self.stop = stop or threading.Event()
        self.entries = [
            PeriodicEntry(
                name=name,
                task_name=spec["task"],
                schedule=maybe_schedule(spec["schedule"], spec.get("relative", False), app=app),
                args=tuple(spec.get("args", ())),
                kwargs=dict(spec.get("kwargs") or {}),
            )
            for name, spec in beat_schedule.items()
        ]
        # Import every installed app's `tasks` module, as a worker does on start-up
        # (without the worker's second `django.setup()` and system checks).
        app.autodiscover_tasks(force=True)

    def run_all(self) -> None:
        for entry in self.entries:
            if self.stop.is_set():
                return
            self._run(entry)

    def run_due(self) -> float:
        """Run the entries that are due; return the seconds until one is next due."""
        wait = MAX_SLEEP_SECONDS
        for entry in self.entries:
            if self.stop.is_set():
                return 0.0
            if entry.last_run_at is None:
                self._run(entry)
            is_due, next_check = entry.schedule.is_due(entry.last_run_at)
            if is_due:
                self._run(entry)
                _, next_check = entry.schedule.is_due(entry.last_run_at)
            wait = min(wait, max(float(next_check), 0.0))
        return wait

    def _run(self, entry: PeriodicEntry) -> None:
        entry.last_run_at = self.app.now()
        task = self.app.tasks.get(entry.task_name)
        if task is None:
            # A task not written (or not installed) yet must not stop the others.
            log = logger.debug if entry.warned_missing else logger.warning
            log("Periodic entry %s: task %s is not registered; skipped.", entry.name, entry.task_name)
            entry.warned_missing = True
            return
        # A long-lived process: drop connections that went stale between runs, as
        # Django does around each request and Celery around each task.
        close_old_connections()
        try:
            result = task.apply(args=entry.args, kwargs=entry.kwargs, throw=False)
            if result.failed():
                logger.error("Periodic entry %s (%s) failed:\n%s", entry.name, entry.task_name, result.traceback)
            else:
                logger.debug("Periodic entry %s (%s) done: %r", entry.name, entry.task_name, result.result)
        except Exception:
            logger.exception("Periodic entry %s (%s) could not run.", entry.name, entry.task_name)
        finally:
            close_old_connections()


class Command(BaseCommand):
    help = "Run the Celery beat schedule in this process (the embedded default has no broker)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Run every entry once and exit.")

    def handle(self, *args, once: bool, **options):
        stop = threading.Event()
        runner = PeriodicRunner(app=celery_app, beat_schedule=settings.CELERY_BEAT_SCHEDULE, stop=stop)
        if once:
            runner.run_all()
            return

        def request_stop(signum, frame):
            stop.set()

        previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.stdout.write(f"Running {len(runner.entries)} periodic task(s) in-process; stop with Ctrl-C.")
            runner.run_all()
            while not stop.is_set():
                # A signal sets the event, which ends the wait at once; a task that is
                # running when it comes is let finish rather than cut off mid-batch.
                stop.wait(runner.run_due())
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        self.stdout.write("Periodic tasks stopped.")
