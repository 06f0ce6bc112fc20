"""Writes of tenancy: organizations, projects, environments, their keys, team members.

The end users' flows (signup, login, logout, approval) record analytics events, so
they live above analytics, in `accounts.services`.
"""

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils.text import slugify

from .models import Environment, Membership, Organization, Project
from .selectors import clear_environment_cache


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
