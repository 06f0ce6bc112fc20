"""One HTTP attempt at `POST /v1/events` with the standard library, and how to read its answer."""

from __future__ import annotations

import email.utils
import enum
import http.client
import json
import random
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from . import __version__

USER_AGENT = f"ascendkit-python/{__version__}"


class Outcome(enum.Enum):
    DELIVERED = "delivered"  # 2xx: stored, or acknowledged as duplicates
    RETRY = "retry"  # network error, 429, 5xx: the same batch goes again
    REFUSED = "refused"  # another 4xx: sending it again cannot help


@dataclass(frozen=True)
class Answer:
    outcome: Outcome
    status: int | None  # None when no HTTP answer came
    detail: str  # the error's code and message, or the network error
    retry_after: float | None = None  # seconds, from the answer's Retry-After
    body: dict[str, Any] = field(default_factory=dict)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header: a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def backoff_delay(attempt: int, *, base: float, cap: float) -> float:
    """Exponential backoff with jitter: half fixed, half random, so clients spread out."""
    ceiling = min(cap, base * 2.0**attempt)
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def _read_json(raw: bytes) -> dict[str, Any]:
    try:
        decoded = json.loads(raw or b"{}")
    except ValueError:
        return {}
    return decoded if isinstance(decoded, dict) else {}


def _error_detail(status: int, body: dict[str, Any], raw: bytes) -> str:
    error = body.get("error")
    if isinstance(error, dict):
        return f"{status} {error.get('code', '')}: {error.get('message', '')}"
    return f"{status} {raw[:200].decode(errors='replace')}"


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float) -> Answer:
    """Send one request and classify the answer; never raises for network or HTTP errors."""
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers},
    )
    try:
        with urllib.request.urlopen(request, timeout=max(timeout, 0.001)) as response:
            raw = response.read()
            return Answer(Outcome.DELIVERED, response.status, "", body=_read_json(raw))
    except urllib.error.HTTPError as error:
        with error:
            raw = error.read()
            answer_body = _read_json(raw)
            status = error.code
            detail = _error_detail(status, answer_body, raw)
            if status == 429 or status >= 500:
                retry_after = parse_retry_after(error.headers.get("Retry-After"))
                return Answer(Outcome.RETRY, status, detail, retry_after=retry_after, body=answer_body)
            return Answer(Outcome.REFUSED, status, detail, body=answer_body)
    except (TimeoutError, urllib.error.URLError, http.client.HTTPException, OSError) as error:
        reason = getattr(error, "reason", error)
        return Answer(Outcome.RETRY, None, f"{type(error).__name__}: {reason}")
