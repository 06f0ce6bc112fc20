"""Tenancy (organizations, projects, environments and their keys) and end users."""

import hashlib
import hmac
import secrets

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from ascendkit_site import ids


def hash_secret(value: str) -> str:
    """SHA-256 of a high-entropy secret (a key or a token).

    Secrets made here carry 190+ random bits, so a fast hash is enough: there is
    nothing to brute-force, and lookups by hash stay a single indexed query.
    """
    return hashlib.sha256(value.encode()).hexdigest()


def make_env_key() -> str:
    return "env_" + ids.random_base62(24)


def make_secret_key() -> str:
    return "sk_" + ids.random_base62(40)


def make_user_token() -> str:
    # 32 random bytes, URL-safe.
    return "ust_" + secrets.token_urlsafe(32)


class Organization(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner"
        ADMIN = "admin"
        VIEWER = "viewer"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "user"], name="membership_unique_org_user")]

    def __str__(self):
        return f"{self.user} in {self.organization} ({self.role})"


class Project(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="projects")
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "slug"], name="project_unique_org_slug")]

    def __str__(self):
        return f"{self.organization.slug}/{self.slug}"


class Environment(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="environments")
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=100)
    # The env key is public (shipped to browsers), so it is stored as is.
    env_key = models.CharField(max_length=64, unique=True, default=make_env_key)
    # The secret key is shown once; only its hash and a short prefix for humans remain.
    secret_key_hash = models.CharField(max_length=64, unique=True)
    secret_key_hint = models.CharField(max_length=12, blank=True)
    secret_key_rotated_at = models.DateTimeField(default=timezone.now)

    allowed_origins = models.JSONField(default=list, blank=True, help_text="Empty: any origin.")
    waitlist_enabled = models.BooleanField(default=False)
    anonymous_retention_days = models.PositiveIntegerField(default=90)
    session_timeout_minutes = models.PositiveIntegerField(default=30)
    time_zone = models.CharField(max_length=64, default="UTC", help_text="Time zone for reports.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "slug"], name="environment_unique_project_slug")]

    def __str__(self):
        return f"{self.project}/{self.slug}"

    def set_secret_key(self) -> str:
        """Give the environment a new secret key and return it; the old one stops working."""
        secret = make_secret_key()
        self.secret_key_hash = hash_secret(secret)
        self.secret_key_hint = secret[:7]
        self.secret_key_rotated_at = timezone.now()
        return secret

    def secret_key_matches(self, candidate: str) -> bool:
        return hmac.compare_digest(self.secret_key_hash, hash_secret(candidate))

    def origin_allowed(self, origin: str | None) -> bool:
        if not origin or not self.allowed_origins:
            return True
        return origin.rstrip("/") in {o.rstrip("/") for o in self.allowed_origins}


class EndUser(models.Model):
    """A user of a customer's product (`usr_`), not a team member of the portal."""

    class Status(models.TextChoices):
        ACTIVE = "active"
        WAITLISTED = "waitlisted"

    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="end_users")
    public_id = models.CharField(max_length=80, default=None)
    email = models.EmailField(max_length=254)
    name = models.CharField(max_length=200, blank=True)
    password = models.CharField(max_length=256)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(default=timezone.now)
    approved_at = models.DateTimeField(null=True, blank=True)
    last_login_at = models.DateTimeField(null=True, blank=True)
    # The user's first and signup touches are analytics' (`Attribution`), read with
    # `analytics.selectors.user_first_touch` and `user_signup_touch`.
    # Stitching that found a visitor already linked to another user.
    link_conflicts = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["environment", "public_id"], name="enduser_unique_env_public_id"),
            models.UniqueConstraint("environment", Lower("email"), name="enduser_unique_env_email_ci"),
        ]
        indexes = [
            # Portal user list, newest first.
            models.Index(fields=["environment", "-created_at"], name="enduser_env_created"),
        ]

    def save(self, *args, **kwargs):
        if not self.public_id:
            self.public_id = ids.mint("usr")
        super().save(*args, **kwargs)

    def __str__(self):
        return self.public_id


class UserToken(models.Model):
    """An end user's auth session: a bearer token stored only as its hash."""

    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(EndUser, on_delete=models.CASCADE, related_name="tokens")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["environment", "user"], name="usertoken_env_user")]

    @property
    def is_valid(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()
