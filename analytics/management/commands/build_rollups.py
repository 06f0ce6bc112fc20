"""`python manage.py build_rollups (--env-key env_… | --all) [--refresh]`: the report rollups on demand.

Without `--refresh` the environment's rollups are rebuilt from scratch: after
loading data around the writers (a bench, an import) or to pick up a new time zone
at once. `--refresh` recomputes only the marked days, as the periodic task does.
"""

import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from analytics.stats.rollups import rollup_environment_rebuild, rollups_refresh
from identity.models import Environment


class Command(BaseCommand):
    help = "Rebuild an environment's report rollups (PostgreSQL), or refresh every environment's changed days."

    def add_arguments(self, parser):
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("--env-key", help="The environment's env key (env_…).")
        target.add_argument("--all", action="store_true", help="Every environment.")
        target.add_argument("--refresh", action="store_true", help="Only the changed days, of every environment.")

    def handle(self, *args, env_key: str | None, all: bool, refresh: bool, **options):
        if connection.vendor != "postgresql":
            raise CommandError("Report rollups are kept on PostgreSQL only; on SQLite reports read the raw rows.")
        started = time.perf_counter()
        if refresh:
            refreshed = rollups_refresh()
            self.stdout.write(f"Refreshed {len(refreshed)} environment(s) in {time.perf_counter() - started:.1f} s.")
            return
        environments = Environment.objects.order_by("pk")
        if env_key:
            environments = environments.filter(env_key=env_key)
            if not environments.exists():
                raise CommandError("No such environment.")
        for environment in environments:
            began = time.perf_counter()
            rollup_environment_rebuild(environment=environment)
            self.stdout.write(f"Built {environment} in {time.perf_counter() - began:.1f} s.")
