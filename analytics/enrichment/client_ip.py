"""The address of the client that sent a request, as far as it can be trusted.

With `TRUSTED_PROXY_COUNT = 0` the socket peer (`REMOTE_ADDR`) is the client and
`X-Forwarded-For` is ignored: anyone can send that header.

With N trusted proxies in front, each one appends the address it received the
connection from, so the outermost proxy wrote the N-th entry from the right: that is
the client. Entries further left came from the client and may be forged; the entries to
the right are our own proxies. A header with fewer than N entries did not pass the
whole chain (a direct hit on an inner proxy, or a miscounted chain), so no entry of it
is trusted and the socket peer is used: an address nobody could choose.

The address is returned normalised (IPv4-mapped IPv6 unwrapped) or None for garbage.
It is for the geo lookup and in-memory use only: never store or log it.
"""

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    peer = request.META.get("REMOTE_ADDR", "")
    hops = settings.TRUSTED_PROXY_COUNT
    if hops <= 0:
        return normalise_ip(peer)
    forwarded = _forwarded_for(request)
    if len(forwarded) < hops:
        return normalise_ip(peer)
    return normalise_ip(forwarded[-hops])


def normalise_ip(value: str | None) -> str | None:
    """A bare, canonical IP address from a header value, or None when it is not one."""
    if not value:
        return None
    try:
        address = ipaddress.ip_address(_without_port(value.strip().strip('"')))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return str(address)


def _forwarded_for(request: HttpRequest) -> list[str]:
    header = request.META.get("HTTP_X_FORWARDED_FOR", "")
    return [entry for entry in (part.strip() for part in header.split(",")) if entry]


def _without_port(value: str) -> str:
    if value.startswith("["):  # "[2001:db8::1]:443" or "[2001:db8::1]"
        host, _, rest = value[1:].partition("]")
        return host if _is_port_suffix(rest) else ""
    if value.count(":") == 1:  # "192.0.2.1:5678"; a bare IPv6 address has two colons or more
        host, _, port = value.partition(":")
        return host if port.isdigit() else ""
    return value


def _is_port_suffix(rest: str) -> bool:
    return rest == "" or (rest.startswith(":") and rest[1:].isdigit())
