import pytest

from journeys.services.definitions import journey_create, journey_transition_add
from journeys.services.webhooks import webhook_endpoint_create

from .helpers import Receiver


@pytest.fixture
def onboarding(tenant):
    """The README's journey: signup enters `signed_up`, `app.completed_onboarding` moves to `onboarded`."""
    journey = journey_create(
        environment=tenant.environment, name="onboarding", entry_stage="signed_up", entry_event="user.created"
    )
    journey_transition_add(
        environment=tenant.environment,
        name="onboarding",
        from_stage="signed_up",
        to_stage="onboarded",
        event_name="app.completed_onboarding",
    )
    return journey


@pytest.fixture
def endpoint(tenant, receiver):
    return webhook_endpoint_create(
        environment=tenant.environment, url=receiver.url, events=["app.*", "user.created", "journey.stage_entered"]
    )


@pytest.fixture
def receiver(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    running = Receiver()
    running.thread.start()
    yield running
    running.server.shutdown()
    running.server.server_close()
