"""Client items: their types, and the rules each is judged by, in collect and `POST /v1/events`.

An item that breaks a rule is rejected on its own (`ItemRejected.reason` is the
code the client sees); the good items of the same batch are stored. The types are
what parsing (`services.collect`) hands to the writer (`services.collect_writer`).
"""

import functools
import json
from dataclasses import MISSING, dataclass, field, fields
from datetime import datetime, timedelta

from django.conf import settings
from django.utils.dateparse import parse_datetime

from identity.models import Environment

from .cleaning import clean_json, clean_text
from .enrichment.geo import Place
from .enrichment.sources import PageUrl, Traffic, parse_page_url
from .enrichment.useragent import Device

URL_MAX = 2048


@dataclass(frozen=True)
class Client:
    """What a collect request tells of the device and place it came from, enriched."""

    device: Device
    place: Place
    screen_width: int | None = None
    screen_height: int | None = None
    locale: str = ""
    time_zone: str = ""


@dataclass(frozen=True)
class BrowserItem:
    """A valid collect item: a pageview (with its source worked out) or a track event."""

    index: int
    message_id: str
    at: datetime
    page: PageUrl | None  # the page it happened on; required for pageviews
    traffic: Traffic | None = None  # pageviews: referrer, source, medium, channel
    referrer: str = ""
    title: str = ""
    name: str = ""  # set for track items only
    properties: dict = field(default_factory=dict)

    @property
    def is_pageview(self) -> bool:
        return not self.name


@dataclass
class BrowserBatch:
    """One collect request's valid items, for one visitor, from one client."""

    environment: Environment
    visitor_public_id: str
    items: list[BrowserItem]
    client: Client


def restored(cls, values: dict):
    """A frozen dataclass instance from the dict of its fields, without running `__init__`.

    For the queue's payloads, which hold what an earlier `__init__` made: a frozen
    dataclass's `__init__` sets each field through `object.__setattr__`, which for the
    writer's thousands of items a second costs more than decoding them. Fields missing
    from `values` take their defaults.
    """
    fixed, factories = _defaults(cls)
    data = {**fixed, **values}
    for name, factory in factories:
        if name not in values:
            data[name] = factory()
    instance = object.__new__(cls)
    object.__setattr__(instance, "__dict__", data)
    return instance


@functools.cache
def _defaults(cls) -> tuple[dict, list]:
    """A dataclass's fixed defaults by name, and (name, factory) for the others."""
    fixed = {spec.name: spec.default for spec in fields(cls) if spec.default is not MISSING}
    factories = [(spec.name, spec.default_factory) for spec in fields(cls) if spec.default_factory is not MISSING]
    return fixed, factories


class ItemRejected(ValueError):
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


def item_time(*, timestamp, sent_at: datetime | None, received_at: datetime, max_age: timedelta | None) -> datetime:
    """When the item happened, on the server's clock (SPEC 5, "Time").

    received − (sentAt − timestamp): the client's clock error cancels out. Without
    sentAt the timestamp is trusted as is; without a timestamp the item happened
    when it arrived. A time more than a minute ahead is clamped to now.
    """
    if timestamp is None:
        return received_at
    parsed = parse_client_time(timestamp)
    if parsed is None:
        raise ItemRejected("invalid_timestamp")
    try:
        at = received_at - (sent_at - parsed) if sent_at is not None else parsed
    except OverflowError:  # a skew correction past year 1 or 9999
        raise ItemRejected("invalid_timestamp") from None
    if at > received_at + settings.FUTURE_TOLERANCE:
        at = received_at
    if max_age is not None and at < received_at - max_age:
        raise ItemRejected("too_old")
    return at


def item_properties(properties) -> dict:
    """A JSON object of at most 32 KiB, cleaned of what PostgreSQL refuses."""
    if properties is None:
        return {}
    if not isinstance(properties, dict):
        raise ItemRejected("invalid_properties")
    try:
        properties = clean_json(properties)
        # allow_nan=False: NaN and ±Infinity parse from JSON text but are not JSON,
        # and PostgreSQL's jsonb refuses them.
        size = len(json.dumps(properties, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode())
    except (ValueError, RecursionError):
        raise ItemRejected("invalid_properties") from None
    if size > settings.COLLECT_MAX_PROPERTIES_BYTES:
        raise ItemRejected("properties_too_large")
    return properties


def item_page(url) -> PageUrl | None:
    """The page an item happened on, when it names a usable one."""
    return parse_page_url(clean_text(url, URL_MAX)) if isinstance(url, str) else None
