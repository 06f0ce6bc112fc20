"""Writes of tenancy (organizations, projects, environments, keys, members) and of
end users (signup, login, tokens, waitlist), which record the built-in `user.*` events.
"""

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify
from rest_framework import status

from ascendkit_site import ids
from ascendkit_site.errors import ApiError

from .models import EndUser, Environment, Membership, Organization, Project, UserToken, hash_secret, make_user_token
from .selectors import clear_environment_cache, end_user_by_email


@dataclass(frozen=True)
class NewEnvironment:
    environment: Environment
    secret_key: str  # shown once, never stored


@transaction.atomic
def environment_create(
    *,
    organization_name: str,
    project_name: str,
    environment_name: str,
    allowed_origins: list[str] | None = None,
    waitlist_enabled: bool = False,
) -> NewEnvironment:
    """Make an environment, creating its organization and project when they do not exist."""
    organization, _ = Organization.objects.get_or_create(
        slug=slugify(organization_name), defaults={"name": organization_name}
    )
    project, _ = Project.objects.get_or_create(
        organization=organization, slug=slugify(project_name), defaults={"name": project_name}
    )
    environment = Environment(
        project=project,
        name=environment_name,
        slug=slugify(environment_name),
        allowed_origins=[origin.rstrip("/") for origin in allowed_origins or []],
        waitlist_enabled=waitlist_enabled,
    )
    secret_key = environment.set_secret_key()
    environment.save()
    return NewEnvironment(environment=environment, secret_key=secret_key)


def environment_rotate_secret_key(*, environment: Environment) -> str:
    """Give the environment a new secret key, returned once; the old one fails at once."""
    secret_key = environment.set_secret_key()
    environment.save(update_fields=["secret_key_hash", "secret_key_hint", "secret_key_rotated_at"])
    clear_environment_cache()
    return secret_key


@transaction.atomic
def member_add(*, organization_name: str, email: str, role: str = Membership.Role.VIEWER, password: str | None = None):
    """Make (or update) a team member who can log in to the portal."""
    organization, _ = Organization.objects.get_or_create(
        slug=slugify(organization_name), defaults={"name": organization_name}
    )
    User = get_user_model()
    user = User.objects.filter(username__iexact=email).first()
    if user is None:
        user = User(username=email, email=email)
    if password:
        user.set_password(password)
    elif not user.pk:
        user.set_unusable_password()
    user.save()
    membership, _ = Membership.objects.update_or_create(organization=organization, user=user, defaults={"role": role})
    return membership


# --- End users ------------------------------------------------------------------------

NAME_MAX_LENGTH = 200
EMAIL_MAX_LENGTH = 254


class InvalidCredentials(ApiError):
    """A wrong email or password, answered the same either way (no account enumeration)."""

    def __init__(self):
        super().__init__("invalid_credentials", "The email or password is incorrect.", status.HTTP_401_UNAUTHORIZED)


def _email_clean(email: str) -> str:
    """The email as stored: trimmed, its domain lowercased (domains are case-insensitive)."""
    email = email.strip()
    local, at, domain = email.rpartition("@")
    email = f"{local}{at}{domain.lower()}" if at else email
    invalid = ApiError("invalid_email", "The email address is not valid.")
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
        raise ApiError("weak_password", " ".join(error.messages)) from None


def _builtin_event(*, user: EndUser, name: str, at: datetime | None = None, visitor=None) -> None:
    # Imported here: analytics depends on identity's models, not the other way round.
    from analytics.services.events import event_record_builtin

    event_record_builtin(user=user, name=name, at=at, visitor=visitor)


def _visitor_link(*, environment: Environment, user: EndUser, visitor_id: str | None, signup: bool):
    """Link the browser's visitor to the user and return it when it is the user's.

    A malformed visitor ID is ignored, not an error; a visitor of another user
    stays theirs (the link is refused and counted) and is not returned.
    """
    if not ids.is_visitor_id(visitor_id):
        return None
    from analytics.services.stitching import visitor_link

    result = visitor_link(environment=environment, user=user, visitor_public_id=visitor_id, signup=signup)
    return result.visitor if result.linked else None


def _email_taken() -> ApiError:
    return ApiError("email_taken", "An account with this email already exists.", status.HTTP_409_CONFLICT)


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
    email is unique per environment regardless of case; a taken one is 409.
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
        # The built-in events name the browser they happened on.
        visitor = _visitor_link(environment=environment, user=user, visitor_id=visitor_id, signup=True)
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
        raise ApiError(
            "waitlisted", "This account is on the waitlist and cannot log in yet.", status.HTTP_403_FORBIDDEN
        )

    with transaction.atomic():
        now = timezone.now()
        user.last_login_at = now
        user.save(update_fields=["last_login_at"])
        raw_token = user_token_issue(user=user)
        visitor = _visitor_link(environment=environment, user=user, visitor_id=visitor_id, signup=False)
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
