"""`python manage.py webhooks SUBCOMMAND … --env-key env_… [--json]`: endpoints, tests and replays."""

from journeys.management.base import EnvironmentCommand
from journeys.selectors import delivery_as_dict, delivery_log, webhook_endpoint_as_dict, webhook_endpoint_list
from journeys.services.webhooks import (
    delivery_replay,
    webhook_endpoint_create,
    webhook_endpoint_get,
    webhook_endpoint_set_enabled,
    webhook_endpoint_test,
)
from journeys.tasks import webhook_deliver


class Command(EnvironmentCommand):
    help = "Manage webhook endpoints: add one, list them, send a test, replay a delivery, read the delivery log."
    subcommands = {
        "add": "Add an endpoint for URL subscribed to --events; prints its signing secret this once.",
        "list": "List the environment's endpoints.",
        "test": "Send a webhook.test message to endpoint ID now and print how it went.",
        "replay": "Send delivery DELIVERY_ID again, with the same webhook-id.",
        "deliveries": "Show the delivery log of endpoint ID, newest first.",
        "enable": "Enable endpoint ID again, clearing its failure streak.",
        "disable": "Disable endpoint ID.",
    }

    def add_add_arguments(self, parser):
        parser.add_argument("url")
        parser.add_argument(
            "--events",
            required=True,
            help="Comma-separated: exact names, prefixes such as app.*, journey.stage_entered.",
        )
        parser.add_argument("--description", default="")

    def add_test_arguments(self, parser):
        parser.add_argument("id")

    add_enable_arguments = add_disable_arguments = add_test_arguments

    def add_replay_arguments(self, parser):
        parser.add_argument("delivery_id")

    def add_deliveries_arguments(self, parser):
        parser.add_argument("id")
        parser.add_argument("--limit", type=int, default=20)

    def handle_add(self, environment, options):
        endpoint = webhook_endpoint_create(
            environment=environment,
            url=options["url"],
            events=options["events"].split(","),
            description=options["description"],
        )
        self.emit(
            options,
            {"id": endpoint.public_id, "secret": endpoint.secret},
            [
                f"Added {endpoint.public_id} for {endpoint.url} ({', '.join(endpoint.events)}).",
                f"Signing secret: {endpoint.secret}",
                "The secret is shown only now; verify deliveries with it (Standard Webhooks).",
            ],
        )

    def handle_list(self, environment, options):
        endpoints = webhook_endpoint_list(environment=environment)
        data = [webhook_endpoint_as_dict(endpoint) for endpoint in endpoints]
        lines = [
            f"{row['id']} {row['url']} [{', '.join(row['events'])}] "
            + ("enabled" if row["enabled"] else f"disabled: {row['disabledReason']}")
            for row in data
        ] or ["No webhook endpoints yet."]
        self.emit(options, {"endpoints": data}, lines)

    def handle_test(self, environment, options):
        delivery = webhook_endpoint_test(environment=environment, public_id=options["id"])
        data = delivery_as_dict(delivery)
        self.emit(options, data, [self._outcome(data)])

    def handle_replay(self, environment, options):
        delivery = delivery_replay(environment=environment, public_id=options["delivery_id"])
        webhook_deliver.delay(delivery.pk)
        delivery.refresh_from_db()
        data = delivery_as_dict(delivery)
        self.emit(options, data, [self._outcome(data)])

    def handle_deliveries(self, environment, options):
        endpoint = webhook_endpoint_get(environment=environment, public_id=options["id"])
        data = [
            delivery_as_dict(d)
            for d in delivery_log(environment=environment, endpoint=endpoint, limit=options["limit"])
        ]
        self.emit(options, {"deliveries": data}, [self._outcome(row) for row in data] or ["No deliveries yet."])

    def handle_enable(self, environment, options):
        self._print_endpoint(
            webhook_endpoint_set_enabled(environment=environment, public_id=options["id"], enabled=True), options
        )

    def handle_disable(self, environment, options):
        self._print_endpoint(
            webhook_endpoint_set_enabled(environment=environment, public_id=options["id"], enabled=False), options
        )

    def _print_endpoint(self, endpoint, options):
        data = webhook_endpoint_as_dict(endpoint)
        self.emit(options, data, [f"{data['id']} {data['url']}: {'enabled' if data['enabled'] else 'disabled'}"])

    @staticmethod
    def _outcome(row: dict) -> str:
        answer = (
            f"HTTP {row['responseStatus']}" if row["responseStatus"] is not None else (row["error"] or "not sent yet")
        )
        return f"{row['id']} {row['type']}: {row['status']} after {row['attempts']} attempt(s), {answer}"
