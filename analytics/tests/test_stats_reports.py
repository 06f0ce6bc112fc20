from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from analytics.stats import conversion_paths, funnel, live_visitors, page_flows, stats_query_parse
from analytics.tests.factories import EnvironmentFactory, EventFactory, PageviewFactory, VisitorFactory
from analytics.tests.stats_data import WEEK, build_traffic, visit
from ascendkit_site.errors import ApplicationError

pytestmark = pytest.mark.django_db


@pytest.fixture
def traffic():
    return build_traffic(EnvironmentFactory())


def week(traffic, **params):
    return stats_query_parse(environment=traffic.environment, params={**WEEK, **params})


def test_a_funnel_counts_visitors_who_did_each_step_in_order(traffic):
    answer = funnel(query=week(traffic), steps=["/", "/pricing", "/signup"])

    assert answer == {
        "steps": [
            {"step": "/", "visitors": 3, "conversion_rate": 100.0, "drop_off": 0},
            {"step": "/pricing", "visitors": 3, "conversion_rate": 100.0, "drop_off": 0},
            {"step": "/signup", "visitors": 1, "conversion_rate": 33.3, "drop_off": 2},
        ]
    }


def test_a_funnel_step_done_before_the_previous_one_does_not_count(traffic):
    answer = funnel(query=week(traffic), steps="/pricing,/")

    assert [step["visitors"] for step in answer["steps"]] == [4, 0]


def test_a_funnel_step_can_be_an_event(traffic):
    answer = funnel(query=week(traffic), steps=["event:app.cta_clicked", "/signup"])

    assert [step["visitors"] for step in answer["steps"]] == [1, 1]


def test_a_funnel_follows_the_filters(traffic):
    answer = funnel(query=week(traffic, filters="channel==Direct"), steps=["/", "/pricing"])

    assert [step["visitors"] for step in answer["steps"]] == [2, 2]


def test_a_funnel_window_is_measured_from_the_latest_first_step_that_works():
    environment = EnvironmentFactory()
    visitor = VisitorFactory(environment=environment)
    start = datetime(2026, 11, 1, 12, tzinfo=UTC)
    visit(visitor, start, [(0, "/")])
    visit(visitor, start + timedelta(days=8), [(0, "/")])
    visit(visitor, start + timedelta(days=9), [(0, "/pricing")])
    query = stats_query_parse(environment=environment, params={"period": "custom", "date": "2026-11-01,2026-11-30"})

    within_a_week = funnel(query=query, steps=["/", "/pricing"], window_hours=168)
    within_a_day = funnel(query=query, steps=["/", "/pricing"], window_hours=23)

    assert [step["visitors"] for step in within_a_week["steps"]] == [1, 1]
    assert [step["visitors"] for step in within_a_day["steps"]] == [1, 0]


def test_one_pageview_never_counts_for_two_steps():
    environment = EnvironmentFactory()
    visit(VisitorFactory(environment=environment), datetime(2026, 11, 2, 12, tzinfo=UTC), [(0, "/")])
    query = stats_query_parse(environment=environment, params=WEEK)

    answer = funnel(query=query, steps=["/", "/"])

    assert [step["visitors"] for step in answer["steps"]] == [1, 0]


@pytest.mark.parametrize("steps", [["/"], ["/"] * 9, ["/", "pricing"], ["/", "event:"]])
def test_a_bad_funnel_is_refused(traffic, steps):
    with pytest.raises(ApplicationError) as raised:
        funnel(query=week(traffic), steps=steps)

    assert raised.value.code == "invalid_steps"


def test_page_flows_follow_sessions_from_their_entry(traffic):
    flows = page_flows(query=week(traffic))

    assert flows == {
        "nodes": [
            {"id": "1:/", "step": 1, "page": "/"},
            {"id": "1:/blog/a", "step": 1, "page": "/blog/a"},
            {"id": "1:/pricing", "step": 1, "page": "/pricing"},
            {"id": "2:/pricing", "step": 2, "page": "/pricing"},
            {"id": "3:/signup", "step": 3, "page": "/signup"},
        ],
        "links": [
            {"source": "1:/", "target": "2:/pricing", "visitors": 3},
            {"source": "2:/pricing", "target": "3:/signup", "visitors": 1},
        ],
        "dropoffs": [
            {"node": "2:/pricing", "visitors": 2},
            {"node": "1:/blog/a", "visitors": 1},
            {"node": "1:/pricing", "visitors": 1},
            {"node": "3:/signup", "visitors": 1},
        ],
    }


def test_page_flows_can_start_from_a_page(traffic):
    flows = page_flows(query=week(traffic), from_page="/pricing", steps=2)

    assert flows["links"] == [{"source": "1:/pricing", "target": "2:/signup", "visitors": 1}]
    assert flows["dropoffs"] == [{"node": "1:/pricing", "visitors": 3}, {"node": "2:/signup", "visitors": 1}]


def test_page_flows_merge_pages_beyond_the_limit(traffic):
    flows = page_flows(query=week(traffic, limit="1"))

    assert [node["id"] for node in flows["nodes"] if node["step"] == 1] == ["1:/", "1:(other)"]
    assert {"node": "1:(other)", "visitors": 2} in flows["dropoffs"]


@pytest.mark.parametrize("steps", [1, 6])
def test_page_flows_refuse_too_few_or_too_many_steps(traffic, steps):
    with pytest.raises(ApplicationError):
        page_flows(query=week(traffic), steps=steps)


def test_conversion_paths_group_visitors_and_signups_by_first_touch(traffic):
    channels = conversion_paths(query=week(traffic))["channels"]

    assert channels == [
        {
            "channel": "Direct",
            "source": "(none)",
            "campaign": "(none)",
            "visitors": 1,
            "signups": 1,
            "conversion_rate": 100.0,
            "median_time_to_signup": 210,
            "median_sessions_to_signup": 1,
        },
        {
            "channel": "Paid Search",
            "source": "google",
            "campaign": "brand",
            "visitors": 1,
            "signups": 1,
            "conversion_rate": 100.0,
            "median_time_to_signup": 100,
            "median_sessions_to_signup": 1,
        },
        {
            "channel": "Organic Search",
            "source": "Google",
            "campaign": "(none)",
            "visitors": 1,
            "signups": 0,
            "conversion_rate": 0.0,
            "median_time_to_signup": None,
            "median_sessions_to_signup": None,
        },
        {
            "channel": "Referral",
            "source": "Hacker News",
            "campaign": "(none)",
            "visitors": 1,
            "signups": 0,
            "conversion_rate": 0.0,
            "median_time_to_signup": None,
            "median_sessions_to_signup": None,
        },
        {
            "channel": "(none)",
            "source": "(none)",
            "campaign": "(none)",
            "visitors": 0,
            "signups": 1,
            "conversion_rate": 0.0,
            "median_time_to_signup": None,
            "median_sessions_to_signup": None,
        },
    ]


def test_conversion_paths_list_the_page_sequences_into_signup(traffic):
    paths = conversion_paths(query=week(traffic))["paths"]

    assert paths == [
        {"steps": ["Direct", "/", "/pricing", "/signup", "signup"], "users": 1},
        {"steps": ["google", "/", "/pricing", "signup"], "users": 1},
    ]


def test_live_visitors_are_those_active_in_the_last_five_minutes():
    environment = EnvironmentFactory()
    now = timezone.now()
    PageviewFactory(session__visitor__environment=environment, timestamp=now - timedelta(minutes=2))
    PageviewFactory(session__visitor__environment=environment, timestamp=now - timedelta(minutes=9))
    EventFactory(session__visitor__environment=environment, timestamp=now - timedelta(minutes=1))
    PageviewFactory(timestamp=now)  # another environment

    assert live_visitors(environment=environment) == 2
