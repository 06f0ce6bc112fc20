"""The management commands a new user and a script run: bootstrap, keys, members, serve."""

import json
import re
import shlex
import signal
import sys
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from identity.management.commands import serve
from identity.models import Environment, Organization, Project
from identity.selectors import environment_for_secret_key

ENV_KEY = re.compile(r"^env_[A-Za-z0-9]{24,}$")
SECRET_KEY = re.compile(r"^sk_[A-Za-z0-9]{32,}$")


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def create_environment(*args) -> dict:
    output = run("create_environment", *args, "--json")
    assert len(output.strip().splitlines()) == 1
    return json.loads(output)


# --- create_environment and add_member ---------------------------------------------------


def test_create_environment_prints_one_json_object_with_both_keys(db, db_dump):
    created = create_environment("Acme", "Web", "production", "--origin", "https://a.example", "--waitlist")

    assert set(created) == {"organization", "project", "environment", "envKey", "secretKey"}
    assert (created["organization"], created["project"], created["environment"]) == ("acme", "web", "production")
    assert ENV_KEY.match(created["envKey"])
    assert SECRET_KEY.match(created["secretKey"])
    environment = Environment.objects.get(env_key=created["envKey"])
    assert environment.allowed_origins == ["https://a.example"]
    assert environment.waitlist_enabled
    assert environment_for_secret_key(secret_key=created["secretKey"]) == environment
    # Only the hash is kept.
    assert created["secretKey"] not in db_dump()


def test_a_second_environment_reuses_the_organization_and_project(db):
    production = create_environment("Acme", "Web", "production")
    staging = create_environment("Acme", "Web", "staging")

    assert Organization.objects.count() == 1
    assert Project.objects.count() == 1
    assert production["envKey"] != staging["envKey"]
    assert production["secretKey"] != staging["secretKey"]


def test_a_member_added_with_a_password_logs_in_and_sees_the_environment(db, client):
    created = create_environment("Acme", "Web", "production")

    run("add_member", "Acme", "a@example.com", "--role", "admin", "--password", "a long passphrase")
    response = client.post("/portal/login/", {"username": "a@example.com", "password": "a long passphrase"})
    home = client.get("/portal/")

    assert response.status_code == 302
    assert home.status_code == 200
    assert created["envKey"] in home.content.decode()


# --- bootstrap_demo --------------------------------------------------------------------------


def test_bootstrap_demo_makes_an_environment_and_a_superuser_once(db, client):
    first = run("bootstrap_demo")
    second = run("bootstrap_demo")

    assert Environment.objects.count() == 1
    User = get_user_model()
    assert User.objects.filter(is_superuser=True).count() == 1
    environment = Environment.objects.get()
    assert str(environment) == "demo/website/development"
    # The secret key and the password are printed on the first run only.
    secret_key = re.search(r"Secret key:\s+(sk_\w+)\s", first).group(1)
    password = re.search(r"Login:\s+admin@example\.com / (\S+)", first).group(1)
    assert environment_for_secret_key(secret_key=secret_key) == environment
    assert secret_key not in second and password not in second
    assert environment.env_key in first and environment.env_key in second
    for text in ("http://127.0.0.1:8000/portal/", "/admin/", "/v1/docs"):
        assert text in second
    assert "changepassword" in second and "Rotate secret key" in second
    # The printed login works for both the portal and the admin.
    assert client.login(username="admin@example.com", password=password)
    assert client.get("/admin/").status_code == 200
    assert environment.env_key in client.get("/portal/").content.decode()


def test_bootstrap_demo_keeps_an_existing_environment_and_superuser(db, tenant):
    get_user_model().objects.create_superuser("root", "root@example.com", "pw-for-tests")

    output = run("bootstrap_demo")

    assert Environment.objects.count() == 1
    assert get_user_model().objects.count() == 1
    assert tenant.env_key in output
    assert tenant.secret_key not in output


def test_bootstrap_demos_curl_example_sends_a_pageview(db, client):
    output = run("bootstrap_demo")
    curl = shlex.split(next(line for line in output.splitlines() if line.strip().startswith("curl ")))

    headers = dict(curl[i + 1].split(": ", 1) for i, arg in enumerate(curl) if arg == "-H")
    body = curl[curl.index("-d") + 1]
    response = client.post(
        "/v1/analytics/collect",
        data=body,
        content_type=headers["Content-Type"],
        HTTP_X_ASCENDKIT_ENV_KEY=headers["X-AscendKit-Env-Key"],
    )

    assert "http://127.0.0.1:8000/v1/analytics/collect" in curl
    assert response.status_code == 202, response.content
    assert response.json()["accepted"] == 1


# --- serve ---------------------------------------------------------------------------------


def test_serve_runs_gunicorn_and_the_periodic_tasks_on_the_embedded_default():
    commands = serve.build_commands(host="127.0.0.1", port=8000, workers=2, redis_url="")

    assert commands.server[:4] == [sys.executable, "-m", "gunicorn", "ascendkit_site.wsgi:application"]
    assert commands.server[commands.server.index("--bind") + 1] == "127.0.0.1:8000"
    assert commands.server[commands.server.index("--workers") + 1] == "2"
    assert commands.server[commands.server.index("--timeout") + 1] == "30"
    assert commands.server[commands.server.index("--threads") + 1] == "4"
    # No access log: it would record client addresses.
    assert not any(arg.startswith("--access-log") for arg in commands.server)
    assert commands.periodic[0] == sys.executable
    assert commands.periodic[1].endswith("manage.py")
    assert commands.periodic[2:] == ["run_periodic"]


def test_serve_leaves_periodic_tasks_to_celery_beat_when_redis_is_set():
    commands = serve.build_commands(host="0.0.0.0", port=9000, workers=4, redis_url="redis://localhost:6379/0")

    assert commands.periodic is None
    assert "0.0.0.0:9000" in commands.server


@pytest.mark.parametrize(
    "host, loopback", [("127.0.0.1", True), ("localhost", True), ("::1", True), ("0.0.0.0", False), ("10.0.0.5", False)]
)
def test_serve_knows_a_host_beyond_this_machine(host, loopback):
    # Beyond loopback, serve warns that production belongs behind nginx.
    assert serve.is_loopback(host) is loopback


def test_serve_brackets_an_ipv6_host():
    assert serve.bind_address("::1", 8000) == "[::1]:8000"
    assert serve.bind_address("[::1]", 8000) == "[::1]:8000"


@pytest.mark.parametrize("args", [["--port", "0"], ["--port", "70000"], ["--port", "http"], ["--workers", "0"]])
def test_serve_refuses_bad_arguments(args):
    with pytest.raises(CommandError):
        call_command("serve", *args)


class FakeProcess:
    """Stands in for subprocess.Popen: records what was started and signalled."""

    started: list["FakeProcess"] = []

    def __init__(self, args):
        self.args = args
        self.signals = []
        self.returncode = None
        self.is_server = "gunicorn" in args
        FakeProcess.started.append(self)

    def poll(self):
        if self.is_server:
            self.returncode = 0  # the server exits at once
        return self.returncode

    def send_signal(self, signum):
        self.signals.append(signum)

    def terminate(self):
        self.signals.append(signal.SIGTERM)
        self.returncode = -signal.SIGTERM

    def wait(self, timeout=None):
        return self.returncode

    def kill(self):
        self.returncode = -signal.SIGKILL


@pytest.fixture
def fake_popen(monkeypatch):
    FakeProcess.started = []
    monkeypatch.setattr(serve.subprocess, "Popen", FakeProcess)
    return FakeProcess


def test_serve_stops_the_periodic_tasks_when_gunicorn_exits(settings, fake_popen):
    settings.REDIS_URL = ""
    previous_handler = signal.getsignal(signal.SIGTERM)

    out = run("serve", "--port", "8123", "--workers", "3")

    periodic, server = fake_popen.started
    assert periodic.args[-1] == "run_periodic"
    assert "127.0.0.1:8123" in server.args and "3" in server.args
    assert periodic.signals == [signal.SIGTERM]
    assert "periodic tasks run beside the server" in out
    # The command's signal forwarding is undone when it returns.
    assert signal.getsignal(signal.SIGTERM) is previous_handler


def test_serve_starts_gunicorn_alone_and_names_the_celery_services_when_redis_is_set(settings, fake_popen):
    settings.REDIS_URL = "redis://localhost:6379/0"

    out = run("serve")

    assert [process.is_server for process in fake_popen.started] == [True]
    assert "celery -A ascendkit_site worker" in out and "celery -A ascendkit_site beat" in out


def test_serve_reports_a_crashed_periodic_process_and_keeps_serving(monkeypatch, fake_popen):
    class Crashing(FakeProcess):
        """The periodic process fails at once; the server answers three polls, then exits."""

        def __init__(self, args):
            super().__init__(args)
            self.polls_left = 3
            if not self.is_server:
                self.returncode = 1

        def poll(self):
            if self.is_server:
                self.polls_left -= 1
                self.returncode = 0 if self.polls_left < 0 else None
            return self.returncode

    monkeypatch.setattr(serve.subprocess, "Popen", Crashing)
    monkeypatch.setattr(serve.time, "sleep", lambda seconds: None)
    logged = []

    returncode = serve.run_until_server_exits(
        serve.build_commands(host="127.0.0.1", port=8000, workers=1, redis_url=""), log=logged.append
    )

    periodic, server = fake_popen.started
    assert returncode == 0
    assert server.polls_left < 0
    assert logged == ["The periodic tasks process exited with status 1; its work is stopped."]


def test_serve_runs_the_collect_writer_in_queued_mode():
    commands = serve.build_commands(
        host="127.0.0.1", port=8000, workers=2, redis_url="redis://localhost:6379/0", collect_queue=True
    )

    assert commands.periodic is None
    assert commands.writer[2:] == ["collect_writer"]
    assert commands.writer[1].endswith("manage.py")
    assert [name for name, _ in commands.background()] == ["The collect writer"]
