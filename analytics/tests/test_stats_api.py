"""The Stats API answers the query layer's numbers, to the right callers only."""

import pytest
from django.test import Client

from analytics.stats import stats_aggregate, stats_query_parse
from analytics.tests.stats_data import WEEK, build_traffic
from identity.models import Membership
from identity.services import environment_rotate_secret_key, member_add

WEEK_QUERY = "period=custom&date=2026-11-02,2026-11-08"
ENDPOINTS = [
    "aggregate",
    "timeseries",
    "breakdown?property=channel",
    "conversion-paths",
    "page-flows",
    "funnel?steps=/,/pricing",
]


def url(endpoint: str, query: str = WEEK_QUERY) -> str:
    separator = "&" if "?" in endpoint else "?"
    return f"/v1/stats/{endpoint}{separator}{query}"


@pytest.fixture
def traffic(tenant):
    return build_traffic(tenant.environment)


@pytest.fixture
def server(api, tenant):
    def get(path, **extra):
        return api.get(path, HTTP_AUTHORIZATION=f"Bearer {tenant.secret_key}", **extra)

    return get


@pytest.fixture
def member(tenant):
    membership = member_add(organization_name="Acme", email="ann@acme.test", role=Membership.Role.VIEWER)
    client = Client()
    client.force_login(membership.user)
    return client


@pytest.fixture
def outsider(other_tenant):
    membership = member_add(organization_name="Globex", email="otto@globex.test", role=Membership.Role.OWNER)
    client = Client()
    client.force_login(membership.user)
    return client


ACME = "environment=acme/web/production"


def test_the_aggregate_answers_the_query_layers_numbers(server, traffic):
    response = server(url("aggregate"))

    assert response.status_code == 200
    query = stats_query_parse(environment=traffic.environment, params=WEEK)
    assert response.json() == {"results": stats_aggregate(query=query)}
    assert response.json()["results"]["visitors"] == 4
    assert response.json()["results"]["bounce_rate"] == 40.0


def test_the_aggregate_compares_with_the_previous_period(server, traffic):
    results = server(url("aggregate", f"{WEEK_QUERY}&compare=previous_period&metrics=visitors,bounce_rate")).json()

    assert results == {
        "results": {
            "visitors": {"value": 4, "previous": 1, "change": 300},
            "bounce_rate": {"value": 40.0, "previous": 100.0, "change": -60.0},
        }
    }


def test_the_timeseries_has_a_bucket_per_day(server, traffic):
    results = server(url("timeseries", f"{WEEK_QUERY}&metrics=visitors,pageviews")).json()["results"]

    assert len(results) == 7
    assert results[0] == {"date": "2026-11-02", "visitors": 2, "pageviews": 4}


def test_a_breakdown_is_filtered_and_limited(server, traffic):
    response = server(
        url("breakdown?property=page&metrics=visitors,pageviews", f"{WEEK_QUERY}&filters=channel==Direct&limit=2")
    )

    assert response.json() == {
        "results": [
            {"page": "/", "visitors": 2, "pageviews": 2},
            {"page": "/pricing", "visitors": 2, "pageviews": 2},
        ]
    }


def test_conversion_paths_page_flows_and_funnels_answer_their_shapes(server, traffic):
    paths = server(url("conversion-paths")).json()
    flows = server(url("page-flows", f"{WEEK_QUERY}&from=/pricing&steps=2")).json()
    steps = server(url("funnel?steps=/,/pricing,/signup&window=24")).json()

    assert set(paths) == {"channels", "paths"}
    assert paths["paths"][0] == {"steps": ["Direct", "/", "/pricing", "/signup", "signup"], "users": 1}
    assert flows["links"] == [{"source": "1:/pricing", "target": "2:/signup", "visitors": 1}]
    assert set(flows) == {"nodes", "links", "dropoffs"}
    assert [step["visitors"] for step in steps["steps"]] == [3, 3, 1]


@pytest.mark.parametrize(
    ("endpoint", "query", "code", "named"),
    [
        ("aggregate", "period=fortnight", "invalid_period", "fortnight"),
        ("aggregate", "period=custom&date=2026-02-30,2026-03-01", "invalid_date", "2026-02-30"),
        ("aggregate", "metrics=visitors,revenue", "invalid_metric", "revenue"),
        ("aggregate", "filters=colour==red", "invalid_property", "colour"),
        ("aggregate", "filters=country:DE", "invalid_filter", "country:DE"),
        ("aggregate", "compare=last_year", "invalid_compare", "last_year"),
        ("breakdown", "property=colour", "invalid_property", "colour"),
        ("breakdown", "property=page&limit=-1", "invalid_limit", "-1"),
        ("breakdown", "", "invalid_property", "property"),
        ("funnel", "steps=/", "invalid_steps", "1"),
        ("funnel", "steps=/,pricing", "invalid_steps", "pricing"),
        ("funnel", "steps=/,/a&window=0", "invalid_window", "0"),
        ("page-flows", "steps=9", "invalid_steps", "9"),
        ("page-flows", "from=pricing", "invalid_page", "pricing"),
    ],
)
def test_a_bad_parameter_is_a_400_naming_it(server, tenant, endpoint, query, code, named):
    response = server(f"/v1/stats/{endpoint}?{query}")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert named in response.json()["error"]["message"]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_without_a_key_or_a_login_it_is_401(api, tenant, endpoint):
    response = api.get(url(endpoint))

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "missing_key"


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_rotated_secret_key_fails_at_once(api, tenant, endpoint):
    environment_rotate_secret_key(environment=tenant.environment)

    response = api.get(url(endpoint), HTTP_AUTHORIZATION=f"Bearer {tenant.secret_key}")

    assert response.status_code == 401


def test_the_env_key_is_the_wrong_kind_of_key(api, tenant):
    response = api.get(url("aggregate"), HTTP_AUTHORIZATION=f"Bearer {tenant.env_key}")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "wrong_key_kind"


def test_a_secret_key_reads_only_its_own_environment(api, traffic, other_tenant):
    response = api.get(url("aggregate", f"{WEEK_QUERY}&{ACME}"), HTTP_AUTHORIZATION=f"Bearer {other_tenant.secret_key}")

    assert response.status_code == 200
    assert response.json()["results"]["visitors"] == 0


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_member_reads_their_organizations_environment(member, traffic, endpoint):
    response = member.get(url(endpoint, f"{WEEK_QUERY}&{ACME}"))

    assert response.status_code == 200


def test_a_member_sees_the_same_numbers_as_the_secret_key(member, server, traffic):
    assert member.get(url("aggregate", f"{WEEK_QUERY}&{ACME}")).json() == server(url("aggregate")).json()


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_an_outsider_gets_404_for_another_organizations_environment(outsider, traffic, endpoint):
    response = outsider.get(url(endpoint, f"{WEEK_QUERY}&{ACME}"))

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_an_unknown_environment_is_404_like_a_foreign_one(member, tenant):
    assert member.get(url("aggregate", f"{WEEK_QUERY}&environment=acme/web/staging")).status_code == 404


@pytest.mark.parametrize("slugs", ["", "acme", "acme/web", "acme//production", "a/b/c/d"])
def test_a_member_must_name_the_environment_by_its_three_slugs(member, tenant, slugs):
    response = member.get(url("aggregate", f"{WEEK_QUERY}&environment={slugs}"))

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_environment"


def test_an_oversized_query_string_is_refused(server, tenant):
    response = server(url("aggregate", "filters=page==/" + "a" * 9000))

    assert response.status_code == 414
    assert response.json()["error"]["code"] == "query_too_long"


def test_an_oversized_body_is_refused(api, tenant):
    response = api.generic(
        "GET",
        url("aggregate"),
        data="x" * (600 * 1024),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {tenant.secret_key}",
    )

    assert response.status_code == 413


@pytest.mark.parametrize("query", ["filters=%00", "filters=page==%FF%FE", "period=%00", "date=,,,"])
def test_malformed_parameters_never_crash(server, tenant, query):
    response = server(url("aggregate", query))

    assert response.status_code in (200, 400)


def test_writes_are_not_allowed(api, tenant):
    response = api.post_json("/v1/stats/aggregate", {}, HTTP_AUTHORIZATION=f"Bearer {tenant.secret_key}")

    assert response.status_code == 405
