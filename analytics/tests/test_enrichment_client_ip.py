import pytest
from django.test import RequestFactory

from analytics.enrichment.client_ip import client_ip, normalise_ip

PROXY = "10.0.0.2"


def request_from(remote_addr: str, forwarded_for: str | None = None):
    headers = {} if forwarded_for is None else {"HTTP_X_FORWARDED_FOR": forwarded_for}
    return RequestFactory().get("/", REMOTE_ADDR=remote_addr, **headers)


def test_it_takes_the_socket_peer_without_trusted_proxies(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(request_from("203.0.113.7")) == "203.0.113.7"


def test_it_ignores_a_forged_forwarded_for_without_trusted_proxies(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(request_from("203.0.113.7", "8.8.8.8")) == "203.0.113.7"


def test_it_takes_the_entry_the_proxy_appended(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(request_from(PROXY, "203.0.113.7")) == "203.0.113.7"


def test_it_ignores_entries_the_client_prepended(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(request_from(PROXY, "8.8.8.8, 1.1.1.1, 203.0.113.7")) == "203.0.113.7"


def test_it_counts_hops_from_the_right_across_two_proxies(settings):
    settings.TRUSTED_PROXY_COUNT = 2
    assert client_ip(request_from(PROXY, "8.8.8.8, 203.0.113.7, 10.0.0.1")) == "203.0.113.7"


def test_it_reads_repeated_headers_joined_by_commas(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(request_from(PROXY, "8.8.8.8,203.0.113.7 ,")) == "203.0.113.7"


def test_it_falls_back_to_the_socket_peer_when_the_chain_is_shorter_than_configured(settings):
    settings.TRUSTED_PROXY_COUNT = 2
    assert client_ip(request_from(PROXY, "8.8.8.8")) == PROXY


def test_it_falls_back_to_the_socket_peer_without_the_header(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(request_from(PROXY)) == PROXY


def test_it_reads_ipv6_behind_a_proxy(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(request_from(PROXY, "2001:db8::1, [2001:DB8::7]:443")) == "2001:db8::7"


def test_it_answers_none_for_garbage_at_the_trusted_position(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(request_from(PROXY, "203.0.113.7, unknown")) is None


def test_it_answers_none_without_any_address(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    request = RequestFactory().get("/")
    del request.META["REMOTE_ADDR"]
    assert client_ip(request) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("203.0.113.7", "203.0.113.7"),
        (" 203.0.113.7 ", "203.0.113.7"),
        ("203.0.113.7:5678", "203.0.113.7"),
        ("2001:db8::1", "2001:db8::1"),
        ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ('"[2001:db8::1]:443"', "2001:db8::1"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("203.0.113.7:http", None),
        ("[2001:db8::1]x", None),
        ("203.0.113", None),
        ("example.com", None),
        ("unknown", None),
        ("", None),
        (None, None),
    ],
)
def test_it_normalises_addresses(value, expected):
    assert normalise_ip(value) == expected
