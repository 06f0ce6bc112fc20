"""Viewers read; owners and admins rotate keys, change settings and approve the waitlist."""

import pytest

from analytics.models import Event
from identity.models import EndUser, Membership
from identity.selectors import environment_for_secret_key
from identity.services import member_add

from .base import PASSWORD


@pytest.fixture
def waitlisted(personas):
    return EndUser.objects.create(
        environment=personas.environment, email="wait@example.com", password="!", status=EndUser.Status.WAITLISTED
    )


def test_a_viewer_cannot_rotate_the_secret_key(personas):
    before = personas.environment.secret_key_hash
    response = personas.client_for(personas.teammate).post(personas.url("settings/rotate-secret-key/"))
    assert response.status_code == 403
    personas.environment.refresh_from_db()
    assert personas.environment.secret_key_hash == before
    assert environment_for_secret_key(secret_key=personas.secret_key) == personas.environment


def test_a_viewer_is_not_offered_the_rotate_button_or_the_settings_form(personas):
    response = personas.client_for(personas.teammate).get(personas.url("settings/"))
    assert b"Rotate the secret key" not in response.content
    assert b"Save settings" not in response.content
    assert b"Only owners and admins can rotate keys." in response.content


def test_a_viewer_cannot_change_settings(personas):
    response = personas.client_for(personas.teammate).post(
        personas.url("settings/"),
        {
            "waitlist_enabled": "on",
            "anonymous_retention_days": "7",
            "session_timeout_minutes": "30",
            "time_zone": "UTC",
        },
    )
    assert response.status_code == 403
    personas.environment.refresh_from_db()
    assert personas.environment.waitlist_enabled is False
    assert personas.environment.anonymous_retention_days == 90


def test_a_viewer_cannot_approve_the_waitlist(personas, waitlisted):
    response = personas.client_for(personas.teammate).post(personas.url(f"users/{waitlisted.public_id}/approve/"))
    assert response.status_code == 403
    waitlisted.refresh_from_db()
    assert waitlisted.status == EndUser.Status.WAITLISTED


def test_the_owner_rotates_the_key_and_sees_the_new_one_once(personas):
    owner = personas.client_for(personas.owner)
    response = owner.post(personas.url("settings/rotate-secret-key/"))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    new_key = response.context["new_secret_key"]
    assert new_key.startswith("sk_") and new_key.encode() in response.content
    assert environment_for_secret_key(secret_key=personas.secret_key) is None
    assert environment_for_secret_key(secret_key=new_key) == personas.environment
    assert new_key.encode() not in owner.get(personas.url("settings/")).content


def test_an_admin_may_rotate_the_key_too(personas):
    admin = member_add(organization_name="Acme", email="admin@acme.test", role=Membership.Role.ADMIN, password=PASSWORD)
    response = personas.client_for(admin.user).post(personas.url("settings/rotate-secret-key/"))
    assert response.status_code == 200
    assert environment_for_secret_key(secret_key=personas.secret_key) is None


def test_rotating_the_key_takes_a_post(personas):
    response = personas.client_for(personas.owner).get(personas.url("settings/rotate-secret-key/"))
    assert response.status_code == 405


def test_the_owner_approves_a_waitlisted_user_and_the_event_is_recorded(personas, waitlisted):
    response = personas.client_for(personas.owner).post(personas.url(f"users/{waitlisted.public_id}/approve/"))
    assert response.status_code == 302
    waitlisted.refresh_from_db()
    assert waitlisted.status == EndUser.Status.ACTIVE
    assert Event.objects.filter(user=waitlisted, name="user.waitlist_approved").count() == 1
