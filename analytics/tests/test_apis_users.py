"""`POST /v1/identify`, `GET /v1/users/{id}` and `GET /v1/users/{id}/timeline` (SPEC 4.3)."""

import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from accounts.apis import UserSerializer
from analytics.models import Pageview, Visitor
from analytics.services.stitching import visitor_link, visitor_stitch
from analytics.tests.factories import (
    AttributionFactory,
    EndUserFactory,
    EventFactory,
    PageviewFactory,
    SessionFactory,
    VisitorFactory,
)

VISITOR_ID = "vis_ProfileVisitor00000001"
SIGNED_UP = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def secret(tenant) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {tenant.secret_key}"}


def error_code(response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


@pytest.fixture
def user(tenant):
    return EndUserFactory(environment=tenant.environment, email="ada@example.com", name="Ada", created_at=SIGNED_UP)


def identify(api, tenant, body, **extra):
    return api.post_json("/v1/identify", body, **{**secret(tenant), **extra})


# --- Identify -------------------------------------------------------------------------


class TestIdentify:
    def test_it_links_the_visitor_and_its_history_follows(self, api, tenant, user, django_capture_on_commit_callbacks):
        pageview = PageviewFactory(
            session__visitor__environment=tenant.environment, session__visitor__public_id=VISITOR_ID
        )
        with django_capture_on_commit_callbacks(execute=True):
            response = identify(api, tenant, {"userId": user.public_id, "visitorId": VISITOR_ID})
        assert response.status_code == 200
        assert response.json() == {"userId": user.public_id, "visitorId": VISITOR_ID, "linked": True}
        pageview.refresh_from_db()
        assert pageview.user_id == user.id

    def test_it_is_idempotent(self, api, tenant, user):
        body = {"userId": user.public_id, "visitorId": VISITOR_ID}
        assert identify(api, tenant, body).json()["linked"] is True
        assert identify(api, tenant, body).json()["linked"] is True
        assert Visitor.objects.get().user_id == user.id

    def test_a_visitor_of_another_user_is_not_moved(self, api, tenant, user):
        owner = EndUserFactory(environment=tenant.environment)
        VisitorFactory(environment=tenant.environment, public_id=VISITOR_ID, user=owner)
        response = identify(api, tenant, {"userId": user.public_id, "visitorId": VISITOR_ID})
        assert response.status_code == 200 and response.json()["linked"] is False
        user.refresh_from_db()
        assert user.link_conflicts == 1 and Visitor.objects.get().user_id == owner.id

    def test_an_unknown_user_is_404(self, api, tenant):
        response = identify(api, tenant, {"userId": "usr_Unknown000000000000000", "visitorId": VISITOR_ID})
        assert error_code(response) == (404, "not_found")
        assert not Visitor.objects.exists()

    def test_another_environments_user_is_404(self, api, tenant, other_tenant, user):
        response = identify(api, other_tenant, {"userId": user.public_id, "visitorId": VISITOR_ID})
        assert error_code(response) == (404, "not_found")
        assert not Visitor.objects.exists()

    @pytest.mark.parametrize("visitor_id", [None, "", "vis_short", "abc", 12, "vis_" + "a" * 65])
    def test_a_bad_visitor_id_is_400(self, api, tenant, user, visitor_id):
        body = {"userId": user.public_id} if visitor_id is None else {"userId": user.public_id, "visitorId": visitor_id}
        assert error_code(identify(api, tenant, body)) == (400, "invalid_visitor_id")

    @pytest.mark.parametrize("user_id", [None, "", 5])
    def test_a_missing_user_id_is_400(self, api, tenant, user_id):
        body = {"visitorId": VISITOR_ID} if user_id is None else {"userId": user_id, "visitorId": VISITOR_ID}
        assert error_code(identify(api, tenant, body)) == (400, "invalid_request")

    def test_it_refuses_malformed_json(self, api, tenant):
        assert error_code(identify(api, tenant, '{"userId": ')) == (400, "malformed_json")

    def test_it_refuses_a_body_that_is_not_an_object(self, api, tenant):
        assert error_code(identify(api, tenant, "[1]")) == (400, "invalid_request")

    def test_it_refuses_a_body_over_512_kib(self, api, tenant, user):
        body = json.dumps({"userId": user.public_id, "visitorId": VISITOR_ID, "pad": "x" * (513 * 1024)})
        assert error_code(identify(api, tenant, body)) == (413, "payload_too_large")

    def test_it_refuses_a_call_without_a_key(self, api, user):
        response = api.post_json("/v1/identify", {"userId": user.public_id, "visitorId": VISITOR_ID})
        assert error_code(response) == (401, "missing_key")

    def test_it_refuses_the_env_key(self, api, tenant, user):
        body = {"userId": user.public_id, "visitorId": VISITOR_ID}
        response = api.post_json("/v1/identify", body, HTTP_AUTHORIZATION=f"Bearer {tenant.env_key}")
        assert error_code(response) == (403, "wrong_key_kind")
        response = api.post_json("/v1/identify", body, HTTP_X_ASCENDKIT_ENV_KEY=tenant.env_key)
        assert error_code(response) == (401, "missing_key")

    def test_it_refuses_a_rotated_secret_key(self, api, tenant, user):
        from identity.services import environment_rotate_secret_key

        environment_rotate_secret_key(environment=tenant.environment)
        response = identify(api, tenant, {"userId": user.public_id, "visitorId": VISITOR_ID})
        assert error_code(response) == (401, "invalid_key")


# --- Profile --------------------------------------------------------------------------


def a_stitched_history(tenant, user):
    """Two devices: a laptop browsed from Google before signup, a phone came later by email."""
    environment = tenant.environment
    laptop = VisitorFactory(environment=environment, public_id=VISITOR_ID, first_seen_at=SIGNED_UP - timedelta(days=2))
    before = SessionFactory(
        visitor=laptop,
        started_at=SIGNED_UP - timedelta(days=2),
        last_activity_at=SIGNED_UP - timedelta(days=2) + timedelta(minutes=3),
        channel="Organic Search",
        source="Google",
        medium="organic",
        referrer_host="www.google.com",
        referrer_path="/",
        entry_path="/docs",
    )
    PageviewFactory(session=before, path="/docs", title="Docs", timestamp=before.started_at)
    PageviewFactory(session=before, path="/pricing", title="Pricing", timestamp=before.last_activity_at)
    EventFactory(
        session=before, name="app.cta_clicked", properties={"where": "hero"}, timestamp=before.last_activity_at
    )
    at_signup = SessionFactory(
        visitor=laptop, started_at=SIGNED_UP - timedelta(minutes=5), last_activity_at=SIGNED_UP, channel="Direct"
    )
    PageviewFactory(session=at_signup, path="/signup", timestamp=at_signup.started_at)
    AttributionFactory(
        visitor=laptop,
        channel="Organic Search",
        source="Google",
        medium="organic",
        referrer="www.google.com/",
        referring_domain="google.com",
        landing_page="/docs",
        at=before.started_at,
    )
    phone = VisitorFactory(
        environment=environment, public_id="vis_ProfilePhone0000000001", first_seen_at=SIGNED_UP + timedelta(days=1)
    )
    PageviewFactory(session__visitor=phone, path="/app", timestamp=SIGNED_UP + timedelta(days=1))
    visitor_link(environment=environment, user=user, visitor_public_id=laptop.public_id, signup=True)
    visitor_link(environment=environment, user=user, visitor_public_id=phone.public_id)
    visitor_stitch(visitor_id=laptop.id)
    visitor_stitch(visitor_id=phone.id)
    EventFactory(
        session=None, visitor=None, user=user, kind="server", name="app.paid", timestamp=SIGNED_UP + timedelta(days=2)
    )
    user.refresh_from_db()
    return laptop, phone


class TestProfile:
    def test_it_answers_the_user_with_attribution_visitors_and_stats(self, api, tenant, user):
        a_stitched_history(tenant, user)

        response = api.get(f"/v1/users/{user.public_id}", **secret(tenant))

        assert response.status_code == 200
        profile = response.json()
        assert {key: profile[key] for key in ("id", "email", "name", "status", "createdAt")} == UserSerializer(
            user
        ).data
        assert profile["firstTouch"] == {
            "channel": "Organic Search",
            "source": "Google",
            "medium": "organic",
            "campaign": "",
            "term": "",
            "content": "",
            "referrer": "www.google.com/",
            "referringDomain": "google.com",
            "landingPage": "/docs",
            "at": "2026-11-18T12:00:00Z",
        }
        # Signed up in the Direct session that was running at signup time.
        assert profile["signupTouch"]["channel"] == "Direct"
        assert profile["signupTouch"]["at"] == "2026-11-20T11:55:00Z"
        assert profile["visitors"] == [VISITOR_ID, "vis_ProfilePhone0000000001"]
        assert profile["stats"] == {"sessions": 3, "pageviews": 4, "preSignupPageviews": 3, "preSignupEvents": 1}

    def test_a_user_without_history_has_null_touches(self, api, tenant, user):
        profile = api.get(f"/v1/users/{user.public_id}", **secret(tenant)).json()
        assert (profile["firstTouch"], profile["signupTouch"], profile["visitors"]) == (None, None, [])
        assert profile["stats"] == {"sessions": 0, "pageviews": 0, "preSignupPageviews": 0, "preSignupEvents": 0}

    def test_an_unknown_user_is_404(self, api, tenant):
        assert error_code(api.get("/v1/users/usr_Nobody00000000000000", **secret(tenant))) == (404, "not_found")

    def test_another_environments_user_is_404(self, api, tenant, other_tenant, user):
        a_stitched_history(tenant, user)
        response = api.get(f"/v1/users/{user.public_id}", **secret(other_tenant))
        assert error_code(response) == (404, "not_found")

    def test_it_refuses_a_call_without_a_key(self, api, user):
        assert error_code(api.get(f"/v1/users/{user.public_id}")) == (401, "missing_key")

    def test_it_refuses_the_env_key(self, api, tenant, user):
        response = api.get(f"/v1/users/{user.public_id}", HTTP_AUTHORIZATION=f"Bearer {tenant.env_key}")
        assert error_code(response) == (403, "wrong_key_kind")

    def test_it_refuses_a_user_token(self, api, tenant, user):
        from accounts.services import user_token_issue

        token = user_token_issue(user=user)
        response = api.get(
            f"/v1/users/{user.public_id}", HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_X_ASCENDKIT_ENV_KEY=tenant.env_key
        )
        assert error_code(response) == (403, "wrong_key_kind")


# --- Timeline -------------------------------------------------------------------------


def timeline(api, tenant, user, **params):
    return api.get(f"/v1/users/{user.public_id}/timeline", params, **secret(tenant))


class TestTimeline:
    def test_it_merges_pageviews_and_events_oldest_first_and_marks_pre_signup(self, api, tenant, user):
        laptop, phone = a_stitched_history(tenant, user)

        response = timeline(api, tenant, user)

        assert response.status_code == 200
        body = response.json()
        assert body["next"] is None
        summary = [(item["type"], item.get("path") or item.get("name"), item["preSignup"]) for item in body["items"]]
        assert summary == [
            ("pageview", "/docs", True),
            ("event", "app.cta_clicked", True),
            ("pageview", "/pricing", True),
            ("pageview", "/signup", True),
            ("pageview", "/app", False),
            ("event", "app.paid", False),
        ]
        docs, cta = body["items"][0], body["items"][1]
        session_id = Pageview.objects.get(path="/docs").session.public_id
        assert docs == {
            "type": "pageview",
            "at": "2026-11-18T12:00:00Z",
            "sessionId": session_id,
            "visitorId": VISITOR_ID,
            "preSignup": True,
            "url": "example.com/docs",
            "path": "/docs",
            "title": "Docs",
        }
        assert cta == {
            "type": "event",
            "at": "2026-11-18T12:03:00Z",
            "sessionId": session_id,
            "visitorId": VISITOR_ID,
            "preSignup": True,
            "name": "app.cta_clicked",
            "properties": {"where": "hero"},
        }
        assert body["items"][-1]["sessionId"] is None and body["items"][-1]["visitorId"] is None

    def test_pages_cover_every_item_once_even_when_times_tie(self, api, tenant, user):
        visitor = VisitorFactory(environment=tenant.environment, user=user)
        session = SessionFactory(visitor=visitor, started_at=SIGNED_UP)
        for n in range(5):
            PageviewFactory(session=session, timestamp=SIGNED_UP, path=f"/p{n}")
            EventFactory(session=session, timestamp=SIGNED_UP, name=f"app.e{n}")
        PageviewFactory(session=session, timestamp=SIGNED_UP - timedelta(seconds=1), path="/first")

        seen, cursor, pages = [], None, 0
        while True:
            params = {"limit": 3} if cursor is None else {"limit": 3, "cursor": cursor}
            body = timeline(api, tenant, user, **params).json()
            seen += [item.get("path") or item.get("name") for item in body["items"]]
            pages += 1
            cursor = body["next"]
            if cursor is None:
                break

        assert pages == 4
        assert seen == ["/first"] + [f"app.e{n}" for n in range(5)] + [f"/p{n}" for n in range(5)]

    def test_the_last_full_page_has_no_next(self, api, tenant, user):
        PageviewFactory(session__visitor__environment=tenant.environment, session__visitor__user=user)
        PageviewFactory(session__visitor__environment=tenant.environment, session__visitor__user=user)
        body = timeline(api, tenant, user, limit=2).json()
        assert len(body["items"]) == 2 and body["next"] is None

    def test_it_leaves_out_other_users_rows(self, api, tenant, user):
        other = EndUserFactory(environment=tenant.environment)
        PageviewFactory(session__visitor__environment=tenant.environment, session__visitor__user=other)
        PageviewFactory(session__visitor__environment=tenant.environment)  # anonymous
        assert timeline(api, tenant, user).json() == {"items": [], "next": None}

    def test_a_limit_of_500_is_the_largest_page(self, api, tenant, user):
        assert timeline(api, tenant, user, limit=500).status_code == 200

    @pytest.mark.parametrize("limit", ["0", "-1", "ten", "1.5", "501", "100000"])
    def test_a_bad_limit_is_400(self, api, tenant, user, limit):
        assert error_code(timeline(api, tenant, user, limit=limit)) == (400, "invalid_request")

    @pytest.mark.parametrize(
        "cursor", ["garbage", "W10", "WyJ4IiwicGFnZXZpZXciLDFd", "é", "WyIyMDI2LTAxLTAxIiwieCIsMV0"]
    )
    def test_a_cursor_it_did_not_make_is_400(self, api, tenant, user, cursor):
        assert error_code(timeline(api, tenant, user, cursor=cursor)) == (400, "invalid_cursor")

    def test_an_unknown_user_is_404(self, api, tenant):
        response = api.get("/v1/users/usr_Nobody00000000000000/timeline", **secret(tenant))
        assert error_code(response) == (404, "not_found")

    def test_another_environments_user_is_404(self, api, tenant, other_tenant, user):
        assert error_code(timeline(api, other_tenant, user)) == (404, "not_found")

    def test_it_refuses_a_call_without_a_key(self, api, user):
        assert error_code(api.get(f"/v1/users/{user.public_id}/timeline")) == (401, "missing_key")

    def test_it_refuses_the_env_key(self, api, tenant, user):
        response = api.get(f"/v1/users/{user.public_id}/timeline", HTTP_AUTHORIZATION=f"Bearer {tenant.env_key}")
        assert error_code(response) == (403, "wrong_key_kind")

    def test_a_history_still_being_stitched_appears_as_it_is_rewritten(self, api, tenant, user):
        with time_machine.travel(SIGNED_UP, tick=False):
            PageviewFactory(session__visitor__environment=tenant.environment, session__visitor__public_id=VISITOR_ID)
            visitor_link(environment=tenant.environment, user=user, visitor_public_id=VISITOR_ID)
        # Linked (the task has not run in this test's transaction): not the user's rows yet.
        assert timeline(api, tenant, user).json()["items"] == []
        visitor_stitch(visitor_id=Visitor.objects.get().id)
        assert len(timeline(api, tenant, user).json()["items"]) == 1
