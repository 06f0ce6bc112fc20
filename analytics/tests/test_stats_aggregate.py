from datetime import UTC, datetime

import pytest

from analytics.stats import ALL_METRICS, stats_aggregate, stats_query_parse, stats_timeseries
from analytics.tests.factories import EnvironmentFactory, PageviewFactory, SessionFactory, VisitorFactory
from analytics.tests.stats_data import WEEK, build_traffic, visit
from ascendkit_site.errors import ApplicationError

pytestmark = pytest.mark.django_db

WEEK_TOTALS = {
    "visitors": 4,
    "sessions": 5,
    "pageviews": 10,
    "views_per_session": 2.0,
    "bounce_rate": 40.0,
    "visit_duration": 78,
    "signups": 3,
    "conversion_rate": 75.0,
    "events": 2,
}


@pytest.fixture
def traffic():
    return build_traffic(EnvironmentFactory())


def week(traffic, **params):
    return stats_query_parse(environment=traffic.environment, params={**WEEK, **params})


def test_every_metric_of_the_week_is_exact(traffic):
    assert stats_aggregate(query=week(traffic)) == WEEK_TOTALS


def test_only_the_metrics_asked_are_answered(traffic):
    assert stats_aggregate(query=week(traffic), metrics=["bounce_rate", "visitors"]) == {
        "bounce_rate": 40.0,
        "visitors": 4,
    }


def test_an_unknown_metric_is_refused_by_name(traffic):
    with pytest.raises(ApplicationError) as raised:
        stats_aggregate(query=week(traffic), metrics=["visitors", "revenue"])

    assert raised.value.code == "invalid_metric"
    assert "revenue" in raised.value.message


def test_the_comparison_gives_rates_in_points_and_counts_in_percent(traffic):
    compared = stats_aggregate(query=week(traffic), compare=True)

    assert compared["visitors"] == {"value": 4, "previous": 1, "change": 300}
    assert compared["bounce_rate"] == {"value": 40.0, "previous": 100.0, "change": -60.0}
    assert compared["visit_duration"] == {"value": 78, "previous": 0, "change": 100}
    assert compared["conversion_rate"] == {"value": 75.0, "previous": 0.0, "change": 75.0}
    assert compared["events"] == {"value": 2, "previous": 0, "change": 100}
    assert set(compared) == set(ALL_METRICS)


def test_a_session_filter_keeps_every_pageview_of_the_matching_sessions(traffic):
    totals = stats_aggregate(query=week(traffic, filters="channel==Direct"))

    # S1 and S3: V1 and V2, five pageviews, U1 signed up in S1, S1's click.
    assert totals == {
        "visitors": 2,
        "sessions": 2,
        "pageviews": 5,
        "views_per_session": 2.5,
        "bounce_rate": 0.0,
        "visit_duration": 150,
        "signups": 1,
        "conversion_rate": 50.0,
        "events": 1,
    }


def test_filters_combine_with_and(traffic):
    totals = stats_aggregate(query=week(traffic, filters="country==DE;channel==Direct"), metrics=["sessions"])

    assert totals == {"sessions": 1}


def test_a_page_filter_counts_the_views_of_that_page_and_the_sessions_that_landed_on_it(traffic):
    totals = stats_aggregate(query=week(traffic, filters="page==/pricing"))

    # Viewed by S1, S3, S4, S5; only S4 landed there, and bounced.
    assert totals == {
        "visitors": 4,
        "sessions": 4,
        "pageviews": 4,
        "views_per_session": 1.0,
        "bounce_rate": 100.0,
        "visit_duration": 0,
        "signups": 2,
        "conversion_rate": 50.0,
        "events": 2,
    }


def test_an_event_filter_keeps_the_sessions_with_that_event(traffic):
    totals = stats_aggregate(query=week(traffic, filters="event==app.pricing_toggled"))

    assert totals["sessions"] == 1
    assert totals["pageviews"] == 3
    assert totals["events"] == 1
    assert totals["signups"] == 1


def test_an_empty_value_is_filtered_as_none(traffic):
    totals = stats_aggregate(query=week(traffic, filters="utm_campaign==(none)"), metrics=["sessions"])

    assert totals == {"sessions": 4}


def test_visitors_are_distinct_over_the_period_not_summed_per_day(traffic):
    series = stats_timeseries(query=week(traffic), metrics=["visitors"])

    assert sum(bucket["visitors"] for bucket in series) == 5
    assert stats_aggregate(query=week(traffic), metrics=["visitors"]) == {"visitors": 4}


def test_the_daily_series_has_every_day_with_zeros(traffic):
    series = stats_timeseries(query=week(traffic), metrics=["visitors", "pageviews", "bounce_rate"])

    assert series == [
        {"date": "2026-11-02", "visitors": 2, "pageviews": 4, "bounce_rate": 50.0},
        {"date": "2026-11-03", "visitors": 2, "pageviews": 3, "bounce_rate": 50.0},
        {"date": "2026-11-04", "visitors": 1, "pageviews": 3, "bounce_rate": 0.0},
        {"date": "2026-11-05", "visitors": 0, "pageviews": 0, "bounce_rate": 0.0},
        {"date": "2026-11-06", "visitors": 0, "pageviews": 0, "bounce_rate": 0.0},
        {"date": "2026-11-07", "visitors": 0, "pageviews": 0, "bounce_rate": 0.0},
        {"date": "2026-11-08", "visitors": 0, "pageviews": 0, "bounce_rate": 0.0},
    ]


def test_signups_and_events_land_in_the_day_they_happened(traffic):
    series = stats_timeseries(query=week(traffic), metrics=["signups", "events"])

    assert [(b["date"], b["signups"], b["events"]) for b in series if b["signups"] or b["events"]] == [
        ("2026-11-02", 1, 1),
        ("2026-11-04", 1, 1),
        ("2026-11-05", 1, 0),
    ]


def test_a_one_day_period_is_charted_by_the_hour(traffic):
    query = stats_query_parse(
        environment=traffic.environment, params={"period": "custom", "date": "2026-11-02,2026-11-02"}
    )

    series = stats_timeseries(query=query, metrics=["visitors", "pageviews"])

    assert len(series) == 24
    assert series[10] == {"date": "2026-11-02T10:00:00+00:00", "visitors": 1, "pageviews": 3}
    assert series[11] == {"date": "2026-11-02T11:00:00+00:00", "visitors": 1, "pageviews": 1}
    assert sum(bucket["pageviews"] for bucket in series) == 4


def one_session(environment, start):
    visitor = VisitorFactory(environment=environment, first_seen_at=start)
    return visit(visitor, start, [(0, "/")], channel="Direct")


def test_days_are_the_environments_days():
    environment = EnvironmentFactory(time_zone="America/New_York")
    one_session(environment, datetime(2026, 11, 3, 3, 30, tzinfo=UTC))  # 22:30 on the 2nd in New York
    query = stats_query_parse(environment=environment, params={"period": "custom", "date": "2026-11-02,2026-11-03"})

    series = stats_timeseries(query=query, metrics=["sessions"])

    assert series == [{"date": "2026-11-02", "sessions": 1}, {"date": "2026-11-03", "sessions": 0}]


def test_the_period_ends_at_local_midnight():
    environment = EnvironmentFactory(time_zone="Asia/Tokyo")
    one_session(environment, datetime(2026, 11, 2, 14, 59, tzinfo=UTC))  # 23:59 on the 2nd in Tokyo
    one_session(environment, datetime(2026, 11, 2, 15, 0, tzinfo=UTC))  # midnight: the 3rd
    query = stats_query_parse(environment=environment, params={"period": "custom", "date": "2026-11-02,2026-11-02"})

    assert stats_aggregate(query=query, metrics=["sessions"]) == {"sessions": 1}


def test_the_day_clocks_go_forward_has_23_hourly_buckets():
    environment = EnvironmentFactory(time_zone="Europe/Berlin")
    one_session(environment, datetime(2026, 3, 29, 1, 30, tzinfo=UTC))  # 03:30 summer time
    query = stats_query_parse(environment=environment, params={"period": "custom", "date": "2026-03-29,2026-03-29"})

    series = stats_timeseries(query=query, metrics=["sessions"])

    assert len(series) == 23
    assert series[2] == {"date": "2026-03-29T03:00:00+02:00", "sessions": 1}


def test_the_day_clocks_go_back_repeats_no_bucket():
    environment = EnvironmentFactory(time_zone="Europe/Berlin")
    one_session(environment, datetime(2026, 10, 25, 0, 30, tzinfo=UTC))  # 02:30 summer time
    one_session(environment, datetime(2026, 10, 25, 1, 30, tzinfo=UTC))  # 02:30 winter time
    query = stats_query_parse(environment=environment, params={"period": "custom", "date": "2026-10-25,2026-10-25"})

    series = stats_timeseries(query=query, metrics=["sessions"])

    assert len(series) == 24
    assert series[2] == {"date": "2026-10-25T02:00:00+02:00", "sessions": 2}
    assert sum(bucket["sessions"] for bucket in series) == 2


def test_a_session_counts_in_the_period_it_started_in():
    environment = EnvironmentFactory()
    visitor = VisitorFactory(environment=environment)
    session = SessionFactory(
        visitor=visitor,
        started_at=datetime(2026, 11, 2, 23, 50, tzinfo=UTC),
        last_activity_at=datetime(2026, 11, 3, 0, 10, tzinfo=UTC),
        duration_seconds=1200,
        pageview_count=2,
    )
    PageviewFactory(session=session, timestamp=datetime(2026, 11, 2, 23, 50, tzinfo=UTC))
    PageviewFactory(session=session, timestamp=datetime(2026, 11, 3, 0, 10, tzinfo=UTC))
    day = {"period": "custom", "date": "2026-11-03,2026-11-03"}

    assert stats_aggregate(query=stats_query_parse(environment=environment, params=day), metrics=["pageviews"]) == {
        "pageviews": 0
    }


def test_a_bounce_counts_as_no_time_in_the_mean_duration():
    environment = EnvironmentFactory()
    visitor = VisitorFactory(environment=environment)
    start = datetime(2026, 11, 2, 12, tzinfo=UTC)
    visit(visitor, start, [(0, "/"), (101, "/a")])
    visit(VisitorFactory(environment=environment), start, [(0, "/")])
    query = stats_query_parse(environment=environment, params={"period": "custom", "date": "2026-11-02,2026-11-02"})

    # (101 + 0) / 2 = 50.5, rounded half up.
    assert stats_aggregate(query=query, metrics=["visit_duration"]) == {"visit_duration": 51}


def test_another_environments_traffic_is_never_counted(traffic):
    other = EnvironmentFactory()
    one_session(other, datetime(2026, 11, 3, 12, tzinfo=UTC))

    assert stats_aggregate(query=week(traffic), metrics=["sessions"]) == {"sessions": 5}
    other_week = stats_query_parse(environment=other, params=WEEK)
    assert stats_aggregate(query=other_week, metrics=["sessions", "signups"]) == {"sessions": 1, "signups": 0}
