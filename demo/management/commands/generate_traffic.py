"""`generate_traffic`: realistic, deterministic demo and benchmark traffic (SPEC 9).

Plans visitors with `demo.traffic.model` and stores them through the ingestion
services (`demo.traffic.ingest`). The last line printed is a JSON object of what
was stored: a second run with the same seed stores nothing new (every item keeps
its messageId, and emails are taken).
"""

import json
import logging
import multiprocessing
import sys
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, connections
from django.utils import timezone

from analytics.models import Attribution, Event, OutboxEntry, Pageview, Session, Visitor
from demo.traffic.ingest import browser_traffic_write, business_events_write, chunk_written, signups_record
from demo.traffic.model import TrafficModel
from identity.models import EndUser, Environment

# Visitors planned and written together: the writer's cost per chunk is a dozen
# statements whatever its size, so bigger chunks mean fewer round trips (2,000
# visitors are about 7,000 pageviews).
CHUNK_VISITORS = 2_000


class Command(BaseCommand):
    help = "Make realistic visitors, sessions, pageviews, events and signups through the ingestion code."

    def add_arguments(self, parser):
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("--env-key", help="The environment's env key (env_…).")
        target.add_argument("--environment", help="Or its slugs: <organization>/<project>/<environment>.")
        parser.add_argument("--visitors", type=int, default=1000)
        parser.add_argument("--days", type=int, default=30)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument(
            "--workers",
            type=int,
            default=1,
            help="Processes writing side by side (PostgreSQL only); each takes every n-th chunk of visitors.",
        )
        parser.add_argument(
            "--dispatch",
            action="store_true",
            help="Hand the generated users' events to journeys and webhooks (by default they are history: settled).",
        )
        parser.add_argument(
            "--if-empty", action="store_true", help="Do nothing when the environment already has pageviews."
        )

    def handle(self, *args, **options):
        environment = self._environment(options)
        visitors, days, seed = options["visitors"], options["days"], options["seed"]
        if visitors < 1 or not 1 <= days <= 365:
            raise CommandError("--visitors must be at least 1 and --days from 1 to 365.")
        if options["if_empty"] and Pageview.objects.filter(environment=environment).exists():
            self.stdout.write(json.dumps(dict.fromkeys(COUNTED, 0)))
            return
        workers = options["workers"]
        if workers < 1 or (workers > 1 and connection.vendor != "postgresql"):
            raise CommandError("--workers above 1 needs PostgreSQL.")
        before = _counts(environment)
        now = timezone.now()
        job = (environment.pk, visitors, days, seed, now, workers, options["verbosity"], options["dispatch"])
        if workers == 1:
            _write_chunks(job, 0)
        else:
            # Forked children must not share the parent's database connection.
            connections.close_all()
            with multiprocessing.get_context("fork").Pool(workers) as pool:
                pool.starmap(_write_chunks, [(job, worker) for worker in range(workers)])
        _analyze()
        after = _counts(environment)
        self.stdout.write(json.dumps({name: after[name] - before[name] for name in COUNTED}))

    def _environment(self, options) -> Environment:
        if options["env_key"]:
            environment = Environment.objects.filter(env_key=options["env_key"]).first()
        else:
            parts = options["environment"].split("/")
            environment = None
            if len(parts) == 3:
                environment = Environment.objects.filter(
                    project__organization__slug=parts[0], project__slug=parts[1], slug=parts[2]
                ).first()
        if environment is None:
            raise CommandError("No such environment.")
        return environment


def _write_chunks(job, worker: int) -> None:
    """Plan and store every `workers`-th chunk of visitors, starting at chunk `worker`."""
    environment_id, visitors, days, seed, now, workers, verbosity, dispatch = job
    _quiet_and_fast()
    environment = Environment.objects.get(pk=environment_id)
    model = TrafficModel(seed=seed, days=days, now=now)
    started = time.monotonic()
    chunks = range(worker * CHUNK_VISITORS, visitors, workers * CHUNK_VISITORS)
    for number, start in enumerate(chunks, start=1):
        planned = [model.visitor(index) for index in range(start, min(visitors, start + CHUNK_VISITORS))]
        with chunk_written(environment=environment, dispatch=dispatch) as chunk:
            browser_traffic_write(environment=environment, visitors=planned, seed=seed)
            _signups(chunk, planned, now)
        if _analyze_due(worker, number):
            _analyze()
        if verbosity > 1 or number % 20 == 0:
            done = min(visitors, start + CHUNK_VISITORS)
            sys.stderr.write(f"worker {worker}: up to visitor {done} in {time.monotonic() - started:.0f} s\n")


def _signups(chunk, planned, now) -> None:
    wanting = [visitor for visitor in planned if visitor.signup is not None and visitor.sessions]
    events = [
        {
            "name": event.name,
            "userId": user.public_id,
            "messageId": f"b{visitor.index}x{number}u{user.pk}",
            "timestamp": event.at.isoformat(),
            "properties": event.properties,
        }
        for visitor, user in signups_record(chunk=chunk, visitors=wanting)
        for number, event in enumerate(visitor.business_events)
    ]
    business_events_write(environment=chunk.environment, events=events, received_at=now)


def _analyze_due(worker: int, number: int) -> bool:
    """After the first worker's chunks 1, 2, 4, 8, …: the tables are shared, so one worker's
    refresh serves all, and statistics a doubling behind still describe a table's shape
    (an ANALYZE of 1,000,000 pageviews takes about two seconds)."""
    return worker == 0 and number & (number - 1) == 0


def _analyze() -> None:
    # Autovacuum may be off or behind: fresh statistics keep the planner on the indexes
    # while the tables grow from nothing to millions of rows. Not inside a caller's
    # transaction (a test's): the row estimates it leaves would outlive the rollback.
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        with connection.cursor() as cursor:
            for model in (Visitor, Session, Pageview, Event, EndUser, Attribution, OutboxEntry):
                cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


COUNTED = ("visitors", "sessions", "pageviews", "events", "signups")


def _counts(environment: Environment) -> dict:
    return {
        "visitors": Visitor.objects.filter(environment=environment).count(),
        "sessions": Session.objects.filter(environment=environment).count(),
        "pageviews": Pageview.objects.filter(environment=environment).count(),
        "events": Event.objects.filter(environment=environment).count(),
        "signups": EndUser.objects.filter(environment=environment).count(),
    }


def _quiet_and_fast() -> None:
    # In-process tasks log a line each; thousands of them would bury the result.
    logging.getLogger("celery").setLevel(logging.WARNING)
    if connection.vendor == "postgresql":
        # Generated data can be made again: do not wait for a disk flush per commit.
        with connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit TO OFF")
