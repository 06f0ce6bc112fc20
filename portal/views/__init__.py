"""Portal pages: function views, each starting with the access helper."""

from .dashboard import dashboard
from .environments import home
from .reports import conversions, flows, funnels
from .settings import environment_settings, rotate_secret_key
from .users import user_approve, user_detail, users

__all__ = [
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
