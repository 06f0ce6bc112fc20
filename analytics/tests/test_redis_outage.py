"""With Redis really stopped, every endpoint answers at once and as usual; nothing is lost.

Each test starts a redis-server of its own on a free port, points Celery (broker and
result backend) and the cache at it, and stops it: the machine's shared Redis is
never touched. The tasks the requests could not queue are found by the periodic
sweeps once Redis is back.
"""

import shutil
import socket
import subprocess
import threading
import time
from contextlib import contextmanager
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.conf import settings as django_settings
from django.db import connections, transaction
from django.utils import timezone

from accounts.tests.helpers import PASSWORD, env_headers, secret_headers, signup
from analytics.models import CollectBatch, Event, OutboxEntry, Pageview, Visitor
from analytics.services.collect import collect_queue_drain
from analytics.services.stitching import visitor_restitch_on_commit, visitors_pending_stitch
from analytics.tasks import outbox_dispatch, stitch_pending_visitors
from analytics.tests.factories import PageviewFactory, SessionFactory, VisitorFactory
from analytics.tests.helpers import VISITOR_A, batch, pageview
from ascendkit_site import queue
from ascendkit_site.celery import app as celery_app
from identity.models import EndUser

REDIS_SERVER = shutil.which("redis-server")
FAST_SECONDS = 1.0

pytestmark = pytest.mark.skipif(REDIS_SERVER is None, reason="needs the redis-server program")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RedisServer:
    """A throwaway redis-server on loopback that a test can stop and start again."""

    def __init__(self):
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def _reset_celery_connections():
    # Celery keeps its connection pools and result backend per process; drop them so
    # the next publish uses the configuration set below.
    celery_app._after_fork()
    celery_app._backend_cache = None
    celery_app._local = threading.local()


@contextmanager
def celery_on(url: str):
    previous = {key: celery_app.conf[key] for key in ("broker_url", "result_backend", "task_always_eager")}
    celery_app.conf.update(broker_url=url, result_backend=url, task_always_eager=False)
    _reset_celery_connections()
    try:
        yield
    finally:
        celery_app.conf.update(previous)
        _reset_celery_connections()


@pytest.fixture
def redis(settings):
    """Celery and the cache on a redis-server of this test's own, running."""
    server = RedisServer()
    server.start()
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": server.url,
            "OPTIONS": django_settings.REDIS_CLIENT_OPTIONS,
        }
    }
    queue.broker_pause_reset()
    try:
        with celery_on(server.url):
            yield server
    finally:
        server.stop()
        queue.broker_pause_reset()


def timed(call):
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


@pytest.mark.django_db(transaction=True)
def test_signup_answers_201_at_once_with_redis_stopped(api, tenant, redis):
    redis.stop()

    response, seconds = timed(lambda: signup(api, tenant, visitorId=VISITOR_A))

    assert response.status_code == 201, response.content
    assert response.json()["token"]
    assert seconds < FAST_SECONDS


@pytest.mark.django_db(transaction=True)
def test_a_signup_during_an_outage_is_not_refused_as_email_taken_on_the_next_call(api, tenant, redis):
    redis.stop()
    assert signup(api, tenant).status_code == 201

    # The client got its answer; a retry is the client's own mistake and says so.
    again = signup(api, tenant)
    assert again.status_code == 409 and again.json()["error"]["code"] == "email_taken"


def _signed_up(api, tenant) -> tuple[str, str]:
    body = signup(api, tenant, email="grace@example.com").json()
    return body["user"]["id"], body["token"]


ENDPOINTS = {
    "login": lambda api, t, user_id, token: api.post_json(
        "/v1/auth/login", {"email": "grace@example.com", "password": PASSWORD}, headers=env_headers(t)
    ),
    "login with a wrong password": lambda api, t, user_id, token: api.post_json(
        "/v1/auth/login", {"email": "grace@example.com", "password": "not-the-one-42"}, headers=env_headers(t)
    ),
    "me": lambda api, t, user_id, token: api.get("/v1/auth/me", headers=env_headers(t, token)),
    "logout": lambda api, t, user_id, token: api.post("/v1/auth/logout", headers=env_headers(t, token)),
    "approve": lambda api, t, user_id, token: api.post(f"/v1/users/{user_id}/approve", headers=secret_headers(t)),
    "identify": lambda api, t, user_id, token: api.post_json(
        "/v1/identify", {"userId": user_id, "visitorId": VISITOR_A}, headers=secret_headers(t)
    ),
    "events": lambda api, t, user_id, token: api.post_json(
        "/v1/events",
        {"events": [{"userId": user_id, "name": "app.paid", "messageId": "e1", "visitorId": VISITOR_A}]},
        headers=secret_headers(t),
    ),
    "profile": lambda api, t, user_id, token: api.get(f"/v1/users/{user_id}", headers=secret_headers(t)),
    "timeline": lambda api, t, user_id, token: api.get(f"/v1/users/{user_id}/timeline", headers=secret_headers(t)),
    "erase": lambda api, t, user_id, token: api.delete(f"/v1/users/{user_id}", headers=secret_headers(t)),
    "collect": lambda api, t, user_id, token: api.post_json(
        "/v1/analytics/collect", batch([pageview()], visitor_id=VISITOR_A), headers=env_headers(t)
    ),
}
ENDPOINTS["collect, queued mode"] = ENDPOINTS["collect"]
EXPECTED = {
    "login with a wrong password": 401,
    "logout": 204,
    "events": 202,
    "collect": 202,
    "collect, queued mode": 202,
}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name", list(ENDPOINTS))
def test_every_endpoint_answers_as_usual_and_at_once_with_redis_stopped(api, tenant, redis, settings, name):
    settings.COLLECT_QUEUE = name.endswith("queued mode")
    user_id, token = _signed_up(api, tenant)
    redis.stop()

    response, seconds = timed(lambda: ENDPOINTS[name](api, tenant, user_id, token))

    assert response.status_code == EXPECTED.get(name, 200), response.content
    assert seconds < FAST_SECONDS
    if response.status_code >= 400:
        assert set(response.json()["error"]) == {"code", "message"}


@pytest.mark.django_db(transaction=True)
def test_publishing_to_a_dead_broker_is_logged_and_never_raises(redis, caplog):
    redis.stop()

    assert queue.enqueue_now(outbox_dispatch) is False
    # Within the pause the next call does not even try.
    started = time.monotonic()
    assert queue.enqueue_now(outbox_dispatch) is False
    assert time.monotonic() - started < 0.05
    assert "left for the periodic sweep" in caplog.text


def _close_worker_connections(**kwargs):
    connections.close_all()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_after_redis_returns_the_sweeps_stitch_the_history_and_hand_on_the_events(api, tenant, redis):
    started = timezone.now() - timedelta(hours=1)
    visitor = VisitorFactory(environment=tenant.environment, public_id=VISITOR_A, first_seen_at=started)
    session = SessionFactory(visitor=visitor, started_at=started, last_activity_at=started + timedelta(minutes=2))
    PageviewFactory(session=session, timestamp=started)
    redis.stop()
    response = signup(api, tenant, visitorId=VISITOR_A)
    assert response.status_code == 201
    user = EndUser.objects.get(public_id=response.json()["user"]["id"])
    visitor.refresh_from_db()
    assert visitor.user_id == user.id and visitor.stitched_at is None  # linked, not yet rewritten

    redis.start()
    queue.broker_pause_reset()
    # Beat's sweeps, as they run a few minutes later; a real worker does the work.
    Visitor.objects.filter(pk=visitor.pk).update(linked_at=timezone.now() - timedelta(minutes=5))
    task_postrun.connect(_close_worker_connections, weak=False)
    try:
        with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=15):
            stitch_pending_visitors.apply()
            outbox_dispatch.delay()
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                visitor.refresh_from_db()
                if visitor.stitched_at and not OutboxEntry.objects.filter(dispatched_at__isnull=True).exists():
                    break
                time.sleep(0.2)
    finally:
        task_postrun.disconnect(_close_worker_connections)

    assert visitor.stitched_at is not None
    assert set(Pageview.objects.filter(visitor=visitor).values_list("user_id", flat=True)) == {user.id}
    assert not OutboxEntry.objects.filter(dispatched_at__isnull=True).exists()
    assert Event.objects.filter(user=user, name="user.created").count() == 1


@pytest.mark.django_db(transaction=True)
def test_queued_collect_batches_of_an_outage_are_written_afterwards(api, tenant, redis, settings):
    settings.COLLECT_QUEUE = True
    redis.stop()
    response = api.post_json("/v1/analytics/collect", batch([pageview(), pageview()]), headers=env_headers(tenant))
    assert response.status_code == 202 and response.json()["accepted"] == 2

    assert CollectBatch.objects.count() == 1
    collect_queue_drain()
    assert Pageview.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_restitch_the_broker_could_not_take_is_left_to_the_sweep(tenant, redis):
    user = EndUser.objects.create(environment=tenant.environment, email="lin@example.com", name="Lin")
    visitor = VisitorFactory(environment=tenant.environment, user=user, linked_at=timezone.now() - timedelta(hours=1))
    Visitor.objects.filter(pk=visitor.pk).update(stitched_at=timezone.now())
    redis.stop()

    with transaction.atomic():
        visitor_restitch_on_commit(visitor=visitor)

    assert visitor.pk in visitors_pending_stitch()
