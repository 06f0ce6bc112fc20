from .base import frozen_now, personas, traffic  # noqa: F401  (fixtures for every portal test)
