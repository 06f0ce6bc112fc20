"""@ascendkit/nextjs/server against the live Django server: what it sends is stored, once."""

import os
import subprocess

import pytest
from js_sdk_support import JS_DIR

from accounts.services import user_signup
from analytics.models import Event, Visitor
from identity.services import environment_create

pytestmark = pytest.mark.django_db(transaction=True)

VISITOR_ID = "vis_NodeSdkVisitor0000000001"


def test_the_node_client_delivers_to_the_live_server_exactly_once(node, live_server):
    created = environment_create(organization_name="Acme", project_name="Web", environment_name="node")
    user, _token = user_signup(environment=created.environment, email="ada@example.com", password="a-long-passphrase-9")
    env = {
        **{name: value for name, value in os.environ.items() if not name.startswith("ASCENDKIT_")},
        "ASCENDKIT_SECRET_KEY": created.secret_key,
        "ASCENDKIT_ENV_KEY": created.environment.env_key,
        "ASCENDKIT_API_URL": live_server.url,
        "ASCENDKIT_LIVE_USER_ID": user.public_id,
        "ASCENDKIT_LIVE_VISITOR_ID": VISITOR_ID,
    }
    result = subprocess.run(
        [node, "--test", "test/server-live.test.js"],
        cwd=JS_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "# pass 1" in result.stdout

    stored = Event.objects.filter(environment=created.environment, name__startswith="app.")
    assert stored.count() == 13
    assert set(stored.values_list("kind", "user")) == {("server", user.id)}
    assert sorted(stored.filter(name="app.live.order_placed").values_list("properties__n", flat=True)) == list(
        range(12)
    )
    assert stored.filter(name="app.live.done").count() == 1
    # The visitorId on the items linked that visitor to the user.
    assert Visitor.objects.get(environment=created.environment, public_id=VISITOR_ID).user_id == user.id
