from django.apps import AppConfig

# Imported for its `@register`: the system checks need no models, so they load with the app.
from . import checks  # noqa: F401


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = "Analytics"
