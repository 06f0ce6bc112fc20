"""What the `journeys` and `webhooks` commands share: subcommands, `--env-key`, `--json`, errors."""

import json

from django.core.management.base import BaseCommand, CommandError

from ascendkit_site.errors import ApplicationError
from identity.selectors import environment_for_env_key


class EnvironmentCommand(BaseCommand):
    """A command of subcommands, each naming its environment with `--env-key` and printing with `--json`.

    Subclasses list `subcommands` as {name: help} and implement `add_<name>_arguments`
    (optional) and `handle_<name>`, where dashes in the name become underscores.
    """

    subcommands: dict[str, str] = {}

    def add_arguments(self, parser):
        subparsers = parser.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
        for name, help_text in self.subcommands.items():
            subparser = subparsers.add_parser(name, help=help_text, description=help_text)
            subparser.add_argument("--env-key", required=True, help="The environment's env key, env_…")
            subparser.add_argument("--json", action="store_true", help="Print one JSON object.")
            add = getattr(self, f"add_{name.replace('-', '_')}_arguments", None)
            if add is not None:
                add(subparser)

    def handle(self, *args, **options):
        environment = environment_for_env_key(env_key=options["env_key"])
        if environment is None:
            raise CommandError("No environment has this env key.")
        handler = getattr(self, f"handle_{options['subcommand'].replace('-', '_')}")
        try:
            handler(environment, options)
        except ApplicationError as error:
            # A refused target, an unknown name, …: a non-zero exit with the reason.
            raise CommandError(error.message) from None

    def emit(self, options, data: dict | list, lines: list[str]) -> None:
        if options["json"]:
            self.stdout.write(json.dumps(data))
        else:
            for line in lines:
                self.stdout.write(line)
