"""The outbox consumer: entering, advancing and queueing deliveries, once per event."""

import pytest

from analytics.models import Event
from analytics.tests.helpers import minutes_ago
from analytics.tests.helpers import track as browser_track
from journeys.models import Delivery, Enrollment, StageEntry
from journeys.selectors import journey_report
from journeys.services.definitions import journey_set_enabled
from journeys.tasks import outbox_event_consume

from .helpers import collect, committed, signup, track

pytestmark = pytest.mark.django_db

VISITOR = "vis_ConsumerVisitor000000001"


def stages_of(journey):
    return {stage["name"]: stage["users"] for stage in journey_report(journey=journey).as_dict()["stages"]}


def test_a_signup_enters_the_journey_and_a_tracked_event_advances_it(api, tenant, onboarding, endpoint, receiver):
    user_id = signup(api, tenant, "ada@example.com", visitor_id=VISITOR)
    assert stages_of(onboarding) == {"signed_up": 1, "onboarded": 0}

    track(api, tenant, user_id, "app.completed_onboarding", properties={"steps": 3})

    assert stages_of(onboarding) == {"signed_up": 0, "onboarded": 1}
    entries = StageEntry.objects.filter(enrollment__user__public_id=user_id).order_by("pk")
    assert [(entry.from_stage and entry.from_stage.name, entry.stage.name, entry.event.name) for entry in entries] == [
        (None, "signed_up", "user.created"),
        ("signed_up", "onboarded", "app.completed_onboarding"),
    ]
    secret = endpoint.secret
    bodies = receiver.verified(secret)
    assert [body["type"] for body in bodies] == [
        "user.created",
        "journey.stage_entered",
        "app.completed_onboarding",
        "journey.stage_entered",
    ]
    event_body = bodies[2]
    assert event_body["data"]["userId"] == user_id
    assert event_body["data"]["name"] == "app.completed_onboarding"
    assert event_body["data"]["properties"] == {"steps": 3}
    assert event_body["data"]["eventId"].startswith("evt_")
    assert bodies[3]["data"] == {
        "journey": "onboarding",
        "stage": "onboarded",
        "fromStage": "signed_up",
        "userId": user_id,
        "eventId": event_body["data"]["eventId"],
    }
    assert bodies[1]["data"]["fromStage"] is None


def test_a_duplicate_message_id_advances_once_and_delivers_once(api, tenant, onboarding, endpoint, receiver):
    user_id = signup(api, tenant, "ada@example.com")

    first = track(api, tenant, user_id, "app.completed_onboarding", message_id="onboarded-1")
    again = track(api, tenant, user_id, "app.completed_onboarding", message_id="onboarded-1")

    assert (first["accepted"], again["duplicates"]) == (1, 1)
    assert StageEntry.objects.filter(stage__name="onboarded").count() == 1
    assert len(receiver.of_type("app.completed_onboarding")) == 1
    assert len(receiver.of_type("journey.stage_entered")) == 2  # the entry and the one move


def test_an_event_the_outbox_hands_on_twice_moves_and_sends_nothing_the_second_time(
    api, tenant, onboarding, endpoint, receiver
):
    # A third stage on the same event: a second handling must not take the next step too.
    from journeys.services.definitions import journey_transition_add

    journey_transition_add(
        environment=tenant.environment,
        name="onboarding",
        from_stage="onboarded",
        to_stage="expert",
        event_name="app.completed_onboarding",
    )
    user_id = signup(api, tenant, "ada@example.com")
    track(api, tenant, user_id, "app.completed_onboarding")
    event = Event.objects.get(name="app.completed_onboarding")
    sent = len(receiver.received)

    with committed():
        outbox_event_consume(event)

    assert stages_of(onboarding) == {"signed_up": 0, "onboarded": 1, "expert": 0}
    assert Delivery.objects.filter(event=event).count() == 1
    assert len(receiver.received) == sent


def test_the_next_event_takes_the_next_step(api, tenant, onboarding):
    from journeys.services.definitions import journey_transition_add

    journey_transition_add(
        environment=tenant.environment,
        name="onboarding",
        from_stage="onboarded",
        to_stage="paying",
        event_name="app.paid",
    )
    user_id = signup(api, tenant, "ada@example.com")
    track(api, tenant, user_id, "app.paid")  # no transition from signed_up on it: nothing moves
    track(api, tenant, user_id, "app.completed_onboarding")
    track(api, tenant, user_id, "app.paid")

    assert stages_of(onboarding) == {"signed_up": 0, "onboarded": 0, "paying": 1}
    report = journey_report(journey=onboarding).as_dict()
    assert [(t["from"], t["to"], t["moved"], t["conversionRate"]) for t in report["transitions"]] == [
        ("signed_up", "onboarded", 1, 100.0),
        ("onboarded", "paying", 1, 100.0),
    ]


def test_pre_signup_events_delivered_after_the_signup_never_reach_journeys_or_webhooks(
    api, tenant, onboarding, endpoint, receiver
):
    from journeys.services.definitions import journey_create

    journey_create(
        environment=tenant.environment, name="clickers", entry_stage="clicked", entry_event="app.cta_clicked"
    )
    signup(api, tenant, "ada@example.com", visitor_id=VISITOR)
    # The browser batched a click from before the signup and sends it only now.
    assert collect(api, tenant, VISITOR, [browser_track("app.cta_clicked", at=minutes_ago(5))])["accepted"] == 1

    assert Event.objects.get(name="app.cta_clicked").user is not None  # stitched to her…
    assert not Enrollment.objects.filter(journey__name="clickers").exists()  # …but pre-signup
    assert receiver.of_type("app.cta_clicked") == []


def test_a_browser_event_after_the_signup_on_the_linked_visitor_goes_through(
    api, tenant, onboarding, endpoint, receiver
):
    signup(api, tenant, "ada@example.com", visitor_id=VISITOR)
    collect(api, tenant, VISITOR, [browser_track("app.completed_onboarding")])
    assert stages_of(onboarding) == {"signed_up": 0, "onboarded": 1}
    assert len(receiver.of_type("app.completed_onboarding")) == 1


def test_a_disabled_journey_neither_enters_nor_advances(api, tenant, onboarding):
    first = signup(api, tenant, "ada@example.com")
    journey_set_enabled(environment=tenant.environment, name="onboarding", enabled=False)
    signup(api, tenant, "grace@example.com")
    track(api, tenant, first, "app.completed_onboarding")

    assert stages_of(onboarding) == {"signed_up": 1, "onboarded": 0}


def test_one_environments_events_never_reach_another_environments_journeys_or_endpoints(
    api, tenant, other_tenant, onboarding, endpoint, receiver
):
    from journeys.services.definitions import journey_create
    from journeys.services.webhooks import webhook_endpoint_create

    other_journey = journey_create(
        environment=other_tenant.environment, name="onboarding", entry_stage="signed_up", entry_event="user.created"
    )
    other_endpoint = webhook_endpoint_create(environment=other_tenant.environment, url=receiver.url, events=["*"])

    user_id = signup(api, tenant, "ada@example.com")
    track(api, tenant, user_id, "app.completed_onboarding")

    assert stages_of(other_journey) == {"signed_up": 0}
    assert not Delivery.objects.filter(endpoint=other_endpoint).exists()
    assert Delivery.objects.filter(endpoint=endpoint).count() == 4
    assert len(receiver.received) == 4
    # And the other environment's traffic reaches only its own.
    signup(api, other_tenant, "grace@example.com")
    assert stages_of(other_journey) == {"signed_up": 1}
    assert stages_of(onboarding) == {"signed_up": 0, "onboarded": 1}
    assert Delivery.objects.filter(endpoint=endpoint).count() == 4
