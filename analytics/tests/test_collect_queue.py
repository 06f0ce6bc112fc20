"""Queued mode: a request stores its batch in one row; `collect_writer` writes many at once."""

import json
import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import OperationalError
from django.utils import timezone

from analytics.enrichment.geo import Place
from analytics.enrichment.useragent import device_from_user_agent
from analytics.items import Client
from analytics.models import Attribution, CollectBatch, Event, Pageview, Session, Visitor
from analytics.services import collect
from analytics.services.collect import (
    MAX_ATTEMPTS,
    batch_from_payload,
    batch_payload,
    browser_items_parse,
    collect_queue_drain,
    payload_decode,
)
from analytics.tests.factories import EndUserFactory, VisitorFactory
from analytics.tests.helpers import VISITOR_A, VISITOR_B, batch, minutes_ago, pageview, track

COLLECT = "/v1/analytics/collect"


@pytest.fixture(autouse=True)
def queued(settings):
    settings.COLLECT_QUEUE = True


def send(api, tenant, body, **extra):
    response = api.post_json(COLLECT, body, HTTP_X_ASCENDKIT_ENV_KEY=tenant.env_key, **extra)
    assert response.status_code == 202, response.content
    return response.json()


def test_a_request_queues_its_batch_and_the_writer_stores_it(api, tenant):
    answer = send(
        api,
        tenant,
        batch(
            [pageview("https://example.com/docs?utm_source=newsletter", referrer="https://www.google.com/"), track()],
            visitor_id=VISITOR_A,
        ),
    )

    assert answer == {"visitorId": VISITOR_A, "accepted": 2, "duplicates": 0, "rejected": []}
    assert CollectBatch.objects.count() == 1 and Pageview.objects.count() == 0

    assert collect_queue_drain() == 1

    assert CollectBatch.objects.count() == 0
    session = Session.objects.get()
    assert (session.entry_path, session.source, session.browser, session.pageview_count) == (
        "/docs",
        "newsletter",
        "Chrome",
        1,
    )
    assert Event.objects.get().session == session
    assert Attribution.objects.get(kind="first_touch").landing_page == "/docs"


def test_the_writer_sessionises_many_visitors_in_one_chunk(api, tenant):
    send(api, tenant, batch([pageview("https://example.com/a", at=minutes_ago(50))], visitor_id=VISITOR_A))
    send(api, tenant, batch([pageview("https://example.com/x", at=minutes_ago(45))], visitor_id=VISITOR_B))
    send(api, tenant, batch([pageview("https://example.com/b", at=minutes_ago(40))], visitor_id=VISITOR_A))
    send(api, tenant, batch([track(at=minutes_ago(5))], visitor_id=VISITOR_A))  # a new session: 35 minutes later

    assert collect_queue_drain() == 4

    a_sessions = list(Session.objects.filter(visitor__public_id=VISITOR_A).order_by("started_at"))
    assert [(s.entry_path, s.exit_path, s.pageview_count, s.event_count) for s in a_sessions] == [
        ("/a", "/b", 2, 0),
        ("", "", 0, 1),
    ]
    assert Session.objects.get(visitor__public_id=VISITOR_B).entry_path == "/x"


def test_a_chunk_continues_the_sessions_already_stored(api, tenant, settings):
    settings.COLLECT_QUEUE = False
    send(api, tenant, batch([pageview("https://example.com/a", at=minutes_ago(20))], visitor_id=VISITOR_A))
    settings.COLLECT_QUEUE = True
    send(api, tenant, batch([pageview("https://example.com/b", at=minutes_ago(10))], visitor_id=VISITOR_A))

    collect_queue_drain()

    session = Session.objects.get()
    assert (session.entry_path, session.exit_path, session.pageview_count) == ("/a", "/b", 2)


def test_repeats_are_acknowledged_and_stored_once(api, tenant):
    stored, queued_twice = pageview(), pageview()
    send(api, tenant, batch([stored], visitor_id=VISITOR_A))
    collect_queue_drain()

    again = send(api, tenant, batch([stored, queued_twice, dict(queued_twice)], visitor_id=VISITOR_A))
    send(api, tenant, batch([queued_twice], visitor_id=VISITOR_A))
    collect_queue_drain()

    # The request reads nothing: only the repeat within its own batch is known to it.
    assert (again["accepted"], again["duplicates"]) == (2, 1)
    assert Pageview.objects.count() == 2
    assert Session.objects.get().pageview_count == 2


def test_one_bad_batch_does_not_hold_up_the_others(api, tenant):
    send(api, tenant, batch([pageview("https://example.com/good-1")], visitor_id=VISITOR_A))
    send(api, tenant, batch([pageview("https://example.com/bad")], visitor_id=VISITOR_B))
    send(api, tenant, batch([pageview("https://example.com/good-2")], visitor_id=VISITOR_A))
    bad = CollectBatch.objects.get(visitor_public_id=VISITOR_B)
    payload = payload_decode(bad.payload)
    payload["items"][0]["page"] = None  # a pageview without its page cannot be written
    bad.payload = json.dumps(payload).encode()
    bad.save()

    collect_queue_drain()

    assert sorted(Pageview.objects.values_list("path", flat=True)) == ["/good-1", "/good-2"]
    bad.refresh_from_db()
    assert bad.attempts == 1 and "AttributeError" in bad.last_error
    for _ in range(MAX_ATTEMPTS):
        collect_queue_drain()
    bad.refresh_from_db()
    assert bad.attempts == MAX_ATTEMPTS
    assert collect_queue_drain() == 0  # given up on: kept for a person to look at, no longer retried


@pytest.mark.django_db(transaction=True)  # the command manages its own connection, as in production
def test_the_command_writes_everything_queued(api, tenant, capsys):
    for visitor in (VISITOR_A, VISITOR_B):
        send(api, tenant, batch([pageview()], visitor_id=visitor))

    call_command("collect_writer", "--once")

    assert Pageview.objects.count() == 2 and CollectBatch.objects.count() == 0
    assert "Wrote 2 queued batch(es)." in capsys.readouterr().out


def test_the_queue_holds_no_client_address(api, tenant, db_dump):
    send(api, tenant, batch([pageview()], visitor_id=VISITOR_A), REMOTE_ADDR="81.2.69.160")

    payload = payload_decode(CollectBatch.objects.get().payload)
    assert payload["client"]["place"]["country"] == "GB"
    assert "81.2.69.160" not in db_dump()


def test_bots_are_not_queued(api, tenant):
    send(api, tenant, batch([pageview()], user_agent="Googlebot/2.1 (+http://www.google.com/bot.html)"))

    assert CollectBatch.objects.count() == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_writers_at_once_store_every_item_once_in_the_right_sessions(api, tenant, run_together):
    start = minutes_ago(60)
    visitors = [f"vis_{letter * 24}" for letter in "CDEFGH"]
    for step in range(5):
        for visitor in visitors:
            send(
                api,
                tenant,
                batch(
                    [pageview(f"https://example.com/{step}", at=start + timedelta(minutes=step))], visitor_id=visitor
                ),
            )

    def writer():
        while collect_queue_drain(limit=7):
            pass

    run_together(writer, writer)

    assert CollectBatch.objects.count() == 0
    assert Pageview.objects.count() == 30
    for visitor in Visitor.objects.all():
        session = Session.objects.get(visitor=visitor)
        assert (session.pageview_count, session.entry_path, session.exit_path) == (5, "/0", "/4")


def test_the_periodic_sweep_writes_what_no_writer_took(api, tenant):
    from analytics.tasks import collect_queue_sweep

    for visitor in (VISITOR_A, VISITOR_B):
        send(api, tenant, batch([pageview()], visitor_id=visitor))

    assert collect_queue_sweep.delay().get() == 2
    assert Pageview.objects.count() == 2 and CollectBatch.objects.count() == 0


def test_a_read_of_a_users_history_writes_their_queued_batches_first(api, tenant, settings):
    settings.COLLECT_QUEUE = True
    user = EndUserFactory(environment=tenant.environment)
    VisitorFactory(environment=tenant.environment, public_id=VISITOR_A, user=user)
    send(api, tenant, batch([pageview("https://example.com/queued")], visitor_id=VISITOR_A))
    assert CollectBatch.objects.count() == 1

    headers = {"Authorization": f"Bearer {tenant.secret_key}"}
    timeline = api.get(f"/v1/users/{user.public_id}/timeline", headers=headers).json()

    assert [item["path"] for item in timeline["items"]] == ["/queued"]
    assert CollectBatch.objects.count() == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_writer_thread_stores_what_requests_queue(api, tenant, settings):
    settings.COLLECT_QUEUE = True
    settings.COLLECT_WRITER = "thread"
    for n in range(5):
        send(api, tenant, batch([pageview(f"https://example.com/{n}"), track()], visitor_id=VISITOR_A))

    deadline = time.monotonic() + 10
    while Pageview.objects.count() < 5 and time.monotonic() < deadline:
        time.sleep(0.05)

    assert Pageview.objects.count() == 5 and Event.objects.count() == 5
    assert CollectBatch.objects.count() == 0


def test_a_stats_report_writes_the_environments_queued_batches_first(api, tenant, settings):
    settings.COLLECT_QUEUE = True
    send(api, tenant, batch([pageview("https://example.com/queued")], visitor_id=VISITOR_A))
    assert CollectBatch.objects.count() == 1

    headers = {"Authorization": f"Bearer {tenant.secret_key}"}
    totals = api.get("/v1/stats/aggregate?period=day&metrics=pageviews,visitors", headers=headers).json()

    assert totals["results"] == {"pageviews": 1, "visitors": 1}
    assert CollectBatch.objects.count() == 0


def test_a_queued_batch_reads_back_as_the_batch_that_was_judged(tenant):
    raw = [
        {
            "type": "pageview",
            "messageId": "p1",
            "url": "https://example.com/a?utm_source=x",
            "referrer": "https://t.co/",
        },
        {"type": "track", "messageId": "t1", "name": "app.clicked", "properties": {"n": 2**70, "s": "é"}},
        {"type": "track", "messageId": "t2", "name": "app.bare"},
    ]
    items, rejected = browser_items_parse(raw, sent_at=None, received_at=timezone.now())
    agent = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"
    client = Client(device=device_from_user_agent(agent), place=Place("DE", "Berlin", "Berlin"), screen_width=390)

    back = batch_from_payload(environment=tenant, visitor_public_id=VISITOR_A, payload=batch_payload(client, items))

    assert rejected == [] and back.items == items and back.client == client
    assert back.items[2].properties == {} and back.items[2].properties is not back.items[1].properties
    with pytest.raises(AttributeError):  # still frozen
        back.items[0].title = "changed"


def test_the_writer_thread_outlives_a_database_it_cannot_even_check(monkeypatch):
    def database_away():
        raise OperationalError("connection refused")

    monkeypatch.setattr(collect, "close_old_connections", database_away)
    monkeypatch.setattr(collect.QueueDrainer, "ERROR_PAUSE_SECONDS", 0.01)
    drainer = collect.QueueDrainer()
    try:
        drainer.wake()
        time.sleep(0.7)  # past the gathering pause, through a few failed rounds

        assert drainer._thread.is_alive()
    finally:
        drainer.stop()
    assert not drainer._thread.is_alive()
