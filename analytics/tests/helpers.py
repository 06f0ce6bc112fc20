"""Building collect batches the way the browser SDK sends them."""

import itertools
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from django.db import connection
from django.utils import timezone

CHROME_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Mobile/15E148 Safari/604.1"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"

_message_numbers = itertools.count(1)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def message_id() -> str:
    return f"m{next(_message_numbers)}"


def pageview(url="https://example.com/", *, at=None, referrer=None, title="Home", **extra) -> dict:
    item = {"type": "pageview", "messageId": message_id(), "timestamp": iso(at or timezone.now()), "url": url}
    if referrer is not None:
        item["referrer"] = referrer
    if title is not None:
        item["title"] = title
    item.update(extra)
    return item


def track(name="app.cta_clicked", *, at=None, properties=None, url="https://example.com/", **extra) -> dict:
    item = {"type": "track", "messageId": message_id(), "timestamp": iso(at or timezone.now()), "name": name}
    if properties is not None:
        item["properties"] = properties
    if url is not None:
        item["url"] = url
    item.update(extra)
    return item


def batch(events, *, visitor_id=None, user_agent=CHROME_MAC, sent_at=None, env_key=None, **extra) -> dict:
    body = {
        "sentAt": iso(sent_at or timezone.now()),
        "context": {
            "userAgent": user_agent,
            "locale": "en-US",
            "timezone": "Europe/Berlin",
            "screen": {"width": 1440, "height": 900},
        },
        "events": events,
    }
    if visitor_id is not None:
        body["visitorId"] = visitor_id
    if env_key is not None:
        body["envKey"] = env_key
    body.update(extra)
    return body


def minutes_ago(minutes: float) -> datetime:
    return timezone.now() - timedelta(minutes=minutes)


VISITOR_A = "vis_AAAAAAAAAAAAAAAAAAAAAAAA"
VISITOR_B = "vis_BBBBBBBBBBBBBBBBBBBBBBBB"


@contextmanager
def database_down():
    """Point the connection at a port where no database listens, then restore it.

    PostgreSQL only: SQLite's test database lives in one connection Django never closes.
    """
    original = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict["PORT"] = "1"
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(original)
