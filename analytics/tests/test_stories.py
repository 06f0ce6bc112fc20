"""Stories told end to end through the HTTP API: from an anonymous visit to a profile.

Ada finds the docs from Google on her laptop and signs up; she had once come by a
Twitter campaign on her phone, and logs in there later; Grace logs in on Ada's
laptop; Ada's tablet is linked by a server event; and another environment's keys
find none of it. Every request commits, so stitching runs as in production
(queued on commit, executed in-process here).
"""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from analytics.models import Event, Visitor
from analytics.services.outbox import register_consumer, unregister_consumer
from analytics.tests.helpers import IPHONE, batch, pageview, track

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "a-long-passphrase-42"
LAPTOP = "vis_AdaLaptop0000000000000001"
PHONE = "vis_AdaPhone00000000000000001"
TABLET = "vis_AdaTablet0000000000000001"

PHONE_VISIT = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
LAPTOP_VISIT = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
SIGNUP = LAPTOP_VISIT + timedelta(minutes=4)
PHONE_LOGIN = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
GRACE_SIGNUP = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
TABLET_VISIT = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


class Browser:
    """One device: its visitor ID, and the calls its SDK makes."""

    def __init__(self, api, tenant, visitor_id, user_agent=None):
        self.api, self.tenant, self.visitor_id = api, tenant, visitor_id
        self.user_agent = user_agent
        self.token = None

    def collect(self, *items):
        extra = {"user_agent": self.user_agent} if self.user_agent else {}
        body = batch(list(items), visitor_id=self.visitor_id, **extra)
        response = self.api.post_json("/v1/analytics/collect", body, HTTP_X_ASCENDKIT_ENV_KEY=self.tenant.env_key)
        assert response.status_code == 202, response.content
        assert response.json()["rejected"] == []
        return response.json()

    def visit(self, url, **fields):
        return self.collect(pageview(url, **fields))

    def auth(self, action, email, **fields):
        body = {"email": email, "password": PASSWORD, "visitorId": self.visitor_id, **fields}
        response = self.api.post_json(f"/v1/auth/{action}", body, HTTP_X_ASCENDKIT_ENV_KEY=self.tenant.env_key)
        assert response.status_code in (200, 201), response.content
        self.token = response.json()["token"]
        return response.json()["user"]

    def track_signed_in(self, name, **properties):
        response = self.api.post_json(
            "/v1/events",
            {"events": [{"name": name, "properties": properties}]},
            HTTP_AUTHORIZATION=f"Bearer {self.token}",
            HTTP_X_ASCENDKIT_ENV_KEY=self.tenant.env_key,
        )
        assert response.status_code == 202 and response.json()["accepted"] == 1, response.content


def secret(tenant) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {tenant.secret_key}"}


def profile_of(api, tenant, user_id) -> dict:
    response = api.get(f"/v1/users/{user_id}", **secret(tenant))
    assert response.status_code == 200, response.content
    return response.json()


def timeline_of(api, tenant, user_id) -> list[dict]:
    items, cursor = [], None
    while True:
        params = {"limit": 4, **({"cursor": cursor} if cursor else {})}
        response = api.get(f"/v1/users/{user_id}/timeline", params, **secret(tenant))
        assert response.status_code == 200, response.content
        items += response.json()["items"]
        cursor = response.json()["next"]
        if cursor is None:
            return items


@pytest.fixture
def handed_on():
    """Names of the events journeys and webhooks were handed."""
    names = []
    consumer = register_consumer(lambda event: names.append(event.name))
    yield names
    unregister_consumer(consumer)


@pytest.fixture
def ada_from_google(api, tenant, handed_on):
    """(a) Ada's phone saw a Twitter campaign; days later her laptop comes from Google and she signs up."""
    phone = Browser(api, tenant, PHONE, user_agent=IPHONE)
    with time_machine.travel(PHONE_VISIT, tick=False):
        phone.visit(
            "https://example.com/?utm_source=twitter&utm_campaign=launch",
            referrer="https://t.co/xyz123",
            title="Home",
        )

    laptop = Browser(api, tenant, LAPTOP)
    with time_machine.travel(LAPTOP_VISIT, tick=False):
        laptop.visit("https://example.com/docs?q=auth+setup", referrer="https://www.google.com/", title="Docs")
    with time_machine.travel(LAPTOP_VISIT + timedelta(minutes=1), tick=False):
        laptop.visit("https://example.com/docs/auth-setup", referrer="https://example.com/docs", title="Auth setup")
    with time_machine.travel(LAPTOP_VISIT + timedelta(minutes=2), tick=False):
        laptop.collect(
            pageview("https://example.com/pricing", referrer="https://example.com/docs/auth-setup", title="Pricing"),
            track("app.cta_clicked", properties={"location": "pricing"}),
        )
    with time_machine.travel(SIGNUP, tick=False):
        ada = laptop.auth("signup", "ada@example.com", name="Ada")
    return ada, laptop, phone


def test_a_visitor_from_google_signs_up_and_her_history_follows_her(api, tenant, ada_from_google, handed_on):
    ada, laptop, _ = ada_from_google

    profile = profile_of(api, tenant, ada["id"])
    assert profile["firstTouch"]["channel"] == "Organic Search"
    assert profile["firstTouch"]["source"] == "Google"
    assert profile["firstTouch"]["landingPage"] == "/docs"
    assert profile["firstTouch"]["referringDomain"] == "google.com"
    assert profile["signupTouch"]["source"] == "Google"
    assert profile["visitors"] == [LAPTOP]
    assert profile["stats"] == {"sessions": 1, "pageviews": 3, "preSignupPageviews": 3, "preSignupEvents": 1}

    timeline = timeline_of(api, tenant, ada["id"])
    assert [(item["type"], item.get("path") or item.get("name"), item["preSignup"]) for item in timeline] == [
        ("pageview", "/docs", True),
        ("pageview", "/docs/auth-setup", True),
        ("event", "app.cta_clicked", True),
        ("pageview", "/pricing", True),
        ("event", "user.created", False),
    ]
    assert {item["visitorId"] for item in timeline} == {LAPTOP}  # user.created names her browser too
    assert len({item["sessionId"] for item in timeline[:4]}) == 1
    assert timeline[0]["url"] == "example.com/docs"

    # After signup her traffic is hers at once, and her events reach journeys; the
    # pre-signup click never does.
    with time_machine.travel(SIGNUP + timedelta(minutes=1), tick=False):
        laptop.visit("https://example.com/app", title="App")
    with time_machine.travel(SIGNUP + timedelta(minutes=2), tick=False):
        laptop.track_signed_in("app.onboarding.completed", step=3)
    timeline = timeline_of(api, tenant, ada["id"])
    assert [(item.get("path") or item.get("name"), item["preSignup"]) for item in timeline[-2:]] == [
        ("/app", False),
        ("app.onboarding.completed", False),
    ]
    assert handed_on == ["user.created", "app.onboarding.completed"]


def test_logging_in_on_a_phone_first_seen_earlier_moves_the_first_touch(api, tenant, ada_from_google):
    ada, _, phone = ada_from_google

    with time_machine.travel(PHONE_LOGIN, tick=False):
        phone.auth("login", "ada@example.com")

    profile = profile_of(api, tenant, ada["id"])
    touch = profile["firstTouch"]
    assert (touch["source"], touch["campaign"], touch["referringDomain"]) == ("twitter", "launch", "t.co")
    assert touch["channel"] == "Organic Social"
    assert touch["at"] == "2026-11-20T09:00:00Z"
    assert (profile["signupTouch"]["source"], profile["signupTouch"]["channel"]) == ("Google", "Organic Search")
    assert profile["visitors"] == [PHONE, LAPTOP]
    assert profile["stats"]["sessions"] == 2
    timeline = timeline_of(api, tenant, ada["id"])
    assert (timeline[0]["visitorId"], timeline[0]["path"], timeline[0]["preSignup"]) == (PHONE, "/", True)


def test_a_second_account_on_a_linked_browser_moves_nothing(api, tenant, ada_from_google):
    ada, _, _ = ada_from_google
    shared_laptop = Browser(api, tenant, LAPTOP)
    with time_machine.travel(GRACE_SIGNUP, tick=False):
        grace = Browser(api, tenant, "vis_GraceOwnLaptop00000000001").auth("signup", "grace@example.com")
        shared_laptop.auth("login", "grace@example.com")
        shared_laptop.visit("https://example.com/pricing", title="Pricing")

    assert Visitor.objects.get(public_id=LAPTOP).user.public_id == ada["id"]
    grace_profile = profile_of(api, tenant, grace["id"])
    assert grace_profile["visitors"] == ["vis_GraceOwnLaptop00000000001"]
    assert grace_profile["stats"]["pageviews"] == 0
    from identity.models import EndUser

    assert EndUser.objects.get(public_id=grace["id"]).link_conflicts == 1
    assert EndUser.objects.get(public_id=ada["id"]).link_conflicts == 0
    # The laptop's later traffic stays with its first user.
    assert profile_of(api, tenant, ada["id"])["stats"]["pageviews"] == 4


def test_a_server_event_with_a_visitor_id_links_that_visitor(api, tenant, ada_from_google, handed_on):
    ada, _, _ = ada_from_google
    tablet = Browser(api, tenant, TABLET)
    with time_machine.travel(TABLET_VISIT, tick=False):
        tablet.visit("https://example.com/blog/launch", referrer="https://news.ycombinator.com/", title="Launch")
    with time_machine.travel(TABLET_VISIT + timedelta(minutes=1), tick=False):
        response = api.post_json(
            "/v1/events",
            {"events": [{"userId": ada["id"], "name": "app.plan.upgraded", "visitorId": TABLET, "messageId": "up1"}]},
            **secret(tenant),
        )
    assert response.json() == {"accepted": 1, "duplicates": 0, "rejected": []}

    profile = profile_of(api, tenant, ada["id"])
    assert TABLET in profile["visitors"]
    # The tablet's first touch (Hacker News, later than Google) does not replace the first touch.
    assert profile["firstTouch"]["source"] == "Google"
    timeline = timeline_of(api, tenant, ada["id"])
    assert [(item.get("path") or item.get("name"), item["visitorId"]) for item in timeline[-2:]] == [
        ("/blog/launch", TABLET),
        ("app.plan.upgraded", TABLET),
    ]
    assert timeline[-1]["sessionId"] == timeline[-2]["sessionId"] is not None
    assert handed_on[-1] == "app.plan.upgraded"


def test_another_environment_finds_none_of_it(api, tenant, other_tenant, ada_from_google):
    ada, _, _ = ada_from_google
    theirs = secret(other_tenant)
    user_id = ada["id"]

    def code(response):
        return response.status_code, response.json()["error"]["code"]

    assert code(api.get(f"/v1/users/{user_id}", **theirs)) == (404, "not_found")
    assert code(api.get(f"/v1/users/{user_id}/timeline", **theirs)) == (404, "not_found")
    assert code(api.post_json("/v1/identify", {"userId": user_id, "visitorId": LAPTOP}, **theirs)) == (404, "not_found")
    assert code(api.post(f"/v1/users/{user_id}/approve", **theirs)) == (404, "not_found")
    assert code(api.delete(f"/v1/users/{user_id}", **theirs)) == (404, "not_found")
    response = api.post_json(
        "/v1/events", {"events": [{"userId": user_id, "name": "app.x", "visitorId": LAPTOP}]}, **theirs
    )
    assert response.json() == {"accepted": 0, "duplicates": 0, "rejected": [{"index": 0, "reason": "unknown_user"}]}
    # Their collect with the same visitor ID is their own visitor, never Ada's.
    their_laptop = Browser(api, other_tenant, LAPTOP)
    with time_machine.travel(SIGNUP + timedelta(minutes=5), tick=False):
        their_laptop.visit("https://other.example/")
    assert Visitor.objects.get(public_id=LAPTOP, environment=other_tenant.environment).user_id is None

    profile = profile_of(api, tenant, user_id)
    assert profile["stats"]["pageviews"] == 3 and profile["visitors"] == [LAPTOP]
    assert not Event.objects.filter(environment=other_tenant.environment).exists()


def test_pages_delivered_after_the_signup_call_still_make_the_touches(api, tenant):
    """The SDK batches: the signup call can reach the server before the pages that led to it."""
    laptop = Browser(api, tenant, "vis_LateBatchLaptop0000000001")
    with time_machine.travel(SIGNUP, tick=False):
        lin = laptop.auth("signup", "lin@example.com")
    assert profile_of(api, tenant, lin["id"])["firstTouch"] is None

    with time_machine.travel(SIGNUP + timedelta(seconds=20), tick=False):
        # The batch holds pages from before the signup, stamped with their own times.
        laptop.collect(
            pageview("https://example.com/docs", at=SIGNUP - timedelta(minutes=3), referrer="https://duckduckgo.com/"),
            pageview("https://example.com/pricing", at=SIGNUP - timedelta(minutes=1)),
        )

    profile = profile_of(api, tenant, lin["id"])
    assert (profile["firstTouch"]["source"], profile["firstTouch"]["landingPage"]) == ("DuckDuckGo", "/docs")
    assert profile["signupTouch"]["channel"] == "Organic Search"
    assert profile["stats"]["preSignupPageviews"] == 2
