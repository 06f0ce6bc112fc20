"""The `journeys` and `webhooks` commands, as the README has a new user run them."""

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from journeys.models import Delivery, Journey, WebhookEndpoint

from .helpers import committed, signup, track

pytestmark = pytest.mark.django_db


def run(*args, env_key, as_json=True):
    out = io.StringIO()
    with committed():
        call_command(*args, "--env-key", env_key, *(["--json"] if as_json else []), stdout=out)
    return json.loads(out.getvalue()) if as_json else out.getvalue()


def test_a_new_user_defines_the_onboarding_journey_and_sees_the_counts_move(api, tenant):
    created = run(
        "journeys", "create", "onboarding", "--entry", "signed_up", "--on", "user.created", env_key=tenant.env_key
    )
    assert created["stages"] == [{"name": "signed_up", "users": 0, "reached": 0}]
    run(
        "journeys", "add-transition", "onboarding", "--from", "signed_up", "--to", "onboarded",
        "--on", "app.completed_onboarding", env_key=tenant.env_key,
    )  # fmt: skip
    ada = signup(api, tenant, "ada@example.com")
    signup(api, tenant, "grace@example.com")
    track(api, tenant, ada, "app.completed_onboarding")

    shown = run("journeys", "show", "onboarding", env_key=tenant.env_key)

    assert shown["name"] == "onboarding"
    assert [(stage["name"], stage["users"]) for stage in shown["stages"]] == [("signed_up", 1), ("onboarded", 1)]
    assert shown["transitions"] == [
        {"from": "signed_up", "to": "onboarded", "on": "app.completed_onboarding", "moved": 1, "conversionRate": 50.0}
    ]
    listed = run("journeys", "list", env_key=tenant.env_key)
    assert listed["journeys"] == [
        {
            "name": "onboarding",
            "entryStage": "signed_up",
            "entryEvent": "user.created",
            "condition": None,
            "enabled": True,
            "users": 2,
        }
    ]
    text = run("journeys", "show", "onboarding", env_key=tenant.env_key, as_json=False)
    assert "onboarded: 1 users now" in text and "(50.0%)" in text


def test_a_journey_with_a_condition_and_its_enable_and_disable(tenant):
    created = run(
        "journeys", "create", "spring", "--entry", "in", "--on", "user.created", "--when", "utm_campaign==spring",
        env_key=tenant.env_key,
    )  # fmt: skip
    assert created["condition"] == "campaign==spring"
    assert run("journeys", "disable", "spring", env_key=tenant.env_key)["enabled"] is False
    assert Journey.objects.get().enabled is False
    assert run("journeys", "enable", "spring", env_key=tenant.env_key)["enabled"] is True


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("journeys", "show", "nothing"), "There is no journey named 'nothing'"),
        (("journeys", "create", "x", "--entry", "a", "--on", "clicked"), "'clicked' is not an event name"),
        (("journeys", "create", "x", "--entry", "a", "--on", "user.created", "--when", "country==DE"), "unknown"),
        (("webhooks", "test", "ep_nothing"), "There is no webhook endpoint"),
        (("webhooks", "replay", "msg_nothing"), "There is no delivery"),
    ],
)
def test_a_bad_request_is_a_clear_error(tenant, args, message):
    with pytest.raises(CommandError, match=message):
        run(*args, env_key=tenant.env_key)


def test_an_unknown_env_key_is_refused(tenant):
    with pytest.raises(CommandError, match="No environment has this env key"):
        run("journeys", "list", env_key="env_unknownunknownunknown00")


def test_a_webhook_is_added_with_its_secret_shown_once_and_receives_deliveries(api, tenant, receiver):
    added = run("webhooks", "add", receiver.url, "--events", "app.*,journey.stage_entered", env_key=tenant.env_key)

    assert set(added) == {"id", "secret"} and added["secret"].startswith("whsec_")
    listed = run("webhooks", "list", env_key=tenant.env_key)["endpoints"]
    assert [(row["id"], row["events"], row["enabled"]) for row in listed] == [
        (added["id"], ["app.*", "journey.stage_entered"], True)
    ]
    assert added["secret"] not in json.dumps(listed)

    tested = run("webhooks", "test", added["id"], env_key=tenant.env_key)
    assert (tested["type"], tested["status"], tested["responseStatus"]) == ("webhook.test", "succeeded", 200)

    ada = signup(api, tenant, "ada@example.com")
    track(api, tenant, ada, "app.paid")
    log = run("webhooks", "deliveries", added["id"], env_key=tenant.env_key)["deliveries"]
    assert [(row["type"], row["status"]) for row in log] == [("app.paid", "succeeded"), ("webhook.test", "succeeded")]

    replayed = run("webhooks", "replay", log[0]["id"], env_key=tenant.env_key)
    assert (replayed["id"], replayed["status"], replayed["attempts"]) == (log[0]["id"], "succeeded", 2)
    assert [body["type"] for body in receiver.verified(added["secret"])] == ["webhook.test", "app.paid", "app.paid"]


@pytest.mark.parametrize(
    "url", ["http://10.0.0.5/hook", "http://127.0.0.1/hook", "http://169.254.169.254/", "http://[::1]/"]
)
def test_a_refused_target_exits_non_zero_and_saves_nothing(tenant, url):
    with pytest.raises(CommandError, match="not a public address"):
        run("webhooks", "add", url, "--events", "app.*", env_key=tenant.env_key)
    assert not WebhookEndpoint.objects.exists()


def test_webhooks_of_another_environment_are_not_listed_or_replayable(api, tenant, other_tenant, receiver):
    added = run("webhooks", "add", receiver.url, "--events", "app.*", env_key=tenant.env_key)
    ada = signup(api, tenant, "ada@example.com")
    track(api, tenant, ada, "app.paid")
    delivery = Delivery.objects.get()

    assert run("webhooks", "list", env_key=other_tenant.env_key) == {"endpoints": []}
    with pytest.raises(CommandError):
        run("webhooks", "replay", delivery.public_id, env_key=other_tenant.env_key)
    with pytest.raises(CommandError):
        run("webhooks", "deliveries", added["id"], env_key=other_tenant.env_key)
