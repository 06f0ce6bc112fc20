"""Making client strings safe to store and to show.

PostgreSQL rejects NUL in text and `\\u0000` in jsonb, and a lone UTF-16 surrogate
cannot be encoded as UTF-8 at all, so both are removed rather than failing the
item. Bidirectional override and isolate controls are removed too: they carry no
content and can make a page path or event name display as something else in the
portal and the admin (the "Trojan Source" trick).
"""

import re

# Event names from clients (SPEC 4.2); `user.*` is reserved for built-in events.
CLIENT_EVENT_NAME = re.compile(r"app\.[A-Za-z0-9_.:\-]{1,200}")

_UNSAFE = re.compile("[\x00\ud800-\udfff\u202a-\u202e\u2066-\u2069]")


def clean_text(value, max_length: int) -> str:
    """A safe string cut to `max_length`; anything but a string becomes ""."""
    if not isinstance(value, str):
        return ""
    return _UNSAFE.sub("", value)[:max_length]


def clean_json(value):
    """The same JSON value with every key and string cleaned (lengths unchanged)."""
    if isinstance(value, str):
        return _UNSAFE.sub("", value)
    if isinstance(value, dict):
        return {_UNSAFE.sub("", str(key)): clean_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [clean_json(item) for item in value]
    return value


def is_client_event_name(name) -> bool:
    return isinstance(name, str) and CLIENT_EVENT_NAME.fullmatch(name) is not None
