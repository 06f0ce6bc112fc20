"""Login throttling: failures counted per email and per client address, privately."""

import time

import pytest
import time_machine
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache

from accounts.throttling import private_digest

from .helpers import error_of, login, signup

ADDRESS = "203.0.113.7"  # the `api` fixture's REMOTE_ADDR
ATTEMPTS = 3
WINDOW = 900


@pytest.fixture(autouse=True)
def _throttle_settings(settings):
    settings.LOGIN_THROTTLE_ATTEMPTS = ATTEMPTS
    settings.LOGIN_THROTTLE_WINDOW_SECONDS = WINDOW


@pytest.fixture
def at_window_start():
    # A fixed point at the start of a window, so no test crosses into the next one.
    with time_machine.travel(1_800_000_000 - 1_800_000_000 % WINDOW + 5, tick=False) as traveller:
        yield traveller


def fail(api, tenant, times, email="ada@example.com"):
    for _ in range(times):
        assert error_of(login(api, tenant, email=email, password="wrong-guess")) == (401, "invalid_credentials")


def cache_keys() -> list[str]:
    backend = caches["default"]
    if isinstance(backend, LocMemCache):
        return list(backend._cache)
    client = backend._cache.get_client()
    return [key.decode() for key in client.scan_iter("*")]


def test_login_is_throttled_after_the_allowed_failures_even_with_the_right_password(api, tenant, at_window_start):
    signup(api, tenant)
    fail(api, tenant, ATTEMPTS)

    response = login(api, tenant)

    assert error_of(response) == (429, "rate_limited")
    assert int(response["Retry-After"]) == WINDOW - 5


def test_the_throttle_lifts_when_the_window_ends(api, tenant, at_window_start):
    signup(api, tenant)
    fail(api, tenant, ATTEMPTS)

    at_window_start.shift(WINDOW)

    assert login(api, tenant).status_code == 200


def test_failures_for_unknown_emails_count_too(api, tenant, at_window_start):
    fail(api, tenant, ATTEMPTS, email="nobody@example.com")

    assert error_of(login(api, tenant, email="nobody@example.com")) == (429, "rate_limited")


def test_the_email_counter_ignores_letter_case(api, tenant, other_tenant, at_window_start):
    signup(api, tenant)
    for index, email in enumerate(["ada@example.com", "ADA@example.com", "Ada@Example.com"]):
        # A fresh address each time, so only the email's counter fills up.
        api.defaults["REMOTE_ADDR"] = f"198.51.100.{index}"
        fail(api, tenant, 1, email=email)

    api.defaults["REMOTE_ADDR"] = "198.51.100.99"
    assert error_of(login(api, tenant)) == (429, "rate_limited")


def test_one_address_guessing_many_emails_is_throttled(api, tenant, at_window_start):
    for index in range(ATTEMPTS):
        fail(api, tenant, 1, email=f"guess{index}@example.com")

    assert error_of(login(api, tenant, email="another@example.com")) == (429, "rate_limited")


def test_another_address_may_still_log_in_to_another_account(api, tenant, at_window_start):
    signup(api, tenant, email="grace@example.com")
    fail(api, tenant, ATTEMPTS)

    api.defaults["REMOTE_ADDR"] = "198.51.100.20"

    assert login(api, tenant, email="grace@example.com").status_code == 200


def test_a_successful_login_clears_the_email_counter(api, tenant, at_window_start):
    signup(api, tenant)
    fail(api, tenant, ATTEMPTS - 1)
    assert login(api, tenant).status_code == 200

    api.defaults["REMOTE_ADDR"] = "198.51.100.30"  # the first address has its own count
    fail(api, tenant, ATTEMPTS - 1)

    assert login(api, tenant).status_code == 200


def test_the_counters_are_kept_per_environment(api, tenant, other_tenant, at_window_start):
    signup(api, other_tenant)
    fail(api, tenant, ATTEMPTS)

    assert login(api, other_tenant).status_code == 200


def test_the_cache_keys_hold_neither_the_address_nor_the_email(api, tenant, at_window_start):
    fail(api, tenant, 2, email="Ada.Lovelace@example.com")

    keys = cache_keys()
    assert keys
    for key in keys:
        for private in (ADDRESS, "203_0_113_7", "ada.lovelace", "Ada.Lovelace", "example.com"):
            assert private.lower() not in key.lower()


def test_the_private_digest_is_salted_and_rotates_daily(settings):
    today = time.time()

    assert private_digest(ADDRESS, at=today) == private_digest(ADDRESS, at=today)
    assert private_digest(ADDRESS, at=today) != private_digest(ADDRESS, at=today + 86_400)
    before = private_digest(ADDRESS, at=today)
    settings.SECRET_KEY = "another-secret-key-for-this-test"
    assert private_digest(ADDRESS, at=today) != before


def test_a_waitlisted_login_with_the_right_password_is_not_a_failure(api, tenant, at_window_start):
    tenant.environment.waitlist_enabled = True
    tenant.environment.save()
    signup(api, tenant)

    for _ in range(ATTEMPTS + 1):
        assert error_of(login(api, tenant)) == (403, "waitlisted")


def test_login_goes_on_unthrottled_when_the_cache_is_down(api, tenant, monkeypatch, at_window_start):
    from redis.exceptions import ConnectionError as RedisConnectionError

    from accounts import throttling

    def unavailable(*args, **kwargs):
        raise RedisConnectionError("down")

    signup(api, tenant)
    for method in ("get_many", "add", "incr", "set", "delete"):
        monkeypatch.setattr(throttling.cache, method, unavailable)

    fail(api, tenant, ATTEMPTS + 1)
    assert login(api, tenant).status_code == 200
