"""Writes made from the portal: an environment's settings."""

from identity.models import Environment
from identity.selectors import clear_environment_cache

SETTINGS_FIELDS = (
    "allowed_origins",
    "waitlist_enabled",
    "anonymous_retention_days",
    "session_timeout_minutes",
    "time_zone",
)


def environment_settings_update(
    *,
    environment: Environment,
    allowed_origins: list[str],
    waitlist_enabled: bool,
    anonymous_retention_days: int,
    session_timeout_minutes: int,
    time_zone: str,
) -> Environment:
    """Save the environment's settings; ingestion sees them within ENVIRONMENT_CACHE_SECONDS."""
    environment.allowed_origins = [origin.rstrip("/") for origin in allowed_origins]
    environment.waitlist_enabled = waitlist_enabled
    environment.anonymous_retention_days = anonymous_retention_days
    environment.session_timeout_minutes = session_timeout_minutes
    environment.time_zone = time_zone
    environment.save(update_fields=list(SETTINGS_FIELDS))
    # This process at once; other processes when their short cache expires.
    clear_environment_cache()
    return environment
