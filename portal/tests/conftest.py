from .base import fake_sends, frozen_now, journeys_set, personas, traffic  # noqa: F401  (fixtures for every portal test)
