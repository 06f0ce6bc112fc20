"""`DELETE /v1/users/{id}`: served by the profile view, which carries `UserErasureMixin`."""

import pytest
from drf_spectacular.generators import SchemaGenerator

from analytics.models import Pageview, Visitor
from identity.models import EndUser

from .factories import EndUserFactory, PageviewFactory, SessionFactory, VisitorFactory


def secret(tenant) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {tenant.secret_key}"}


@pytest.fixture
def user(tenant):
    user = EndUserFactory(environment=tenant.environment)
    visitor = VisitorFactory(environment=tenant.environment, user=user)
    session = SessionFactory(visitor=visitor)
    PageviewFactory.create_batch(2, session=session, path="/erasure-api")
    return user


def test_it_erases_the_user_and_answers_the_receipt(api, tenant, user):
    response = api.delete(f"/v1/users/{user.public_id}", **secret(tenant))

    assert response.status_code == 200
    assert response.json() == {"deleted": {"users": 1, "visitors": 1, "sessions": 1, "pageviews": 2, "events": 0}}
    assert not EndUser.objects.filter(pk=user.pk).exists()
    assert not Pageview.objects.filter(path="/erasure-api").exists()


def test_it_answers_404_for_an_unknown_user(api, tenant, user):
    response = api.delete("/v1/users/usr_0000000000000000", **secret(tenant))

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_it_answers_404_for_another_environments_user_and_keeps_it(api, tenant, other_tenant, user):
    response = api.delete(f"/v1/users/{user.public_id}", **secret(other_tenant))

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert EndUser.objects.filter(pk=user.pk).exists()
    assert Visitor.objects.filter(user=user).exists()


def test_it_refuses_the_env_key(api, tenant, user):
    response = api.delete(f"/v1/users/{user.public_id}", HTTP_AUTHORIZATION=f"Bearer {tenant.env_key}")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "wrong_key_kind"
    assert EndUser.objects.filter(pk=user.pk).exists()


def test_it_answers_401_without_a_key(api, user):
    response = api.delete(f"/v1/users/{user.public_id}")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "missing_key"
    assert EndUser.objects.filter(pk=user.pk).exists()


def test_it_answers_401_for_an_unknown_secret_key(api, user):
    response = api.delete(f"/v1/users/{user.public_id}", HTTP_AUTHORIZATION="Bearer sk_" + "x" * 40)

    assert response.status_code == 401
    assert EndUser.objects.filter(pk=user.pk).exists()


def test_the_schema_documents_the_receipt():
    schema = SchemaGenerator().get_schema(request=None, public=True)

    operation = schema["paths"]["/v1/users/{user_id}"]["delete"]
    assert operation["operationId"] == "users_erase"
    assert set(operation["responses"]) == {"200", "401", "403", "404"}


def test_it_refuses_an_oversized_body(api, tenant, user):
    response = api.delete(
        f"/v1/users/{user.public_id}",
        data=b"x" * (513 * 1024),
        content_type="application/json",
        **secret(tenant),
    )

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert EndUser.objects.filter(pk=user.pk).exists()


def test_the_project_schema_lists_delete_on_the_user_path(api):
    response = api.get("/v1/schema", HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    assert "delete" in response.json()["paths"]["/v1/users/{user_id}"]
