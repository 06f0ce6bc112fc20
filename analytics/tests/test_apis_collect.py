"""`POST /v1/analytics/collect`: what is accepted, what is refused, and how it is stored."""

import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from analytics.models import Attribution, BotHit, Event, OutboxEntry, Pageview, Session, Visitor
from analytics.tests.helpers import (
    GOOGLEBOT,
    IPHONE,
    VISITOR_A,
    VISITOR_B,
    batch,
    iso,
    minutes_ago,
    pageview,
    track,
)

COLLECT = "/v1/analytics/collect"


def collect(api, tenant, body, **extra):
    return api.post_json(COLLECT, body, HTTP_X_ASCENDKIT_ENV_KEY=tenant.env_key, **extra)


def error_code(response) -> str:
    return response.json()["error"]["code"]


# --- The happy path -------------------------------------------------------------------


def test_it_stores_a_pageview_and_an_event_with_every_field(api, tenant):
    body = batch(
        [
            pageview(
                "https://example.com/pricing?utm_source=newsletter&utm_medium=email&utm_campaign=nov"
                "&utm_term=auth&utm_content=hero&gclid=SECRETCLICK&secret=token#plans",
                referrer="https://www.google.com/search?q=auth",
                title="Pricing",
            ),
            track("app.cta_clicked", properties={"location": "hero"}, url="https://example.com/pricing?x=1"),
        ],
        visitor_id=VISITOR_A,
    )

    response = collect(api, tenant, body)

    assert response.status_code == 202
    assert response.json() == {"visitorId": VISITOR_A, "accepted": 2, "duplicates": 0, "rejected": []}
    view = Pageview.objects.get()
    assert (view.hostname, view.path, view.title) == ("example.com", "/pricing", "Pricing")
    assert (view.referrer_host, view.referrer_path) == ("www.google.com", "/search")
    assert (view.utm_source, view.utm_medium, view.utm_campaign, view.utm_term, view.utm_content) == (
        "newsletter",
        "email",
        "nov",
        "auth",
        "hero",
    )
    assert (view.browser, view.os, view.device_type) == ("Chrome", "Mac OS X", "desktop")
    assert view.visitor.public_id == VISITOR_A
    event = Event.objects.get()
    assert (event.name, event.properties, event.kind) == ("app.cta_clicked", {"location": "hero"}, "browser")
    assert (event.hostname, event.path) == ("example.com", "/pricing")
    assert event.session_id == view.session_id
    # Query strings are not kept, beyond the five utm_* parameters; click IDs neither.
    stored = json.dumps(list(Pageview.objects.values()), default=str) + json.dumps(
        list(Session.objects.values()), default=str
    )
    assert "SECRETCLICK" not in stored and "token" not in stored and "q=auth" not in stored


def test_it_keeps_the_session_context_from_the_first_pageview(api, tenant):
    body = batch([pageview("https://example.com/?utm_source=newsletter&utm_medium=email")], visitor_id=VISITOR_A)

    collect(api, tenant, body)

    session = Session.objects.get()
    assert session.public_id.startswith("ses_")
    assert (session.entry_path, session.exit_path) == ("/", "/")
    assert (session.source, session.channel, session.utm_medium) == ("newsletter", "Email", "email")
    assert (session.screen_width, session.screen_height) == (1440, 900)
    assert (session.locale, session.time_zone) == ("en-US", "Europe/Berlin")
    assert (session.pageview_count, session.event_count, session.is_bounce) == (1, 0, True)


def test_it_accepts_the_env_key_in_the_body_as_a_beacon_sends_it(api, tenant):
    body = batch([pageview()], env_key=tenant.env_key)

    response = api.post_json(COLLECT, body, content_type="text/plain;charset=UTF-8")

    assert response.status_code == 202
    assert Pageview.objects.count() == 1


def test_it_mints_a_visitor_id_when_the_client_sent_none(api, tenant):
    response = collect(api, tenant, batch([pageview()]))

    visitor_id = response.json()["visitorId"]
    assert visitor_id.startswith("vis_") and len(visitor_id) >= 20
    assert Visitor.objects.get().public_id == visitor_id


@pytest.mark.parametrize(
    "bad_id", ["vis_short", "usr_AAAAAAAAAAAAAAAAAAAAAAAA", "vis_AAAAAAAAAAAAAAAA!", 42, "vis_" + "A" * 65]
)
def test_it_replaces_an_invalid_visitor_id_with_a_minted_one(api, tenant, bad_id):
    response = collect(api, tenant, batch([pageview()], visitor_id=bad_id))

    assert response.status_code == 202
    minted = response.json()["visitorId"]
    assert minted != bad_id and minted.startswith("vis_")
    assert Visitor.objects.get().public_id == minted


def test_it_records_the_visitors_first_touch(api, tenant):
    collect(
        api,
        tenant,
        batch([pageview("https://example.com/docs", referrer="https://www.google.com/")], visitor_id=VISITOR_A),
    )

    touch = Attribution.objects.get(kind="first_touch")
    assert (touch.channel, touch.source, touch.medium, touch.landing_page) == (
        "Organic Search",
        "Google",
        "organic",
        "/docs",
    )
    assert touch.visitor.public_id == VISITOR_A


def test_it_answers_cors_with_the_requests_origin(api, tenant):
    response = collect(api, tenant, batch([pageview()]), HTTP_ORIGIN="https://example.com")

    assert response.status_code == 202
    assert response["Access-Control-Allow-Origin"] == "https://example.com"


def test_it_answers_a_preflight(api, tenant):
    response = api.options(
        COLLECT,
        HTTP_ORIGIN="https://example.com",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type,x-ascendkit-env-key",
    )

    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == "https://example.com"
    assert "x-ascendkit-env-key" in response["Access-Control-Allow-Headers"].lower()
    assert "POST" in response["Access-Control-Allow-Methods"]


def test_the_short_way_through_the_middleware_keeps_the_security_headers(api, tenant):
    response = collect(api, tenant, batch([pageview()]))

    assert response.status_code == 202
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    # The middleware after the shortcut did not run: no cookie, no page policy.
    assert "Set-Cookie" not in response and "Content-Security-Policy" not in response


def test_the_short_way_still_refuses_a_host_that_is_not_served(api, tenant, settings):
    settings.ALLOWED_HOSTS = ["collect.example.com"]

    response = collect(api, tenant, batch([pageview()]), HTTP_HOST="evil.example.net")

    assert response.status_code == 400
    assert error_code(response) == "bad_request"
    assert not Pageview.objects.exists()


def test_the_preflight_and_other_routes_take_the_whole_middleware_chain(api, tenant):
    preflight = api.options(COLLECT, HTTP_ORIGIN="https://example.com", HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST")
    page = api.get("/portal/login/")

    assert preflight.status_code == 204
    # Headers only the middleware after the shortcut adds.
    assert "Content-Security-Policy" in preflight and "X-Frame-Options" in preflight
    assert "Content-Security-Policy" in page


def test_it_accepts_an_allowed_origin(api, tenant):
    tenant.environment.allowed_origins = ["https://example.com"]
    tenant.environment.save()

    response = collect(api, tenant, batch([pageview()]), HTTP_ORIGIN="https://example.com")

    assert response.status_code == 202


# --- Refusals -------------------------------------------------------------------------


def test_it_refuses_a_disallowed_origin_readably(api, tenant):
    tenant.environment.allowed_origins = ["https://example.com"]
    tenant.environment.save()

    response = collect(api, tenant, batch([pageview()]), HTTP_ORIGIN="https://evil.example")

    assert response.status_code == 403
    assert error_code(response) == "origin_not_allowed"
    assert response["Access-Control-Allow-Origin"] == "https://evil.example"
    assert Pageview.objects.count() == 0


def test_it_refuses_malformed_json_with_the_error_shape(api, tenant):
    response = collect(api, tenant, b'{"events": [', HTTP_ORIGIN="https://example.com")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert error_code(response) == "malformed_json"
    assert response["Access-Control-Allow-Origin"] == "https://example.com"


def test_it_refuses_invalid_utf8(api, tenant):
    response = collect(api, tenant, b'{"events": ["\xff\xfe"]}')

    assert response.status_code == 400
    assert error_code(response) == "malformed_json"


def test_it_refuses_a_json_list_instead_of_an_object(api, tenant):
    response = collect(api, tenant, [pageview()])

    assert response.status_code == 400
    assert error_code(response) == "invalid_request"


def test_it_refuses_a_wrong_content_type(api, tenant):
    response = collect(api, tenant, json.dumps(batch([pageview()])), content_type="application/x-www-form-urlencoded")

    assert response.status_code == 415
    assert error_code(response) == "unsupported_media_type"


@pytest.mark.parametrize("events", [[], None, "pageview", {"type": "pageview"}])
def test_it_refuses_a_batch_without_a_list_of_items(api, tenant, events):
    response = collect(api, tenant, {"events": events})

    assert response.status_code == 400
    assert error_code(response) == "invalid_request"


def test_it_refuses_a_missing_key(api, tenant):
    response = api.post_json(COLLECT, batch([pageview()]))

    assert response.status_code == 401
    assert error_code(response) == "missing_key"


def test_it_refuses_an_unknown_env_key(api, tenant):
    response = api.post_json(COLLECT, batch([pageview()]), HTTP_X_ASCENDKIT_ENV_KEY="env_" + "x" * 24)

    assert response.status_code == 401
    assert error_code(response) == "invalid_key"


def test_it_refuses_the_secret_key_as_the_wrong_kind(api, tenant):
    response = api.post_json(COLLECT, batch([pageview()]), HTTP_X_ASCENDKIT_ENV_KEY=tenant.secret_key)

    assert response.status_code == 403
    assert error_code(response) == "wrong_key_kind"


def test_it_refuses_a_body_over_512_kib(api, tenant):
    body = batch([pageview(title="x" * (513 * 1024))])

    response = collect(api, tenant, body)

    assert response.status_code == 413
    assert error_code(response) == "payload_too_large"


def test_it_refuses_101_items(api, tenant):
    response = collect(api, tenant, batch([pageview() for _ in range(101)]))

    assert response.status_code == 413
    assert error_code(response) == "too_many_items"
    assert Pageview.objects.count() == 0


def test_it_accepts_100_items(api, tenant):
    response = collect(api, tenant, batch([pageview() for _ in range(100)]))

    assert response.json()["accepted"] == 100


def test_it_rejects_only_the_bad_items_of_a_batch(api, tenant):
    now = timezone.now()
    items = [
        pageview(),
        {"type": "click", "messageId": "bad-type"},
        pageview("/relative"),
        pageview("javascript:alert(1)"),
        track("cta_clicked"),
        track("user.created"),
        track(properties={"big": "x" * (33 * 1024)}),
        track(properties=["not", "an", "object"]),
        pageview(at=now - timedelta(days=8)),
        pageview(timestamp="yesterday"),
        pageview(messageId="has spaces"),
        "not an object",
        track(),
    ]

    response = collect(api, tenant, batch(items, sent_at=now))

    assert response.status_code == 202
    assert response.json()["accepted"] == 2
    assert response.json()["rejected"] == [
        {"index": 1, "reason": "invalid_type"},
        {"index": 2, "reason": "invalid_url"},
        {"index": 3, "reason": "invalid_url"},
        {"index": 4, "reason": "invalid_name"},
        {"index": 5, "reason": "invalid_name"},
        {"index": 6, "reason": "properties_too_large"},
        {"index": 7, "reason": "invalid_properties"},
        {"index": 8, "reason": "too_old"},
        {"index": 9, "reason": "invalid_timestamp"},
        {"index": 10, "reason": "invalid_message_id"},
        {"index": 11, "reason": "invalid_item"},
    ]
    assert Pageview.objects.count() == 1 and Event.objects.count() == 1


def test_it_drops_bot_traffic_and_only_counts_it(api, tenant):
    response = collect(api, tenant, batch([pageview(), pageview()], user_agent=GOOGLEBOT, visitor_id=VISITOR_A))

    assert response.status_code == 202
    assert response.json()["accepted"] == 0
    assert Visitor.objects.count() == 0 and Session.objects.count() == 0 and Pageview.objects.count() == 0
    assert BotHit.objects.get(environment=tenant.environment).count == 2


def test_it_falls_back_to_the_request_user_agent(api, tenant):
    body = batch([pageview()])
    del body["context"]["userAgent"]

    collect(api, tenant, body, HTTP_USER_AGENT=IPHONE)

    assert Session.objects.get().device_type == "mobile"


# --- Duplicates -----------------------------------------------------------------------


def test_it_stores_a_repeated_message_id_once(api, tenant):
    item = pageview()
    first = collect(api, tenant, batch([item], visitor_id=VISITOR_A))
    again = collect(api, tenant, batch([item], visitor_id=VISITOR_A))

    assert first.json()["accepted"] == 1
    assert again.json() == {"visitorId": VISITOR_A, "accepted": 0, "duplicates": 1, "rejected": []}
    assert Pageview.objects.count() == 1
    assert Session.objects.get().pageview_count == 1


def test_it_counts_a_repeat_within_one_batch_as_a_duplicate(api, tenant):
    item = track()

    response = collect(api, tenant, batch([item, dict(item)], visitor_id=VISITOR_A))

    assert response.json()["accepted"] == 1 and response.json()["duplicates"] == 1


def test_message_ids_are_scoped_to_their_environment(api, tenant, other_tenant):
    item = pageview()

    collect(api, tenant, batch([item], visitor_id=VISITOR_A))
    response = collect(api, other_tenant, batch([item], visitor_id=VISITOR_A))

    assert response.json()["accepted"] == 1
    assert Pageview.objects.filter(environment=tenant.environment).count() == 1
    assert Pageview.objects.filter(environment=other_tenant.environment).count() == 1


def test_one_environments_key_never_touches_another_environments_visitor(api, tenant, other_tenant):
    collect(api, tenant, batch([pageview("https://a.example/")], visitor_id=VISITOR_A))
    collect(api, other_tenant, batch([pageview("https://b.example/")], visitor_id=VISITOR_A))

    ours = Visitor.objects.get(environment=tenant.environment, public_id=VISITOR_A)
    theirs = Visitor.objects.get(environment=other_tenant.environment, public_id=VISITOR_A)
    assert ours.pk != theirs.pk
    assert list(ours.pageviews.values_list("hostname", flat=True)) == ["a.example"]
    assert list(theirs.pageviews.values_list("hostname", flat=True)) == ["b.example"]


# --- Time -----------------------------------------------------------------------------


def test_it_corrects_a_wrong_client_clock_with_sent_at(api, tenant):
    client_clock = timezone.now() + timedelta(hours=5)  # five hours fast
    item = pageview(at=client_clock - timedelta(seconds=10))

    before = timezone.now()
    collect(api, tenant, batch([item], sent_at=client_clock))

    stored = Pageview.objects.get().timestamp
    assert before - timedelta(seconds=11) <= stored <= timezone.now() - timedelta(seconds=9)


def test_it_clamps_a_future_time_to_now(api, tenant):
    now = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
    body = batch([pageview(at=now + timedelta(hours=2))])
    del body["sentAt"]

    with time_machine.travel(now, tick=False):
        collect(api, tenant, body)

    assert Pageview.objects.get().timestamp == now


def test_it_keeps_a_time_less_than_a_minute_ahead(api, tenant):
    now = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
    body = batch([pageview(at=now + timedelta(seconds=50))])
    del body["sentAt"]

    with time_machine.travel(now, tick=False):
        collect(api, tenant, body)

    assert Pageview.objects.get().timestamp == now + timedelta(seconds=50)


def test_it_rejects_an_item_older_than_seven_days(api, tenant):
    body = batch([pageview(at=timezone.now() - timedelta(days=7, minutes=1)), pageview(at=minutes_ago(60 * 24 * 6))])

    response = collect(api, tenant, body)

    assert response.json()["accepted"] == 1
    assert response.json()["rejected"] == [{"index": 0, "reason": "too_old"}]


def test_an_unparseable_sent_at_is_ignored(api, tenant):
    response = collect(api, tenant, batch([pageview()], sentAt="not a time"))

    assert response.json()["accepted"] == 1


# --- Strings PostgreSQL would refuse, and strings that lie ----------------------------


def test_it_strips_nul_lone_surrogates_and_bidi_overrides(api, tenant):
    # Built as text: json.dumps cannot encode a lone surrogate, a browser can.
    raw = (
        '{"context": {"userAgent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"},'
        ' "events": ['
        '{"type": "pageview", "messageId": "p1", "url": "https://example.com/a\\u0000b",'
        ' "title": "T\\u0000i\\ud800t\\u202ele\\u2066"},'
        '{"type": "track", "messageId": "t1", "name": "app.ok",'
        ' "properties": {"k\\u0000ey": "v\\udfffal\\u202eue", "nested": ["\\u0000", {"x": "\\ud83d"}]}}'
        "]}"
    )

    response = collect(api, tenant, raw.encode())

    assert response.status_code == 202
    assert response.json()["accepted"] == 2
    view = Pageview.objects.get()
    assert view.title == "Title"
    assert "\x00" not in view.path
    event = Event.objects.get()
    assert event.properties == {"key": "value", "nested": ["", {"x": ""}]}


def test_it_keeps_real_right_to_left_text(api, tenant):
    collect(api, tenant, batch([pageview(title="مرحبا بالعالم")]))

    assert Pageview.objects.get().title == "مرحبا بالعالم"


def test_it_cuts_long_strings(api, tenant):
    collect(api, tenant, batch([pageview("https://example.com/" + "p" * 5000, title="t" * 2000)]))

    view = Pageview.objects.get()
    # The URL is cut to 2,048 characters before it is parsed; the title to 512.
    assert view.path == "/" + "p" * (2048 - len("https://example.com/"))
    assert view.title == "t" * 512


# --- Linked visitors ------------------------------------------------------------------


def test_traffic_of_a_linked_visitor_goes_to_its_user_at_once(api, tenant):
    from identity.models import EndUser

    user = EndUser.objects.create(environment=tenant.environment, email="ada@example.com", password="x")
    Visitor.objects.create(environment=tenant.environment, public_id=VISITOR_B, user=user)

    collect(api, tenant, batch([pageview(), track("app.checkout")], visitor_id=VISITOR_B))

    assert Pageview.objects.get().user == user
    assert Session.objects.get().user == user
    event = Event.objects.get()
    assert event.user == user
    # The user's events feed journeys and webhooks.
    assert OutboxEntry.objects.filter(event=event).count() == 1


def test_anonymous_events_are_not_handed_to_journeys(api, tenant):
    collect(api, tenant, batch([track("app.cta_clicked")], visitor_id=VISITOR_A))

    assert OutboxEntry.objects.count() == 0


def test_it_stores_items_with_the_right_visitor_session_and_order(api, tenant):
    start = minutes_ago(10)
    items = [
        pageview("https://example.com/", at=start),
        pageview("https://example.com/pricing", at=start + timedelta(minutes=2)),
        track("app.signup_started", at=start + timedelta(minutes=3)),
    ]

    collect(api, tenant, batch(items, visitor_id=VISITOR_A, sent_at=None))

    session = Session.objects.get()
    assert (session.entry_path, session.exit_path) == ("/", "/pricing")
    assert (session.pageview_count, session.event_count, session.is_bounce) == (2, 1, False)
    assert 175 <= session.duration_seconds <= 185
    assert iso(session.started_at)[:16] == iso(start)[:16]
    assert session.browser == "Chrome"


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_it_rejects_properties_that_are_not_json_numbers(api, tenant, number):
    body = json.dumps(batch([track("app.x", properties={"n": "NUMBER"}), track("app.y", properties={"n": 1.5})]))
    raw = body.replace('"NUMBER"', number)

    response = collect(api, tenant, raw.encode())

    assert response.status_code == 202
    assert response.json()["rejected"] == [{"index": 0, "reason": "invalid_properties"}]
    assert list(Event.objects.values_list("name", "properties")) == [("app.y", {"n": 1.5})]


def test_an_absurd_clock_skew_is_an_invalid_timestamp(api, tenant):
    body = batch([pageview(timestamp="0001-01-01T00:00:00Z")], sentAt="9999-12-31T23:59:59Z")

    response = collect(api, tenant, body)

    assert response.json()["rejected"] == [{"index": 0, "reason": "invalid_timestamp"}]


def test_pre_signup_events_delivered_after_the_link_are_not_handed_to_journeys(api, tenant):
    from identity.models import EndUser

    user = EndUser.objects.create(environment=tenant.environment, email="ada@example.com", password="x")
    Visitor.objects.create(environment=tenant.environment, public_id=VISITOR_B, user=user)
    before, after = user.created_at - timedelta(minutes=5), user.created_at + timedelta(seconds=1)

    collect(api, tenant, batch([track("app.before", at=before), track("app.after", at=after)], visitor_id=VISITOR_B))

    assert set(Event.objects.values_list("name", "user")) == {("app.before", user.id), ("app.after", user.id)}
    assert list(OutboxEntry.objects.values_list("event__name", flat=True)) == ["app.after"]
