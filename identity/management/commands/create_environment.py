import json

from django.core.management.base import BaseCommand

from identity.services import environment_create


class Command(BaseCommand):
    help = "Create an environment (and its organization and project when new) and print its keys."

    def add_arguments(self, parser):
        parser.add_argument("organization")
        parser.add_argument("project")
        parser.add_argument("environment")
        parser.add_argument("--origin", action="append", default=[], help="An allowed origin; repeat for more.")
        parser.add_argument("--waitlist", action="store_true", help="New signups wait for approval.")
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")

    def handle(self, *args, **options):
        created = environment_create(
            organization_name=options["organization"],
            project_name=options["project"],
            environment_name=options["environment"],
            allowed_origins=options["origin"],
            waitlist_enabled=options["waitlist"],
        )
        environment = created.environment
        result = {
            "organization": environment.project.organization.slug,
            "project": environment.project.slug,
            "environment": environment.slug,
            "envKey": environment.env_key,
            "secretKey": created.secret_key,
        }
        if options["json"]:
            self.stdout.write(json.dumps(result))
            return
        for label, value in result.items():
            self.stdout.write(f"{label:>13}: {value}")
        self.stdout.write("The secret key is shown only now; store it safely.")
