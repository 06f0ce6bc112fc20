import pytest

from analytics.stats import BREAKDOWN_PROPERTIES, stats_breakdown, stats_query_parse
from analytics.tests.factories import EnvironmentFactory
from analytics.tests.stats_data import WEEK, build_traffic
from ascendkit_site.errors import ApplicationError

pytestmark = pytest.mark.django_db


@pytest.fixture
def traffic():
    return build_traffic(EnvironmentFactory())


def week(traffic, **params):
    return stats_query_parse(environment=traffic.environment, params={**WEEK, **params})


def test_channels_are_sorted_by_the_first_metric_then_by_name(traffic):
    rows = stats_breakdown(query=week(traffic), property="channel", metrics=["visitors", "sessions", "bounce_rate"])

    assert rows == [
        {"channel": "Direct", "visitors": 2, "sessions": 2, "bounce_rate": 0.0},
        {"channel": "Organic Search", "visitors": 1, "sessions": 1, "bounce_rate": 100.0},
        {"channel": "Paid Search", "visitors": 1, "sessions": 1, "bounce_rate": 0.0},
        {"channel": "Referral", "visitors": 1, "sessions": 1, "bounce_rate": 100.0},
    ]


def test_a_session_breakdown_counts_signups_by_their_signup_session(traffic):
    rows = stats_breakdown(query=week(traffic), property="channel", metrics=["signups", "conversion_rate"])

    assert rows[:2] == [
        {"channel": "Direct", "signups": 1, "conversion_rate": 50.0},
        {"channel": "Paid Search", "signups": 1, "conversion_rate": 100.0},
    ]


def test_pages_count_their_visitors_and_views(traffic):
    rows = stats_breakdown(query=week(traffic), property="page", metrics=["visitors", "pageviews", "bounce_rate"])

    assert rows == [
        {"page": "/pricing", "visitors": 4, "pageviews": 4, "bounce_rate": 100.0},
        {"page": "/", "visitors": 3, "pageviews": 4, "bounce_rate": 0.0},
        {"page": "/blog/a", "visitors": 1, "pageviews": 1, "bounce_rate": 100.0},
        {"page": "/signup", "visitors": 1, "pageviews": 1, "bounce_rate": 0.0},
    ]


def test_entry_and_exit_pages_come_from_the_sessions(traffic):
    entries = stats_breakdown(query=week(traffic), property="entry_page", metrics=["sessions"])
    exits = stats_breakdown(query=week(traffic), property="exit_page", metrics=["sessions"])

    assert entries == [
        {"entry_page": "/", "sessions": 3},
        {"entry_page": "/blog/a", "sessions": 1},
        {"entry_page": "/pricing", "sessions": 1},
    ]
    assert exits == [
        {"exit_page": "/pricing", "sessions": 3},
        {"exit_page": "/blog/a", "sessions": 1},
        {"exit_page": "/signup", "sessions": 1},
    ]


def test_an_empty_value_is_shown_as_none(traffic):
    rows = stats_breakdown(query=week(traffic), property="utm_campaign", metrics=["visitors"])

    assert rows == [{"utm_campaign": "(none)", "visitors": 3}, {"utm_campaign": "brand", "visitors": 1}]


def test_custom_events_are_broken_down_by_name_without_built_in_ones(traffic):
    rows = stats_breakdown(query=week(traffic), property="event", metrics=["visitors", "events"])

    assert rows == [
        {"event": "app.cta_clicked", "visitors": 1, "events": 1},
        {"event": "app.pricing_toggled", "visitors": 1, "events": 1},
    ]


def test_a_breakdown_follows_the_filters(traffic):
    rows = stats_breakdown(query=week(traffic, filters="device==mobile"), property="channel", metrics=["pageviews"])

    assert rows == [{"channel": "Direct", "pageviews": 2}, {"channel": "Organic Search", "pageviews": 1}]


def test_the_limit_cuts_the_list(traffic):
    assert len(stats_breakdown(query=week(traffic), property="page", limit=2)) == 2


@pytest.mark.parametrize("name", BREAKDOWN_PROPERTIES)
def test_every_property_breaks_down(traffic, name):
    metrics = ["visitors", "events"] if name == "event" else ["visitors", "pageviews"]
    rows = stats_breakdown(query=week(traffic), property=name, metrics=metrics)

    assert rows, name
    assert all(set(row) == {name, *metrics} for row in rows)


def test_an_unknown_property_is_refused_by_name(traffic):
    with pytest.raises(ApplicationError) as raised:
        stats_breakdown(query=week(traffic), property="colour")

    assert raised.value.code == "invalid_property"
    assert "colour" in raised.value.message


def test_a_metric_a_property_cannot_have_is_refused(traffic):
    with pytest.raises(ApplicationError) as raised:
        stats_breakdown(query=week(traffic), property="event", metrics=["bounce_rate"])

    assert raised.value.code == "invalid_metric"
    assert "bounce_rate" in raised.value.message
