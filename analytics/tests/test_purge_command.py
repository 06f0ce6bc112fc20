"""`purge_anonymous`, the daily Celery task, and `run_periodic` (beat for the embedded default)."""

import logging
import os
import signal
import threading
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from celery import shared_task
from django.core.management import CommandError, call_command

from analytics.management.commands.run_periodic import MAX_SLEEP_SECONDS, PeriodicRunner
from analytics.models import Pageview, Visitor
from analytics.tasks import purge_anonymous_visitors
from ascendkit_site.celery import app as celery_app

from .factories import EndUserFactory, PageviewFactory, VisitorFactory

START = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)

# Tasks only these tests schedule.
calls: list[str] = []


@shared_task(name="analytics.tests.count_call")
def count_call(label="call"):
    calls.append(label)
    return label


@shared_task(name="analytics.tests.always_fails")
def always_fails():
    raise RuntimeError("this task always fails")


@pytest.fixture(autouse=True)
def _reset_calls():
    calls.clear()


@pytest.fixture(autouse=True)
def _keep_the_test_transaction(monkeypatch):
    # The runner drops stale connections between runs; inside a test's transaction
    # that would close the connection the test is using.
    monkeypatch.setattr("analytics.management.commands.run_periodic.close_old_connections", lambda: None)


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def idle_visitor(environment, *, days: int, pageviews: int = 1):
    visitor = VisitorFactory(environment=environment, first_seen_at=START - timedelta(days=days))
    PageviewFactory.create_batch(pageviews, session__visitor=visitor)
    return visitor


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


# --- purge_anonymous ------------------------------------------------------------------


def test_the_command_prints_how_many_visitors_it_removed(tenant, clock):
    idle_visitor(tenant.environment, days=91, pageviews=2)
    idle_visitor(tenant.environment, days=95)
    kept = idle_visitor(tenant.environment, days=89)

    output = run("purge_anonymous")

    assert output.startswith("Removed 2 anonymous visitor(s):")
    assert "3 pageview(s)" in output
    assert list(Visitor.objects.values_list("pk", flat=True)) == [kept.pk]


def test_a_dry_run_reports_the_count_and_deletes_nothing(tenant, clock):
    idle_visitor(tenant.environment, days=91, pageviews=2)
    idle_visitor(tenant.environment, days=10)

    output = run("purge_anonymous", "--dry-run")

    assert output.startswith("Would remove 1 anonymous visitor(s):")
    assert "2 pageview(s)" in output
    assert Visitor.objects.count() == 2
    assert Pageview.objects.count() == 3


def test_older_than_overrides_the_retention_for_that_run(tenant, other_tenant, clock):
    idle_visitor(tenant.environment, days=11)
    idle_visitor(other_tenant.environment, days=11)
    kept = idle_visitor(tenant.environment, days=9)
    linked = VisitorFactory(
        environment=tenant.environment,
        user=EndUserFactory(environment=tenant.environment),
        first_seen_at=START - timedelta(days=200),
    )

    output = run("purge_anonymous", "--older-than", "10")

    assert output.startswith("Removed 2 anonymous visitor(s):")
    assert set(Visitor.objects.values_list("pk", flat=True)) == {kept.pk, linked.pk}


@pytest.mark.parametrize("days", ["-1", "ten"])
def test_the_command_refuses_a_bad_number_of_days(db, days):
    with pytest.raises(CommandError):
        call_command("purge_anonymous", "--older-than", days)


def test_the_daily_task_runs_the_purge_and_returns_the_counts(tenant, clock):
    idle_visitor(tenant.environment, days=120, pageviews=4)

    result = purge_anonymous_visitors.delay().get()

    assert result["visitors"] == 1
    assert result["pageviews"] == 4
    assert not Visitor.objects.exists()


# --- run_periodic ---------------------------------------------------------------------


def test_the_settings_schedule_names_the_purge_task():
    from django.conf import settings

    names = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "analytics.tasks.purge_anonymous_visitors" in names
    assert "analytics.tasks.purge_anonymous_visitors" in celery_app.tasks


def test_once_runs_every_entry_and_survives_missing_and_failing_tasks(settings, tenant, clock, caplog):
    settings.CELERY_BEAT_SCHEDULE = {
        "purge": {"task": "analytics.tasks.purge_anonymous_visitors", "schedule": timedelta(days=1)},
        "missing": {"task": "analytics.tasks.not_written_yet", "schedule": timedelta(minutes=5)},
        "failing": {"task": "analytics.tests.always_fails", "schedule": timedelta(minutes=1)},
        "counting": {"task": "analytics.tests.count_call", "schedule": 60.0, "kwargs": {"label": "counted"}},
    }
    idle_visitor(tenant.environment, days=100)

    with caplog.at_level(logging.INFO, logger="analytics.periodic"):
        call_command("run_periodic", "--once")

    assert not Visitor.objects.exists()
    assert calls == ["counted"]
    assert "analytics.tasks.not_written_yet is not registered" in caplog.text
    assert "this task always fails" in caplog.text


def test_entries_run_again_when_their_schedule_is_due(db, clock):
    runner = PeriodicRunner(
        app=celery_app,
        beat_schedule={
            "often": {"task": "analytics.tests.count_call", "schedule": timedelta(seconds=30), "args": ("often",)},
            "daily": {"task": "analytics.tests.count_call", "schedule": timedelta(days=1), "args": ("daily",)},
        },
    )
    runner.run_all()
    assert calls == ["often", "daily"]

    assert runner.run_due() == pytest.approx(30)
    assert calls == ["often", "daily"]

    clock.shift(timedelta(seconds=31))
    assert runner.run_due() == pytest.approx(30)
    assert calls == ["often", "daily", "often"]


def test_the_runner_wakes_up_at_least_once_a_minute(db, clock):
    runner = PeriodicRunner(
        app=celery_app, beat_schedule={"daily": {"task": "analytics.tests.count_call", "schedule": timedelta(days=1)}}
    )
    runner.run_all()

    assert runner.run_due() == MAX_SLEEP_SECONDS


def test_a_crontab_entry_waits_for_its_time(db, clock):
    from celery.schedules import crontab

    runner = PeriodicRunner(
        app=celery_app,
        beat_schedule={"nightly": {"task": "analytics.tests.count_call", "schedule": crontab(hour=3, minute=17)}},
    )
    runner.run_all()  # at start-up, whatever the time
    clock.shift(timedelta(hours=12))
    runner.run_due()
    assert calls == ["call"]

    clock.move_to(datetime(2025, 3, 4, 3, 17, 30, tzinfo=UTC))
    runner.run_due()
    assert calls == ["call", "call"]


def test_it_stops_cleanly_on_sigterm(settings, db):
    settings.CELERY_BEAT_SCHEDULE = {
        "often": {"task": "analytics.tests.count_call", "schedule": timedelta(hours=1)},
    }
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    try:
        output = run("run_periodic")
    finally:
        timer.cancel()

    assert calls == ["call"]
    assert "Periodic tasks stopped." in output
    assert signal.getsignal(signal.SIGTERM) is not None
