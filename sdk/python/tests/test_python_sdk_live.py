"""The Python SDK against the real Django server: what it sends is stored, once."""

import logging
import time

import pytest
from ascendkit import Analytics
from django.db import OperationalError

from accounts.services import user_signup
from analytics.apis import events as events_api
from analytics.models import Event, Pageview, Visitor
from analytics.tests.helpers import batch, pageview
from ascendkit_site import errors

from .python_sdk_fakes import AnswerLosingProxy

VISITOR_ID = "vis_PythonSdkVisitor00000001"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def user(tenant):
    user, _token = user_signup(environment=tenant.environment, email="ada@example.com", password="a-long-passphrase-9")
    return user


@pytest.fixture
def client_for(tenant):
    clients = []

    def make(api_url: str, **options) -> Analytics:
        client = Analytics(secret_key=tenant.secret_key, api_url=api_url, env_key=tenant.env_key, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.shutdown(timeout=2)


def app_events(tenant):
    return Event.objects.filter(environment=tenant.environment, name__startswith="app.")


def test_25_events_and_a_visitor_are_delivered_exactly_once(live_server, api, tenant, user, client_for):
    # The visitor browsed anonymously before the server names it.
    api.post_json(
        "/v1/analytics/collect", batch([pageview()], visitor_id=VISITOR_ID), HTTP_X_ASCENDKIT_ENV_KEY=tenant.env_key
    )
    client = client_for(live_server.url)

    for number in range(25):
        client.track(user.public_id, "report.exported", {"number": number}, visitor_id=VISITOR_ID)
    assert client.flush(timeout=30)
    assert client.shutdown(timeout=5)

    stored = app_events(tenant)
    assert stored.count() == 25
    assert sorted(stored.values_list("properties__number", flat=True)) == list(range(25))
    assert set(stored.values_list("name", "kind", "user")) == {("app.report.exported", "server", user.id)}
    assert stored.values("message_id").distinct().count() == 25
    visitor = Visitor.objects.get(environment=tenant.environment, public_id=VISITOR_ID)
    assert visitor.user == user
    # The anonymous pageview now belongs to the user too.
    assert Pageview.objects.get(environment=tenant.environment).user == user
    assert (client.delivered, client.failed) == (25, 0)


def test_a_503_from_the_server_and_then_success_stores_each_event_once(
    live_server, tenant, user, client_for, monkeypatch
):
    monkeypatch.setattr(errors, "RETRY_AFTER_SECONDS", 1)
    real_record = events_api.business_events_record
    calls = []

    def database_down_once(**kwargs):
        calls.append(time.monotonic())
        if len(calls) == 1:
            raise OperationalError("the database is unreachable")
        return real_record(**kwargs)

    monkeypatch.setattr(events_api, "business_events_record", database_down_once)
    client = client_for(live_server.url, retry_base_delay=0.01, flush_at=100)

    for number in range(12):
        client.track(user.public_id, "invoice.paid", {"number": number})
    assert client.flush(timeout=30)

    assert sorted(app_events(tenant).values_list("properties__number", flat=True)) == list(range(12))
    # One batch, sent twice, at least the server's Retry-After apart.
    assert len(calls) == 2
    assert calls[1] - calls[0] >= 0.95
    assert (client.delivered, client.failed) == (12, 0)


def test_a_batch_stored_but_answered_503_is_not_stored_twice(live_server, tenant, user, client_for):
    proxy = AnswerLosingProxy(live_server.url, lose=1)
    try:
        client = client_for(proxy.url, retry_base_delay=0.01)
        for number in range(10):
            client.track(user.public_id, "invoice.paid", {"number": number})
        assert client.flush(timeout=30)
    finally:
        proxy.close()

    assert (proxy.forwarded, proxy.lost) == (2, 1)
    assert sorted(app_events(tenant).values_list("properties__number", flat=True)) == list(range(10))


def test_an_unknown_user_is_logged_and_the_rest_of_the_batch_stored(live_server, tenant, user, client_for, caplog):
    client = client_for(live_server.url)
    with caplog.at_level(logging.WARNING, logger="ascendkit"):
        client.track(user.public_id, "kept")
        client.track("usr_NoSuchUser0000000000000", "lost")
        assert client.flush(timeout=30)

    assert list(app_events(tenant).values_list("name", flat=True)) == ["app.kept"]
    assert "app.lost" in caplog.text and "unknown_user" in caplog.text


def test_an_env_key_of_another_environment_is_refused_and_not_retried(live_server, tenant, other_tenant, user, caplog):
    client = Analytics(secret_key=tenant.secret_key, api_url=live_server.url, env_key=other_tenant.env_key)
    client.track(user.public_id, "signed_up")
    assert client.flush(timeout=30)
    client.shutdown()

    assert app_events(tenant).count() == 0
    assert client.failed == 1 and "key_mismatch" in caplog.text
