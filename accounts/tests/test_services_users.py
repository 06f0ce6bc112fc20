"""End-user services: signup, login, logout, approval, tokens, visitor linking."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.contrib.auth.hashers import check_password
from django.db import transaction

from accounts import services
from accounts.services import user_approve, user_login, user_logout, user_signup, user_token_issue
from analytics.models import Attribution, Event, OutboxEntry, Visitor
from ascendkit_site.errors import ApplicationError
from identity.models import EndUser, UserToken, hash_secret
from identity.selectors import user_token_get

from .helpers import PASSWORD

VISITOR_ID = "vis_0Q2xAbCdEfGhIjKlMnOp"


def code_of(raised) -> str:
    return raised.value.code


def test_signup_hashes_the_password_with_djangos_hashers(tenant):
    user, token = user_signup(environment=tenant.environment, email="ada@example.com", password=PASSWORD)

    assert user.password != PASSWORD
    assert check_password(PASSWORD, user.password)
    assert token.startswith("ust_")
    assert UserToken.objects.get().token_hash == hash_secret(token)


def test_a_token_expires_after_the_configured_time(tenant, settings):
    user, _ = user_signup(environment=tenant.environment, email="ada@example.com", password=PASSWORD)

    with time_machine.travel("2026-11-29T10:00:00Z", tick=False):
        raw = user_token_issue(user=user)

    token = user_token_get(raw_token=raw)
    assert token.user == user
    assert token.expires_at == datetime(2026, 11, 29, 10, tzinfo=UTC) + settings.USER_TOKEN_TTL


def test_a_concurrent_signup_that_lost_the_race_is_email_taken(tenant, monkeypatch):
    user_signup(environment=tenant.environment, email="ada@example.com", password=PASSWORD)
    # The other request checked before this one committed: only the constraint sees it.
    monkeypatch.setattr(services, "end_user_by_email", lambda **kwargs: None)

    with transaction.atomic(), pytest.raises(ApplicationError) as raised:
        user_signup(environment=tenant.environment, email="ADA@example.com", password=PASSWORD)

    assert code_of(raised) == "email_taken"
    assert EndUser.objects.count() == 1  # the connection is still usable
    assert Event.objects.count() == 1


def test_login_of_an_unknown_email_still_runs_the_password_hasher(tenant, monkeypatch):
    hashed = []
    real = services.make_password
    monkeypatch.setattr(services, "make_password", lambda password: hashed.append(password) or real(password))

    with pytest.raises(ApplicationError) as raised:
        user_login(environment=tenant.environment, email="nobody@example.com", password="guess-1234")

    assert code_of(raised) == "invalid_credentials"
    assert hashed == ["guess-1234"]


def test_login_upgrades_a_hash_made_with_an_older_hasher(tenant, settings):
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]
    user_signup(environment=tenant.environment, email="ada@example.com", password=PASSWORD)
    settings.PASSWORD_HASHERS = list(reversed(settings.PASSWORD_HASHERS))

    user, _ = user_login(environment=tenant.environment, email="ada@example.com", password=PASSWORD)

    user.refresh_from_db()
    assert user.password.startswith("pbkdf2_sha256$")


def test_logout_twice_records_one_signout(tenant):
    user, raw = user_signup(environment=tenant.environment, email="ada@example.com", password=PASSWORD)
    token = user_token_get(raw_token=raw)

    user_logout(token=token)
    user_logout(token=token)

    assert Event.objects.filter(user=user, name="user.signout").count() == 1
    assert user_token_get(raw_token=raw) is None


def test_approve_is_safe_to_repeat(tenant):
    tenant.environment.waitlist_enabled = True
    user, token = user_signup(environment=tenant.environment, email="ada@example.com", password=PASSWORD)
    assert token is None

    user_approve(user=user)
    approved = user_approve(user=user)

    assert approved.status == EndUser.Status.ACTIVE
    assert Event.objects.filter(user=user, name="user.waitlist_approved").count() == 1


def test_each_built_in_event_is_written_with_one_outbox_entry(tenant):
    tenant.environment.waitlist_enabled = True
    user, _ = user_signup(environment=tenant.environment, email="ada@example.com", password=PASSWORD)
    user_approve(user=user)
    _, raw = user_login(environment=tenant.environment, email="ada@example.com", password=PASSWORD)
    user_logout(token=user_token_get(raw_token=raw))

    events = Event.objects.filter(user=user)
    assert sorted(events.values_list("name", flat=True)) == sorted(
        ["user.created", "user.waitlisted", "user.waitlist_approved", "user.login", "user.signout"]
    )
    assert set(events.values_list("kind", flat=True)) == {Event.Kind.BUILTIN}
    assert OutboxEntry.objects.count() == 5
    assert set(OutboxEntry.objects.values_list("event_id", flat=True)) == set(events.values_list("id", flat=True))


def test_a_failed_signup_leaves_no_event_behind(tenant):
    with pytest.raises(ApplicationError):
        user_signup(environment=tenant.environment, email="ada@example.com", password="short")

    assert not Event.objects.exists()
    assert not OutboxEntry.objects.exists()


def test_signup_links_the_visitor_as_a_signup(tenant):
    user, _ = user_signup(
        environment=tenant.environment, email="ada@example.com", password=PASSWORD, visitor_id=VISITOR_ID
    )

    visitor = Visitor.objects.get(public_id=VISITOR_ID)
    assert visitor.user == user and visitor.linked_at is not None
    # Signing up on it marks it as the visitor of the signup touch.
    marker = Attribution.objects.get(kind=Attribution.Kind.SIGNUP_TOUCH)
    assert (marker.user, marker.visitor) == (user, visitor)
    assert Event.objects.get(name="user.created").visitor == visitor


def test_login_links_the_visitor_as_a_return(tenant):
    user_signup(environment=tenant.environment, email="ada@example.com", password=PASSWORD)

    user, _ = user_login(
        environment=tenant.environment, email="ada@example.com", password=PASSWORD, visitor_id=VISITOR_ID
    )

    assert Visitor.objects.get(public_id=VISITOR_ID).user == user
    # A return visit is not where the user signed up: no signup touch comes of it.
    assert not Attribution.objects.filter(kind=Attribution.Kind.SIGNUP_TOUCH).exists()
    assert Event.objects.get(name="user.login").visitor.public_id == VISITOR_ID


@pytest.mark.parametrize(
    "visitor_id", [None, "", "vis_short", "usr_0Q2xAbCdEfGhIjKlMnOp", "vis_0Q2x-bad-chars!!!!", 42, "vis_\x00" * 3]
)
def test_a_malformed_visitor_id_is_ignored(tenant, visitor_id):
    user, token = user_signup(
        environment=tenant.environment, email="ada@example.com", password=PASSWORD, visitor_id=visitor_id
    )

    assert token is not None
    assert not Visitor.objects.exists()
    assert Event.objects.get(name="user.created").visitor is None


def test_a_failed_login_links_nothing(tenant):
    user_signup(environment=tenant.environment, email="ada@example.com", password=PASSWORD)

    with pytest.raises(ApplicationError):
        user_login(environment=tenant.environment, email="ada@example.com", password="wrong", visitor_id=VISITOR_ID)

    assert not Visitor.objects.exists()
