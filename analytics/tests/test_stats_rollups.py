"""Report rollups (PostgreSQL): the same answers as the raw rows, kept fresh by dirty days."""

import io
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from unittest import mock

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Count, Sum
from django.utils import timezone

from analytics.models import RollupDay, RollupDirtyDay, RollupState, Session
from analytics.services.deletion import user_erase, visitors_purge_anonymous
from analytics.stats import (
    ALL_METRICS,
    BREAKDOWN_PROPERTIES,
    conversion_paths,
    funnel,
    page_flows,
    stats_aggregate,
    stats_breakdown,
    stats_query_parse,
    stats_timeseries,
)
from analytics.stats.properties import EVENT, EVENT_METRICS, PAGE, PAGE_METRICS
from analytics.stats.query import environment_zone
from analytics.stats.rollups import (
    rollup_day_mark,
    rollup_environment_rebuild,
    rollup_usable,
    rollups_refresh,
)
from analytics.tasks import refresh_rollups
from identity.models import EndUser
from identity.services import environment_create

from .helpers import batch, pageview, track

pytestmark = pytest.mark.django_db

# Pages and events the generated traffic has, a page twice, and one it never has.
FUNNELS = (
    ["/", "/pricing", "/signup"],
    ["/", "event:app.cta_clicked"],
    ["/pricing", "/", "/pricing"],
    ["event:user.created", "/"],
    ["/", "/never-seen"],
)

READERS = (
    "analytics.stats.aggregate",
    "analytics.stats.breakdown",
    "analytics.stats.flows",
    "analytics.stats.conversions",
    "analytics.stats.funnels",
)


@pytest.fixture
def postgresql(db):
    if connection.vendor != "postgresql":
        pytest.skip("report rollups are kept on PostgreSQL only: on SQLite every report reads the raw rows")


def _environment(name: str, time_zone: str, *, visitors: int, seed: int):
    environment = environment_create(organization_name=name, project_name="Web", environment_name="production")
    environment = environment.environment
    environment.time_zone = time_zone
    environment.save(update_fields=["time_zone"])
    call_command(
        "generate_traffic",
        *("--env-key", environment.env_key, "--visitors", str(visitors), "--days", "20", "--seed", str(seed)),
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    return environment


@pytest.fixture
def site(postgresql):
    # A half-hour offset: local days are not UTC days, nor whole hours away from them.
    return _environment("Acme", "Asia/Kolkata", visitors=300, seed=7)


@pytest.fixture
def other_site(postgresql):
    return _environment("Globex", "America/Los_Angeles", visitors=150, seed=8)


@contextmanager
def raw_path():
    """The reports as they read without rollups."""
    with ExitStack() as stack:
        for module in READERS:
            stack.enter_context(mock.patch(f"{module}.rollup_usable", lambda query: False))
        yield


def _periods(environment) -> list[dict]:
    today = timezone.now().astimezone(environment_zone(environment)).date()

    def custom(first_day_ago: int, last_day_ago: int) -> dict:
        first, last = today - timedelta(days=first_day_ago), today - timedelta(days=last_day_ago)
        return {"period": "custom", "date": f"{first.isoformat()},{last.isoformat()}"}

    return [{"period": "7d"}, {"period": "30d"}, custom(12, 3), custom(9, 8)]


def _orders(allowed: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Each metric first once: every sort order a breakdown can have."""
    return [(first, *(name for name in allowed if name != first)) for first in allowed]


def _top_page(environment) -> str:
    top = Session.objects.filter(environment=environment).values("exit_path").annotate(n=Count("pk")).order_by("-n")
    return next(row["exit_path"] for row in top if row["exit_path"] != "/")


def answers(environment) -> dict:
    """Every report the rollups serve, over several periods, keyed by what was asked."""
    out = {}
    from_page = _top_page(environment)
    for params in _periods(environment):
        period = params.get("date", params["period"])
        query = stats_query_parse(environment=environment, params={**params, "limit": "1000"})
        top_ten = stats_query_parse(environment=environment, params=params)
        out[period, "aggregate"] = stats_aggregate(query=query)
        out[period, "compared"] = stats_aggregate(query=query, compare=True)
        out[period, "timeseries"] = stats_timeseries(query=query)
        for name in BREAKDOWN_PROPERTIES:
            allowed = EVENT_METRICS if name == EVENT else PAGE_METRICS if name == PAGE else ALL_METRICS
            for metrics in _orders(allowed):
                out[period, name, metrics] = stats_breakdown(query=query, property=name, metrics=metrics)
            out[period, name, "top ten"] = stats_breakdown(query=top_ten, property=name, metrics=allowed)
        for steps in (2, 3, 5):
            out[period, "flows", steps] = page_flows(query=top_ten, steps=steps)
            out[period, "flows from", from_page, steps] = page_flows(query=top_ten, from_page=from_page, steps=steps)
        out[period, "flows from an unseen page"] = page_flows(query=top_ten, from_page="/never-seen")
        out[period, "conversion paths"] = conversion_paths(query=query)
        for steps in FUNNELS:
            for hours in (1, 168):
                out[period, "funnel", *steps, hours] = funnel(query=query, steps=steps, window_hours=hours)
    return out


def assert_rollups_answer_as_raw(environment) -> None:
    for params in _periods(environment):
        assert rollup_usable(stats_query_parse(environment=environment, params=params))
    rolled = answers(environment)
    with raw_path():
        raw = answers(environment)
    assert rolled.keys() == raw.keys()
    for key, value in raw.items():
        assert rolled[key] == value, key


def test_every_rollup_report_equals_the_raw_answer(site):
    rollup_environment_rebuild(environment=site)

    assert_rollups_answer_as_raw(site)


def test_the_data_is_there_to_compare(site):
    rollup_environment_rebuild(environment=site)
    query = stats_query_parse(environment=site, params={"period": "30d"})

    totals = stats_aggregate(query=query)
    flows = page_flows(query=query, steps=3)

    assert totals["visitors"] > 200 and totals["signups"] > 0 and totals["events"] > 0
    assert 0 < totals["bounce_rate"] < 100 and totals["visit_duration"] > 0
    assert len(flows["nodes"]) > 5 and flows["dropoffs"]
    # Visitors who came back on another day count once in the month.
    daily = sum(row["visitors"] for row in stats_timeseries(query=query, metrics=["visitors"]))
    assert daily > totals["visitors"]
    # Funnels with visitors at every step, and some who left on the way.
    for steps in FUNNELS[:3]:
        reached = [step["visitors"] for step in funnel(query=query, steps=steps)["steps"]]
        assert reached[-1] > 0 and reached[0] > reached[-1], steps


def test_filters_and_one_day_periods_read_the_raw_rows(site):
    rollup_environment_rebuild(environment=site)

    assert not rollup_usable(stats_query_parse(environment=site, params={"period": "day"}))
    assert not rollup_usable(stats_query_parse(environment=site, params={"filters": "device==mobile"}))
    assert rollup_usable(stats_query_parse(environment=site, params={"period": "7d"}))


def test_an_environment_never_built_reads_the_raw_rows(site):
    assert not rollup_usable(stats_query_parse(environment=site, params={"period": "30d"}))


def test_a_late_pageview_marks_its_day_and_the_refresh_catches_up(site, api):
    rollup_environment_rebuild(environment=site)
    days_ago = timezone.now() - timedelta(days=4, hours=2)
    body = batch([pageview("https://example.com/late", at=days_ago), track(at=days_ago + timedelta(seconds=5))])

    response = api.post_json("/v1/analytics/collect", body, HTTP_X_ASCENDKIT_ENV_KEY=site.env_key)

    assert response.status_code == 202
    marked = set(RollupDirtyDay.objects.filter(environment=site).values_list("day", flat=True))
    assert marked == {days_ago.astimezone(environment_zone(site)).date()}
    rollups_refresh()
    assert not RollupDirtyDay.objects.filter(environment=site).exists()
    assert_rollups_answer_as_raw(site)
    week = stats_query_parse(environment=site, params={"period": "7d", "limit": "1000"})
    assert {"page": "/late", "visitors": 1} in stats_breakdown(query=week, property="page")


def test_erasing_a_user_marks_their_days_and_the_refresh_takes_them_out(site):
    rollup_environment_rebuild(environment=site)
    user = EndUser.objects.filter(environment=site, sessions__isnull=False).order_by("pk").first()
    first_session = Session.objects.filter(environment=site, visitor__user=user).order_by("started_at").first()

    user_erase(user=user)

    marked = set(RollupDirtyDay.objects.filter(environment=site).values_list("day", flat=True))
    assert min(marked) <= first_session.started_at.astimezone(environment_zone(site)).date()
    rollups_refresh()
    assert_rollups_answer_as_raw(site)


def test_the_retention_purge_marks_what_it_removes(site):
    rollup_environment_rebuild(environment=site)

    removed = visitors_purge_anonymous(older_than_days=10)

    assert removed.sessions > 0
    assert RollupDirtyDay.objects.filter(environment=site).exists()
    rollups_refresh()
    assert_rollups_answer_as_raw(site)


def test_the_refresh_recomputes_only_from_the_first_dirty_day(site):
    rollup_environment_rebuild(environment=site)
    today = timezone.now().astimezone(environment_zone(site)).date()
    dirty = today - timedelta(days=5)
    before = dict(RollupDay.objects.filter(environment=site).values_list("pk", "day"))
    rollup_day_mark(environment_id=site.pk, day=dirty)

    refreshed = rollups_refresh()

    after = dict(RollupDay.objects.filter(environment=site).values_list("pk", "day"))
    assert refreshed == {site.pk: dirty}
    kept = {pk for pk, day in before.items() if day < dirty}
    assert kept and kept == {pk for pk in after if pk in before}
    assert all(day >= dirty for pk, day in after.items() if pk not in before)
    assert rollups_refresh() == {}  # nothing marked: nothing done


def test_one_environments_rows_never_reach_anothers_rollups(site, other_site):
    rollup_environment_rebuild(environment=site)
    mine = list(RollupDay.objects.filter(environment=site).order_by("pk").values())

    rollup_environment_rebuild(environment=other_site)

    assert list(RollupDay.objects.filter(environment=site).order_by("pk").values()) == mine
    sessions = RollupDay.objects.filter(environment=site, property="").aggregate(n=Sum("sessions"))["n"]
    assert sessions == Session.objects.filter(environment=site).count()
    assert_rollups_answer_as_raw(site)
    assert_rollups_answer_as_raw(other_site)


def test_a_new_time_zone_reads_the_raw_rows_until_the_rebuild(site):
    rollup_environment_rebuild(environment=site)
    site.time_zone = "Europe/Paris"
    site.save(update_fields=["time_zone"])

    assert not rollup_usable(stats_query_parse(environment=site, params={"period": "30d"}))
    rollups_refresh()
    assert RollupState.objects.get(environment=site).time_zone == "Europe/Paris"
    assert_rollups_answer_as_raw(site)


def test_the_periodic_task_builds_an_environment_on_its_first_mark(site, settings):
    entry = settings.CELERY_BEAT_SCHEDULE["refresh-report-rollups"]
    rollup_day_mark(environment_id=site.pk, day=timezone.now().date())

    refreshed = refresh_rollups()

    assert entry["task"] == "analytics.tasks.refresh_rollups" and entry["schedule"] <= timedelta(seconds=60)
    assert list(refreshed) == [site.pk] and RollupState.objects.filter(environment=site).exists()
    assert_rollups_answer_as_raw(site)
