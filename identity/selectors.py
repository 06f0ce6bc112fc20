"""Reads of tenancy and end users."""

import time

from django.conf import settings
from django.db.models import QuerySet, Value
from django.db.models.functions import Lower
from django.utils import timezone

from ascendkit_site import ids
from ascendkit_site.errors import ApplicationError

from .models import EndUser, Environment, UserToken, hash_secret

# env key -> (expires at, Environment). Per process; see ENVIRONMENT_CACHE_SECONDS.
_environment_cache: dict[str, tuple[float, Environment]] = {}


def clear_environment_cache() -> None:
    _environment_cache.clear()


def environment_for_env_key(*, env_key: str) -> Environment | None:
    """The environment of a public env key, cached briefly in this process."""
    now = time.monotonic()
    cached = _environment_cache.get(env_key)
    if cached and cached[0] > now:
        return cached[1]
    environment = Environment.objects.select_related("project").filter(env_key=env_key).first()
    if environment is not None:
        if len(_environment_cache) > 10_000:
            _environment_cache.clear()
        _environment_cache[env_key] = (now + settings.ENVIRONMENT_CACHE_SECONDS, environment)
    return environment


def environment_for_secret_key(*, secret_key: str) -> Environment | None:
    """The environment of a secret key. Never cached: a rotated key fails at once."""
    return Environment.objects.select_related("project").filter(secret_key_hash=hash_secret(secret_key)).first()


def user_token_get(*, raw_token: str) -> UserToken | None:
    """A live (unexpired, unrevoked) token with its user and environment, or None."""
    return (
        UserToken.objects.select_related("user", "environment")
        .filter(token_hash=hash_secret(raw_token), revoked_at__isnull=True, expires_at__gt=timezone.now())
        .first()
    )


def end_user_get(*, environment: Environment, public_id: str) -> EndUser | None:
    """The environment's user with this `usr_` ID; None for a malformed ID, without a query."""
    if not ids.is_user_id(public_id):
        return None
    return EndUser.objects.filter(environment=environment, public_id=public_id).first()


def end_user_get_or_404(*, environment: Environment, public_id: str) -> EndUser:
    """`end_user_get`, or `not_found`: a user of another environment is as unknown as one never made."""
    user = end_user_get(environment=environment, public_id=public_id)
    if user is None:
        raise ApplicationError("not_found", "There is no user with this ID in this environment.")
    return user


def environments_for_member(*, user) -> QuerySet[Environment]:
    """Environments of every organization the team member belongs to."""
    return (
        Environment.objects.filter(project__organization__memberships__user=user)
        .select_related("project__organization")
        .order_by("project__organization__name", "project__name", "name")
    )


def end_user_by_email(*, environment: Environment, email: str) -> EndUser | None:
    """The environment's user with this email, compared case-insensitively.

    Both sides are lowercased by the database, as the unique constraint does, so the
    lookup agrees with it and uses its index.
    """
    return (
        EndUser.objects.alias(email_lower=Lower("email"))
        .filter(environment=environment, email_lower=Lower(Value(email)))
        .first()
    )


# The environment `manage.py bootstrap_demo` makes, which the demo site sends to.
DEMO_ORGANIZATION = "Demo"
DEMO_PROJECT = "Website"
DEMO_ENVIRONMENT = "development"


def demo_environment_get() -> Environment | None:
    """The demo environment, else the first one (a database made before the demo existed)."""
    environments = Environment.objects.select_related("project__organization").order_by("pk")
    demo = environments.filter(
        project__organization__name=DEMO_ORGANIZATION, project__name=DEMO_PROJECT, name=DEMO_ENVIRONMENT
    ).first()
    return demo or environments.first()
