"""Users, profiles, settings and the environment list, page by page."""

import importlib

import pytest

from analytics.models import CollectBatch
from analytics.tests.factories import EndUserFactory, EventFactory
from analytics.tests.helpers import batch, pageview
from identity.models import EndUser

from .html import rows, text


@pytest.fixture
def owner(personas):
    return personas.client_for(personas.owner)


def test_the_environment_list_links_each_dashboard(personas, owner):
    html = owner.get("/portal/").content.decode()
    assert f'href="{personas.url()}"' in html
    assert personas.environment.env_key in html


def test_the_switcher_offers_the_members_other_environments_on_the_same_section(personas, owner):
    from identity.services import environment_create

    staging = environment_create(organization_name="Acme", project_name="Web", environment_name="staging").environment
    html = owner.get(personas.url("funnels/")).content.decode()
    assert f'href="/portal/acme/web/{staging.slug}/funnels/"' in html
    assert "/portal/globex/" not in html


@pytest.mark.parametrize("query", ["ada@", "ADA@EXAMPLE", "usr", "vis"])
def test_users_are_found_by_email_or_id(personas, owner, traffic, query):
    user = traffic.user
    EndUserFactory(environment=personas.environment, email="bob@example.com")
    query = {"usr": user.public_id, "vis": traffic.visitors[0].public_id}.get(query, query)
    html = owner.get(personas.url("users/"), {"q": query}).content.decode()
    found = [row[1] for row in rows(html, "users-table")[1:]]
    assert found == ["ada@example.com"]


def test_the_user_list_is_newest_first(personas, owner, traffic):
    EndUserFactory(environment=personas.environment, email="bob@example.com")
    html = owner.get(personas.url("users/")).content.decode()
    assert [row[1] for row in rows(html, "users-table")[1:]] == ["bob@example.com", "ada@example.com"]


def test_the_profile_shows_status_attribution_visitors_and_the_marked_timeline(personas, owner, traffic):
    html = owner.get(personas.url(f"users/{traffic.user.public_id}/")).content.decode()
    page = text(html)
    assert "active" in page
    assert traffic.visitors[0].public_id in page
    assert "First touch Channel Organic Search Source Google" in page
    assert "Signup touch Channel Organic Search Source Google" in page
    timeline = [row[0] for row in rows(html, "timeline")]
    assert [item.split(" before signup")[0] for item in timeline] == [
        "2026-11-27 10:00:00 page / Home",
        "2026-11-27 10:02:00 page /pricing Pricing",
        "2026-11-27 10:04:00 event app.cta_clicked",
        "2026-11-27 10:05:00 page /signup Signup",
        "Signed up 2026-11-27 10:05",
        "2026-11-27 10:05:30 event user.created",
        "2026-11-28 09:00:00 page /dashboard Dashboard",
    ]
    assert [item.endswith("before signup") for item in timeline] == [True] * 4 + [False] * 3


def test_the_timeline_pages_with_a_cursor(personas, owner, traffic, monkeypatch):
    # The module, not the `users` view the package exports under the same name.
    monkeypatch.setattr(importlib.import_module("portal.views.users"), "TIMELINE_PAGE_SIZE", 3)
    url = personas.url(f"users/{traffic.user.public_id}/")
    first = owner.get(url)
    cursor = first.context["timeline"].next_cursor
    second = owner.get(url, {"cursor": cursor}).content.decode()
    assert [row[0][:19] for row in rows(second, "timeline")][:2] == ["2026-11-27 10:05:00", "Signed up 2026-11-2"]
    assert owner.get(url, {"cursor": "not-a-cursor"}).status_code == 404


def test_the_waitlist_lists_waiting_users_with_an_approve_button_for_the_owner(personas, owner):
    EndUser.objects.create(
        environment=personas.environment, email="wait@example.com", password="!", status="waitlisted"
    )
    html = owner.get(personas.url("users/")).content.decode()
    assert "Waitlist" in text(html) and "wait@example.com" in html and "Approve" in html
    viewer_html = personas.client_for(personas.teammate).get(personas.url("users/")).content.decode()
    assert "an owner or admin approves" in viewer_html


def test_the_owner_saves_the_environments_settings(personas, owner):
    response = owner.post(
        personas.url("settings/"),
        {
            "allowed_origins": "https://Example.com/\nhttps://app.example.com:8443",
            "waitlist_enabled": "on",
            "anonymous_retention_days": "30",
            "session_timeout_minutes": "45",
            "time_zone": "Europe/Berlin",
        },
    )
    assert response.status_code == 302
    environment = personas.environment
    environment.refresh_from_db()
    assert environment.allowed_origins == ["https://example.com", "https://app.example.com:8443"]
    assert (environment.waitlist_enabled, environment.anonymous_retention_days) == (True, 30)
    assert (environment.session_timeout_minutes, environment.time_zone) == (45, "Europe/Berlin")
    assert "Settings saved." in text(owner.get(personas.url("settings/")).content.decode())


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("allowed_origins", "example.com", "is not an origin"),
        ("allowed_origins", "https://example.com/path", "has more than a scheme, host and port"),
        ("anonymous_retention_days", "0", "greater than or equal to 1"),
        ("time_zone", "Mars/Olympus", "Select a valid choice"),
    ],
)
def test_bad_settings_are_refused_with_the_reason(personas, owner, field, value, message):
    data = {"anonymous_retention_days": "90", "session_timeout_minutes": "30", "time_zone": "UTC", field: value}
    response = owner.post(personas.url("settings/"), data)
    assert response.status_code == 400
    assert message in text(response.content.decode())
    personas.environment.refresh_from_db()
    assert personas.environment.allowed_origins == [] and personas.environment.time_zone == "UTC"


def test_the_settings_page_lists_the_organizations_team(personas, owner):
    html = owner.get(personas.url("settings/")).content.decode()
    team = rows(html, "team-table")[1:]
    assert [(row[0], row[1]) for row in team] == [("owner@acme.test", "owner"), ("viewer@acme.test", "viewer")]
    assert "owner@globex.test" not in html


def test_the_profile_shows_traffic_that_is_still_queued(personas, owner, traffic, settings, api):
    settings.COLLECT_QUEUE = True
    visit = batch([pageview("https://example.com/queued-page")], visitor_id=traffic.visitors[0].public_id)
    api.post_json("/v1/analytics/collect", visit, HTTP_X_ASCENDKIT_ENV_KEY=personas.environment.env_key)
    assert CollectBatch.objects.count() == 1

    html = owner.get(personas.url(f"users/{traffic.user.public_id}/")).content.decode()

    assert "/queued-page" in text(html)
    assert CollectBatch.objects.count() == 0


def test_the_timeline_shows_event_properties_as_json(personas, owner, traffic):
    EventFactory(
        session=None,
        visitor=traffic.visitors[0],
        user=traffic.user,
        name="app.plan_chosen",
        properties={"plan": "pro", "seats": 3},
        timestamp=traffic.user.created_at,
    )
    html = owner.get(personas.url(f"users/{traffic.user.public_id}/")).content.decode()
    assert 'event app.plan_chosen {"plan": "pro", "seats": 3}' in text(html)
