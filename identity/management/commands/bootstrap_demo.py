"""`make run`'s first step after migrate: a demo environment and a login, made once.

A password and a secret key exist in plain text only at the moment they are made,
so they are printed on the run that makes them and never again; later runs print
the URLs and the env key, and say how to get a new password or secret key.
"""

import json
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from ascendkit_site import ids
from identity.models import Environment, Membership
from identity.selectors import DEMO_ENVIRONMENT, DEMO_ORGANIZATION, DEMO_PROJECT, demo_environment_get
from identity.services import environment_create, member_add

ORGANIZATION = DEMO_ORGANIZATION
PROJECT = DEMO_PROJECT
ENVIRONMENT = DEMO_ENVIRONMENT
ADMIN_EMAIL = "admin@example.com"
DEMO_USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


class Command(BaseCommand):
    help = "Create a demo environment and a portal superuser when there are none yet; print how to use them."

    def add_arguments(self, parser):
        parser.add_argument(
            "--base-url", default="http://127.0.0.1:8000", help="Where the server answers (for the printed URLs)."
        )

    def handle(self, *args, **options):
        base_url = options["base_url"].rstrip("/")
        with transaction.atomic():
            secret_key = None
            if not Environment.objects.exists():
                secret_key = environment_create(
                    organization_name=ORGANIZATION, project_name=PROJECT, environment_name=ENVIRONMENT
                ).secret_key
            password = None
            if not get_user_model().objects.filter(is_superuser=True).exists():
                password = self._make_superuser()
        # Printed after the commit: a secret shown for a rolled-back row would be useless.
        environment = demo_environment_get()
        self._print(base_url=base_url, environment=environment, secret_key=secret_key, password=password)

    def _make_superuser(self) -> str:
        password = secrets.token_urlsafe(12)
        user = member_add(
            organization_name=ORGANIZATION, email=ADMIN_EMAIL, role=Membership.Role.OWNER, password=password
        ).user
        user.is_staff = True
        user.is_superuser = True
        user.save(update_fields=["is_staff", "is_superuser"])
        return password

    def _print(self, *, base_url, environment, secret_key, password):
        write = self.stdout.write
        write("")
        write("AscendKit Analytics")
        write(f"  Portal:      {base_url}/portal/")
        if password:
            write(f"  Login:       {ADMIN_EMAIL} / {password}   (shown once)")
        else:
            write(f"  Login:       {ADMIN_EMAIL} (the password was printed when it was made)")
        write(f"  Admin:       {base_url}/admin/")
        write(f"  API docs:    {base_url}/v1/docs")
        if settings.DEMO_SITE:
            write(f"  Demo site:   {base_url}/demo/   (the script tag at work; sends to the environment below)")
        if environment is not None:
            project = environment.project
            write(f"  Environment: {project.organization.name} / {project.name} / {environment.name}")
            write(f"  Env key:     {environment.env_key}   (public, for browsers)")
            if secret_key:
                write(f"  Secret key:  {secret_key}   (shown once: store it now; servers only)")
            else:
                write(f"  Secret key:  {environment.secret_key_hint}…   (printed when it was made)")
            write("")
            write("Send a pageview:")
            write("  " + self._curl_example(base_url=base_url, env_key=environment.env_key))
        if not (password and secret_key):
            write("")
            write("Lost the password or the secret key? They are stored only as hashes:")
            write("  new password:   python manage.py changepassword " + ADMIN_EMAIL)
            write("  new secret key: Admin > Environments > select it > action 'Rotate secret key'")
        write("")

    @staticmethod
    def _curl_example(*, base_url: str, env_key: str) -> str:
        # A fresh messageId per run: sending the same line twice shows the dedupe (duplicates: 1).
        # A browser's user agent in the body: curl's own would be dropped as a bot's.
        body = {
            "context": {"userAgent": DEMO_USER_AGENT},
            "events": [
                {
                    "type": "pageview",
                    "messageId": "demo-" + ids.random_base62(12),
                    "url": "https://example.com/pricing?utm_source=newsletter",
                    "title": "Pricing",
                }
            ],
        }
        return (
            f"curl -sS -X POST {base_url}/v1/analytics/collect "
            f"-H 'Content-Type: application/json' -H 'X-AscendKit-Env-Key: {env_key}' "
            f"-d '{json.dumps(body, separators=(',', ':'))}'"
        )
