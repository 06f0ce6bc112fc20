"""Calls of the auth API as a browser makes them, for the identity tests."""

from analytics.models import Event, OutboxEntry

PASSWORD = "a-long-passphrase-42"


def env_headers(tenant, token: str | None = None) -> dict:
    headers = {"X-AscendKit-Env-Key": tenant.env_key}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def secret_headers(tenant) -> dict:
    return {"Authorization": f"Bearer {tenant.secret_key}"}


def signup(api, tenant, email="ada@example.com", password=PASSWORD, **fields):
    return api.post_json(
        "/v1/auth/signup", {"email": email, "password": password, **fields}, headers=env_headers(tenant)
    )


def login(api, tenant, email="ada@example.com", password=PASSWORD, **fields):
    return api.post_json(
        "/v1/auth/login", {"email": email, "password": password, **fields}, headers=env_headers(tenant)
    )


def me(api, tenant, token):
    return api.get("/v1/auth/me", headers=env_headers(tenant, token))


def logout(api, tenant, token):
    return api.post("/v1/auth/logout", headers=env_headers(tenant, token))


def approve(api, user_id, headers):
    return api.post(f"/v1/users/{user_id}/approve", headers=headers)


def event_names(user_public_id: str) -> list[str]:
    """The user's events, oldest first."""
    return list(
        Event.objects.filter(user__public_id=user_public_id).order_by("timestamp", "id").values_list("name", flat=True)
    )


def outbox_count(user_public_id: str, name: str) -> int:
    return OutboxEntry.objects.filter(event__user__public_id=user_public_id, event__name=name).count()


def error_of(response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]
