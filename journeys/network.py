"""Webhook targets: refuse non-public addresses, and POST to the address that was checked.

As paperless-ngx's `network.py` does, a target's host is resolved and every address
it resolves to must be public: not private, loopback, link-local, reserved,
multicast, unspecified or shared (CGNAT), also when it hides in an IPv4-mapped,
6to4 or Teredo IPv6 address. The check runs when an endpoint is saved and again
before every send, because DNS can change. The request then connects to the very
address that passed (the URL's host name still goes in `Host` and in TLS's SNI and
certificate check), so a second lookup cannot be steered elsewhere (DNS rebinding).

`WEBHOOK_ALLOW_PRIVATE_TARGETS` lifts the address check, for tests and intranets.
"""

import ipaddress
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import urllib3
from django.conf import settings

from ascendkit_site.errors import ApplicationError

# host, port -> the addresses it resolves to, as text.
Resolver = Callable[[str, int], list[str]]

TIMEOUT_SECONDS = 10.0
EXCERPT_BYTES = 1000
URL_MAX_LENGTH = 2048


class TargetRefused(ApplicationError):
    def __init__(self, message: str):
        super().__init__("webhook_target_refused", message)


def resolve_host(host: str, port: int) -> list[str]:
    """Every address the host name resolves to (the system resolver)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise TargetRefused(f"The host {host!r} cannot be resolved ({error}).") from None
    return list(dict.fromkeys(info[4][0] for info in infos))


def address_is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        # An IPv4 address dressed as IPv6 reaches that IPv4 host: judge the host.
        if address.ipv4_mapped:
            return address_is_public(address.ipv4_mapped)
        embedded = address.sixtofour or (address.teredo and address.teredo[1])
        if embedded and not address_is_public(embedded):
            return False
    special = (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_multicast
        or address.is_unspecified
    )
    return address.is_global and not special


@dataclass(frozen=True)
class Target:
    url: str
    scheme: str
    host: str  # the host name as in the URL (brackets removed from IPv6)
    port: int
    host_header: str
    path: str  # path and query


def target_parse(url: str) -> Target:
    """The parts of a webhook URL; raises ApplicationError for anything but plain http(s)."""
    if not isinstance(url, str) or not url or len(url) > URL_MAX_LENGTH:
        raise ApplicationError(
            "invalid_url", f"A webhook URL is an http(s) URL of at most {URL_MAX_LENGTH} characters."
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ApplicationError("invalid_url", f"The URL {url!r} is not valid.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ApplicationError("invalid_url", f"The URL {url!r} is not an absolute http or https URL.")
    if parts.username is not None or parts.password is not None:
        raise ApplicationError("invalid_url", "A webhook URL must not carry credentials; the signature authenticates.")
    return Target(
        url=url,
        scheme=parts.scheme,
        host=parts.hostname,
        port=port or (443 if parts.scheme == "https" else 80),
        host_header=parts.netloc,
        path=(parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
    )


def target_check(url: str, *, resolver: Resolver | None = None) -> tuple[Target, str]:
    """The parsed target and the address to connect to; raises TargetRefused for a non-public one."""
    target = target_parse(url)
    addresses = (resolver or resolve_host)(target.host, target.port)
    if not addresses:
        raise TargetRefused(f"The host {target.host!r} resolves to no address.")
    if not settings.WEBHOOK_ALLOW_PRIVATE_TARGETS:
        for text in addresses:
            try:
                address = ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone
            except ValueError:
                raise TargetRefused(f"The host {target.host!r} resolves to {text!r}, not an address.") from None
            if not address_is_public(address):
                raise TargetRefused(
                    f"The host {target.host!r} resolves to {address}, which is not a public address; "
                    "webhooks are only sent to public targets (WEBHOOK_ALLOW_PRIVATE_TARGETS)."
                )
    return target, addresses[0]


@dataclass(frozen=True)
class SendResult:
    status: int | None  # the HTTP status, None when no answer came
    excerpt: str
    error: str
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def post(url: str, *, body: bytes, headers: dict[str, str], resolver: Resolver | None = None) -> SendResult:
    """POST the body to a checked target: 10 s timeout, no redirects, no retries here."""
    started = time.monotonic()

    def result(status=None, excerpt="", error=""):
        return SendResult(status, excerpt, error[:500], int((time.monotonic() - started) * 1000))

    try:
        target, address = target_check(url, resolver=resolver)
    except ApplicationError as refused:
        return result(error=refused.message)
    pool_options = {"timeout": urllib3.Timeout(total=TIMEOUT_SECONDS), "retries": False, "maxsize": 1}
    if target.scheme == "https":
        pool_class = urllib3.HTTPSConnectionPool
        pool_options.update(cert_reqs="CERT_REQUIRED", server_hostname=target.host, assert_hostname=target.host)
    else:
        pool_class = urllib3.HTTPConnectionPool
    try:
        with pool_class(address, target.port, **pool_options) as pool:
            response = pool.urlopen(
                "POST",
                target.path,
                body=body,
                headers={**headers, "Host": target.host_header},
                redirect=False,
                retries=False,
                assert_same_host=False,
                preload_content=False,
            )
            try:
                excerpt = response.read(EXCERPT_BYTES).decode("utf-8", errors="replace")
            finally:
                response.release_conn()
    except urllib3.exceptions.HTTPError as error:
        return result(error=f"{type(error).__name__}: {error}")
    return result(status=response.status, excerpt=excerpt)
