"""The journeys and webhooks pages: exact stage counts, the editor, endpoints, tests and replays."""

import pytest

from journeys.models import Delivery, Journey, Transition, WebhookEndpoint

from .base import PUBLIC_ADDRESS
from .html import rows, text

STAGES = [["Stage", "Now", "Reached"], ["signed_up entry", "1", "4"], ["onboarded", "2", "3"], ["paying", "1", "1"]]
TRANSITIONS = [
    ["From", "To", "On event", "Moved", "Conversion"],
    ["signed_up", "onboarded", "app.completed_onboarding", "3", "75.0 %"],
    ["onboarded", "paying", "app.paid", "1", "33.3 %"],
]


@pytest.fixture
def public_dns(monkeypatch):
    """Every host resolves to a public address, as a real webhook host would."""
    from journeys import network

    monkeypatch.setattr(network, "resolve_host", lambda host, port: [PUBLIC_ADDRESS])


@pytest.mark.parametrize("who", ["owner", "teammate"])
def test_the_journey_list_and_detail_show_users_in_each_stage_and_conversion(personas, journeys_set, who):
    client = personas.client_for(getattr(personas, who))
    journey = journeys_set.journey

    listing = client.get(personas.url("journeys/")).content.decode()
    assert rows(listing, f"stages-{journey.pk}") == STAGES
    assert "75.0 %" in listing and "33.3 %" in listing and "enabled" in text(listing)

    detail = client.get(personas.url(f"journeys/{journey.pk}/")).content.decode()
    assert rows(detail, "stages-table") == STAGES
    assert rows(detail, "transitions-table") == TRANSITIONS
    assert 'class="bar w-100"' in detail and 'class="bar w-75"' in detail and 'class="bar w-25"' in detail
    assert ("Add a transition" in detail) is (who == "owner")


@pytest.mark.parametrize("who", ["owner", "teammate"])
def test_the_webhooks_pages_show_the_endpoint_state_and_its_delivery_log(personas, journeys_set, who):
    client = personas.client_for(getattr(personas, who))
    endpoint = journeys_set.endpoint
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        enabled=False, failure_streak=8, disabled_reason="Failed for 28 hours."
    )

    listing = text(client.get(personas.url("webhooks/")).content.decode())
    assert "https://hooks.example.com/in" in listing
    assert "disabled 8 failed in a row Failed for 28 hours." in listing
    assert endpoint.secret not in listing and endpoint.secret_hint in listing

    detail = client.get(personas.url(f"webhooks/{endpoint.public_id}/")).content.decode()
    (header, row) = rows(detail, "deliveries-table")
    assert header[:7] == ["Delivery", "Type", "Status", "Response", "Duration", "Attempts", "Last attempt"]
    assert row[:6] == [journeys_set.delivery.public_id, "webhook.test", "succeeded", "200", "42 ms", "1"]
    assert ("Send test" in detail and "Replay" in detail) is (who == "owner")


def _new_pages(personas, journeys_set) -> list[str]:
    journey, endpoint = journeys_set.journey, journeys_set.endpoint
    return [
        personas.url("journeys/"),
        personas.url(f"journeys/{journey.pk}/"),
        personas.url("webhooks/"),
        personas.url(f"webhooks/{endpoint.public_id}/"),
    ]


def _writes(personas, journeys_set) -> dict[str, dict]:
    journey, endpoint, delivery = journeys_set.journey, journeys_set.endpoint, journeys_set.delivery
    return {
        personas.url("journeys/"): {"name": "trial", "entry_stage": "a", "entry_event": "user.created"},
        personas.url(f"journeys/{journey.pk}/transitions/"): {
            "from_stage": "paying",
            "to_stage": "churned",
            "event_name": "app.cancelled",
        },
        personas.url(f"journeys/{journey.pk}/enabled/"): {},
        personas.url("webhooks/add/"): {"url": "https://other.example.com/in", "events": "app.*"},
        personas.url(f"webhooks/{endpoint.public_id}/test/"): {},
        personas.url(f"webhooks/{endpoint.public_id}/enabled/"): {},
        personas.url(f"webhooks/{endpoint.public_id}/deliveries/{delivery.public_id}/replay/"): {},
    }


def test_an_outsider_gets_404_on_every_journeys_and_webhooks_page_and_action(personas, journeys_set, public_dns):
    outsider = personas.client_for(personas.outsider)
    for page in _new_pages(personas, journeys_set):
        assert outsider.get(page).status_code == 404, page
    for action, fields in _writes(personas, journeys_set).items():
        assert outsider.post(action, fields).status_code == 404, action
    assert Journey.objects.count() == 1 and WebhookEndpoint.objects.count() == 1
    assert Delivery.objects.count() == 1 and journeys_set.sends == []


def test_a_viewer_cannot_create_edit_test_or_replay(personas, journeys_set, public_dns):
    viewer = personas.client_for(personas.teammate)
    for action, fields in _writes(personas, journeys_set).items():
        assert viewer.post(action, fields).status_code == 403, action
    assert Journey.objects.count() == 1 and Transition.objects.count() == 2
    assert Journey.objects.get().enabled and WebhookEndpoint.objects.get().enabled
    assert WebhookEndpoint.objects.count() == 1 and Delivery.objects.count() == 1
    assert Delivery.objects.get().status == "succeeded" and journeys_set.sends == []


def test_unknown_journeys_endpoints_and_deliveries_are_not_found(personas, journeys_set):
    owner = personas.client_for(personas.owner)
    endpoint = journeys_set.endpoint
    assert owner.get(personas.url("journeys/999999/")).status_code == 404
    assert owner.get(personas.url("webhooks/ep_nope/")).status_code == 404
    assert owner.post(personas.url(f"webhooks/{endpoint.public_id}/deliveries/msg_nope/replay/")).status_code == 404


def test_the_owner_creates_a_journey_adds_a_transition_and_disables_it(personas, journeys_set):
    owner = personas.client_for(personas.owner)
    created = owner.post(
        personas.url("journeys/"),
        {
            "name": "spring",
            "entry_stage": "signed_up",
            "entry_event": "user.created",
            "condition": "utm_campaign==spring",
        },
    )
    journey = Journey.objects.get(name="spring")
    assert created.status_code == 302 and created["Location"] == personas.url(f"journeys/{journey.pk}/")
    assert journey.condition == "campaign==spring" and journey.entry_stage.name == "signed_up"

    added = owner.post(
        personas.url(f"journeys/{journey.pk}/transitions/"),
        {"from_stage": "signed_up", "to_stage": "activated", "event_name": "app.activated"},
    )
    assert added.status_code == 302
    detail = owner.get(added["Location"]).content.decode()
    assert rows(detail, "transitions-table")[1] == ["signed_up", "activated", "app.activated", "0", "0.0 %"]

    assert owner.post(personas.url(f"journeys/{journey.pk}/enabled/"), {}).status_code == 302
    journey.refresh_from_db()
    assert journey.enabled is False
    owner.post(personas.url(f"journeys/{journey.pk}/enabled/"), {"enabled": "on"})
    journey.refresh_from_db()
    assert journey.enabled is True


def test_the_editor_says_what_is_wrong_and_saves_nothing(personas, journeys_set):
    owner = personas.client_for(personas.owner)
    journey = journeys_set.journey
    bad_event = owner.post(personas.url("journeys/"), {"name": "x", "entry_stage": "a", "entry_event": "clicked"})
    assert bad_event.status_code == 400 and "is not an event name" in text(bad_event.content.decode())
    bad_condition = owner.post(
        personas.url("journeys/"), {"name": "x", "entry_stage": "a", "entry_event": "user.created", "condition": "x"}
    )
    assert bad_condition.status_code == 400 and "field==value" in text(bad_condition.content.decode())
    taken = owner.post(
        personas.url("journeys/"), {"name": "onboarding", "entry_stage": "a", "entry_event": "user.created"}
    )
    assert taken.status_code == 400 and "exists already" in text(taken.content.decode())
    clash = owner.post(
        personas.url(f"journeys/{journey.pk}/transitions/"),
        {"from_stage": "signed_up", "to_stage": "paying", "event_name": "app.completed_onboarding"},
    )
    assert clash.status_code == 400 and "already leads from" in text(clash.content.decode())
    assert Journey.objects.count() == 1 and Transition.objects.count() == 2


def test_the_signing_secret_is_shown_once_on_an_answer_that_is_not_stored(personas, journeys_set, public_dns):
    owner = personas.client_for(personas.owner)
    answer = owner.post(
        personas.url("webhooks/add/"),
        {"url": "https://crm.example.com/hooks", "events": "app.*, journey.stage_entered", "description": "CRM"},
    )
    assert answer.status_code == 200
    assert "no-store" in answer["Cache-Control"]
    endpoint = WebhookEndpoint.objects.get(url="https://crm.example.com/hooks")
    assert endpoint.events == ["app.*", "journey.stage_entered"] and endpoint.secret.startswith("whsec_")
    assert endpoint.secret in answer.content.decode()
    for page in ("webhooks/", f"webhooks/{endpoint.public_id}/"):
        again = owner.get(personas.url(page)).content.decode()
        assert endpoint.secret not in again and endpoint.secret_hint in again


@pytest.mark.parametrize("allow_private, saved", [(False, False), (True, True)])
def test_a_private_target_is_refused_with_a_form_error_unless_private_targets_are_allowed(
    personas, journeys_set, settings, allow_private, saved
):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = allow_private
    owner = personas.client_for(personas.owner)
    answer = owner.post(personas.url("webhooks/add/"), {"url": "http://127.0.0.1:8080/hook", "events": "app.*"})
    exists = WebhookEndpoint.objects.filter(url="http://127.0.0.1:8080/hook").exists()
    assert exists is saved
    if saved:
        assert answer.status_code == 200
    else:
        page = text(answer.content.decode())
        assert answer.status_code == 400
        assert "resolves to 127.0.0.1, which is not a public address" in page
        assert "signing secret" not in page


def test_malformed_endpoints_are_refused_with_a_form_error(personas, journeys_set, public_dns):
    owner = personas.client_for(personas.owner)
    for fields, message in (
        ({"url": "ftp://example.com/in", "events": "app.*"}, "not an absolute http or https URL"),
        ({"url": "https://example.com/in", "events": "clicked"}, "is not an event name"),
        ({"url": "https://example.com/in", "events": " , "}, "at least one event name"),
        ({"url": "https://example.com/" + "a" * 3000, "events": "app.*"}, "at most 2048 characters"),
    ):
        answer = owner.post(personas.url("webhooks/add/"), fields)
        assert answer.status_code == 400, fields
        assert message in text(answer.content.decode()), fields
    assert WebhookEndpoint.objects.count() == 1


def test_send_test_and_replay_create_deliveries_through_the_network_layer(personas, journeys_set):
    owner = personas.client_for(personas.owner)
    endpoint, delivery = journeys_set.endpoint, journeys_set.delivery

    tested = owner.post(personas.url(f"webhooks/{endpoint.public_id}/test/"), follow=True)
    test_delivery = Delivery.objects.exclude(pk=delivery.pk).get()
    assert (test_delivery.event_type, test_delivery.status, test_delivery.response_status) == (
        "webhook.test",
        "succeeded",
        200,
    )
    assert f"Test {test_delivery.public_id} sent: succeeded, answered 200." in text(tested.content.decode())
    assert len(journeys_set.sends) == 1
    assert journeys_set.sends[0]["headers"]["webhook-id"] == test_delivery.public_id

    with_log = owner.get(personas.url(f"webhooks/{endpoint.public_id}/")).content.decode()
    assert [row[0] for row in rows(with_log, "deliveries-table")[1:]] == [test_delivery.public_id, delivery.public_id]

    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=True):
        replayed = owner.post(personas.url(f"webhooks/{endpoint.public_id}/deliveries/{delivery.public_id}/replay/"))
    assert replayed.status_code == 302
    delivery.refresh_from_db()
    assert delivery.attempts == 2 and delivery.status == "succeeded"
    assert [send["headers"]["webhook-id"] for send in journeys_set.sends] == [
        test_delivery.public_id,
        delivery.public_id,
    ]


def test_replaying_to_a_disabled_endpoint_says_to_enable_it_first(personas, journeys_set):
    owner = personas.client_for(personas.owner)
    endpoint, delivery = journeys_set.endpoint, journeys_set.delivery
    owner.post(personas.url(f"webhooks/{endpoint.public_id}/enabled/"), {})
    endpoint.refresh_from_db()
    assert endpoint.enabled is False and endpoint.disabled_reason == "Disabled by a team member."
    answer = owner.post(
        personas.url(f"webhooks/{endpoint.public_id}/deliveries/{delivery.public_id}/replay/"), follow=True
    )
    assert "is disabled; enable it first" in text(answer.content.decode())
    assert journeys_set.sends == []


def test_the_new_pages_take_a_post_for_every_change(personas, journeys_set):
    owner = personas.client_for(personas.owner)
    endpoint = journeys_set.endpoint
    for action in (
        "webhooks/add/",
        f"webhooks/{endpoint.public_id}/test/",
        f"journeys/{journeys_set.journey.pk}/enabled/",
    ):
        assert owner.get(personas.url(action)).status_code == 405, action
