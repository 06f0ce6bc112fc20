"""End users' flows: signup, login, logout, waitlist approval, and identify.

Each flow changes the user in identity's tables and, in the same transaction,
records its built-in `user.*` event and links the browser's visitor in analytics.
This module sits above both apps, so the one-way order holds: identity knows
nothing of analytics, and analytics nothing of these flows.
"""

from datetime import datetime

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from analytics.models import Visitor
from analytics.services.events import event_record_builtin
from analytics.services.stitching import LinkResult, visitor_link
from analytics.stats.rollups import rollup_days_touch
from ascendkit_site import ids
from ascendkit_site.errors import ApplicationError
from identity.models import EndUser, Environment, UserToken, hash_secret, make_user_token
from identity.selectors import end_user_by_email

NAME_MAX_LENGTH = 200
EMAIL_MAX_LENGTH = 254


class InvalidCredentials(ApplicationError):
    """A wrong email or password, answered the same either way (no account enumeration)."""

    def __init__(self):
        super().__init__("invalid_credentials", "The email or password is incorrect.")


def _email_clean(email: str) -> str:
    """The email as stored: trimmed, its domain lowercased (domains are case-insensitive)."""
    email = email.strip()
    local, at, domain = email.rpartition("@")
    email = f"{local}{at}{domain.lower()}" if at else email
    invalid = ApplicationError("invalid_email", "The email address is not valid.")
    if len(email) > EMAIL_MAX_LENGTH:
        raise invalid
    try:
        validate_email(email)
    except ValidationError:
        raise invalid from None
    return email


def _password_validate(*, password: str, user: EndUser) -> None:
    try:
        validate_password(password, user=user)
    except ValidationError as error:
        raise ApplicationError("weak_password", " ".join(error.messages)) from None


def _builtin_event(*, user: EndUser, name: str, at: datetime | None = None, visitor: Visitor | None = None) -> None:
    event_record_builtin(user=user, name=name, at=at, visitor=visitor)


def _browser_visitor_link(
    *, environment: Environment, user: EndUser, visitor_id: str | None, signup: bool
) -> Visitor | None:
    """Link the browser's visitor to the user and return it when it is the user's.

    A malformed visitor ID is ignored, not an error: the account call matters more
    than the link. A visitor of another user stays theirs and is not returned.
    """
    if not ids.is_visitor_id(visitor_id):
        return None
    result = visitor_link(environment=environment, user=user, visitor_public_id=visitor_id, signup=signup)
    return result.visitor if result.linked else None


def _email_taken() -> ApplicationError:
    return ApplicationError("email_taken", "An account with this email already exists.")


def user_token_issue(*, user: EndUser) -> str:
    """A new session token for the user, returned once; only its hash is stored."""
    raw_token = make_user_token()
    UserToken.objects.create(
        environment_id=user.environment_id,
        user=user,
        token_hash=hash_secret(raw_token),
        expires_at=timezone.now() + settings.USER_TOKEN_TTL,
    )
    return raw_token


def user_signup(
    *, environment: Environment, email: str, password: str, name: str = "", visitor_id: str | None = None
) -> tuple[EndUser, str | None]:
    """Make an end user and, unless the environment has a waitlist, a session token.

    Records `user.created` (and `user.waitlisted`) in the same transaction. The
    email is unique per environment regardless of case; a taken one is `email_taken`.
    """
    email = _email_clean(email)
    waitlisted = environment.waitlist_enabled
    user = EndUser(
        environment=environment,
        email=email,
        name=name.strip()[:NAME_MAX_LENGTH],
        status=EndUser.Status.WAITLISTED if waitlisted else EndUser.Status.ACTIVE,
    )
    _password_validate(password=password, user=user)
    if end_user_by_email(environment=environment, email=email) is not None:
        raise _email_taken()
    user.password = make_password(password)

    with transaction.atomic():
        try:
            # A savepoint of its own: a concurrent signup that won the race
            # leaves the outer transaction usable for the error answer.
            with transaction.atomic():
                user.save(force_insert=True)
        except IntegrityError:
            raise _email_taken() from None
        rollup_days_touch(environments=[environment], users=[user])
        # The built-in events name the browser they happened on.
        visitor = _browser_visitor_link(environment=environment, user=user, visitor_id=visitor_id, signup=True)
        _builtin_event(user=user, name="user.created", at=user.created_at, visitor=visitor)
        if waitlisted:
            _builtin_event(user=user, name="user.waitlisted", at=user.created_at, visitor=visitor)
            raw_token = None
        else:
            raw_token = user_token_issue(user=user)
    return user, raw_token


def user_login(
    *, environment: Environment, email: str, password: str, visitor_id: str | None = None
) -> tuple[EndUser, str]:
    """Check the password and issue a session token; records `user.login`.

    An unknown email and a wrong password fail alike, in about the same time. A
    waitlisted user learns so only with the right password.
    """
    user = end_user_by_email(environment=environment, email=email.strip())
    if user is None:
        # Hash anyway, so the answer takes as long as for a real account.
        make_password(password)
        raise InvalidCredentials()

    def rehash(raw_password: str) -> None:
        # The password hasher settings changed since this hash was made.
        user.password = make_password(raw_password)
        user.save(update_fields=["password"])

    if not check_password(password, user.password, setter=rehash):
        raise InvalidCredentials()
    if user.status == EndUser.Status.WAITLISTED:
        raise ApplicationError("waitlisted", "This account is on the waitlist and cannot log in yet.")

    with transaction.atomic():
        now = timezone.now()
        user.last_login_at = now
        user.save(update_fields=["last_login_at"])
        raw_token = user_token_issue(user=user)
        visitor = _browser_visitor_link(environment=environment, user=user, visitor_id=visitor_id, signup=False)
        _builtin_event(user=user, name="user.login", at=now, visitor=visitor)
    return user, raw_token


def user_logout(*, token: UserToken) -> None:
    """Revoke the session token; records `user.signout` once, however often it is called."""
    with transaction.atomic():
        now = timezone.now()
        revoked = UserToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now)
        token.revoked_at = token.revoked_at or now
        if revoked:
            _builtin_event(user=token.user, name="user.signout", at=now)


def user_approve(*, user: EndUser) -> EndUser:
    """Let a waitlisted user in; records `user.waitlist_approved`.

    Approving an active user changes nothing and records nothing, so a retry is safe.
    """
    with transaction.atomic():
        now = timezone.now()
        # Conditional update: of two concurrent approvals only one records the event.
        approved = EndUser.objects.filter(pk=user.pk, status=EndUser.Status.WAITLISTED).update(
            status=EndUser.Status.ACTIVE, approved_at=now
        )
        user.refresh_from_db(fields=["status", "approved_at"])
        if approved:
            _builtin_event(user=user, name="user.waitlist_approved", at=now)
    return user


def user_identify(*, environment: Environment, user: EndUser, visitor_id: str) -> LinkResult:
    """Link a browser's visitor to the user (`POST /v1/identify`); the rewrite runs after commit.

    A malformed visitor ID is `invalid_visitor_id` here: identifying is the whole call.
    """
    if not ids.is_visitor_id(visitor_id):
        raise ApplicationError(
            "invalid_visitor_id", "`visitorId` must be `vis_` followed by 16 to 64 letters or digits."
        )
    with transaction.atomic():
        return visitor_link(environment=environment, user=user, visitor_public_id=visitor_id)
