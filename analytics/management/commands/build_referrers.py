"""`python manage.py build_referrers [--check]`: rebuild referrers.json from its sources.

The sources are Matomo's lists in `analytics/data/matomo/` and the project's additions in
`analytics/data/referrer_additions.yml`. PyYAML reads them; only this command needs it.
"""

from pathlib import Path

import yaml
from django.core.management.base import BaseCommand, CommandError

from analytics.enrichment.referrer_lists import ReferrerListError, referrer_file_build, referrer_file_render
from analytics.enrichment.sources import REFERRERS_FILE

DATA_DIR = REFERRERS_FILE.parent
MATOMO_DIR = DATA_DIR / "matomo"
ADDITIONS_FILE = DATA_DIR / "referrer_additions.yml"


def _yaml(path: Path) -> dict:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise CommandError(f"{path}: {exc}") from exc


def build_referrers_text() -> str:
    try:
        data = referrer_file_build(
            search_engines=_yaml(MATOMO_DIR / "SearchEngines.yml"),
            socials=_yaml(MATOMO_DIR / "Socials.yml"),
            ai_assistants=_yaml(MATOMO_DIR / "AIAssistants.yml"),
            additions=_yaml(ADDITIONS_FILE),
        )
    except ReferrerListError as exc:
        raise CommandError(str(exc)) from exc
    return referrer_file_render(data)


class Command(BaseCommand):
    help = "Rebuild analytics/data/referrers.json from Matomo's lists and the project's additions."

    def add_arguments(self, parser):
        parser.add_argument(
            "--check", action="store_true", help="Write nothing; fail if referrers.json is not what the sources build."
        )

    def handle(self, *args, check: bool = False, **options):
        text = build_referrers_text()
        if check:
            if REFERRERS_FILE.read_text(encoding="utf-8") != text:
                raise CommandError(f"{REFERRERS_FILE.name} is out of date: run `python manage.py build_referrers`.")
            self.stdout.write(f"{REFERRERS_FILE.name} is up to date.")
            return
        REFERRERS_FILE.write_text(text, encoding="utf-8")
        self.stdout.write(f"Wrote {REFERRERS_FILE.name}.")
