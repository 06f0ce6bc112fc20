import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Sum

from analytics.models import Event, OutboxEntry, Pageview, Session, Visitor
from analytics.selectors import user_first_touch, user_signup_touch
from analytics.services.outbox import register_consumer, unregister_consumer
from identity.models import EndUser
from identity.services import environment_create

pytestmark = pytest.mark.django_db


def generate(*args) -> dict:
    out = io.StringIO()
    call_command("generate_traffic", *args, stdout=out, stderr=io.StringIO())
    return json.loads(out.getvalue().strip().splitlines()[-1])


@pytest.fixture
def environments():
    return [
        environment_create(organization_name="Acme", project_name="Web", environment_name=name).environment
        for name in ("one", "two")
    ]


def test_the_last_line_counts_what_was_stored(environments):
    environment = environments[0]

    counts = generate("--env-key", environment.env_key, "--visitors", "120", "--seed", "3")

    assert counts == {
        "visitors": 120,
        "sessions": Session.objects.filter(environment=environment).count(),
        "pageviews": Pageview.objects.filter(environment=environment).count(),
        "events": Event.objects.filter(environment=environment).count(),
        "signups": EndUser.objects.filter(environment=environment).count(),
    }
    assert counts["pageviews"] > counts["sessions"] > counts["visitors"]
    assert counts["signups"] > 0


def test_the_same_seed_makes_the_same_traffic(environments):
    first = generate("--env-key", environments[0].env_key, "--visitors", "80", "--seed", "5")
    second = generate("--environment", "acme/web/two", "--visitors", "80", "--seed", "5")

    assert first == second
    paths = [
        sorted(Pageview.objects.filter(environment=environment).values_list("path", "channel", "country"))
        for environment in environments
    ]
    assert paths[0] == paths[1]


def test_a_second_run_stores_nothing_new(environments):
    generate("--env-key", environments[0].env_key, "--visitors", "60", "--seed", "9")

    again = generate("--env-key", environments[0].env_key, "--visitors", "60", "--seed", "9")

    assert again == {"visitors": 0, "sessions": 0, "pageviews": 0, "events": 0, "signups": 0}


def test_the_traffic_goes_through_ingestion(environments):
    environment = environments[0]
    generate("--env-key", environment.env_key, "--visitors", "150", "--seed", "11")

    sessions = Session.objects.filter(environment=environment)
    assert (
        sessions.aggregate(total=Sum("pageview_count"))["total"]
        == Pageview.objects.filter(environment=environment).count()
    )
    assert set(sessions.values_list("channel", flat=True)) >= {"Direct", "Organic Search", "Paid Search", "Email"}
    assert set(sessions.values_list("device_type", flat=True)) == {"desktop", "mobile", "tablet"}
    # Signups are stitched: the user owns its visitor's history and has both touches.
    user = EndUser.objects.filter(environment=environment).first()
    assert Pageview.objects.filter(environment=environment, user=user).exists()
    assert user_first_touch(user=user) is not None
    assert user_signup_touch(user=user).at <= user.created_at
    assert (
        Event.objects.filter(environment=environment, user=user, name="user.created").get().timestamp == user.created_at
    )
    assert Event.objects.filter(environment=environment, kind=Event.Kind.SERVER).exists()


def test_if_empty_leaves_an_environment_with_traffic_alone(environments):
    generate("--env-key", environments[0].env_key, "--visitors", "20")

    assert (
        generate("--env-key", environments[0].env_key, "--visitors", "20", "--seed", "2", "--if-empty")["pageviews"]
        == 0
    )


def test_an_unknown_environment_is_an_error(db):
    with pytest.raises(CommandError):
        generate("--env-key", "env_nope", "--visitors", "1")


@pytest.mark.django_db(transaction=True)
def test_committed_chunks_stitch_once_per_signup_and_settle_the_outbox(environments):
    environment = environments[0]
    seen = []
    register_consumer(seen.append)
    try:
        generate("--env-key", environment.env_key, "--visitors", "150", "--seed", "11")
    finally:
        unregister_consumer(seen.append)

    users = EndUser.objects.filter(environment=environment)
    assert users.exists() and seen == []
    assert not OutboxEntry.objects.filter(environment=environment, dispatched_at__isnull=True).exists()
    assert not Visitor.objects.filter(environment=environment, user__isnull=False, stitched_at__isnull=True).exists()
    assert not Pageview.objects.filter(environment=environment, visitor__user__isnull=False, user__isnull=True).exists()
    assert all(user_signup_touch(user=user) is not None for user in users)


@pytest.mark.django_db(transaction=True)
def test_dispatch_hands_the_generated_events_to_the_consumers(environments):
    environment = environments[0]
    seen = []
    register_consumer(seen.append)
    try:
        generate("--env-key", environment.env_key, "--visitors", "150", "--seed", "11", "--dispatch")
    finally:
        unregister_consumer(seen.append)

    entries = OutboxEntry.objects.filter(environment=environment)
    assert entries.exists() and not entries.filter(dispatched_at__isnull=True).exists()
    assert sorted(event.pk for event in seen) == sorted(entries.values_list("event_id", flat=True))
