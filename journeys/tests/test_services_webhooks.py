"""Deliveries: signed per Standard Webhooks, retried on Svix's schedule, claimed once, disabled on sustained failure."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from standardwebhooks import Webhook

from journeys.models import Delivery, WebhookEndpoint
from journeys.services.webhooks import (
    RETRY_SCHEDULE,
    _claim,
    delivery_attempt,
    delivery_replay,
    webhook_endpoint_create,
    webhook_endpoint_set_enabled,
    webhook_endpoint_test,
)
from journeys.tasks import webhook_deliveries_sweep

from .helpers import committed, signup, track

pytestmark = pytest.mark.django_db


def sweep():
    with committed():
        return webhook_deliveries_sweep()


@pytest.fixture
def hooked(tenant, receiver):
    """An endpoint subscribed to one event, and a user to send it about."""
    return webhook_endpoint_create(environment=tenant.environment, url=receiver.url, events=["app.paid"])


def test_every_delivery_is_signed_with_the_endpoints_secret(api, tenant, hooked, receiver):
    user_id = signup(api, tenant, "ada@example.com")
    track(api, tenant, user_id, "app.paid", properties={"total": 99.99})

    (received,) = receiver.received
    body = Webhook(hooked.secret).verify(received.body, received.headers)
    assert body["type"] == "app.paid" and body["data"]["properties"] == {"total": 99.99}
    delivery = Delivery.objects.get()
    assert received.headers["webhook-id"] == delivery.public_id
    assert received.headers["Content-Type"] == "application/json"
    with pytest.raises(Exception, match="signature"):
        Webhook(WebhookEndpoint(environment=tenant.environment).secret).verify(received.body, received.headers)
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("succeeded", 1, 200)
    assert delivery.response_excerpt == "answered 200" and delivery.duration_ms is not None


def test_a_500_then_a_200_is_retried_on_schedule_with_the_same_webhook_id(api, tenant, hooked, receiver):
    receiver.statuses.extend([500])
    user_id = signup(api, tenant, "ada@example.com")
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        track(api, tenant, user_id, "app.paid")
        delivery = Delivery.objects.get()
        assert (delivery.status, delivery.attempts, delivery.response_status) == ("pending", 1, 500)
        assert delivery.next_attempt_at == delivery.last_attempt_at + timedelta(seconds=5)

        clock.shift(timedelta(seconds=4))
        sweep()
        assert len(receiver.received) == 1  # not due yet

        clock.shift(timedelta(seconds=1))
        sweep()

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("succeeded", 2, 200)
    first, second = receiver.received
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == delivery.public_id
    assert int(second.headers["webhook-timestamp"]) - int(first.headers["webhook-timestamp"]) == 5
    # Each attempt is signed for its own timestamp; the body is byte for byte the same.
    assert first.body == second.body
    for item in receiver.received:
        with time_machine.travel(int(item.headers["webhook-timestamp"]), tick=False):
            Webhook(hooked.secret).verify(item.body, item.headers)
    hooked.refresh_from_db()
    assert hooked.failure_streak == 0 and hooked.enabled


def test_an_endpoint_that_keeps_failing_is_disabled_with_its_reason(api, tenant, hooked, receiver):
    receiver.default_status = 503
    user_id = signup(api, tenant, "ada@example.com")
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        track(api, tenant, user_id, "app.paid")
        delivery = Delivery.objects.get()
        for wait in RETRY_SCHEDULE:
            delivery.refresh_from_db()
            assert delivery.status == "pending"
            assert delivery.next_attempt_at == delivery.last_attempt_at + wait
            clock.move_to(delivery.next_attempt_at)
            sweep()

        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("failed", 8, None)
        hooked.refresh_from_db()
        assert not hooked.enabled
        assert hooked.failure_streak == 8
        assert "8 failed attempts in a row over 28 h" in hooked.disabled_reason
        assert "HTTP 503" in hooked.disabled_reason

        # A disabled endpoint gets no new deliveries until it is enabled again.
        track(api, tenant, user_id, "app.paid")
        assert Delivery.objects.count() == 1
    assert len(receiver.received) == 8


def test_a_success_in_between_keeps_the_endpoint_enabled(api, tenant, hooked, receiver):
    receiver.default_status = 500
    user_id = signup(api, tenant, "ada@example.com")
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        track(api, tenant, user_id, "app.paid")
        first = Delivery.objects.get()
        for index, wait in enumerate(RETRY_SCHEDULE):
            clock.shift(wait)
            if index == 3:
                receiver.statuses.append(200)  # another delivery gets through
                track(api, tenant, user_id, "app.paid")
            sweep()
    first.refresh_from_db()
    hooked.refresh_from_db()
    assert first.status == "failed"
    assert hooked.enabled and hooked.disabled_reason == ""


def test_two_workers_claiming_one_delivery_send_it_once(api, tenant, hooked, receiver):
    receiver.statuses.append(500)
    user_id = signup(api, tenant, "ada@example.com")
    track(api, tenant, user_id, "app.paid")
    delivery = Delivery.objects.get()
    with time_machine.travel(delivery.next_attempt_at):
        assert _claim(delivery.pk) is not None
        assert _claim(delivery.pk) is None
        assert delivery_attempt(delivery_id=delivery.pk) is None  # claimed by the first
    assert len(receiver.received) == 1


def test_a_worker_that_died_mid_send_leaves_a_claim_another_takes_over(api, tenant, hooked, receiver):
    receiver.statuses.append(500)
    user_id = signup(api, tenant, "ada@example.com")
    track(api, tenant, user_id, "app.paid")
    delivery = Delivery.objects.get()
    with time_machine.travel(delivery.next_attempt_at):
        assert _claim(delivery.pk) is not None  # and then nothing: the worker is gone
    with time_machine.travel(delivery.next_attempt_at + timedelta(minutes=3)):
        sweep()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("succeeded", 2)


def test_a_test_message_is_sent_once_and_counts_for_nothing(tenant, hooked, receiver):
    receiver.statuses.append(500)
    delivery = webhook_endpoint_test(environment=tenant.environment, public_id=hooked.public_id)

    assert (delivery.status, delivery.attempts, delivery.response_status) == ("failed", 1, 500)
    (body,) = receiver.verified(hooked.secret)
    assert body["type"] == "webhook.test" and body["data"]["endpointId"] == hooked.public_id
    hooked.refresh_from_db()
    assert hooked.failure_streak == 0


def test_a_replay_sends_the_same_message_again(api, tenant, hooked, receiver):
    user_id = signup(api, tenant, "ada@example.com")
    track(api, tenant, user_id, "app.paid")
    delivery = Delivery.objects.get()

    delivery_replay(environment=tenant.environment, public_id=delivery.public_id)
    sweep()

    first, second = receiver.received
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == delivery.public_id
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("succeeded", 2)


def test_a_replay_to_a_disabled_endpoint_is_refused_until_it_is_enabled(api, tenant, hooked, receiver):
    user_id = signup(api, tenant, "ada@example.com")
    track(api, tenant, user_id, "app.paid")
    delivery = Delivery.objects.get()
    webhook_endpoint_set_enabled(environment=tenant.environment, public_id=hooked.public_id, enabled=False)

    from ascendkit_site.errors import ApplicationError

    with pytest.raises(ApplicationError) as error:
        delivery_replay(environment=tenant.environment, public_id=delivery.public_id)
    assert error.value.code == "endpoint_disabled"

    webhook_endpoint_set_enabled(environment=tenant.environment, public_id=hooked.public_id, enabled=True)
    delivery_replay(environment=tenant.environment, public_id=delivery.public_id)
    sweep()
    assert len(receiver.received) == 2


def test_another_environment_cannot_replay_or_test_this_ones_deliveries(api, tenant, other_tenant, hooked, receiver):
    from ascendkit_site.errors import ApplicationError

    user_id = signup(api, tenant, "ada@example.com")
    track(api, tenant, user_id, "app.paid")
    delivery = Delivery.objects.get()
    with pytest.raises(ApplicationError):
        delivery_replay(environment=other_tenant.environment, public_id=delivery.public_id)
    with pytest.raises(ApplicationError):
        webhook_endpoint_test(environment=other_tenant.environment, public_id=hooked.public_id)
    assert len(receiver.received) == 1


@pytest.mark.parametrize(
    ("patterns", "event_type", "expected"),
    [
        (["app.*"], "app.paid", True),
        (["app.*"], "user.created", False),
        (["*"], "journey.stage_entered", True),
        (["app.paid"], "app.paid_twice", False),
        (["journey.stage_entered"], "journey.stage_entered", True),
    ],
)
def test_an_endpoint_subscribes_to_exact_names_and_prefixes(patterns, event_type, expected):
    assert WebhookEndpoint(events=patterns).subscribes_to(event_type) is expected


@pytest.mark.parametrize("events", [[], ["paid"], ["app.*.x*"], ["journey.*x"]])
def test_it_refuses_a_bad_subscription(tenant, receiver, events):
    from ascendkit_site.errors import ApplicationError

    with pytest.raises(ApplicationError):
        webhook_endpoint_create(environment=tenant.environment, url=receiver.url, events=events)
    assert not WebhookEndpoint.objects.exists()
