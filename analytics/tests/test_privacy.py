"""The client address is used for the geo lookup and then forgotten."""

import logging

import pytest
from django.db import connection

from analytics.services import collect as collect_service
from analytics.tests.helpers import VISITOR_A, VISITOR_B, batch, pageview, track

COLLECT = "/v1/analytics/collect"
CLIENT_IPV4 = "81.2.69.160"
CLIENT_IPV6 = "2001:4860:4860::8844"
CLIENT_IPV6_EXPANDED = "2001:4860:4860:0000:0000:0000:0000:8844"


@pytest.fixture
def every_log_line(caplog):
    """Everything logged at any level, SQL statements included."""
    caplog.set_level(logging.DEBUG)
    # Django's own logging config holds "django.*" at INFO; SQL is logged at DEBUG.
    caplog.set_level(logging.DEBUG, logger="django.db.backends")
    connection.force_debug_cursor = True
    yield caplog
    connection.force_debug_cursor = False


def test_no_client_address_reaches_the_database_or_the_logs(api, tenant, settings, db_dump, every_log_line):
    settings.TRUSTED_PROXY_COUNT = 1
    api.post_json(
        COLLECT,
        batch([pageview(), track()], visitor_id=VISITOR_A),
        HTTP_X_ASCENDKIT_ENV_KEY=tenant.env_key,
        REMOTE_ADDR=CLIENT_IPV4,
    )
    api.post_json(
        COLLECT,
        batch([pageview()], visitor_id=VISITOR_B),
        HTTP_X_ASCENDKIT_ENV_KEY=tenant.env_key,
        REMOTE_ADDR="10.0.0.1",
        HTTP_X_FORWARDED_FOR=CLIENT_IPV6,
    )
    # Refused requests too: their errors must not carry the address either.
    api.post_json(COLLECT, b"{not json", HTTP_X_ASCENDKIT_ENV_KEY=tenant.env_key, REMOTE_ADDR=CLIENT_IPV4)
    api.post_json(
        COLLECT, batch([pageview()]), HTTP_X_ASCENDKIT_ENV_KEY="env_unknownunknownunknown1", REMOTE_ADDR=CLIENT_IPV4
    )

    from analytics.models import Session

    # The addresses were really used: the sessions were located.
    assert set(Session.objects.values_list("country", flat=True)) == {"GB", "US"}
    dump = db_dump()
    logs = "\n".join(record.getMessage() for record in every_log_line.records) + every_log_line.text
    assert "INSERT" in logs  # the SQL really was captured
    for address in (CLIENT_IPV4, CLIENT_IPV6, CLIENT_IPV6_EXPANDED):
        assert address not in dump
        assert address not in logs


def test_a_server_error_report_carries_no_client_address(api, tenant, every_log_line, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("storage exploded")

    monkeypatch.setattr(collect_service, "browser_batches_write", broken)
    api.raise_request_exception = False

    response = api.post_json(
        COLLECT, batch([pageview()]), HTTP_X_ASCENDKIT_ENV_KEY=tenant.env_key, REMOTE_ADDR=CLIENT_IPV4
    )

    assert response.status_code == 500
    assert "storage exploded" in every_log_line.text  # the error was reported…
    assert CLIENT_IPV4 not in every_log_line.text  # …without the address
