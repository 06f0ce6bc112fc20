"""Clients that behave like the SDKs, and the slow-body attack.

A client keeps each batch, with its messageIds, until it is acknowledged (a 2xx);
it retries network errors, 429 and 5xx with a short backoff, as the SDKs do. Every
loop is bounded in attempts and in time.
"""

import http.client
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
# Documentation addresses (RFC 5737): the privacy sweep looks for them everywhere.
TEST_ADDRESSES = ("198.51.100.23", "203.0.113.77", "192.0.2.141")
MAX_ATTEMPTS = 200
RETRY_SECONDS = 0.25


def now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class Tally:
    acknowledged: set = field(default_factory=set)
    unacknowledged: set = field(default_factory=set)
    statuses: dict = field(default_factory=dict)
    unavailable_seconds: list = field(default_factory=list)  # how fast a 503 came back
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, status) -> None:
        with self.lock:
            self.statuses[status] = self.statuses.get(status, 0) + 1


def request(base_url: str, method: str, path: str, body=None, headers=None, timeout: float = 15):
    """One request on a fresh connection: (status, parsed JSON or None, seconds)."""
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    payload = json.dumps(body) if body is not None else None
    all_headers = {"Content-Type": "application/json", "User-Agent": BROWSER, **(headers or {})}
    started = time.monotonic()
    try:
        connection.request(method, path, body=payload, headers=all_headers)
        response = connection.getresponse()
        raw = response.read()
    finally:
        connection.close()
    seconds = time.monotonic() - started
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = None
    return response.status, parsed, seconds


def collect_batch(message_ids: list[str], visitor_id: str) -> dict:
    return {
        "visitorId": visitor_id,
        "sentAt": now_iso(),
        "context": {"userAgent": BROWSER, "locale": "en-US"},
        "events": [
            {"type": "pageview", "messageId": mid, "timestamp": now_iso(), "url": f"https://example.com/p/{mid}"}
            for mid in message_ids
        ],
    }


def deliver(base_url: str, path: str, body: dict, headers: dict, tally: Tally, ids: list[str]) -> None:
    """Send one batch until it is acknowledged, at most MAX_ATTEMPTS times."""
    for _ in range(MAX_ATTEMPTS):
        try:
            status, _, seconds = request(base_url, "POST", path, body, headers, timeout=10)
        except (OSError, http.client.HTTPException):
            tally.count("network error")
            time.sleep(RETRY_SECONDS)
            continue
        tally.count(status)
        if 200 <= status < 300:
            with tally.lock:
                tally.acknowledged.update(ids)
            return
        if status == 503:
            tally.unavailable_seconds.append(seconds)
        if status < 500 and status != 429:
            break  # refused for good: the SDK drops it, and so it is not acknowledged
        time.sleep(RETRY_SECONDS)
    with tally.lock:
        tally.unacknowledged.update(ids)


def run_collect_load(
    base_url: str, env_key: str, *, prefix: str, clients: int = 4, batches: int = 100, items: int = 5, seconds=None
) -> Tally:
    """`clients` threads, each delivering up to `batches` batches of `items` pageviews.

    With `seconds`, a client starts no new batch after that time (it still finishes
    delivering the one it holds).
    """
    tally = Tally()
    deadline = time.monotonic() + seconds if seconds else None

    def client(number: int):
        address = TEST_ADDRESSES[number % len(TEST_ADDRESSES)]
        headers = {"X-AscendKit-Env-Key": env_key, "X-Forwarded-For": address}
        visitor = f"vis_{prefix}{number:02d}".ljust(24, "0")[:24]
        for batch_number in range(batches):
            if deadline and time.monotonic() > deadline:
                break
            ids = [f"{prefix}-{number}-{batch_number}-{item}" for item in range(items)]
            deliver(base_url, "/v1/analytics/collect", collect_batch(ids, visitor), headers, tally, ids)

    threads = [threading.Thread(target=client, args=(number,)) for number in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    return tally


def slow_body_attack(base_url: str, env_key: str, *, connections: int = 40, probes: int = 10, hold_seconds=15.0):
    """40 connections send headers and 10 bytes of a declared 1,000-byte body.

    Meanwhile `probes` normal collects are sent side by side. Answers (the seconds
    each probe took, None for no answer within `hold_seconds`; how many stalled
    connections the server still held once `hold_seconds` had passed).
    """
    parts = urlsplit(base_url)
    head = (
        "POST /v1/analytics/collect HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"X-AscendKit-Env-Key: {env_key}\r\nContent-Length: 1000\r\n\r\n"
    ).encode()
    attackers = []
    for _ in range(connections):
        attacker = socket.create_connection((parts.hostname, parts.port), timeout=5)
        attacker.sendall(head + b'{"events":')
        attackers.append(attacker)
        time.sleep(0.025)  # as clients arrive, not in one burst: every worker gets its share
    time.sleep(1)
    started = time.monotonic()
    answers: list = [None] * probes

    def probe(number: int):
        body = collect_batch([f"slow-probe-{number}"], "vis_SlowBodyProbe00000000")
        began = time.monotonic()
        try:
            status, _, _ = request(
                base_url, "POST", "/v1/analytics/collect", body, {"X-AscendKit-Env-Key": env_key}, hold_seconds
            )
        except (OSError, http.client.HTTPException):
            return
        if status < 500:
            answers[number] = time.monotonic() - began

    threads = [threading.Thread(target=probe, args=(number,)) for number in range(probes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=hold_seconds + 5)
    # Wait out the rest of the hold, then see which stalled connections are still open.
    time.sleep(max(0.0, hold_seconds - (time.monotonic() - started)))
    held = 0
    for attacker in attackers:
        attacker.setblocking(False)
        try:
            attacker.recv(1)  # an answer or a close: the server let go of it
        except BlockingIOError:
            held += 1  # nothing sent, not closed: the server still holds it
        except OSError:
            pass
        attacker.close()
    return answers, held
