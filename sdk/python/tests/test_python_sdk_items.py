"""The Python SDK's configuration and what one `track()` call becomes on the wire."""

import datetime as dt
import decimal
import logging
import math
import uuid

import pytest
from ascendkit import Analytics, ConfigurationError
from ascendkit._transport import backoff_delay, parse_retry_after

from .python_sdk_fakes import SECRET_KEY

VISITOR_ID = "vis_SdkVisitor0000000000001"


def sent_items(server, client) -> list[dict]:
    assert client.flush(timeout=5)
    return [item for request in server.received for item in request.body["events"]]


# --- Configuration -----------------------------------------------------------------------


def test_it_refuses_to_start_without_a_secret_key(monkeypatch):
    monkeypatch.delenv("ASCENDKIT_SECRET_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="ASCENDKIT_SECRET_KEY"):
        Analytics()


def test_it_refuses_an_env_key_given_as_the_secret_key():
    with pytest.raises(ConfigurationError, match="sk_"):
        Analytics(secret_key="env_NotTheSecretKey000000000000")


def test_it_reads_the_keys_and_the_url_from_the_environment(monkeypatch, fake_server):
    monkeypatch.setenv("ASCENDKIT_SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("ASCENDKIT_ENV_KEY", "env_FromTheEnvironment0000000000")
    monkeypatch.setenv("ASCENDKIT_API_URL", fake_server.url + "/")
    client = Analytics()
    try:
        client.track("usr_A", "signed_up")
        assert client.flush(timeout=5)
    finally:
        client.shutdown()

    headers = fake_server.received[0].headers
    assert headers["Authorization"] == f"Bearer {SECRET_KEY}"
    assert headers["X-AscendKit-Env-Key"] == "env_FromTheEnvironment0000000000"
    assert headers["Content-Type"] == "application/json"
    assert client.endpoint == fake_server.url + "/v1/events"


def test_it_defaults_to_the_local_server_and_the_specs_batching_numbers(monkeypatch):
    monkeypatch.delenv("ASCENDKIT_API_URL", raising=False)
    monkeypatch.delenv("ASCENDKIT_ENV_KEY", raising=False)
    client = Analytics(secret_key=SECRET_KEY)
    client.shutdown()

    assert client.endpoint == "http://127.0.0.1:8000/v1/events"
    assert (client.flush_at, client.flush_interval) == (10, 30.0)
    assert "X-AscendKit-Env-Key" not in client._headers


# --- Items ---------------------------------------------------------------------------------


def test_it_prefixes_event_names_with_app_once(fake_server, make_client):
    client = make_client(fake_server.url)
    client.track("usr_A", "checkout.completed")
    client.track("usr_A", "app.plan:upgraded")

    names = [item["name"] for item in sent_items(fake_server, client)]

    assert names == ["app.checkout.completed", "app.plan:upgraded"]


def test_an_item_carries_its_user_visitor_properties_time_and_a_message_id(fake_server, make_client):
    client = make_client(fake_server.url)
    happened = dt.datetime(2026, 11, 29, 10, 0, 0, 120000, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    client.track(
        "usr_A",
        "checkout.completed",
        {"total": decimal.Decimal("99.99"), "at": happened, "order": uuid.UUID(int=7), "tags": ("a",)},
        visitor_id=VISITOR_ID,
        timestamp=happened,
    )

    (item,) = sent_items(fake_server, client)

    assert item["userId"] == "usr_A" and item["visitorId"] == VISITOR_ID
    assert item["timestamp"] == "2026-11-29T08:00:00.120Z"
    assert item["properties"] == {
        "total": 99.99,
        "at": "2026-11-29T08:00:00.120Z",
        "order": "00000000-0000-0000-0000-000000000007",
        "tags": ["a"],
    }
    assert 1 <= len(item["messageId"]) <= 64 and item["messageId"].isalnum()


def test_a_batch_says_when_it_was_sent_so_the_server_can_correct_the_clock(fake_server, make_client):
    client = make_client(fake_server.url)
    before = dt.datetime.now(dt.UTC)
    client.track("usr_A", "signed_up")
    client.flush(timeout=5)

    sent_at = dt.datetime.fromisoformat(fake_server.received[0].body["sentAt"])
    timestamp = dt.datetime.fromisoformat(fake_server.received[0].body["events"][0]["timestamp"])

    assert before - dt.timedelta(seconds=1) <= timestamp <= sent_at <= dt.datetime.now(dt.UTC)


def test_later_changes_to_the_properties_do_not_change_the_queued_event(fake_server, make_client):
    client = make_client(fake_server.url)
    properties = {"plan": "pro"}
    client.track("usr_A", "plan.changed", properties)
    properties["plan"] = "free"

    (item,) = sent_items(fake_server, client)

    assert item["properties"] == {"plan": "pro"}


@pytest.mark.parametrize(
    "call",
    [
        {"user_id": None, "event": "ok"},
        {"user_id": "", "event": "ok"},
        {"user_id": "usr_A", "event": None},
        {"user_id": "usr_A", "event": "has spaces"},
        {"user_id": "usr_A", "event": "x" * 201},
        {"user_id": "usr_A", "event": "ok", "properties": ["not", "a", "mapping"]},
        {"user_id": "usr_A", "event": "ok", "properties": {"f": object()}},
        {"user_id": "usr_A", "event": "ok", "properties": {"f": math.nan}},
        {"user_id": "usr_A", "event": "ok", "properties": {"big": "x" * 33 * 1024}},
        {"user_id": "usr_A", "event": "ok", "timestamp": "yesterday"},
        {"user_id": "usr_A", "event": "ok", "timestamp": 1700000000},
    ],
)
def test_track_never_raises_and_drops_a_bad_call_with_a_warning(fake_server, make_client, caplog, call):
    client = make_client(fake_server.url)
    with caplog.at_level(logging.WARNING, logger="ascendkit"):
        client.track(**call)
    client.track("usr_A", "good")

    assert [item["name"] for item in sent_items(fake_server, client)] == ["app.good"]
    assert "event dropped" in caplog.text


def test_a_malformed_visitor_id_is_left_out_and_the_event_still_sent(fake_server, make_client, caplog):
    client = make_client(fake_server.url)
    with caplog.at_level(logging.WARNING, logger="ascendkit"):
        client.track("usr_A", "signed_up", visitor_id="not-a-visitor")

    (item,) = sent_items(fake_server, client)

    assert item["name"] == "app.signed_up" and "visitorId" not in item
    assert "not a vis_ ID" in caplog.text


# --- Retry arithmetic ----------------------------------------------------------------------


def test_backoff_grows_exponentially_with_jitter_up_to_its_cap():
    for attempt, ceiling in [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (10, 10.0)]:
        delays = [backoff_delay(attempt, base=0.5, cap=10.0) for _ in range(200)]
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
        assert len(set(delays)) > 1


def test_retry_after_is_read_as_seconds_or_as_an_http_date():
    assert parse_retry_after("7") == 7.0
    assert (
        parse_retry_after("Sun, 29 Nov 2026 10:00:30 GMT", now=dt.datetime(2026, 11, 29, 10, tzinfo=dt.UTC).timestamp())
        == 30.0
    )
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
