"""Statement budgets of the ingestion paths: what the README promises, held here.

A budget is a maximum: a change that adds a statement to a hot path fails here and
has to say why. The counts are those Django sends; SQLite adds its `BEGIN`.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from analytics.models import CollectBatch, Event, Pageview
from analytics.services.collect import collect_queue_drain
from analytics.tests.helpers import batch, pageview, track

COLLECT = "/v1/analytics/collect"
# An inline request: the visitor (insert, lock, seen times), dedupe, its sessions,
# then the inserts and updates of sessions, pageviews, events and the first touch.
# On PostgreSQL one more marks the days the report rollups must recompute.
INLINE_REQUEST_BUDGET = 11 + (1 if connection.vendor == "postgresql" else 0)
# A writer chunk costs the same whatever its size; SQLite splits a bulk statement
# past its 999 parameters, so there a large chunk may take a few more. PostgreSQL
# takes one more: the new sessions' keys are drawn from the sequence before COPY.
WRITER_CHUNK_BUDGET = 19 + (1 if connection.vendor == "postgresql" else 0)
SQLITE_SPLIT_SLACK = 0 if connection.vendor == "postgresql" else 3


def post(api, tenant, body):
    response = api.post_json(COLLECT, body, HTTP_X_ASCENDKIT_ENV_KEY=tenant.env_key)
    assert response.status_code == 202
    return response


def statements_of(action) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        action()
    return [query["sql"] for query in captured.captured_queries]


def visitor(n: int) -> str:
    return f"vis_Budget{n:014d}"


@pytest.mark.parametrize("items", [1, 10, 100])
def test_an_inline_request_stays_within_its_budget_whatever_its_size(api, tenant, items):
    post(api, tenant, batch([pageview()], visitor_id=visitor(0)))  # the env key is cached from here on
    body = batch([pageview(f"https://example.com/{i}") for i in range(items - 1)] + [track()], visitor_id=visitor(1))

    statements = statements_of(lambda: post(api, tenant, body))

    assert len(statements) <= INLINE_REQUEST_BUDGET
    assert Pageview.objects.count() + Event.objects.count() == items + 1


def test_a_queued_request_is_one_insert(api, tenant, settings):
    settings.COLLECT_QUEUE = True
    post(api, tenant, batch([pageview()], visitor_id=visitor(0)))  # the env key is cached from here on

    statements = statements_of(lambda: post(api, tenant, batch([pageview(), track()], visitor_id=visitor(1))))

    assert len(statements) == 1 and statements[0].startswith('INSERT INTO "analytics_collectbatch"')


@pytest.mark.parametrize("batches", [1, 10, 100])
def test_a_writer_chunk_costs_the_same_whatever_its_size(api, tenant, settings, batches):
    settings.COLLECT_QUEUE = True
    for n in range(batches):
        post(api, tenant, batch([pageview(), track()], visitor_id=visitor(n)))

    statements = statements_of(collect_queue_drain)

    budget = WRITER_CHUNK_BUDGET + (SQLITE_SPLIT_SLACK if batches > 10 else 0)
    assert len(statements) <= budget
    assert CollectBatch.objects.count() == 0 and Pageview.objects.count() == batches
