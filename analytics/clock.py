"""Item times: clock-skew correction and bounds (SPEC 5, "Time")."""

from datetime import datetime, timedelta

from django.conf import settings
from django.utils.dateparse import parse_datetime


class TimeRejected(ValueError):
    """An item whose time is unusable; `reason` is the rejection code."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def parse_client_time(value) -> datetime | None:
    """An ISO 8601 time with an offset ("Z" accepted), else None."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        parsed = parse_datetime(value)
    except ValueError:
        return None
    if parsed is None or parsed.tzinfo is None:
        return None
    return parsed


def item_time(
    *, timestamp, sent_at: datetime | None, received_at: datetime, max_age: timedelta | None
) -> datetime:
    """When the item happened, on the server's clock.

    received − (sentAt − timestamp): the client's clock error cancels out. Without
    sentAt the timestamp is trusted as is; without a timestamp the item happened
    when it arrived. A time more than a minute ahead is clamped to now.
    """
    if timestamp is None:
        return received_at
    parsed = parse_client_time(timestamp)
    if parsed is None:
        raise TimeRejected("invalid_timestamp")
    at = received_at - (sent_at - parsed) if sent_at is not None else parsed
    if at > received_at + settings.FUTURE_TOLERANCE:
        at = received_at
    if max_age is not None and at < received_at - max_age:
        raise TimeRejected("too_old")
    return at
