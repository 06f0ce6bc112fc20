"""Shared fixtures: environments with their keys, clients, and the test settings.

The suite runs on SQLite with in-process tasks by default, and on PostgreSQL and a
real Redis broker when DATABASE_URL and REDIS_URL are set (as CI does).
"""

import json
import threading

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.db import connection
from django.test import Client

from ascendkit_site.celery import app as celery_app
from identity.selectors import clear_environment_cache
from identity.services import environment_create

USES_POSTGRES = django_settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
USES_REDIS = bool(django_settings.REDIS_URL)


def pytest_report_header(config):
    database = "PostgreSQL" if USES_POSTGRES else "SQLite"
    broker = "Redis (real broker)" if USES_REDIS else "none (tasks run in-process)"
    return [f"database: {database}; Celery broker: {broker}"]


def pytest_collection_modifyitems(config, items):
    skip_pg = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL=postgres://… to run it")
    skip_redis = pytest.mark.skip(reason="needs a Redis broker and a real worker: set REDIS_URL=redis://… to run it")
    for item in items:
        if "postgres" in item.keywords and not USES_POSTGRES:
            item.add_marker(skip_pg)
        if "real_worker" in item.keywords and not (USES_REDIS and USES_POSTGRES):
            item.add_marker(skip_redis)


@pytest.fixture(autouse=True)
def _test_settings(settings, request):
    # A fast hasher: the suite creates many users. Production keeps Django's default.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Collect writes inline, so a test sees its rows at once; tests of the queue turn
    # it on, and drain it themselves unless they ask for the writer thread.
    settings.COLLECT_QUEUE = False
    settings.COLLECT_WRITER = "external"
    clear_environment_cache()
    cache.clear()
    # Tasks run in-process unless a test asks for the real worker.
    eager = "real_worker" not in request.keywords
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = eager
    yield
    celery_app.conf.task_always_eager = previous
    clear_environment_cache()


class Tenant:
    """An environment and its two keys, as `create_environment --json` prints them."""

    def __init__(self, created):
        self.environment = created.environment
        self.env_key = created.environment.env_key
        self.secret_key = created.secret_key


@pytest.fixture
def tenant(db):
    return Tenant(environment_create(organization_name="Acme", project_name="Web", environment_name="production"))


@pytest.fixture
def other_tenant(db):
    return Tenant(environment_create(organization_name="Globex", project_name="Shop", environment_name="production"))


class ApiClient(Client):
    """Django's test client with JSON helpers for the `/v1/` API."""

    def post_json(self, path, payload, **extra):
        body = payload if isinstance(payload, (bytes, str)) else json.dumps(payload)
        return self.post(path, data=body, content_type=extra.pop("content_type", "application/json"), **extra)


@pytest.fixture
def api():
    return ApiClient(REMOTE_ADDR="203.0.113.7")


@pytest.fixture
def db_dump(db):
    """Everything in the database as one string, to search for what must not be stored."""

    def dump() -> str:
        chunks = []
        with connection.cursor() as cursor:
            for table in connection.introspection.table_names(cursor):
                cursor.execute(f'SELECT * FROM "{table}"')  # table names come from introspection
                chunks.extend(repr(row) for row in cursor.fetchall())
        return "\n".join(chunks)

    return dump


def _run_together(*functions, timeout: float = 60):
    """Run the functions in threads that start at once; their results, in order.

    Each thread closes its own database connection when done. Any exception in a
    thread fails the test, with the first one raised here.
    """
    barrier = threading.Barrier(len(functions))
    results, errors = [None] * len(functions), []

    def run(index, function):
        try:
            barrier.wait()
            results[index] = function()
        except Exception as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, f)) for i, f in enumerate(functions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(thread.is_alive() for thread in threads), "a thread did not finish in time"
    if errors:
        raise errors[0]
    return results


@pytest.fixture
def run_together():
    """`run_together(f, g, …)`: call the functions concurrently, for races on PostgreSQL."""
    return _run_together
