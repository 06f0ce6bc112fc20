"""`python manage.py purge_anonymous [--dry-run] [--older-than DAYS]`: the retention purge on demand."""

from argparse import ArgumentTypeError

from django.core.management.base import BaseCommand, CommandError

from analytics.services.deletion import DEFAULT_BATCH_SIZE, visitors_purge_anonymous


def _days(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise ArgumentTypeError(f"DAYS must be a whole number, 0 or more, not {value!r}.")
    return number


class Command(BaseCommand):
    help = (
        "Delete never-linked visitors idle for longer than their environment's retention, "
        "with their sessions, pageviews, events and attribution."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Count what would be removed; delete nothing.")
        parser.add_argument(
            "--older-than",
            type=_days,
            metavar="DAYS",
            dest="older_than",
            help="Use this idle time instead of every environment's retention for this run.",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=DEFAULT_BATCH_SIZE,
            help=f"Rows per delete statement (default {DEFAULT_BATCH_SIZE}).",
        )

    def handle(self, *args, dry_run: bool, older_than: int | None, batch_size: int, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        result = visitors_purge_anonymous(older_than_days=older_than, dry_run=dry_run, batch_size=batch_size)
        verb = "Would remove" if dry_run else "Removed"
        self.stdout.write(
            f"{verb} {result.visitors} anonymous visitor(s): {result.sessions} session(s), "
            f"{result.pageviews} pageview(s), {result.events} event(s), {result.attributions} attribution(s)."
        )
