"""schemathesis finds nothing: every operation, every check, against a live server.

The same run as `make reliability`'s (the configuration is `schemathesis.toml`),
bounded in time for CI. PostgreSQL only: the live server answers from its own
thread, which an in-memory SQLite database cannot be shared with reliably.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from accounts.tests.helpers import signup

SECONDS = 60
SCHEMATHESIS = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or shutil.which("schemathesis")

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(SCHEMATHESIS is None, reason="needs schemathesis (requirements-dev.txt)"),
]


@pytest.mark.django_db(transaction=True)
def test_schemathesis_finds_no_failure_in_any_operation(live_server, api, tenant):
    token = signup(api, tenant, email="fuzz@example.com").json()["token"]
    env = {
        **os.environ,
        "ASCENDKIT_ENV_KEY": tenant.env_key,
        "ASCENDKIT_SECRET_KEY": tenant.secret_key,
        "ASCENDKIT_USER_TOKEN": token,
    }
    command = [SCHEMATHESIS, "--no-color", "run", f"{live_server.url}/v1/schema", "--checks", "all"]
    # A fixed seed and a fixed number of examples: CI runs the same cases every time,
    # so a failure is a change in the code, not a luckier draw. `make reliability`
    # fuzzes for longer with fresh draws.
    command += ["--seed", "20261201", "--generation-deterministic", "-n", "25"]

    done = subprocess.run(command, cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=SECONDS * 6)

    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
