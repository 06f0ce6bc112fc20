"""`python manage.py collect_writer [--once]`: writes queued collect batches.

Runs beside gunicorn in queued mode (COLLECT_QUEUE=true): requests store their
validated batches in one row each and answer at once; this process writes them
hundreds at a time. Several can run side by side (batches are claimed with SKIP
LOCKED). It stops cleanly on SIGTERM or SIGINT, after the chunk in hand.
"""

import signal
import threading

from django.core.management.base import BaseCommand
from django.db import OperationalError, close_old_connections

from analytics.services.collect import collect_queue_drain


class Command(BaseCommand):
    help = "Write queued collect batches, hundreds per transaction, until stopped."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Write what is queued now, then exit.")
        parser.add_argument("--chunk", type=int, default=500, help="Batches per transaction (default 500).")
        parser.add_argument(
            "--idle-seconds", type=float, default=0.2, help="Pause when the queue is empty (default 0.2)."
        )

    def handle(self, *args, once=False, chunk=500, idle_seconds=0.2, **options):
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        written = 0
        while not stop.is_set():
            close_old_connections()
            try:
                taken = collect_queue_drain(limit=chunk)
            except OperationalError:
                if once:
                    raise
                # The database went away: wait and try again; queued batches are safe.
                close_old_connections()
                stop.wait(max(idle_seconds, 1.0))
                continue
            written += taken
            if once and taken == 0:
                break
            if taken < chunk:
                stop.wait(idle_seconds)
        self.stdout.write(f"Wrote {written} queued batch(es).")
