"""Batches queued before the payload became bytes are still written after the migration."""

import json

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from analytics.models import CollectBatch
from analytics.services.collect import payload_decode

BEFORE = ("analytics", "0007_environment_references_unconstrained")
AFTER = ("analytics", "0008_collectbatch_payload_bytes")
PAYLOAD = {"client": {"locale": "de-DE"}, "items": [{"title": "Preise – Übersicht"}]}


def migrate(target):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target])


@pytest.mark.django_db(transaction=True)
def test_a_batch_queued_as_json_reads_back_whole_after_the_migration(tenant):
    migrate(BEFORE)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO analytics_collectbatch (environment_id, visitor_public_id, received_at, payload, "
                "attempts, last_error) VALUES (%s, 'vis_before', CURRENT_TIMESTAMP, %s, 0, '')",
                [tenant.environment.id, json.dumps(PAYLOAD, ensure_ascii=False)],
            )
    finally:
        migrate(AFTER)

    assert payload_decode(CollectBatch.objects.get(visitor_public_id="vis_before").payload) == PAYLOAD


@pytest.mark.django_db(transaction=True)
def test_the_migration_reverses_to_json(tenant):
    CollectBatch.objects.create(
        environment=tenant.environment, visitor_public_id="vis_after", payload=json.dumps(PAYLOAD).encode()
    )
    migrate(BEFORE)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT payload FROM analytics_collectbatch WHERE visitor_public_id = 'vis_after'")
            (stored,) = cursor.fetchone()
    finally:
        migrate(AFTER)

    assert json.loads(stored) == PAYLOAD if isinstance(stored, str) else stored == PAYLOAD
