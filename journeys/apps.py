from django.apps import AppConfig


class JourneysConfig(AppConfig):
    name = "journeys"
    verbose_name = "Journeys and webhooks"

    def ready(self):
        from analytics.services.outbox import register_consumer

        from .tasks import outbox_event_consume

        # Every event the outbox hands on enters, advances and delivers here.
        register_consumer(outbox_event_consume)
