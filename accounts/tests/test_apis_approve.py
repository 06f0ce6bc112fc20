"""`POST /v1/users/{id}/approve`: a server lets a waitlisted user in (SPEC 4.3)."""

import pytest

from identity.models import EndUser
from identity.services import environment_rotate_secret_key

from .helpers import approve, env_headers, error_of, event_names, login, outbox_count, secret_headers, signup


@pytest.fixture
def waitlisted_id(api, tenant):
    tenant.environment.waitlist_enabled = True
    tenant.environment.save()
    return signup(api, tenant).json()["user"]["id"]


def test_approving_with_the_secret_key_lets_the_user_in(api, tenant, waitlisted_id):
    response = approve(api, waitlisted_id, secret_headers(tenant))

    assert response.status_code == 200
    user = response.json()["user"]
    assert user["id"] == waitlisted_id
    assert user["status"] == "active"
    assert EndUser.objects.get().approved_at is not None
    assert event_names(waitlisted_id) == ["user.created", "user.waitlisted", "user.waitlist_approved"]
    assert outbox_count(waitlisted_id, "user.waitlist_approved") == 1
    assert login(api, tenant).status_code == 200


def test_approving_an_active_user_again_changes_nothing_and_records_nothing(api, tenant, waitlisted_id):
    approve(api, waitlisted_id, secret_headers(tenant))

    response = approve(api, waitlisted_id, secret_headers(tenant))

    assert response.status_code == 200
    assert response.json()["user"]["status"] == "active"
    assert event_names(waitlisted_id).count("user.waitlist_approved") == 1


def test_approving_a_user_who_never_waited_records_nothing(api, tenant):
    user_id = signup(api, tenant).json()["user"]["id"]

    response = approve(api, user_id, secret_headers(tenant))

    assert response.status_code == 200
    assert event_names(user_id) == ["user.created"]


def test_another_environments_secret_key_cannot_see_the_user(api, other_tenant, waitlisted_id):
    response = approve(api, waitlisted_id, secret_headers(other_tenant))

    assert error_of(response) == (404, "not_found")
    assert EndUser.objects.get().status == "waitlisted"


@pytest.mark.parametrize("user_id", ["usr_0000000000000000000000", "not-an-id", "vis_0Q2xAbCdEfGhIjKlMnOp"])
def test_approving_an_unknown_or_malformed_id_is_not_found(api, tenant, user_id):
    response = approve(api, user_id, secret_headers(tenant))

    assert error_of(response) == (404, "not_found")
    assert set(response.json()) == {"error"}


def test_approving_with_the_env_key_as_bearer_is_forbidden(api, tenant, waitlisted_id):
    response = approve(api, waitlisted_id, {"Authorization": f"Bearer {tenant.env_key}"})

    assert error_of(response) == (403, "wrong_key_kind")
    assert EndUser.objects.get().status == "waitlisted"


def test_approving_with_only_the_env_key_header_is_unauthenticated(api, tenant, waitlisted_id):
    assert error_of(approve(api, waitlisted_id, env_headers(tenant))) == (401, "missing_key")


def test_approving_with_a_user_token_is_forbidden(api, tenant):
    body = signup(api, tenant).json()

    response = approve(api, body["user"]["id"], env_headers(tenant, body["token"]))

    assert error_of(response) == (403, "wrong_key_kind")


def test_approving_with_a_rotated_secret_key_is_unauthenticated(api, tenant, waitlisted_id):
    environment_rotate_secret_key(environment=tenant.environment)

    assert error_of(approve(api, waitlisted_id, secret_headers(tenant))) == (401, "invalid_key")


def test_approving_with_another_environments_env_key_alongside_is_forbidden(api, tenant, other_tenant, waitlisted_id):
    headers = {**secret_headers(tenant), "X-AscendKit-Env-Key": other_tenant.env_key}

    assert error_of(approve(api, waitlisted_id, headers)) == (403, "key_mismatch")


def test_approving_refuses_a_body_over_512_kib(api, tenant, waitlisted_id):
    response = api.post_json(
        f"/v1/users/{waitlisted_id}/approve", {"note": "x" * (512 * 1024)}, headers=secret_headers(tenant)
    )

    assert error_of(response) == (413, "payload_too_large")
    assert EndUser.objects.get().status == "waitlisted"


def test_approving_ignores_a_body_it_does_not_need(api, tenant, waitlisted_id):
    response = api.post_json(f"/v1/users/{waitlisted_id}/approve", b"{not json", headers=secret_headers(tenant))

    assert response.status_code == 200
    assert response.json()["user"]["status"] == "active"
    assert EndUser.objects.get(public_id=waitlisted_id).status == EndUser.Status.ACTIVE
