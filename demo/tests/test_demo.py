"""The demo site: the script tag with the demo environment's env key, and nothing secret."""

import re
from io import StringIO

import pytest
from django.core.management import call_command

from identity.models import Environment
from identity.selectors import demo_environment_get
from identity.services import environment_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_environment():
    call_command("bootstrap_demo", stdout=StringIO())
    return demo_environment_get()


def test_the_demo_page_embeds_the_script_tag_with_the_demo_env_key(client, demo_environment):
    environment_create(organization_name="Other", project_name="App", environment_name="production")
    answer = client.get("/demo/")
    assert answer.status_code == 200
    html = answer.content.decode()
    (tag,) = re.findall(r"<script src=\"[^\"]*ascendkit/ascendkit\.js\"[^>]*>", html)
    assert f'data-env-key="{demo_environment.env_key}"' in tag
    assert 'data-api-url="http://testserver"' in tag
    assert demo_environment.project.organization.name == "Demo"


def test_the_demo_page_holds_no_secret(client, demo_environment):
    html = client.get("/demo/signup").content.decode()
    assert "sk_" not in html
    assert demo_environment.secret_key_hint not in html


def test_every_demo_page_answers_the_same_shell_and_unknown_ones_404(client, demo_environment):
    for path in ("/demo/", "/demo/pricing", "/demo/docs", "/demo/signup"):
        answer = client.get(path)
        assert answer.status_code == 200, path
        assert 'id="signup"' in answer.content.decode()
    assert client.get("/demo/admin").status_code == 404


def test_without_an_environment_the_demo_says_how_to_make_one(client):
    assert not Environment.objects.exists()
    html = client.get("/demo/").content.decode()
    assert "make run" in html
    assert "ascendkit/ascendkit.js" not in html


def test_bootstrap_demo_prints_the_demo_url(db):
    out = StringIO()
    call_command("bootstrap_demo", "--base-url", "http://127.0.0.1:8000", stdout=out)
    assert "Demo site:   http://127.0.0.1:8000/demo/" in out.getvalue()
