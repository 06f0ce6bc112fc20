"""Sessions: 30-minute inactivity, late items, merges, and the first pageview's context."""

import json
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from analytics.models import Attribution, Event, Pageview, Session
from analytics.tests.helpers import VISITOR_A, batch, minutes_ago, pageview, track

COLLECT = "/v1/analytics/collect"


def send(api, tenant, items, **kwargs):
    response = api.post_json(
        COLLECT, batch(items, visitor_id=VISITOR_A, **kwargs), HTTP_X_ASCENDKIT_ENV_KEY=tenant.env_key
    )
    assert response.status_code == 202, response.content
    return response.json()


def test_activity_within_thirty_minutes_is_one_session(api, tenant):
    send(api, tenant, [pageview(at=minutes_ago(80))])
    send(api, tenant, [pageview("https://example.com/b", at=minutes_ago(55))])
    send(api, tenant, [track(at=minutes_ago(26))])

    session = Session.objects.get()
    assert (session.pageview_count, session.event_count) == (2, 1)
    assert session.exit_path == "/b"


def test_a_gap_longer_than_thirty_minutes_starts_a_new_session(api, tenant):
    send(api, tenant, [pageview("https://example.com/a", at=minutes_ago(100))])
    send(api, tenant, [pageview("https://example.com/b", at=minutes_ago(60))])

    sessions = list(Session.objects.order_by("started_at"))
    assert [s.entry_path for s in sessions] == ["/a", "/b"]
    assert all(s.is_bounce for s in sessions)


def test_the_timeout_is_the_environments(api, tenant):
    tenant.environment.session_timeout_minutes = 5
    tenant.environment.save()

    send(api, tenant, [pageview(at=minutes_ago(20)), pageview(at=minutes_ago(10))])

    assert Session.objects.count() == 2


def test_a_late_item_joins_the_session_its_time_belongs_to(api, tenant):
    send(api, tenant, [pageview("https://example.com/a", at=minutes_ago(200))])
    send(api, tenant, [pageview("https://example.com/b", at=minutes_ago(100))])
    send(api, tenant, [track("app.late", at=minutes_ago(190))])

    first, second = Session.objects.order_by("started_at")
    assert first.event_count == 1 and second.event_count == 0
    assert Event.objects.get().session == first
    assert not first.is_bounce


def test_a_late_earlier_pageview_becomes_the_entry_page_and_source(api, tenant):
    send(api, tenant, [pageview("https://example.com/pricing", at=minutes_ago(10))])
    send(
        api,
        tenant,
        [pageview("https://example.com/landing", at=minutes_ago(12), referrer="https://news.ycombinator.com/")],
    )

    session = Session.objects.get()
    assert (session.entry_path, session.exit_path) == ("/landing", "/pricing")
    assert session.referrer_host == "news.ycombinator.com"
    assert Attribution.objects.get(kind="first_touch").landing_page == "/landing"


def test_a_late_item_that_closes_a_gap_merges_two_sessions(api, tenant):
    send(api, tenant, [pageview("https://example.com/a", at=minutes_ago(120))])
    send(api, tenant, [pageview("https://example.com/c", at=minutes_ago(70))])
    assert Session.objects.count() == 2

    send(api, tenant, [pageview("https://example.com/b", at=minutes_ago(95))])

    session = Session.objects.get()
    assert (session.entry_path, session.exit_path, session.pageview_count) == ("/a", "/c", 3)
    assert set(Pageview.objects.values_list("session_id", flat=True)) == {session.pk}
    assert 49 * 60 <= session.duration_seconds <= 51 * 60


def test_a_new_campaign_mid_session_does_not_start_a_new_session(api, tenant):
    send(api, tenant, [pageview("https://example.com/", at=minutes_ago(10), referrer="https://www.google.com/")])
    send(api, tenant, [pageview("https://example.com/?utm_source=twitter&utm_campaign=launch", at=minutes_ago(5))])

    session = Session.objects.get()
    assert (session.source, session.channel) == ("Google", "Organic Search")


def test_the_session_takes_device_and_place_from_its_first_pageview(api, tenant):
    send(
        api,
        tenant,
        [pageview()],
        user_agent="Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.5 Mobile/15E148 Safari/604.1",
    )

    session = Session.objects.get()
    assert session.device_type == "tablet"
    assert Pageview.objects.get().device_type == "tablet"


def test_geography_comes_from_the_client_address(api, tenant):
    api.defaults["REMOTE_ADDR"] = "8.8.8.8"

    send(api, tenant, [pageview()])

    assert Session.objects.get().country == "US"
    assert Pageview.objects.get().country == "US"


def test_ipv6_addresses_are_located_too(api, tenant):
    api.defaults["REMOTE_ADDR"] = "2001:4860:4860::8888"

    send(api, tenant, [pageview()])

    assert Session.objects.get().country == "US"


def test_a_forged_forwarded_for_header_is_ignored_without_trusted_proxies(api, tenant, settings):
    settings.TRUSTED_PROXY_COUNT = 0
    api.defaults["REMOTE_ADDR"] = "8.8.8.8"

    api.post_json(
        COLLECT,
        batch([pageview()], visitor_id=VISITOR_A),
        HTTP_X_ASCENDKIT_ENV_KEY=tenant.env_key,
        HTTP_X_FORWARDED_FOR="81.2.69.142",
    )

    assert Session.objects.get().country == "US"


def test_the_forwarded_for_entry_of_the_trusted_proxy_is_used(api, tenant, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    api.defaults["REMOTE_ADDR"] = "10.0.0.2"  # the proxy

    api.post_json(
        COLLECT,
        batch([pageview()], visitor_id=VISITOR_A),
        HTTP_X_ASCENDKIT_ENV_KEY=tenant.env_key,
        HTTP_X_FORWARDED_FOR="8.8.8.8, 81.2.69.142",  # the client forged the first entry
    )

    assert Session.objects.get().country == "GB"


def _post_concurrently(tenant, bodies):
    barrier = threading.Barrier(len(bodies))
    statuses = []

    def post(body):
        client = Client(REMOTE_ADDR="203.0.113.9")
        barrier.wait()
        try:
            response = client.post(
                COLLECT, json.dumps(body), content_type="application/json", HTTP_X_ASCENDKIT_ENV_KEY=tenant.env_key
            )
            statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_of_one_visitor_make_one_session(tenant):
    now = timezone.now()
    bodies = [
        batch([pageview(f"https://example.com/{n}", at=now - timedelta(seconds=30 - n))], visitor_id=VISITOR_A)
        for n in range(6)
    ]

    statuses = _post_concurrently(tenant, bodies)

    assert statuses == [202] * 6
    session = Session.objects.get()
    assert session.pageview_count == 6
    assert Pageview.objects.count() == 6


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_deliveries_of_one_item_store_it_once(tenant):
    item = pageview()
    bodies = [batch([dict(item)], visitor_id=VISITOR_A) for _ in range(6)]

    statuses = _post_concurrently(tenant, bodies)

    assert statuses == [202] * 6
    assert Pageview.objects.count() == 1
    assert Session.objects.get().pageview_count == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_deliveries_under_two_visitor_ids_store_the_item_once(tenant):
    item = pageview()
    bodies = [batch([dict(item)], visitor_id=f"vis_{letter * 24}") for letter in "CDEFGH"]

    statuses = _post_concurrently(tenant, bodies)

    assert statuses == [202] * 6
    assert Pageview.objects.count() == 1
