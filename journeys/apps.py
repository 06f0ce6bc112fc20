from django.apps import AppConfig


class JourneysConfig(AppConfig):
    """Events reach journeys through the outbox: `OUTBOX_CONSUMERS` in settings names the consumer."""

    name = "journeys"
    verbose_name = "Journeys and webhooks"
