"""The onboarding story through the HTTP API and a real Celery worker, as production runs it.

The journey and the webhook are defined with the CLI; the worker (on the Redis
broker) dispatches the outbox, moves the user and sends the deliveries to a
receiver on loopback, which checks every signature with `standardwebhooks`.
"""

import io
import json

import pytest
from django.core.management import call_command

from analytics.tests.test_real_worker import wait_until, worker  # noqa: F401  (a fixture)

from .helpers import PASSWORD

pytestmark = [pytest.mark.real_worker, pytest.mark.django_db(transaction=True)]


def cli(*args, env_key):
    out = io.StringIO()
    call_command(*args, "--env-key", env_key, "--json", stdout=out)
    return json.loads(out.getvalue())


def test_signup_enters_the_journey_onboarding_advances_it_and_every_delivery_is_signed(
    api,
    tenant,
    receiver,
    worker,  # noqa: F811
):
    cli("journeys", "create", "onboarding", "--entry", "signed_up", "--on", "user.created", env_key=tenant.env_key)
    cli(
        "journeys", "add-transition", "onboarding", "--from", "signed_up", "--to", "onboarded",
        "--on", "app.completed_onboarding", env_key=tenant.env_key,
    )  # fmt: skip
    secret = cli(
        "webhooks", "add", receiver.url, "--events", "user.created,app.*,journey.stage_entered", env_key=tenant.env_key
    )["secret"]

    response = api.post_json(
        "/v1/auth/signup", {"email": "ada@example.com", "password": PASSWORD}, HTTP_X_ASCENDKIT_ENV_KEY=tenant.env_key
    )
    assert response.status_code == 201
    user_id = response.json()["user"]["id"]
    assert wait_until(lambda: len(receiver.received) >= 2), "the signup's deliveries did not arrive"

    def users_per_stage():
        shown = cli("journeys", "show", "onboarding", env_key=tenant.env_key)
        return {stage["name"]: stage["users"] for stage in shown["stages"]}

    assert users_per_stage() == {"signed_up": 1, "onboarded": 0}

    response = api.post_json(
        "/v1/events",
        {"events": [{"userId": user_id, "name": "app.completed_onboarding", "messageId": "onboarded-ada"}]},
        HTTP_AUTHORIZATION=f"Bearer {tenant.secret_key}",
    )
    assert response.status_code == 202
    assert wait_until(lambda: len(receiver.received) >= 4), "the onboarding's deliveries did not arrive"

    assert users_per_stage() == {"signed_up": 0, "onboarded": 1}
    bodies = receiver.verified(secret)  # raises unless every signature is right
    assert sorted(body["type"] for body in bodies) == sorted(
        ["user.created", "journey.stage_entered", "app.completed_onboarding", "journey.stage_entered"]
    )
    moves = {
        (body["data"]["fromStage"], body["data"]["stage"]) for body in bodies if body["type"] == "journey.stage_entered"
    }
    assert moves == {(None, "signed_up"), ("signed_up", "onboarded")}
    assert len({item.headers["webhook-id"] for item in receiver.received}) == 4
