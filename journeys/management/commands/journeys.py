"""`python manage.py journeys SUBCOMMAND … --env-key env_… [--json]`: define journeys and read their counts."""

from journeys.management.base import EnvironmentCommand
from journeys.models import Journey
from journeys.selectors import journey_list, journey_report
from journeys.services.definitions import journey_create, journey_get, journey_set_enabled, journey_transition_add


class Command(EnvironmentCommand):
    help = "Define journeys (stages and the transitions events fire) and show how many users are where."
    subcommands = {
        "create": "Create a journey users enter at STAGE on EVENT, optionally only when a first-touch condition holds.",
        "add-transition": "Add a transition FROM → TO on EVENT, making either stage when it is new.",
        "list": "List the environment's journeys.",
        "show": "Show a journey's stages with their users, and its transitions with their conversion.",
        "enable": "Enable a journey.",
        "disable": "Disable a journey: it neither enters nor advances anyone.",
    }

    def add_create_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--entry", required=True, metavar="STAGE", help="The stage users enter at.")
        parser.add_argument(
            "--on", required=True, metavar="EVENT", help="The event that enters them, e.g. user.created."
        )
        parser.add_argument("--when", default="", metavar="CONDITION", help="e.g. 'utm_campaign==spring'.")

    def add_add_transition_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--from", dest="from_stage", required=True, metavar="STAGE")
        parser.add_argument("--to", dest="to_stage", required=True, metavar="STAGE")
        parser.add_argument("--on", required=True, metavar="EVENT")

    def add_show_arguments(self, parser):
        parser.add_argument("name")

    def add_enable_arguments(self, parser):
        parser.add_argument("name")

    add_disable_arguments = add_enable_arguments

    def handle_create(self, environment, options):
        journey = journey_create(
            environment=environment,
            name=options["name"],
            entry_stage=options["entry"],
            entry_event=options["on"],
            condition=options["when"],
        )
        self._print_report(journey, options)

    def handle_add_transition(self, environment, options):
        journey_transition_add(
            environment=environment,
            name=options["name"],
            from_stage=options["from_stage"],
            to_stage=options["to_stage"],
            event_name=options["on"],
        )
        self._print_report(journey_get(environment=environment, name=options["name"]), options)

    def handle_list(self, environment, options):
        journeys = journey_list(environment=environment)
        data = [
            {
                "name": journey.name,
                "entryStage": journey.entry_stage.name if journey.entry_stage else None,
                "entryEvent": journey.entry_event,
                "condition": journey.condition or None,
                "enabled": journey.enabled,
                "users": journey.users,
            }
            for journey in journeys
        ]
        lines = [
            f"{row['name']}: enters at {row['entryStage']} on {row['entryEvent']}"
            + (f" when {row['condition']}" if row["condition"] else "")
            + f"; {row['users']} users"
            + ("" if row["enabled"] else " (disabled)")
            for row in data
        ] or ["No journeys yet."]
        self.emit(options, {"journeys": data}, lines)

    def handle_show(self, environment, options):
        self._print_report(journey_get(environment=environment, name=options["name"]), options)

    def handle_enable(self, environment, options):
        self._print_report(journey_set_enabled(environment=environment, name=options["name"], enabled=True), options)

    def handle_disable(self, environment, options):
        self._print_report(journey_set_enabled(environment=environment, name=options["name"], enabled=False), options)

    def _print_report(self, journey: Journey, options):
        report = journey_report(journey=journey)
        data = report.as_dict()
        lines = [
            f"{journey.name}{'' if journey.enabled else ' (disabled)'}: enters at {data['entryStage']} "
            f"on {journey.entry_event}" + (f" when {journey.condition}" if journey.condition else ""),
            "stages:",
            *(f"  {stage['name']}: {stage['users']} users now, {stage['reached']} reached" for stage in data["stages"]),
            "transitions:",
            *(
                f"  {t['from']} -> {t['to']} on {t['on']}: {t['moved']} moved ({t['conversionRate']}%)"
                for t in data["transitions"]
            ),
        ]
        self.emit(options, data, lines)
