"""System checks of the analytics app, run by `manage.py check`."""

from django.core.checks import Error, Warning, register
from django.core.exceptions import ImproperlyConfigured

from .enrichment.geo import STALE_AFTER_DAYS, open_database

GEOIP_TAG = "geoip"


@register(GEOIP_TAG, deploy=True)
def geoip_database_is_current(app_configs=None, **kwargs):
    """A missing GeoIP database, or one older than STALE_AFTER_DAYS, before traffic finds it."""
    try:
        age = open_database()
    except ImproperlyConfigured as exc:
        return [Error(str(exc), hint="Set GEOIP_DATABASE to a GeoIP2/GeoLite2 City .mmdb file.", id="analytics.E001")]
    if not age.stale:
        return []
    return [
        Warning(
            f"{age.describe()} (more than {STALE_AFTER_DAYS}): places are out of date.",
            hint=(
                "Keep a current City database with MaxMind's geoipupdate and point GEOIP_DATABASE at it; "
                "see the README's Production section."
            ),
            id="analytics.W001",
        )
    ]
