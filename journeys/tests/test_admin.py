"""The admin of journeys and webhooks renders, never shows a signing secret, and checks URLs."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from journeys.models import Delivery, Enrollment, Journey, StageEntry, WebhookEndpoint

from .helpers import signup, track

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw-for-tests")
    client.force_login(admin)
    return client


@pytest.fixture
def story(api, tenant, onboarding, endpoint):
    user_id = signup(api, tenant, "ada@example.com")
    track(api, tenant, user_id, "app.completed_onboarding")


@pytest.mark.parametrize("model", [Journey, Enrollment, StageEntry, WebhookEndpoint, Delivery])
def test_every_list_and_record_renders(staff_client, story, endpoint, model):
    name = model._meta.model_name
    listing = staff_client.get(reverse(f"admin:journeys_{name}_changelist"))
    assert listing.status_code == 200
    record = staff_client.get(reverse(f"admin:journeys_{name}_change", args=[model.objects.first().pk]))
    assert record.status_code == 200
    assert endpoint.secret.encode() not in listing.content + record.content


def test_an_endpoint_cannot_be_pointed_at_a_private_address_in_the_admin(staff_client, endpoint, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    response = staff_client.post(
        reverse("admin:journeys_webhookendpoint_change", args=[endpoint.pk]),
        {"url": "http://169.254.169.254/", "events": '["app.*"]', "description": "", "enabled": "on"},
    )
    assert response.status_code == 200 and b"not a public address" in response.content
    endpoint.refresh_from_db()
    assert endpoint.url.startswith("http://127.0.0.1:")
