"""Portal pages: function views, each starting with the access helper."""

from .dashboard import dashboard
from .environments import home
from .journeys import journey_detail, journey_enabled, journey_transition, journeys
from .reports import conversions, flows, funnels
from .settings import environment_settings, rotate_secret_key
from .users import user_approve, user_detail, users
from .webhooks import delivery_replay_view, webhook_add, webhook_detail, webhook_enabled, webhook_test, webhooks

__all__ = [
    "delivery_replay_view",
    "journey_detail",
    "journey_enabled",
    "journey_transition",
    "journeys",
    "webhook_add",
    "webhook_detail",
    "webhook_enabled",
    "webhook_test",
    "webhooks",
    "conversions",
    "dashboard",
    "environment_settings",
    "flows",
    "funnels",
    "home",
    "rotate_secret_key",
    "user_approve",
    "user_detail",
    "users",
]
