"""Fixtures of the Python SDK's tests: the fake server, fast clients, a dead URL."""

import socket

import pytest
from ascendkit import Analytics

from .python_sdk_fakes import SECRET_KEY, FakeEventsServer


@pytest.fixture
def fake_server():
    server = FakeEventsServer()
    yield server
    server.close()


@pytest.fixture
def make_client():
    """Clients with fast retries that are shut down after the test."""
    clients = []

    def make(api_url: str, **options) -> Analytics:
        defaults = {"flush_interval": 60.0, "retry_base_delay": 0.02, "retry_max_delay": 0.2, "shutdown_timeout": 2.0}
        client = Analytics(secret_key=SECRET_KEY, api_url=api_url, **{**defaults, **options})
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.shutdown(timeout=1.0)


@pytest.fixture
def dead_url():
    """A URL where nothing listens: the port was just free."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"
