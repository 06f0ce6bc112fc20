"""With the database unreachable, ingestion answers 503 with Retry-After; retries store once.

PostgreSQL only: the test database on SQLite lives in memory, in a connection that
Django never closes, so it cannot be taken away from under a request.
"""

import pytest

from analytics.models import Pageview
from analytics.tests.helpers import batch, database_down, pageview
from identity.selectors import clear_environment_cache

COLLECT = "/v1/analytics/collect"


pytestmark = pytest.mark.postgres


def send(api, tenant, body):
    return api.post_json(COLLECT, body, HTTP_X_ASCENDKIT_ENV_KEY=tenant.env_key)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("environment_cached", [False, True])
def test_it_answers_503_with_retry_after_when_the_database_is_down(api, tenant, environment_cached):
    if environment_cached:
        # The env key is already known to this process: the failure comes at the write.
        send(api, tenant, batch([pageview()]))
    else:
        clear_environment_cache()

    with database_down():
        response = send(api, tenant, batch([pageview()]))

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "service_unavailable"
    assert int(response["Retry-After"]) > 0


@pytest.mark.django_db(transaction=True)
def test_a_batch_retried_after_a_503_is_stored_once(api, tenant):
    body = batch([pageview(), pageview()])
    send(api, tenant, batch([pageview()]))  # the environment is cached, as in a running worker

    with database_down():
        assert send(api, tenant, body).status_code == 503
    first = send(api, tenant, body)
    second = send(api, tenant, body)

    assert first.json()["accepted"] == 2
    assert second.json()["duplicates"] == 2
    assert Pageview.objects.count() == 3
