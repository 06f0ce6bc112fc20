"""Turning a `track()` call into one item of `POST /v1/events`, or a reason to drop it.

An item is encoded to JSON when it is tracked: later changes to the caller's
`properties` cannot leak into it, a value JSON cannot hold is caught in the
caller's `track()` (and logged there), and batches are cut by byte size without
encoding anything twice.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# The server's rules (SPEC 3 and 4.2), checked here so a bad call is reported
# in the caller's log at once instead of as a rejected item later.
EVENT_NAME_RE = re.compile(r"app\.[A-Za-z0-9_.:\-]{1,200}")
VISITOR_ID_RE = re.compile(r"vis_[A-Za-z0-9]{16,64}")
PROPERTIES_MAX_BYTES = 32 * 1024
USER_ID_MAX_LENGTH = 200


class InvalidItem(ValueError):
    """A `track()` call the server would refuse: the event is dropped and logged."""


@dataclass(frozen=True)
class Item:
    message_id: str
    name: str
    json: str  # the item as sent, without the batch's `sentAt`
    size: int  # bytes of `json`, UTF-8


def event_name(event: str) -> str:
    """`app.` + the name; a name that already starts with `app.` is not prefixed twice."""
    if not isinstance(event, str):
        raise InvalidItem(f"event name must be a string, not {type(event).__name__}")
    name = event.strip()
    if not name.startswith("app."):
        name = f"app.{name}"
    if EVENT_NAME_RE.fullmatch(name) is None:
        raise InvalidItem(f"event name {name[:80]!r} must be 1-200 of [A-Za-z0-9_.:-] after 'app.'")
    return name


def iso_utc(moment: dt.datetime) -> str:
    """ISO 8601 in UTC with milliseconds, as the API's examples write it."""
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _timestamp(value: dt.datetime | str | None, now: dt.datetime) -> str:
    if value is None:
        return iso_utc(now)
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            raise InvalidItem(f"timestamp {str(value)[:40]!r} is not ISO 8601") from None
    if not isinstance(value, dt.datetime):
        raise InvalidItem(f"timestamp must be a datetime, not {type(value).__name__}")
    # A naive datetime is local time, as Python reads it everywhere else.
    return iso_utc(value)


def _json_default(value: Any) -> Any:
    """What `json` cannot encode on its own but a caller reasonably passes."""
    if isinstance(value, dt.datetime):
        return iso_utc(value) if value.tzinfo else value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"a value of type {type(value).__name__} cannot be sent as JSON")


def _properties(properties: Mapping[str, Any] | None) -> dict[str, Any]:
    if properties is None:
        return {}
    if not isinstance(properties, Mapping):
        raise InvalidItem(f"properties must be a mapping, not {type(properties).__name__}")
    try:
        encoded = json.dumps(
            dict(properties), default=_json_default, allow_nan=False, ensure_ascii=False, separators=(",", ":")
        )
    except (TypeError, ValueError, RecursionError) as error:
        raise InvalidItem(f"properties are not JSON: {error}") from None
    if len(encoded.encode()) > PROPERTIES_MAX_BYTES:
        raise InvalidItem(f"properties are over {PROPERTIES_MAX_BYTES // 1024} KiB as JSON")
    # Decoded again so the item is encoded once, with plain JSON values only.
    decoded: dict[str, Any] = json.loads(encoded)
    return decoded


def build_item(
    *,
    user_id: str,
    event: str,
    properties: Mapping[str, Any] | None,
    visitor_id: str | None,
    timestamp: dt.datetime | str | None,
    now: dt.datetime,
) -> tuple[Item, str | None]:
    """The item to queue, and a warning to log when part of the call was left out."""
    if not isinstance(user_id, str) or not user_id.strip():
        raise InvalidItem("user_id must be a non-empty string (the user's usr_ ID)")
    if len(user_id) > USER_ID_MAX_LENGTH:
        raise InvalidItem("user_id is too long")
    name = event_name(event)
    body: dict[str, Any] = {
        "userId": user_id.strip(),
        "name": name,
        "properties": _properties(properties),
        "timestamp": _timestamp(timestamp, now),
        "messageId": uuid.uuid4().hex,  # the dedupe key: the same on every retry
    }
    warning = None
    if visitor_id is not None:
        if isinstance(visitor_id, str) and VISITOR_ID_RE.fullmatch(visitor_id):
            body["visitorId"] = visitor_id
        else:
            # The event matters more than the link: send it without the visitor.
            warning = f"visitor_id {str(visitor_id)[:80]!r} is not a vis_ ID; the event is sent without it"
    encoded = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return Item(message_id=body["messageId"], name=name, json=encoded, size=len(encoded.encode())), warning


def batch_body(items: list[Item], sent_at: dt.datetime) -> bytes:
    """The request body; `sentAt` is the moment of this attempt, so the server can correct skew."""
    return f'{{"sentAt":"{iso_utc(sent_at)}","events":[{",".join(item.json for item in items)}]}}'.encode()


# `{"sentAt":"2026-11-29T10:00:05.120Z","events":[` + `]}`, and a comma per item.
BODY_OVERHEAD_BYTES = 64
