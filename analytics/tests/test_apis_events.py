"""`POST /v1/events`: business events from servers and signed-in browsers (SPEC 4.2)."""

import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import OperationalError
from django.test import Client

from accounts.services import user_token_issue
from analytics import tasks
from analytics.models import Event, OutboxEntry, Session, Visitor
from analytics.services import business_events
from analytics.tests.factories import EndUserFactory, SessionFactory, VisitorFactory
from analytics.tests.helpers import database_down, iso

EVENTS = "/v1/events"
VISITOR_ID = "vis_EventsVisitor000000001"
NOW = datetime(2026, 11, 29, 10, 0, 0, tzinfo=UTC)


@pytest.fixture
def user(tenant):
    return EndUserFactory(environment=tenant.environment, email="ada@example.com")


def server(api, tenant, body, **extra):
    return api.post_json(EVENTS, body, HTTP_AUTHORIZATION=f"Bearer {tenant.secret_key}", **extra)


def browser(api, tenant, token, body, **extra):
    return api.post_json(
        EVENTS, body, HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_X_ASCENDKIT_ENV_KEY=tenant.env_key, **extra
    )


def item(user=None, name="app.checkout.completed", **fields) -> dict:
    body = {"name": name, **fields}
    if user is not None:
        body["userId"] = user.public_id
    return body


def error_code(response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


# --- Server calls ---------------------------------------------------------------------


def test_it_stores_a_server_event_of_the_named_user(api, tenant, user):
    with time_machine.travel(NOW, tick=False):
        response = server(
            api,
            tenant,
            {
                "sentAt": iso(NOW),
                "events": [item(user, properties={"total": 99.99, "items": ["a"]}, timestamp=iso(NOW), messageId="m3")],
            },
        )

    assert response.status_code == 202
    assert response.json() == {"accepted": 1, "duplicates": 0, "rejected": []}
    event = Event.objects.get()
    assert (event.kind, event.name, event.user_id, event.message_id) == (
        "server",
        "app.checkout.completed",
        user.id,
        "m3",
    )
    assert event.properties == {"total": 99.99, "items": ["a"]}
    assert event.timestamp == NOW and event.public_id.startswith("evt_")
    assert (event.visitor, event.session) == (None, None)
    assert OutboxEntry.objects.filter(event=event).exists()


def test_it_stores_a_repeated_message_id_once(api, tenant, user):
    body = {"events": [item(user, messageId="m1")]}
    assert server(api, tenant, body).json() == {"accepted": 1, "duplicates": 0, "rejected": []}
    assert server(api, tenant, body).json() == {"accepted": 0, "duplicates": 1, "rejected": []}
    assert Event.objects.count() == OutboxEntry.objects.count() == 1


def test_a_repeat_within_one_batch_is_a_duplicate(api, tenant, user):
    response = server(api, tenant, {"events": [item(user, messageId="m1"), item(user, messageId="m1")]})
    assert response.json() == {"accepted": 1, "duplicates": 1, "rejected": []}


def test_a_message_id_already_used_by_collect_is_a_duplicate(api, tenant, user):
    from analytics.tests.factories import PageviewFactory

    PageviewFactory(session__visitor__environment=tenant.environment, message_id="shared")
    assert server(api, tenant, {"events": [item(user, messageId="shared")]}).json()["duplicates"] == 1


def test_message_ids_are_scoped_to_their_environment(api, tenant, other_tenant, user):
    theirs = EndUserFactory(environment=other_tenant.environment)
    assert server(api, other_tenant, {"events": [item(theirs, messageId="m1")]}).json()["accepted"] == 1
    assert server(api, tenant, {"events": [item(user, messageId="m1")]}).json()["accepted"] == 1


def test_without_a_message_id_the_server_mints_one_and_cannot_dedupe(api, tenant, user):
    body = {"events": [item(user), item(user)]}
    assert server(api, tenant, body).json()["accepted"] == 2
    assert server(api, tenant, body).json()["accepted"] == 2
    message_ids = set(Event.objects.values_list("message_id", flat=True))
    assert len(message_ids) == 4 and all(mid.startswith("evt_") for mid in message_ids)


def test_only_the_stored_events_go_to_the_outbox(api, tenant, user):
    server(api, tenant, {"events": [item(user, messageId="m1")]})
    server(api, tenant, {"events": [item(user, messageId="m1"), item(user, messageId="m2"), item(user, name="bad")]})
    assert sorted(OutboxEntry.objects.values_list("event__message_id", flat=True)) == ["m1", "m2"]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("not an object", "invalid_item"),
        ({"name": "checkout"}, "invalid_name"),
        ({"name": "user.created"}, "invalid_name"),
        ({"name": "app."}, "invalid_name"),
        ({"name": "app.has space"}, "invalid_name"),
        ({"name": "app." + "a" * 201}, "invalid_name"),
        ({"name": 42}, "invalid_name"),
        ({"name": "app.ok", "messageId": "has space"}, "invalid_message_id"),
        ({"name": "app.ok", "messageId": "m" * 65}, "invalid_message_id"),
        ({"name": "app.ok", "messageId": 7}, "invalid_message_id"),
        ({"name": "app.ok", "properties": ["a"]}, "invalid_properties"),
        ({"name": "app.ok", "properties": "a=b"}, "invalid_properties"),
        ({"name": "app.ok", "properties": {"big": "x" * 33 * 1024}}, "properties_too_large"),
        ({"name": "app.ok", "timestamp": "yesterday"}, "invalid_timestamp"),
        ({"name": "app.ok", "timestamp": "2026-11-29T10:00:00"}, "invalid_timestamp"),
        ({"name": "app.ok", "visitorId": "vis_short"}, "invalid_visitor_id"),
    ],
)
def test_it_rejects_a_bad_item(api, tenant, user, raw, reason):
    if isinstance(raw, dict):
        raw = {"userId": user.public_id, **raw}
    response = server(api, tenant, {"events": [raw]})
    assert response.status_code == 202
    assert response.json() == {"accepted": 0, "duplicates": 0, "rejected": [{"index": 0, "reason": reason}]}
    assert not Event.objects.exists()


def test_it_stores_the_good_items_of_a_batch_with_bad_ones(api, tenant, user, other_tenant):
    stranger = EndUserFactory(environment=other_tenant.environment)
    response = server(
        api,
        tenant,
        {
            "events": [
                item(user, messageId="good1"),
                item(None),
                item(stranger),
                {"userId": "usr_DoesNotExist0000000000", "name": "app.x"},
                item(user, name="user.login"),
                item(user, messageId="good2"),
            ]
        },
    )
    assert response.json() == {
        "accepted": 2,
        "duplicates": 0,
        "rejected": [
            {"index": 1, "reason": "missing_user_id"},
            {"index": 2, "reason": "unknown_user"},
            {"index": 3, "reason": "unknown_user"},
            {"index": 4, "reason": "invalid_name"},
        ],
    }
    assert sorted(Event.objects.values_list("message_id", flat=True)) == ["good1", "good2"]


def test_it_accepts_a_name_at_the_length_limit_and_every_allowed_character(api, tenant, user):
    name = "app.Aa0_.:-" + "x" * 193
    assert server(api, tenant, {"events": [item(user, name=name)]}).json()["accepted"] == 1
    assert Event.objects.get().name == name


def test_it_accepts_properties_of_exactly_32_kib(api, tenant, user):
    properties = {"k": "x" * (32 * 1024 - len('{"k":""}'))}
    assert server(api, tenant, {"events": [item(user, properties=properties)]}).json()["accepted"] == 1


def test_it_strips_nul_and_lone_surrogates_from_properties(api, tenant, user):
    raw = '{"events": [{"userId": "%s", "name": "app.ok", "properties": {"a\\u0000b": "c\\u0000d\\ud800e"}}]}'
    response = server(api, tenant, raw % user.public_id)
    assert response.json()["accepted"] == 1
    assert Event.objects.get().properties == {"ab": "cde"}


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_it_rejects_properties_that_are_not_json_numbers(api, tenant, user, constant):
    properties = '{"n": ' + constant + "}"
    raw = '{"events": [{"userId": "' + user.public_id + '", "name": "app.ok", "properties": ' + properties + "}]}"
    response = server(api, tenant, raw)
    assert response.json()["rejected"] == [{"index": 0, "reason": "invalid_properties"}]


def test_it_rejects_absurdly_nested_properties_without_crashing(api, tenant, user):
    nested = '{"a":' * 900 + "1" + "}" * 900
    raw = '{"events": [{"userId": "' + user.public_id + '", "name": "app.ok", "properties": ' + nested + "}]}"
    response = server(api, tenant, raw)
    assert response.status_code in (202, 400)
    assert not Event.objects.exists()


# --- Time -----------------------------------------------------------------------------


def test_it_corrects_a_wrong_client_clock_with_sent_at(api, tenant, user):
    client_clock = NOW + timedelta(hours=3)  # the server's clock is an hour... three ahead
    with time_machine.travel(NOW, tick=False):
        server(
            api,
            tenant,
            {"sentAt": iso(client_clock), "events": [item(user, timestamp=iso(client_clock - timedelta(seconds=10)))]},
        )
    assert Event.objects.get().timestamp == NOW - timedelta(seconds=10)


def test_without_a_timestamp_the_event_happened_on_arrival(api, tenant, user):
    with time_machine.travel(NOW, tick=False):
        server(api, tenant, {"events": [item(user)]})
    assert Event.objects.get().timestamp == NOW


def test_it_clamps_a_future_time_to_now(api, tenant, user):
    with time_machine.travel(NOW, tick=False):
        server(api, tenant, {"events": [item(user, timestamp=iso(NOW + timedelta(hours=2)))]})
    assert Event.objects.get().timestamp == NOW


def test_a_server_may_backfill_old_events(api, tenant, user):
    old = NOW - timedelta(days=400)
    with time_machine.travel(NOW, tick=False):
        response = server(api, tenant, {"events": [item(user, timestamp=iso(old))]})
    assert response.json()["accepted"] == 1
    assert Event.objects.get().timestamp == old


def test_an_absurd_clock_skew_is_an_invalid_timestamp(api, tenant, user):
    body = {"sentAt": "9999-12-31T00:00:00Z", "events": [item(user, timestamp="0001-01-01T00:00:00Z")]}
    assert server(api, tenant, body).json()["rejected"] == [{"index": 0, "reason": "invalid_timestamp"}]


# --- Visitors -------------------------------------------------------------------------


def test_a_visitor_id_links_the_visitor_and_joins_its_session(api, tenant, user, django_capture_on_commit_callbacks):
    started = NOW - timedelta(hours=2)
    with time_machine.travel(NOW, tick=False):
        visitor = VisitorFactory(environment=tenant.environment, public_id=VISITOR_ID)
        session = SessionFactory(
            visitor=visitor,
            started_at=started,
            last_activity_at=started + timedelta(minutes=10),
            pageview_count=1,
            is_bounce=True,
        )
        with django_capture_on_commit_callbacks(execute=True):
            response = server(
                api,
                tenant,
                {
                    "events": [
                        item(user, visitorId=VISITOR_ID, timestamp=iso(started + timedelta(minutes=5))),
                        # Within the 30-minute timeout of the session's last activity: it stretches it.
                        item(user, visitorId=VISITOR_ID, timestamp=iso(started + timedelta(minutes=25))),
                        # Long after: no session to join, and none is started for it.
                        item(user, visitorId=VISITOR_ID),
                    ]
                },
            )
    assert response.json()["accepted"] == 3
    visitor.refresh_from_db()
    session.refresh_from_db()
    assert visitor.user_id == user.id and visitor.stitched_at is not None
    inside, stretching, later = Event.objects.order_by("timestamp")
    assert (inside.visitor_id, inside.session_id) == (visitor.id, session.id)
    assert (stretching.visitor_id, stretching.session_id) == (visitor.id, session.id)
    assert (later.visitor_id, later.session_id) == (visitor.id, None)
    assert (session.event_count, session.is_bounce, session.user_id) == (2, False, user.id)
    assert (session.last_activity_at, session.duration_seconds) == (started + timedelta(minutes=25), 25 * 60)
    assert Session.objects.count() == 1


def test_a_visitor_id_the_server_has_not_seen_is_created_and_linked(api, tenant, user):
    server(api, tenant, {"events": [item(user, visitorId=VISITOR_ID)]})
    visitor = Visitor.objects.get(environment=tenant.environment, public_id=VISITOR_ID)
    assert visitor.user_id == user.id
    assert Event.objects.get().visitor_id == visitor.id


def test_a_visitor_of_another_user_is_not_moved_and_the_event_is_still_stored(api, tenant, user):
    owner = EndUserFactory(environment=tenant.environment)
    visitor = VisitorFactory(environment=tenant.environment, public_id=VISITOR_ID, user=owner)
    response = server(api, tenant, {"events": [item(user, visitorId=VISITOR_ID)]})
    assert response.json()["accepted"] == 1
    visitor.refresh_from_db()
    user.refresh_from_db()
    assert visitor.user_id == owner.id and user.link_conflicts == 1
    event = Event.objects.get()
    # The event is the named user's; the device, and its erasure, stay the owner's.
    assert (event.user_id, event.visitor_id) == (user.id, None)


def test_a_duplicate_delivery_links_nothing_again(api, tenant, user):
    body = {"events": [item(user, visitorId=VISITOR_ID, messageId="m1")]}
    server(api, tenant, body)
    other = EndUserFactory(environment=tenant.environment)
    body["events"][0]["userId"] = other.public_id
    assert server(api, tenant, body).json()["duplicates"] == 1
    other.refresh_from_db()
    assert other.link_conflicts == 0


def test_a_visitor_of_another_environment_is_never_touched(api, tenant, other_tenant, user):
    theirs = VisitorFactory(environment=other_tenant.environment, public_id=VISITOR_ID)
    server(api, tenant, {"events": [item(user, visitorId=VISITOR_ID)]})
    theirs.refresh_from_db()
    assert theirs.user_id is None
    assert Visitor.objects.get(environment=tenant.environment).user_id == user.id


# --- Browser calls --------------------------------------------------------------------


def test_a_browser_call_stores_events_of_the_tokens_user(api, tenant, user):
    token = user_token_issue(user=user)
    response = browser(api, tenant, token, {"events": [item(None), item(user)]})
    assert response.json() == {"accepted": 2, "duplicates": 0, "rejected": []}
    assert set(Event.objects.values_list("kind", "user_id")) == {("browser", user.id)}


def test_a_browser_event_keeps_the_page_it_happened_on(api, tenant, user):
    token = user_token_issue(user=user)
    body = {"events": [item(None, url="https://app.example.com/settings?tab=billing"), item(None, url="nonsense")]}
    assert browser(api, tenant, token, body).json()["accepted"] == 2
    assert sorted(Event.objects.values_list("hostname", "path")) == [("", ""), ("app.example.com", "/settings")]


def test_a_browser_item_naming_another_user_is_rejected(api, tenant, user):
    other = EndUserFactory(environment=tenant.environment)
    token = user_token_issue(user=user)
    response = browser(api, tenant, token, {"events": [item(other), item(None)]})
    assert response.json()["rejected"] == [{"index": 0, "reason": "user_mismatch"}]
    assert Event.objects.get().user_id == user.id


def test_a_browser_item_older_than_seven_days_is_too_old(api, tenant, user):
    token = user_token_issue(user=user)
    with time_machine.travel(NOW, tick=False):
        response = browser(api, tenant, token, {"events": [item(None, timestamp=iso(NOW - timedelta(days=8)))]})
    assert response.json()["rejected"] == [{"index": 0, "reason": "too_old"}]


def test_a_browser_call_answers_cors_for_an_allowed_origin(api, tenant, user):
    tenant.environment.allowed_origins = ["https://app.example.com"]
    tenant.environment.save()
    token = user_token_issue(user=user)
    response = browser(api, tenant, token, {"events": [item(None)]}, HTTP_ORIGIN="https://app.example.com")
    assert response.status_code == 202
    assert response["Access-Control-Allow-Origin"] == "https://app.example.com"


def test_a_browser_call_from_a_disallowed_origin_is_refused(api, tenant, user):
    tenant.environment.allowed_origins = ["https://app.example.com"]
    tenant.environment.save()
    token = user_token_issue(user=user)
    response = browser(api, tenant, token, {"events": [item(None)]}, HTTP_ORIGIN="https://evil.example")
    assert error_code(response) == (403, "origin_not_allowed")
    assert not Event.objects.exists()


def test_it_answers_a_preflight(api):
    response = api.options(
        EVENTS,
        HTTP_ORIGIN="https://app.example.com",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type, x-ascendkit-env-key",
    )
    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "Authorization" in response["Access-Control-Allow-Headers"]


# --- Envelope and auth ----------------------------------------------------------------


def test_it_refuses_malformed_json(api, tenant):
    assert error_code(server(api, tenant, '{"events": [')) == (400, "malformed_json")


def test_it_refuses_a_json_list_instead_of_an_object(api, tenant, user):
    assert error_code(server(api, tenant, [item(user)])) == (400, "invalid_request")


@pytest.mark.parametrize("events", [None, [], "x", {"name": "app.x"}])
def test_it_refuses_a_batch_without_a_list_of_items(api, tenant, events):
    body = {} if events is None else {"events": events}
    assert error_code(server(api, tenant, body)) == (400, "invalid_request")


def test_it_refuses_101_items(api, tenant, user):
    assert error_code(server(api, tenant, {"events": [item(user)] * 101})) == (413, "too_many_items")
    assert not Event.objects.exists()


def test_it_accepts_100_items(api, tenant, user):
    assert server(api, tenant, {"events": [item(user)] * 100}).json()["accepted"] == 100


def test_it_refuses_a_body_over_512_kib(api, tenant, user):
    body = json.dumps({"events": [item(user, properties={"pad": "x" * (513 * 1024)})]})
    assert error_code(server(api, tenant, body)) == (413, "payload_too_large")


def test_it_refuses_a_body_over_django_s_own_limit_too(api, tenant, user):
    body = json.dumps({"events": [item(user, properties={"pad": "x" * (3 * 1024 * 1024)})]})
    assert error_code(server(api, tenant, body)) == (413, "payload_too_large")


def test_it_refuses_a_wrong_content_type(api, tenant, user):
    response = server(api, tenant, {"events": [item(user)]}, content_type="application/x-www-form-urlencoded")
    assert error_code(response) == (415, "unsupported_media_type")


def test_it_refuses_a_call_without_credentials(api, user):
    assert error_code(api.post_json(EVENTS, {"events": [item(user)]})) == (401, "missing_key")


def test_it_refuses_an_unknown_secret_key(api, user):
    response = api.post_json(EVENTS, {"events": [item(user)]}, HTTP_AUTHORIZATION="Bearer sk_" + "x" * 40)
    assert error_code(response) == (401, "invalid_key")


def test_it_refuses_the_env_key_as_a_bearer(api, tenant, user):
    response = api.post_json(EVENTS, {"events": [item(user)]}, HTTP_AUTHORIZATION=f"Bearer {tenant.env_key}")
    assert error_code(response) == (403, "wrong_key_kind")


def test_it_refuses_the_env_key_alone(api, tenant, user):
    response = api.post_json(EVENTS, {"events": [item(user)]}, HTTP_X_ASCENDKIT_ENV_KEY=tenant.env_key)
    assert error_code(response) == (401, "missing_token")


def test_it_refuses_a_secret_key_with_another_environments_env_key(api, tenant, other_tenant, user):
    response = server(api, tenant, {"events": [item(user)]}, HTTP_X_ASCENDKIT_ENV_KEY=other_tenant.env_key)
    assert error_code(response) == (403, "key_mismatch")


def test_it_refuses_a_token_with_another_environments_env_key(api, tenant, other_tenant, user):
    token = user_token_issue(user=user)
    response = browser(api, other_tenant, token, {"events": [item(None)]})
    assert error_code(response) == (401, "invalid_token")


def test_another_environments_key_cannot_write_for_this_environments_user(api, tenant, other_tenant, user):
    response = server(api, other_tenant, {"events": [item(user)]})
    assert response.json()["rejected"] == [{"index": 0, "reason": "unknown_user"}]
    assert not Event.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_answers_503_with_retry_after_when_the_database_is_down(api, tenant, user):
    body = {"events": [item(user, messageId="m-outage")]}
    with database_down():
        response = server(api, tenant, body)
    assert error_code(response) == (503, "service_unavailable")
    assert response["Retry-After"]

    # The client retries once the database is back: stored once.
    assert server(api, tenant, body).json()["accepted"] == 1
    assert Event.objects.filter(message_id="m-outage").count() == 1


def test_the_service_stores_nothing_when_the_outbox_write_fails(tenant, user, monkeypatch):
    def broken(**kwargs):
        raise OperationalError("gone")

    monkeypatch.setattr(business_events, "outbox_add", broken)
    with pytest.raises(OperationalError):
        business_events.business_events_record(
            environment=tenant.environment,
            token_user=None,
            raw_items=[item(user)],
            sent_at=None,
            received_at=NOW,
        )
    assert not Event.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_deliveries_of_one_batch_at_once_store_it_once(tenant, monkeypatch, run_together):
    monkeypatch.setattr(tasks.outbox_dispatch, "apply_async", lambda *args, **kwargs: None)
    monkeypatch.setattr(tasks.stitch_visitor, "apply_async", lambda *args, **kwargs: None)
    user = EndUserFactory(environment=tenant.environment)
    body = json.dumps({"events": [item(user, messageId=f"m{n}", visitorId=VISITOR_ID) for n in range(50)]})

    def deliver():
        response = Client().post(
            EVENTS, body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {tenant.secret_key}"
        )
        return response.json()

    answers = run_together(deliver, deliver)

    assert sum(answer["accepted"] for answer in answers) == 50
    assert sum(answer["duplicates"] for answer in answers) == 50
    assert Event.objects.count() == OutboxEntry.objects.count() == 50
    assert Session.objects.count() == 0
