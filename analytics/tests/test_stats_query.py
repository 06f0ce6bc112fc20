from datetime import UTC, date, datetime

import pytest

from analytics.stats import Filter, stats_query_parse
from analytics.tests.factories import EnvironmentFactory
from ascendkit_site.errors import ApplicationError

TODAY = date(2026, 11, 29)


def parse(params, environment=None, today=TODAY):
    return stats_query_parse(environment=environment or EnvironmentFactory.build(), params=params, today=today)


@pytest.mark.parametrize(
    ("period", "first", "last"),
    [
        ("day", date(2026, 11, 29), date(2026, 11, 29)),
        ("7d", date(2026, 11, 23), date(2026, 11, 29)),
        ("30d", date(2026, 10, 31), date(2026, 11, 29)),
        ("90d", date(2026, 9, 1), date(2026, 11, 29)),
    ],
)
def test_a_preset_period_ends_today_and_includes_it(period, first, last):
    query = parse({"period": period})

    assert (query.date_from, query.date_to) == (first, last)


def test_the_default_period_is_thirty_days():
    assert parse({}).period == "30d"


def test_a_custom_period_is_inclusive_and_half_open_in_the_environments_time_zone():
    environment = EnvironmentFactory.build(time_zone="Europe/Berlin")

    query = parse({"period": "custom", "date": "2026-11-02,2026-11-08"}, environment)

    assert query.start == datetime(2026, 11, 1, 23, tzinfo=UTC)
    assert query.end == datetime(2026, 11, 8, 23, tzinfo=UTC)


def test_a_day_across_a_dst_change_has_its_real_length():
    environment = EnvironmentFactory.build(time_zone="Europe/Berlin")

    query = parse({"period": "custom", "date": "2026-10-25,2026-10-25"}, environment)

    assert (query.end - query.start).total_seconds() == 25 * 3600


def test_the_previous_period_is_as_long_and_right_before():
    query = parse({"period": "custom", "date": "2026-11-02,2026-11-08"})

    previous = query.previous_period()

    assert (previous.date_from, previous.date_to) == (date(2026, 10, 26), date(2026, 11, 1))


def test_filters_are_parsed_in_order_and_combined():
    query = parse({"filters": "country==DE;channel==Organic Search"})

    assert query.filters == (Filter("country", "DE"), Filter("channel", "Organic Search"))


def test_a_filter_value_may_contain_equals_signs():
    assert parse({"filters": "page==/a==b"}).filters == (Filter("page", "/a==b"),)


@pytest.mark.parametrize(
    ("params", "code", "named"),
    [
        ({"period": "week"}, "invalid_period", "week"),
        ({"period": "custom"}, "invalid_date", "date="),
        ({"period": "custom", "date": "2026-11-02"}, "invalid_date", "2026-11-02"),
        ({"period": "custom", "date": "2026-11-02,2026-13-01"}, "invalid_date", "2026-13-01"),
        ({"period": "custom", "date": "2026-11-08,2026-11-02"}, "invalid_date", "2026-11-08,2026-11-02"),
        ({"period": "custom", "date": "2020-01-01,2026-01-01"}, "invalid_date", "2020-01-01,2026-01-01"),
        ({"filters": "country=DE"}, "invalid_filter", "country=DE"),
        ({"filters": "colour==red"}, "invalid_property", "colour"),
        ({"filters": "country==DE;country==FR"}, "invalid_filter", "country"),
        ({"limit": "0"}, "invalid_limit", "0"),
        ({"limit": "ten"}, "invalid_limit", "ten"),
        ({"limit": "²"}, "invalid_limit", "²"),
        ({"limit": "5000"}, "invalid_limit", "5000"),
    ],
)
def test_a_bad_parameter_is_refused_with_a_message_naming_it(params, code, named):
    with pytest.raises(ApplicationError) as raised:
        parse(params)

    assert raised.value.code == code
    assert named in raised.value.message
