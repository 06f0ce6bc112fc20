"""`/v1/auth/*`: signup, login, logout and me, as a browser calls them (SPEC 4.3)."""

import json
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings

from analytics.models import Visitor
from identity.models import EndUser, UserToken

from .helpers import (
    PASSWORD,
    env_headers,
    error_of,
    event_names,
    login,
    logout,
    me,
    outbox_count,
    secret_headers,
    signup,
)

BODY_ENDPOINTS = ["/v1/auth/signup", "/v1/auth/login"]


# --- Signup ---------------------------------------------------------------------------


def test_signup_makes_an_active_user_whose_token_works_on_me(api, tenant):
    response = signup(api, tenant, email="ada@example.com", name="Ada")

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"user", "token"}
    user = body["user"]
    assert set(user) == {"id", "email", "name", "status", "createdAt"}
    assert user["id"].startswith("usr_")
    assert user["email"] == "ada@example.com"
    assert user["name"] == "Ada"
    assert user["status"] == "active"
    assert user["createdAt"].endswith("Z")

    answered = me(api, tenant, body["token"])
    assert answered.status_code == 200
    assert answered.json() == {"user": user}


def test_signup_records_user_created_at_the_users_creation_time(api, tenant):
    user_id = signup(api, tenant).json()["user"]["id"]

    user = EndUser.objects.get(public_id=user_id)
    assert event_names(user_id) == ["user.created"]
    assert user.events.get().timestamp == user.created_at


def test_signup_stores_neither_the_raw_password_nor_the_raw_token(api, tenant, db_dump):
    token = signup(api, tenant, password="an-unguessable-passphrase").json()["token"]

    dump = db_dump()
    assert "an-unguessable-passphrase" not in dump
    assert token not in dump
    assert EndUser.objects.get().password.startswith("md5$")  # the test settings' hasher


def test_signup_refuses_an_email_taken_in_another_letter_case(api, tenant):
    signup(api, tenant, email="ada@example.com")

    response = signup(api, tenant, email="ADA@Example.COM")

    assert error_of(response) == (409, "email_taken")
    assert EndUser.objects.count() == 1


def test_the_same_email_may_sign_up_in_another_environment(api, tenant, other_tenant):
    signup(api, tenant, email="ada@example.com")

    response = signup(api, other_tenant, email="ada@example.com")

    assert response.status_code == 201
    assert EndUser.objects.filter(environment=other_tenant.environment).count() == 1


@pytest.mark.parametrize("password", ["short1", "password123", "12345678"])
def test_signup_refuses_a_weak_password(api, tenant, password):
    response = signup(api, tenant, password=password)

    assert error_of(response) == (400, "weak_password")
    assert response.json()["error"]["message"]
    assert not EndUser.objects.exists()


@pytest.mark.parametrize(
    "email", ["not-an-email", "ada@", "@example.com", "ada example@example.com", "a" * 250 + "@x.io"]
)
def test_signup_refuses_a_malformed_email(api, tenant, email):
    assert error_of(signup(api, tenant, email=email)) == (400, "invalid_email")


def test_signup_trims_the_email_and_cuts_a_long_name(api, tenant):
    user = signup(api, tenant, email="  ada@Example.com ", name="N" * 500).json()["user"]

    assert user["email"] == "ada@example.com"
    assert len(user["name"]) == 200


def test_waitlist_signup_waits_without_a_token_and_records_created_then_waitlisted(api, tenant):
    tenant.environment.waitlist_enabled = True
    tenant.environment.save()

    response = signup(api, tenant)

    assert response.status_code == 201
    body = response.json()
    assert body["token"] is None
    assert body["user"]["status"] == "waitlisted"
    assert event_names(body["user"]["id"]) == ["user.created", "user.waitlisted"]
    assert not UserToken.objects.exists()


# --- Login ----------------------------------------------------------------------------


def test_login_with_the_right_password_answers_a_fresh_token_and_records_user_login(api, tenant):
    signed_up = signup(api, tenant).json()

    response = login(api, tenant, email="ADA@example.com")

    assert response.status_code == 200
    body = response.json()
    assert body["user"] == signed_up["user"]
    assert body["token"] != signed_up["token"]
    assert me(api, tenant, body["token"]).status_code == 200
    assert event_names(body["user"]["id"]) == ["user.created", "user.login"]
    assert EndUser.objects.get().last_login_at is not None


def test_login_with_a_wrong_password_is_invalid_credentials(api, tenant):
    signup(api, tenant)

    response = login(api, tenant, password="not-the-password")

    assert error_of(response) == (401, "invalid_credentials")
    assert event_names(EndUser.objects.get().public_id) == ["user.created"]


def test_login_of_an_unknown_email_answers_exactly_like_a_wrong_password(api, tenant):
    signup(api, tenant, email="ada@example.com")

    wrong_password = login(api, tenant, email="ada@example.com", password="not-the-password")
    unknown_email = login(api, tenant, email="nobody@example.com")

    assert unknown_email.status_code == wrong_password.status_code == 401
    assert unknown_email.json() == wrong_password.json()


def test_login_does_not_find_a_user_of_another_environment(api, tenant, other_tenant):
    signup(api, tenant)

    assert error_of(login(api, other_tenant)) == (401, "invalid_credentials")


def test_a_waitlisted_user_with_the_right_password_is_told_to_wait(api, tenant):
    tenant.environment.waitlist_enabled = True
    tenant.environment.save()
    signup(api, tenant)

    assert error_of(login(api, tenant)) == (403, "waitlisted")
    assert not UserToken.objects.exists()


def test_a_waitlisted_user_with_a_wrong_password_learns_nothing_of_the_waitlist(api, tenant):
    tenant.environment.waitlist_enabled = True
    tenant.environment.save()
    signup(api, tenant)

    assert error_of(login(api, tenant, password="not-the-password")) == (401, "invalid_credentials")


# --- Logout and me --------------------------------------------------------------------


def test_logout_revokes_the_token_and_records_user_signout(api, tenant):
    body = signup(api, tenant).json()

    response = logout(api, tenant, body["token"])

    assert response.status_code == 204
    assert response.content == b""
    assert error_of(me(api, tenant, body["token"])) == (401, "invalid_token")
    assert error_of(logout(api, tenant, body["token"])) == (401, "invalid_token")
    assert event_names(body["user"]["id"]) == ["user.created", "user.signout"]
    assert UserToken.objects.get().revoked_at is not None


def test_logout_leaves_the_users_other_sessions_working(api, tenant):
    first = signup(api, tenant).json()["token"]
    second = login(api, tenant).json()["token"]

    logout(api, tenant, first)

    assert me(api, tenant, second).status_code == 200


def test_an_expired_token_is_refused(api, tenant):
    token = signup(api, tenant).json()["token"]

    with time_machine.travel(settings.USER_TOKEN_TTL + timedelta(minutes=1)):
        assert error_of(me(api, tenant, token)) == (401, "invalid_token")
        assert error_of(logout(api, tenant, token)) == (401, "invalid_token")


def test_a_token_lives_until_its_expiry(api, tenant):
    token = signup(api, tenant).json()["token"]

    with time_machine.travel(settings.USER_TOKEN_TTL - timedelta(minutes=1)):
        assert me(api, tenant, token).status_code == 200


def test_a_token_of_one_environment_is_refused_with_another_environments_key(api, tenant, other_tenant):
    token = signup(api, tenant).json()["token"]

    assert error_of(me(api, other_tenant, token)) == (401, "invalid_token")
    assert error_of(logout(api, other_tenant, token)) == (401, "invalid_token")
    assert me(api, tenant, token).status_code == 200  # still alive in its own environment


@pytest.mark.parametrize(
    ("send", "expected"),
    [
        ({}, (401, "missing_key")),
        ({"Authorization": "Bearer ust_unknown"}, (401, "missing_key")),
        ({"X-AscendKit-Env-Key": "ENV"}, (401, "missing_token")),
        ({"X-AscendKit-Env-Key": "ENV", "Authorization": "Bearer ust_unknown"}, (401, "invalid_token")),
        ({"X-AscendKit-Env-Key": "ENV", "Authorization": "Basic dXNlcjpwYXNz"}, (401, "missing_token")),
        ({"X-AscendKit-Env-Key": "env_unknown", "Authorization": "Bearer TOKEN"}, (401, "invalid_key")),
    ],
)
@pytest.mark.parametrize("method", ["me", "logout"])
def test_me_and_logout_refuse_a_missing_or_unknown_credential(api, tenant, send, expected, method):
    token = signup(api, tenant).json()["token"]
    headers = {name: value.replace("ENV", tenant.env_key).replace("TOKEN", token) for name, value in send.items()}

    if method == "me":
        response = api.get("/v1/auth/me", headers=headers)
    else:
        response = api.post("/v1/auth/logout", headers=headers)

    assert error_of(response) == expected


def test_me_refuses_the_secret_key_in_place_of_the_env_key(api, tenant):
    token = signup(api, tenant).json()["token"]

    response = api.get(
        "/v1/auth/me", headers={"X-AscendKit-Env-Key": tenant.secret_key, "Authorization": f"Bearer {token}"}
    )

    assert error_of(response) == (403, "wrong_key_kind")


# --- What every body-taking endpoint refuses ------------------------------------------


@pytest.mark.parametrize("path", BODY_ENDPOINTS)
def test_it_refuses_malformed_json(api, tenant, path):
    response = api.post_json(path, b'{"email": "ada@example.com", ', headers=env_headers(tenant))

    assert error_of(response) == (400, "malformed_json")


@pytest.mark.parametrize("path", BODY_ENDPOINTS)
def test_it_refuses_a_json_list_instead_of_an_object(api, tenant, path):
    response = api.post_json(path, [{"email": "ada@example.com", "password": PASSWORD}], headers=env_headers(tenant))

    assert error_of(response) == (400, "invalid_request")


@pytest.mark.parametrize("path", BODY_ENDPOINTS)
@pytest.mark.parametrize("missing", ["email", "password"])
def test_it_names_a_missing_field(api, tenant, path, missing):
    payload = {"email": "ada@example.com", "password": PASSWORD}
    del payload[missing]

    response = api.post_json(path, payload, headers=env_headers(tenant))

    assert error_of(response) == (400, "invalid_request")
    assert missing in response.json()["error"]["message"]


@pytest.mark.parametrize("path", BODY_ENDPOINTS)
def test_it_refuses_a_field_of_the_wrong_type(api, tenant, path):
    response = api.post_json(path, {"email": {"a": 1}, "password": PASSWORD}, headers=env_headers(tenant))

    assert error_of(response) == (400, "invalid_request")


@pytest.mark.parametrize("path", BODY_ENDPOINTS)
def test_it_refuses_a_body_that_is_not_json(api, tenant, path):
    response = api.post(path, data="email=ada@example.com", content_type="text/plain", headers=env_headers(tenant))

    assert error_of(response) == (415, "unsupported_media_type")


@pytest.mark.parametrize("path", [*BODY_ENDPOINTS, "/v1/auth/logout"])
def test_it_refuses_a_body_over_512_kib(api, tenant, path):
    payload = json.dumps({"email": "ada@example.com", "password": PASSWORD, "name": "x" * (512 * 1024)})

    response = api.post_json(path, payload, headers=env_headers(tenant))

    assert error_of(response) == (413, "payload_too_large")
    assert not EndUser.objects.exists()


@pytest.mark.parametrize("path", BODY_ENDPOINTS)
def test_it_refuses_a_missing_env_key(api, tenant, path):
    response = api.post_json(path, {"email": "ada@example.com", "password": PASSWORD})

    assert error_of(response) == (401, "missing_key")


@pytest.mark.parametrize("path", BODY_ENDPOINTS)
def test_it_refuses_an_unknown_env_key(api, tenant, path):
    response = api.post_json(
        path, {"email": "ada@example.com", "password": PASSWORD}, headers={"X-AscendKit-Env-Key": "env_" + "x" * 24}
    )

    assert error_of(response) == (401, "invalid_key")


@pytest.mark.parametrize("path", BODY_ENDPOINTS)
def test_it_refuses_the_secret_key_used_as_the_env_key(api, tenant, path):
    response = api.post_json(
        path, {"email": "ada@example.com", "password": PASSWORD}, headers={"X-AscendKit-Env-Key": tenant.secret_key}
    )

    assert error_of(response) == (403, "wrong_key_kind")


@pytest.mark.parametrize("path", BODY_ENDPOINTS)
def test_it_does_not_take_the_secret_key_as_a_bearer_instead_of_the_env_key(api, tenant, path):
    response = api.post_json(path, {"email": "ada@example.com", "password": PASSWORD}, headers=secret_headers(tenant))

    assert error_of(response) == (401, "missing_key")


def test_it_answers_other_methods_in_the_error_shape(api, tenant):
    response = api.get("/v1/auth/signup", headers=env_headers(tenant))

    assert error_of(response) == (405, "method_not_allowed")


# --- Built-in events and the outbox ---------------------------------------------------


def test_each_built_in_event_is_handed_to_the_outbox_exactly_once(api, tenant):
    tenant.environment.waitlist_enabled = True
    tenant.environment.save()
    user_id = signup(api, tenant).json()["user"]["id"]
    api.post(f"/v1/users/{user_id}/approve", headers=secret_headers(tenant))
    token = login(api, tenant).json()["token"]
    logout(api, tenant, token)

    names = ["user.created", "user.waitlisted", "user.waitlist_approved", "user.login", "user.signout"]
    assert event_names(user_id) == names
    assert {name: outbox_count(user_id, name) for name in names} == dict.fromkeys(names, 1)


# --- Visitor linking, origins, schema -------------------------------------------------

VISITOR_ID = "vis_0Q2xAbCdEfGhIjKlMnOp"


def test_signup_with_a_visitor_id_links_that_visitor_to_the_user(api, tenant):
    user_id = signup(api, tenant, visitorId=VISITOR_ID).json()["user"]["id"]

    assert Visitor.objects.get(environment=tenant.environment, public_id=VISITOR_ID).user.public_id == user_id


def test_login_with_a_visitor_id_links_another_device(api, tenant):
    user_id = signup(api, tenant).json()["user"]["id"]

    login(api, tenant, visitorId=VISITOR_ID)

    assert Visitor.objects.get(environment=tenant.environment, public_id=VISITOR_ID).user.public_id == user_id


@pytest.mark.parametrize("visitor_id", ["not-a-visitor", 42, {"id": VISITOR_ID}, ["vis"], None])
def test_a_malformed_visitor_id_is_ignored_not_refused(api, tenant, visitor_id):
    response = signup(api, tenant, visitorId=visitor_id)

    assert response.status_code == 201
    assert not Visitor.objects.exists()


def test_a_browser_on_a_disallowed_origin_cannot_sign_up(api, tenant):
    tenant.environment.allowed_origins = ["https://app.example.com"]
    tenant.environment.save()

    response = api.post_json(
        "/v1/auth/signup",
        {"email": "ada@example.com", "password": PASSWORD},
        headers={**env_headers(tenant), "Origin": "https://evil.example.net"},
    )

    assert error_of(response) == (403, "origin_not_allowed")
    assert not EndUser.objects.exists()


def test_the_openapi_schema_documents_each_endpoint_with_its_keys(api):
    schema = api.get("/v1/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    security = {
        (path, method): operation.get("security")
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if path.startswith(("/v1/auth/", "/v1/users/{user_id}/approve"))
    }
    assert security == {
        ("/v1/auth/signup", "post"): [{"envKey": []}],
        ("/v1/auth/login", "post"): [{"envKey": []}],
        ("/v1/auth/logout", "post"): [{"envKey": [], "userToken": []}],
        ("/v1/auth/me", "get"): [{"envKey": [], "userToken": []}],
        ("/v1/users/{user_id}/approve", "post"): [{"secretKey": []}],
    }
    assert set(schema["components"]["securitySchemes"]) >= {"envKey", "userToken", "secretKey"}
    signup_result = schema["components"]["schemas"]["SignupResult"]["properties"]
    assert signup_result["token"]["nullable"] is True
