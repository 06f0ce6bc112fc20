"""The outbox: every stored business and built-in event reaches each consumer once."""

import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from analytics import tasks
from analytics.models import Event, OutboxEntry
from analytics.services import outbox
from analytics.services.events import event_record_builtin, outbox_add
from analytics.services.outbox import outbox_dispatch_pending, register_consumer, unregister_consumer
from analytics.tests.factories import EndUserFactory, EventFactory


class Recorder:
    """A consumer that remembers the public IDs it was handed."""

    def __init__(self):
        self.seen: list[str] = []
        self.lock = threading.Lock()
        self.fail_with: Exception | None = None

    def __call__(self, event):
        if self.fail_with is not None:
            raise self.fail_with
        with self.lock:
            self.seen.append(event.public_id)


@pytest.fixture
def consumer():
    recorder = Recorder()
    register_consumer(recorder)
    yield recorder
    unregister_consumer(recorder)


@pytest.fixture
def user(tenant):
    return EndUserFactory(environment=tenant.environment)


def server_events(user, count=1):
    events = [
        EventFactory(session=None, visitor=None, user=user, kind=Event.Kind.SERVER, name=f"app.step_{n}")
        for n in range(count)
    ]
    outbox_add(events=events)
    return events


def test_a_business_event_and_a_builtin_event_reach_the_consumer_once(
    api, tenant, user, consumer, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post_json(
            "/v1/events",
            {"events": [{"userId": user.public_id, "name": "app.checkout.completed", "messageId": "m1"}]},
            HTTP_AUTHORIZATION=f"Bearer {tenant.secret_key}",
        )
        builtin = event_record_builtin(user=user, name="user.login")
    assert response.status_code == 202

    business = Event.objects.get(message_id="m1")
    assert sorted(consumer.seen) == sorted([business.public_id, builtin.public_id])
    outbox_dispatch_pending()
    assert len(consumer.seen) == 2
    assert OutboxEntry.objects.filter(dispatched_at__isnull=True).count() == 0


def test_dispatching_twice_hands_each_event_on_once(user, consumer):
    events = server_events(user, count=3)
    assert outbox_dispatch_pending() == 3
    assert outbox_dispatch_pending() == 0
    assert Counter(consumer.seen) == Counter(event.public_id for event in events)


def test_the_task_dispatches(user, consumer):
    server_events(user, count=2)
    assert tasks.outbox_dispatch.delay().get() == 2
    assert len(consumer.seen) == 2


def test_every_consumer_gets_every_event(user, consumer):
    second = Recorder()
    register_consumer(second)
    register_consumer(second)  # registering twice has no effect
    try:
        (event,) = server_events(user)
        outbox_dispatch_pending()
    finally:
        unregister_consumer(second)
    assert consumer.seen == second.seen == [event.public_id]


def test_a_failing_consumer_keeps_the_entry_for_the_next_run(user, consumer):
    (event,) = server_events(user)
    consumer.fail_with = ConnectionError("journeys are down " + "x" * 1000)

    assert outbox_dispatch_pending() == 0
    entry = OutboxEntry.objects.get(event=event)
    assert entry.attempts == 1 and entry.claimed_at is None and entry.dispatched_at is None
    assert entry.last_error.startswith("ConnectionError: journeys are down") and len(entry.last_error) == 500

    consumer.fail_with = None
    assert outbox_dispatch_pending() == 1
    assert consumer.seen == [event.public_id]


def test_an_entry_that_keeps_failing_is_left_for_a_human(user, consumer):
    (event,) = server_events(user)
    OutboxEntry.objects.filter(event=event).update(attempts=outbox.MAX_ATTEMPTS)
    assert outbox_dispatch_pending() == 0
    assert consumer.seen == []


def test_a_fresh_claim_is_respected_and_a_stale_one_taken_over(user, consumer):
    held, abandoned = server_events(user, count=2)
    now = timezone.now()
    OutboxEntry.objects.filter(event=held).update(claimed_at=now - timedelta(minutes=1))
    OutboxEntry.objects.filter(event=abandoned).update(claimed_at=now - outbox.CLAIM_TIMEOUT - timedelta(seconds=1))

    assert outbox_dispatch_pending() == 1
    assert consumer.seen == [abandoned.public_id]


def test_a_claim_lost_to_another_worker_is_skipped(user, consumer, monkeypatch):
    (event,) = server_events(user)
    real_claim = outbox._claim

    def claimed_by_someone_else_first(entry_id, seen_claim):
        OutboxEntry.objects.filter(pk=entry_id).update(claimed_at=timezone.now())
        return real_claim(entry_id, seen_claim)

    monkeypatch.setattr(outbox, "_claim", claimed_by_someone_else_first)
    assert outbox_dispatch_pending() == 0
    assert consumer.seen == []


def test_a_dispatch_reads_at_most_its_limit(user, consumer):
    server_events(user, count=5)
    assert outbox_dispatch_pending(limit=2) == 2
    assert outbox_dispatch_pending() == 3
    assert len(set(consumer.seen)) == 5


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_dispatchers_at_once_hand_each_event_on_once(tenant, consumer, monkeypatch, run_together):
    # Not dispatched on commit: the two threads below are the only dispatchers.
    monkeypatch.setattr(tasks.outbox_dispatch, "apply_async", lambda *args, **kwargs: None)
    user = EndUserFactory(environment=tenant.environment)
    events = server_events(user, count=200)
    run_together(outbox_dispatch_pending, outbox_dispatch_pending)

    assert Counter(consumer.seen) == Counter(event.public_id for event in events)
    assert OutboxEntry.objects.filter(dispatched_at__isnull=True).count() == 0


def test_settling_marks_only_the_given_users_pending_entries_without_any_consumer(tenant, user, consumer):
    other = EndUserFactory(environment=tenant.environment)
    server_events(user, count=2)
    kept = server_events(other)

    assert outbox.outbox_settle_undispatched(environment_id=tenant.environment.pk, user_ids=[user.pk]) == 2

    assert consumer.seen == []
    assert list(OutboxEntry.objects.filter(dispatched_at__isnull=True).values_list("event_id", flat=True)) == [
        kept[0].pk
    ]
    assert outbox_dispatch_pending() == 1
    assert consumer.seen == [kept[0].public_id]
