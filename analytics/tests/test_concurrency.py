"""Collect and business events for the same visitors at once: one lock order, exact counts.

Both paths lock visitor rows in primary-key order (`services.visitors.visitors_lock`),
so a collect batch and a business event batch naming the same visitors in opposite
orders wait on each other instead of deadlocking, and every count adds up.
"""

import json
from datetime import timedelta

import pytest
from django.db.models import Count
from django.test import Client
from django.utils import timezone

from analytics.models import Event, Pageview, Session
from analytics.tests.factories import EndUserFactory
from analytics.tests.helpers import batch, iso, pageview

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

VISITORS = [f"vis_Concurrent{n:012d}" for n in range(6)]
ROUNDS = 4


def collect_sender(tenant, visitors, tag):
    def send():
        client = Client(REMOTE_ADDR="203.0.113.20")
        start = timezone.now() - timedelta(minutes=20)
        for round_ in range(ROUNDS):
            for n, visitor in enumerate(visitors):
                items = [
                    pageview(f"https://example.com/{tag}/{round_}/{i}", at=start + timedelta(seconds=round_ * 10 + i))
                    for i in range(3)
                ]
                for i, item in enumerate(items):
                    item["messageId"] = f"pv-{tag}-{round_}-{n}-{i}"
                response = client.post(
                    "/v1/analytics/collect",
                    json.dumps(batch(items, visitor_id=visitor)),
                    content_type="application/json",
                    HTTP_X_ASCENDKIT_ENV_KEY=tenant.env_key,
                )
                assert response.status_code == 202, response.content

    return send


def events_sender(tenant, user, visitors, tag):
    def send():
        client = Client()
        at = timezone.now() - timedelta(minutes=19)
        for round_ in range(ROUNDS):
            items = [
                {
                    "userId": user.public_id,
                    "name": "app.step",
                    "messageId": f"ev-{tag}-{round_}-{n}",
                    "visitorId": visitor,
                    "timestamp": iso(at + timedelta(seconds=round_)),
                }
                for n, visitor in enumerate(visitors)
            ]
            response = client.post(
                "/v1/events",
                json.dumps({"events": items}),
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Bearer {tenant.secret_key}",
            )
            assert response.status_code == 202, response.content
            assert response.json()["accepted"] == len(items)

    return send


def test_collect_and_business_events_for_the_same_visitors_at_once(tenant, run_together):
    user = EndUserFactory(environment=tenant.environment)
    forward, backward = VISITORS, list(reversed(VISITORS))

    run_together(
        collect_sender(tenant, forward, "a"),
        collect_sender(tenant, backward, "b"),
        events_sender(tenant, user, backward, "c"),
        events_sender(tenant, user, forward, "d"),
        timeout=120,
    )

    assert Pageview.objects.count() == 2 * ROUNDS * len(VISITORS) * 3
    assert Event.objects.count() == 2 * ROUNDS * len(VISITORS)
    assert Pageview.objects.values("message_id").annotate(n=Count("id")).filter(n__gt=1).count() == 0
    # Every session's counts are exactly the rows that point at it.
    for session in Session.objects.all():
        assert session.pageview_count == Pageview.objects.filter(session=session).count()
        assert session.event_count == Event.objects.filter(session=session).count()
    # All of a visitor's activity is within the timeout: one session each.
    assert Session.objects.count() == len(VISITORS)
    assert set(Session.objects.values_list("user_id", flat=True)) == {user.id}
    assert set(Pageview.objects.values_list("user_id", flat=True)) == {user.id}
