"""Public identifiers: a prefix, then base62 characters.

Minted IDs start with the time in milliseconds so that they sort by creation
time, then carry enough randomness (16 characters, ~95 bits) to never collide.
"""

import functools
import os
import re
import secrets
import time

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
TIME_WIDTH = 8  # 62**8 ms is ~6,900 years

VISITOR_ID_RE = re.compile(r"vis_[A-Za-z0-9]{16,64}")
USER_ID_RE = re.compile(r"usr_[A-Za-z0-9]{16,64}")
MESSAGE_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
# Credentials, checked for shape before any lookup: a NUL or a lone surrogate in a
# header or body must never reach a query.
ENV_KEY_RE = re.compile(r"env_[A-Za-z0-9]{24,64}")
SECRET_KEY_RE = re.compile(r"sk_[A-Za-z0-9]{32,64}")
USER_TOKEN_RE = re.compile(r"ust_[A-Za-z0-9_-]{32,128}")


def random_base62(length: int) -> str:
    return "".join(secrets.choice(BASE62) for _ in range(length))


def _encode_base62(number: int, width: int) -> str:
    chars = []
    for _ in range(width):
        number, remainder = divmod(number, 62)
        chars.append(BASE62[remainder])
    return "".join(reversed(chars))


RANDOM_WIDTH = 16
# Maps each byte to a base62 character (byte % 62): the collect writer mints an ID
# for every event and session, and bytes.translate does 16 characters in one call.
_BYTE_TO_BASE62 = bytes(ord(BASE62[byte % 62]) for byte in range(256))


def mint(prefix: str) -> str:
    """A new time-sortable public ID such as `vis_0Q2x…`.

    The random part is 16 random bytes mapped onto base62 (the modulo leaves a slight
    bias: 95 bits of randomness all the same, harmless in an identifier; keys
    use `random_base62`). The time part is encoded once per millisecond.
    """
    random_part = os.urandom(RANDOM_WIDTH).translate(_BYTE_TO_BASE62).decode()
    return f"{prefix}_{_time_part(time.time_ns() // 1_000_000)}{random_part}"


@functools.lru_cache(maxsize=4)
def _time_part(millis: int) -> str:
    return _encode_base62(millis, TIME_WIDTH)


def is_visitor_id(value) -> bool:
    return isinstance(value, str) and VISITOR_ID_RE.fullmatch(value) is not None


def is_user_id(value) -> bool:
    return isinstance(value, str) and USER_ID_RE.fullmatch(value) is not None


def is_message_id(value) -> bool:
    return isinstance(value, str) and MESSAGE_ID_RE.fullmatch(value) is not None


def is_env_key(value) -> bool:
    return isinstance(value, str) and ENV_KEY_RE.fullmatch(value) is not None


def is_secret_key(value) -> bool:
    return isinstance(value, str) and SECRET_KEY_RE.fullmatch(value) is not None


def is_user_token(value) -> bool:
    return isinstance(value, str) and USER_TOKEN_RE.fullmatch(value) is not None
