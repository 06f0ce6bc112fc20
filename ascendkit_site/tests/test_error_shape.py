"""What Django answers before any view is in the API's error shape under `/v1/`."""

import pytest
from django.test import Client


def error_of(response) -> tuple[int, str]:
    assert response["Content-Type"].startswith("application/json"), response.content[:200]
    body = response.json()
    assert set(body["error"]) == {"code", "message"}
    return response.status_code, body["error"]["code"]


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("path", ["/v1/nope", "/v1/", "/v1/events/", "/v1/users/usr_x/nothing"])
def test_an_unknown_api_route_is_a_json_404(db, settings, debug, path):
    settings.DEBUG = debug

    assert error_of(Client().get(path)) == (404, "not_found")


@pytest.mark.parametrize("debug", [False, True])
def test_a_host_that_is_not_served_is_a_json_400(db, settings, debug):
    settings.DEBUG = debug
    settings.ALLOWED_HOSTS = ["analytics.example.com"]

    response = Client().post("/v1/events", data="{}", content_type="application/json", HTTP_HOST="evil.example")

    assert error_of(response) == (400, "bad_request")


def test_a_server_error_under_the_api_is_json(db, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("analytics.apis.users.UserProfileApi.get", broken)

    response = Client(raise_request_exception=False).get("/v1/users/usr_x")

    assert error_of(response) == (500, "server_error")


def test_pages_outside_the_api_keep_their_html_errors(db):
    response = Client().get("/portal/nope")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
