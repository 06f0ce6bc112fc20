"""Login throttling against password guessing.

Failed logins are counted in the cache per (environment, email) and per
(environment, client address), in fixed windows of LOGIN_THROTTLE_WINDOW_SECONDS;
LOGIN_THROTTLE_ATTEMPTS failures in a window answer 429 until it ends.

Neither the email nor the address appears in a cache key: each is replaced by an
HMAC-SHA256 keyed with SECRET_KEY over the UTC date and the value. The salt rotates
daily, so a key cannot be linked to the same person on another day, and without
SECRET_KEY nobody can test candidate addresses against the keys.
"""

import hashlib
import hmac
import logging
import time
from datetime import UTC, datetime

from django.conf import settings
from django.core.cache import cache
from redis.exceptions import RedisError
from rest_framework import status

from ascendkit_site.errors import ApiError
from identity.models import Environment

logger = logging.getLogger(__name__)

# The cache is Redis in production; when it is down, logins go on unthrottled (the
# password hasher's cost still slows guessing) rather than failing for everyone.
CACHE_ERRORS = (RedisError, OSError)


def private_digest(value: str, *, at: float) -> str:
    """A salted, daily-rotated hash of a personal value (an email, an IP address)."""
    day = datetime.fromtimestamp(at, UTC).date().isoformat()
    return hmac.new(settings.SECRET_KEY.encode(), f"{day}|{value}".encode(), hashlib.sha256).hexdigest()


class LoginThrottle:
    """The failure counters of one login attempt: check before, record after."""

    def __init__(self, *, environment: Environment, email: str, address: str | None):
        now = time.time()
        window = settings.LOGIN_THROTTLE_WINDOW_SECONDS
        self.limit = settings.LOGIN_THROTTLE_ATTEMPTS
        self.timeout = window
        self.retry_after = max(1, window - int(now % window))
        # The window's number is part of the key, so each window starts from zero
        # and old counters simply expire.
        prefix = f"login-fail:{environment.pk}:{int(now // window)}"
        self.email_key = f"{prefix}:email:{private_digest(email.strip().lower(), at=now)}"
        self.keys = [self.email_key]
        if address:
            self.keys.append(f"{prefix}:addr:{private_digest(address, at=now)}")

    def check(self) -> None:
        """Raise 429 `rate_limited` with Retry-After when either counter is exhausted."""
        try:
            counts = cache.get_many(self.keys)
        except CACHE_ERRORS:
            logger.warning("Login throttle skipped: the cache is unavailable.")
            return
        if any(count >= self.limit for count in counts.values()):
            raise ApiError(
                "rate_limited",
                "Too many failed login attempts; retry later.",
                status.HTTP_429_TOO_MANY_REQUESTS,
                headers={"Retry-After": str(self.retry_after)},
            )

    def failed(self) -> None:
        try:
            for key in self.keys:
                if not cache.add(key, 1, timeout=self.timeout):
                    try:
                        cache.incr(key)
                    except ValueError:  # expired between add and incr
                        cache.set(key, 1, timeout=self.timeout)
        except CACHE_ERRORS:
            logger.warning("Login failure not counted: the cache is unavailable.")

    def succeeded(self) -> None:
        # The right password clears the email's count. The address keeps its count:
        # one valid account must not reset a guesser's budget for all the others.
        try:
            cache.delete(self.email_key)
        except CACHE_ERRORS:
            logger.warning("Login throttle not cleared: the cache is unavailable.")
