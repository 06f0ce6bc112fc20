"""The admin of tenancy and end users, as a superuser sees it: secrets never shown twice."""

from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.hashers import make_password
from django.urls import reverse
from django.utils import timezone

from analytics.models import Event
from identity.models import EndUser, Environment, Membership, Organization, Project, UserToken, hash_secret
from identity.selectors import environment_for_secret_key
from identity.services import member_add

CHANGELIST = "admin:identity_{}_changelist"


@pytest.fixture
def end_user(tenant):
    return EndUser.objects.create(
        environment=tenant.environment,
        email="ada@example.com",
        name="Ada",
        password=make_password("correct horse battery"),
    )


@pytest.fixture
def waitlisted(tenant):
    return EndUser.objects.create(
        environment=tenant.environment,
        email="grace@example.com",
        password=make_password("correct horse battery"),
        status=EndUser.Status.WAITLISTED,
    )


@pytest.fixture
def token(end_user):
    return UserToken.objects.create(
        environment=end_user.environment,
        user=end_user,
        token_hash=hash_secret("ust_raw-token-value"),
        expires_at=timezone.now() + timedelta(days=30),
    )


@pytest.fixture
def rows(tenant, other_tenant, end_user, waitlisted, token):
    member_add(organization_name="Acme", email="owner@example.com", role=Membership.Role.OWNER)


def rotate(client, environments, *, confirm=True):
    data = {"action": "rotate_secret_key", "_selected_action": [environment.pk for environment in environments]}
    if confirm:
        data["post"] = "yes"
    return client.post(reverse(CHANGELIST.format("environment")), data)


@pytest.mark.parametrize(
    "model, expected",
    [
        ("organization", ["Acme", "Globex"]),
        ("membership", ["owner@example.com"]),
        ("project", ["Web", "Shop"]),
        ("environment", ["acme/web/production", "globex/shop/production"]),
        ("enduser", ["ada@example.com", "grace@example.com"]),
        ("usertoken", ["ada@example.com"]),
    ],
)
def test_each_changelist_lists_its_rows(admin_client, rows, model, expected):
    response = admin_client.get(reverse(CHANGELIST.format(model)))

    assert response.status_code == 200
    for text in expected:
        assert text in response.content.decode()


@pytest.mark.parametrize(
    "model, get_object",
    [
        ("organization", lambda: Organization.objects.first()),
        ("membership", lambda: Membership.objects.first()),
        ("project", lambda: Project.objects.first()),
        ("environment", lambda: Environment.objects.first()),
        ("enduser", lambda: EndUser.objects.first()),
        ("usertoken", lambda: UserToken.objects.first()),
    ],
)
def test_each_change_page_loads(admin_client, rows, model, get_object):
    response = admin_client.get(reverse(f"admin:identity_{model}_change", args=[get_object().pk]))

    assert response.status_code == 200


def test_the_user_list_is_searchable_by_email_and_public_id(admin_client, end_user, waitlisted):
    url = reverse(CHANGELIST.format("enduser"))

    by_email = admin_client.get(url, {"q": "ada@"}).content.decode()
    by_id = admin_client.get(url, {"q": waitlisted.public_id}).content.decode()

    assert "ada@example.com" in by_email and "grace@example.com" not in by_email
    assert "grace@example.com" in by_id and "ada@example.com" not in by_id


def test_the_environment_list_is_searchable_by_env_key(admin_client, tenant, other_tenant):
    response = admin_client.get(reverse(CHANGELIST.format("environment")), {"q": other_tenant.env_key})

    assert "globex/shop/production" in response.content.decode()
    assert "acme/web/production" not in response.content.decode()


def test_the_environment_filter_lists_every_environment_in_one_query(admin_client, rows, django_assert_max_num_queries):
    # Session, user, count, page and the filter's choices; not one query per environment.
    with django_assert_max_num_queries(12):
        response = admin_client.get(reverse(CHANGELIST.format("enduser")))

    assert "globex/shop/production" in response.content.decode()


def test_an_end_users_password_hash_is_never_shown(admin_client, end_user):
    response = admin_client.get(reverse("admin:identity_enduser_change", args=[end_user.pk]))

    assert response.status_code == 200
    assert end_user.password not in response.content.decode()
    assert 'name="password"' not in response.content.decode()


def test_end_users_are_not_made_in_the_admin(admin_client, tenant):
    assert admin_client.get(reverse("admin:identity_enduser_add")).status_code == 403


def test_staff_approve_waitlisted_users_through_the_service(admin_client, end_user, waitlisted):
    response = admin_client.post(
        reverse(CHANGELIST.format("enduser")),
        {"action": "approve_waitlisted", "_selected_action": [end_user.pk, waitlisted.pk]},
        follow=True,
    )

    assert response.status_code == 200
    waitlisted.refresh_from_db()
    assert waitlisted.status == EndUser.Status.ACTIVE
    assert waitlisted.approved_at is not None
    # The service records the built-in event with the approval; the active user is left alone.
    assert list(Event.objects.filter(name="user.waitlist_approved").values_list("user", flat=True)) == [waitlisted.pk]
    assert "Approved 1 waitlisted user." in response.content.decode()


def test_a_tokens_hash_is_never_shown(admin_client, token):
    response = admin_client.get(reverse("admin:identity_usertoken_change", args=[token.pk]))

    assert response.status_code == 200
    assert token.token_hash not in response.content.decode()


def test_tokens_are_not_made_in_the_admin(admin_client, tenant):
    assert admin_client.get(reverse("admin:identity_usertoken_add")).status_code == 403


def test_staff_revoke_tokens(admin_client, token):
    admin_client.post(reverse(CHANGELIST.format("usertoken")), {"action": "revoke", "_selected_action": [token.pk]})

    token.refresh_from_db()
    assert token.revoked_at is not None
    assert not token.is_valid


def test_the_environment_page_shows_the_key_hint_and_never_the_hash(admin_client, tenant):
    environment = tenant.environment

    response = admin_client.get(reverse("admin:identity_environment_change", args=[environment.pk]))

    page = response.content.decode()
    assert environment.env_key in page
    assert f"{environment.secret_key_hint}…" in page
    assert environment.secret_key_hash not in page
    assert tenant.secret_key not in page


def test_staff_edit_an_environments_settings(admin_client, tenant):
    environment = tenant.environment
    url = reverse("admin:identity_environment_change", args=[environment.pk])

    response = admin_client.post(
        url,
        {
            "name": "production",
            "allowed_origins": '["https://www.acme.example/"]',
            "waitlist_enabled": "on",
            "anonymous_retention_days": "30",
            "session_timeout_minutes": "45",
            "time_zone": "Europe/Berlin",
        },
    )

    assert response.status_code == 302
    environment.refresh_from_db()
    assert environment.allowed_origins == ["https://www.acme.example"]
    assert environment.waitlist_enabled
    assert (environment.anonymous_retention_days, environment.session_timeout_minutes) == (30, 45)
    assert environment.time_zone == "Europe/Berlin"
    # Settings changes leave the keys alone.
    assert environment_for_secret_key(secret_key=tenant.secret_key) == environment


@pytest.mark.parametrize(
    "field, value",
    [
        ("time_zone", "Mars/Olympus_Mons"),
        ("allowed_origins", '["https://acme.example/app"]'),
        ("allowed_origins", '"https://acme.example"'),
        ("anonymous_retention_days", "0"),
    ],
)
def test_bad_environment_settings_are_refused(admin_client, tenant, field, value):
    data = {
        "name": "production",
        "allowed_origins": "[]",
        "anonymous_retention_days": "90",
        "session_timeout_minutes": "30",
        "time_zone": "UTC",
        field: value,
    }

    response = admin_client.post(reverse("admin:identity_environment_change", args=[tenant.environment.pk]), data)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors[field]


def test_rotating_asks_for_confirmation_first(admin_client, tenant):
    response = rotate(admin_client, [tenant.environment], confirm=False)

    assert response.status_code == 200
    assert 'name="post" value="yes"' in response.content.decode()
    assert f"{tenant.environment.secret_key_hint}…" in response.content.decode()
    assert environment_for_secret_key(secret_key=tenant.secret_key) == tenant.environment


def test_rotating_shows_the_new_secret_key_once_and_the_old_one_stops_working(admin_client, tenant, db_dump):
    response = rotate(admin_client, [tenant.environment])

    assert response.status_code == 200
    new_secret = response.context["rows"][0]["secret_key"]
    assert new_secret.startswith("sk_") and new_secret != tenant.secret_key
    assert new_secret in response.content.decode()
    assert environment_for_secret_key(secret_key=new_secret) == tenant.environment
    assert environment_for_secret_key(secret_key=tenant.secret_key) is None
    # Neither a cache, a cookie, the session store nor the admin log keeps it.
    assert "no-store" in response["Cache-Control"]
    assert all(new_secret not in morsel.value for morsel in admin_client.cookies.values())
    assert all(new_secret not in morsel.value for morsel in response.cookies.values())
    assert new_secret not in db_dump()
    assert LogEntry.objects.filter(object_id=str(tenant.environment.pk), change_message__contains="Rotated").exists()


def test_rotating_several_environments_shows_each_new_key(admin_client, tenant, other_tenant):
    response = rotate(admin_client, [tenant.environment, other_tenant.environment])

    secrets = {row["environment"].pk: row["secret_key"] for row in response.context["rows"]}
    assert environment_for_secret_key(secret_key=secrets[tenant.environment.pk]) == tenant.environment
    assert environment_for_secret_key(secret_key=secrets[other_tenant.environment.pk]) == other_tenant.environment


def test_adding_an_environment_shows_its_secret_key_once(admin_client, tenant, db_dump):
    project = tenant.environment.project

    response = admin_client.post(
        reverse("admin:identity_environment_add"),
        {
            "project": project.pk,
            "name": "Staging",
            "slug": "staging",
            "allowed_origins": "[]",
            "anonymous_retention_days": "90",
            "session_timeout_minutes": "30",
            "time_zone": "UTC",
        },
    )

    assert response.status_code == 200
    environment = Environment.objects.get(project=project, slug="staging")
    secret = response.context["rows"][0]["secret_key"]
    assert secret in response.content.decode()
    assert environment.env_key in response.content.decode()
    assert environment_for_secret_key(secret_key=secret) == environment
    assert "no-store" in response["Cache-Control"]
    assert all(secret not in morsel.value for morsel in admin_client.cookies.values())
    assert secret not in db_dump()
