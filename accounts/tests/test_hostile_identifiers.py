"""A NUL or a lone surrogate in an identifier never reaches a query (PostgreSQL refuses both).

Each identifier is checked against its pattern (SPEC 3) first; a bad one gets the
error shape with a fitting status, or, inside a batch, rejects only its own item.
"""

import json

import pytest

from analytics.models import Event, Visitor
from identity.models import EndUser

from .helpers import PASSWORD, env_headers, secret_headers, signup

HOSTILE = [
    "\u0000",
    "usr_\u0000AAAAAAAAAAAAAAAAAAAA",
    "\ud800",
    "usr_\ud800AAAAAAAAAAAAAAAA",
    "usr_AAAA AAAAAAAAAAAAAAAA",
]


def post(api, path, payload, **headers):
    # ensure_ascii keeps a lone surrogate as the JSON escape a client would send.
    return api.post(path, data=json.dumps(payload), content_type="application/json", headers=headers)


def error_of(response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


@pytest.fixture
def user(api, tenant):
    return EndUser.objects.get(public_id=signup(api, tenant).json()["user"]["id"])


@pytest.mark.parametrize("key", ["env_\u0000" + "a" * 24, "env_\ud800" + "a" * 24, "\u0000"])
def test_a_hostile_env_key_in_the_collect_body_is_401(api, key):
    body = {"envKey": key, "events": [{"type": "pageview", "url": "https://example.com/"}]}
    assert error_of(post(api, "/v1/analytics/collect", body)) == (401, "invalid_key")


@pytest.mark.parametrize("bad", HOSTILE)
def test_a_hostile_user_id_in_events_rejects_only_its_item(api, tenant, user, bad):
    body = {"events": [{"userId": bad, "name": "app.bad"}, {"userId": user.public_id, "name": "app.good"}]}

    response = post(api, "/v1/events", body, **secret_headers(tenant))

    assert response.status_code == 202
    assert response.json()["rejected"] == [{"index": 0, "reason": "unknown_user"}]
    assert Event.objects.filter(name="app.good").count() == 1


@pytest.mark.parametrize("bad", HOSTILE)
def test_a_hostile_user_id_in_identify_is_400(api, tenant, bad):
    body = {"userId": bad, "visitorId": "vis_" + "a" * 20}
    assert error_of(post(api, "/v1/identify", body, **secret_headers(tenant)))[0] == 400
    assert not Visitor.objects.exists()


@pytest.mark.parametrize("bad", ["vis_\u0000" + "a" * 20, "vis_\ud800" + "a" * 20])
def test_a_hostile_visitor_id_is_refused_or_ignored(api, tenant, user, bad):
    identify = post(api, "/v1/identify", {"userId": user.public_id, "visitorId": bad}, **secret_headers(tenant))
    assert identify.status_code == 400
    login = post(api, "/v1/auth/login", {"email": "ada@example.com", "password": PASSWORD, "visitorId": bad},
                 **env_headers(tenant))  # fmt: skip
    assert login.status_code == 200
    assert not Visitor.objects.exists()


@pytest.mark.parametrize("path", ["%00", "usr_%00AAAAAAAAAAAAAAAAAAAA", "%ED%A0%80"])
@pytest.mark.parametrize(
    "method, suffix", [("get", ""), ("get", "/timeline"), ("post", "/approve"), ("delete", "")]
)  # fmt: skip
def test_a_hostile_user_id_in_the_path_is_404(api, tenant, path, method, suffix):
    response = getattr(api, method)(f"/v1/users/{path}{suffix}", headers=secret_headers(tenant))
    assert response.status_code in (400, 404)
    assert response.json()["error"]["code"] in ("not_found", "invalid_request")


@pytest.mark.parametrize("token", ["ust_\u0000" + "a" * 40, "sk_\u0000" + "a" * 40])
def test_a_hostile_bearer_is_401(api, tenant, token):
    response = api.get("/v1/auth/me", headers={**env_headers(tenant), "Authorization": f"Bearer {token}"})
    assert response.status_code == 401


@pytest.mark.parametrize("email", ["ada\u0000@example.com", "ada\ud800@example.com"])
def test_a_hostile_email_is_400(api, tenant, email):
    assert post(api, "/v1/auth/login", {"email": email, "password": PASSWORD}, **env_headers(tenant)).status_code == 400
    assert (
        post(api, "/v1/auth/signup", {"email": email, "password": PASSWORD}, **env_headers(tenant)).status_code == 400
    )


@pytest.mark.parametrize("query", ["cursor=%00", "cursor=%ED%A0%80", "limit=%C2%B2", "limit=%00"])
def test_a_hostile_timeline_parameter_is_400(api, tenant, user, query):
    response = api.get(f"/v1/users/{user.public_id}/timeline?{query}", headers=secret_headers(tenant))
    assert response.status_code == 400
