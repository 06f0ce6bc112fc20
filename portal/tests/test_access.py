"""Who may see what: members see their organization's environments; anyone else gets 404."""

import pytest

from .crawl import crawl


@pytest.fixture
def owner_view(personas, traffic, journeys_set):
    """Every page and form the owner reaches by clicking through the portal (journeys and webhooks included)."""
    return crawl(personas.client_for(personas.owner))


def test_the_owner_reaches_every_section_of_the_environment_by_its_links(personas, owner_view, journeys_set):
    pages, _ = owner_view
    paths = {page.split("?")[0] for page in pages}
    for section in ("", "conversions/", "flows/", "funnels/", "users/", "journeys/", "webhooks/", "settings/"):
        assert personas.url(section) in paths
    assert personas.url(f"journeys/{journeys_set.journey.pk}/") in paths
    assert personas.url(f"webhooks/{journeys_set.endpoint.public_id}/") in paths
    assert any(path.startswith(personas.url("users/usr_")) for path in paths)
    assert any("filters=" in page for page in pages)  # a breakdown row, followed as a filter


def test_an_outsider_gets_404_for_every_page_of_another_organization(personas, owner_view):
    pages, forms = owner_view
    outsider = personas.client_for(personas.outsider)
    environment_pages = [page for page in pages if page.startswith(personas.url())]
    for page in environment_pages:
        assert outsider.get(page).status_code == 404, page
    posts = {form.action for form in forms if form.method == "post" and form.action.startswith(personas.url())}
    assert posts, "the owner's view has forms that change the environment"
    for action in posts:
        assert outsider.post(action, {}).status_code == 404, action


def test_an_outsider_does_not_see_the_other_organization_in_their_list(personas, traffic):
    response = personas.client_for(personas.outsider).get("/portal/")
    assert personas.url().encode() not in response.content
    assert b"Acme" not in response.content
    assert b"Globex" in response.content


def test_a_teammate_reads_every_page_the_owner_reads(personas, owner_view):
    pages, _ = owner_view
    teammate = personas.client_for(personas.teammate)
    for page in pages:
        assert teammate.get(page).status_code == 200, page


def test_a_visitor_who_is_not_logged_in_is_sent_to_the_login(personas, owner_view, client):
    pages, _ = owner_view
    for page in pages:
        response = client.get(page)
        assert response.status_code == 302, page
        assert response["Location"].startswith("/portal/login/")


def test_a_user_of_another_environment_is_not_found_under_this_one(personas, traffic):
    from identity.models import EndUser

    stranger = EndUser.objects.create(environment=personas.other_environment, email="x@globex.test", password="!")
    owner = personas.client_for(personas.owner)
    assert owner.get(personas.url(f"users/{stranger.public_id}/")).status_code == 404
    assert owner.post(personas.url(f"users/{stranger.public_id}/approve/")).status_code == 404


def test_unknown_slugs_are_not_found(personas):
    owner = personas.client_for(personas.owner)
    assert owner.get("/portal/acme/web/staging/").status_code == 404
    assert owner.get("/portal/nobody/web/production/").status_code == 404


STATS_REPORTS = [
    "aggregate",
    "timeseries",
    "breakdown?property=page",
    "conversion-paths",
    "page-flows",
    "funnel?steps=/,/pricing",
]


def test_an_outsider_logged_in_to_the_portal_gets_404_from_the_stats_api_of_another_organization(personas, traffic):
    acme = "acme/web/production"
    owner, outsider = personas.client_for(personas.owner), personas.client_for(personas.outsider)
    for report in STATS_REPORTS:
        separator = "&" if "?" in report else "?"
        url = f"/v1/stats/{report}{separator}environment={acme}"
        assert owner.get(url).status_code == 200, url
        answer = outsider.get(url)
        assert answer.status_code == 404, url
        assert answer.json()["error"]["code"] == "not_found"
