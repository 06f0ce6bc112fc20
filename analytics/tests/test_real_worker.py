"""Stitching through a real Celery worker and the Redis broker, as production runs it.

The rest of the suite runs tasks in-process; this proves that the signup request
only queues the rewrite (task arguments are IDs) and that a separate worker,
reading committed rows through its own database connection, finishes it.
"""

import time
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.db import connections
from django.utils import timezone

from analytics.models import Event, OutboxEntry, Pageview, Session, Visitor
from analytics.selectors import user_first_touch, user_signup_touch
from analytics.services.outbox import register_consumer, unregister_consumer
from analytics.tests.factories import AttributionFactory, PageviewFactory, SessionFactory, VisitorFactory
from ascendkit_site.celery import app as celery_app
from identity.models import EndUser

VISITOR_ID = "vis_RealWorkerVisitor000001"
WAIT_SECONDS = 20


def _close_worker_connections(**kwargs):
    # The worker thread's connection would outlive the test and keep the test
    # database from being flushed or dropped.
    connections.close_all()


@pytest.fixture
def worker():
    task_postrun.connect(_close_worker_connections, weak=False)
    try:
        with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=15) as running:
            yield running
    finally:
        task_postrun.disconnect(_close_worker_connections)


def wait_until(condition, seconds=WAIT_SECONDS):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.real_worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_stitches_the_history_of_a_signup(api, tenant, worker):
    started = timezone.now() - timedelta(hours=2)
    visitor = VisitorFactory(environment=tenant.environment, public_id=VISITOR_ID, first_seen_at=started)
    session = SessionFactory(visitor=visitor, started_at=started, last_activity_at=started + timedelta(minutes=4))
    for minute in range(3):
        PageviewFactory(session=session, timestamp=started + timedelta(minutes=minute))
    AttributionFactory(visitor=visitor, channel="Organic Search", source="Google", at=started)
    handed_on = []
    consumer = register_consumer(lambda event: handed_on.append(event.name))

    try:
        response = api.post_json(
            "/v1/auth/signup",
            {"email": "ada@example.com", "password": "a-long-passphrase-42", "visitorId": VISITOR_ID},
            HTTP_X_ASCENDKIT_ENV_KEY=tenant.env_key,
        )
        assert response.status_code == 201
        user = EndUser.objects.get(public_id=response.json()["user"]["id"])

        def stitched():
            visitor.refresh_from_db()
            return visitor.stitched_at is not None

        assert wait_until(stitched), "the worker did not stitch the visitor in time"
        assert set(Pageview.objects.filter(visitor=visitor).values_list("user_id", flat=True)) == {user.id}
        assert Session.objects.get(pk=session.pk).user_id == user.id
        user.refresh_from_db()
        assert user_first_touch(user=user).source == "Google"
        assert user_signup_touch(user=user).session_id == session.id

        # The built-in event of the signup went through the outbox on the worker too.
        assert wait_until(lambda: not OutboxEntry.objects.filter(dispatched_at__isnull=True).exists())
        assert "user.created" in handed_on
        assert Event.objects.filter(user=user, name="user.created").count() == 1
        assert Visitor.objects.get(pk=visitor.pk).user_id == user.id
    finally:
        unregister_consumer(consumer)
