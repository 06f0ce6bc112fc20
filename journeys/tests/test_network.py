"""SSRF: webhook targets that resolve to non-public addresses are refused when saved and when sent."""

import ipaddress

import pytest

from ascendkit_site.errors import ApplicationError
from journeys import network
from journeys.models import Delivery, WebhookEndpoint
from journeys.services.webhooks import delivery_attempt, webhook_endpoint_create

from .helpers import signup, track

pytestmark = pytest.mark.django_db

PUBLIC = "93.184.215.14"


def resolving_to(*addresses):
    """A fake DNS: every host name resolves to these addresses."""
    calls = []

    def resolve(host, port):
        calls.append((host, port))
        return list(addresses)

    resolve.calls = calls
    return resolve


NON_PUBLIC_URLS = [
    "http://10.0.0.5/hook",
    "http://127.0.0.1:8000/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]/hook",
    "http://[::ffff:10.0.0.5]/hook",
    "http://192.168.1.1/hook",
    "http://100.64.0.1/hook",
    "http://0.0.0.0/hook",
    "http://[fe80::1]/hook",
    "http://[fd00::1]/hook",
    "http://224.0.0.1/hook",
    "http://[2002:0a00:0005::1]/hook",  # 6to4 around 10.0.0.5
]


@pytest.mark.parametrize("url", NON_PUBLIC_URLS)
def test_an_endpoint_whose_address_is_not_public_is_refused_when_saved(tenant, url):
    with pytest.raises(ApplicationError) as error:
        webhook_endpoint_create(environment=tenant.environment, url=url, events=["app.*"])
    assert error.value.code == "webhook_target_refused"
    assert "not a public address" in error.value.message
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize("address", ["10.1.2.3", "127.0.0.1", "169.254.0.1", "::1", "::ffff:127.0.0.1"])
def test_a_host_name_that_resolves_to_a_private_address_is_refused_when_saved(tenant, address):
    resolver = resolving_to(PUBLIC, address)  # one bad address is enough
    with pytest.raises(ApplicationError) as error:
        webhook_endpoint_create(
            environment=tenant.environment, url="https://hooks.example.com/in", events=["app.*"], resolver=resolver
        )
    assert "hooks.example.com" in error.value.message and error.value.code == "webhook_target_refused"
    assert resolver.calls == [("hooks.example.com", 443)]
    assert not WebhookEndpoint.objects.exists()


def test_a_public_host_name_is_accepted(tenant):
    endpoint = webhook_endpoint_create(
        environment=tenant.environment,
        url="https://hooks.example.com/in",
        events=["app.*"],
        resolver=resolving_to(PUBLIC, "2606:2800:21f:cb07:6820:80da:af6b:8b2c"),
    )
    assert endpoint.secret.startswith("whsec_")


@pytest.mark.parametrize(
    "url", ["ftp://example.com/", "example.com/hook", "http:///hook", "https://user:pw@example.com/", "http://a:99999/"]
)
def test_a_url_that_is_not_plain_http_is_refused(tenant, url):
    with pytest.raises(ApplicationError) as error:
        webhook_endpoint_create(
            environment=tenant.environment, url=url, events=["app.*"], resolver=resolving_to(PUBLIC)
        )
    assert error.value.code == "invalid_url"


def test_a_target_whose_dns_changed_to_a_private_address_is_refused_at_send_time(api, tenant, monkeypatch):
    # Saved while it resolved to a public address…
    endpoint = webhook_endpoint_create(
        environment=tenant.environment,
        url="http://hooks.example.com/in",
        events=["app.*"],
        resolver=resolving_to(PUBLIC),
    )
    # …and now it points inside the network.
    monkeypatch.setattr(network, "resolve_host", resolving_to("10.0.0.7"))
    connections = []
    monkeypatch.setattr(network.urllib3.HTTPConnectionPool, "urlopen", lambda *a, **k: connections.append(a))
    user_id = signup(api, tenant, "ada@example.com")

    track(api, tenant, user_id, "app.paid")

    delivery = Delivery.objects.get(endpoint=endpoint)
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("pending", 1, None)
    assert "10.0.0.7, which is not a public address" in delivery.error
    assert connections == []


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "169.254.10.10", "10.9.9.9"])
def test_the_send_checks_every_address_and_never_connects_to_a_refused_one(api, tenant, monkeypatch, address):
    endpoint = webhook_endpoint_create(
        environment=tenant.environment,
        url="http://hooks.example.com/in",
        events=["app.*"],
        resolver=resolving_to(PUBLIC),
    )
    user_id = signup(api, tenant, "ada@example.com")
    monkeypatch.setattr(network, "resolve_host", resolving_to(address))
    connections = []
    monkeypatch.setattr(network.urllib3.HTTPConnectionPool, "urlopen", lambda *a, **k: connections.append(a))
    track(api, tenant, user_id, "app.paid")
    delivery = Delivery.objects.get(endpoint=endpoint)
    assert "not a public address" in delivery.error
    assert connections == []
    assert delivery_attempt(delivery_id=delivery.pk) is None  # and not due again yet


def test_it_connects_to_the_address_it_checked_and_names_the_host(settings, receiver, monkeypatch):
    # DNS rebinding: whatever a second lookup would say, the request goes to the checked address.
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    port = receiver.server.server_address[1]
    result = network.post(
        f"http://hooks.example.com:{port}/in?x=1", body=b"{}", headers={}, resolver=resolving_to("127.0.0.1")
    )
    assert result.status == 200
    (received,) = receiver.received
    assert received.path == "/in?x=1"
    assert received.headers["Host"] == f"hooks.example.com:{port}"


def test_it_follows_no_redirect(settings, receiver):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    receiver.statuses.append(302)
    result = network.post(receiver.url, body=b"{}", headers={})
    assert result.status == 302 and not result.ok
    assert len(receiver.received) == 1


def test_an_unreachable_target_is_a_failed_attempt_with_the_error(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    result = network.post("http://127.0.0.1:9/hook", body=b"{}", headers={})
    assert result.status is None and "NewConnectionError" in result.error


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.215.14", True),
        ("2606:4700::1111", True),
        ("::ffff:93.184.215.14", True),
        ("::ffff:192.168.0.1", False),
        ("198.18.0.1", False),
        ("255.255.255.255", False),
        ("ff02::1", False),
        ("2001:db8::1", False),
    ],
)
def test_it_judges_addresses(address, public):
    assert network.address_is_public(ipaddress.ip_address(address)) is public
