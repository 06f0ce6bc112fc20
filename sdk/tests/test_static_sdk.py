"""The script is served by Django: at its plain name always, and in production also hashed, cached for good."""

import pytest
from django.core.management import call_command
from django.templatetags.static import static
from django.test import RequestFactory, override_settings
from js_sdk_support import BUILD, REPO
from whitenoise.middleware import WhiteNoiseMiddleware

PLAIN = "/static/ascendkit/ascendkit.js"


def body_of(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_the_script_is_served_at_its_plain_name(client):
    response = client.get(PLAIN)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert body_of(response) == BUILD.read_bytes()


@pytest.fixture
def production_static(tmp_path):
    """collectstatic with the production storage (manifest, compressed) into a fresh STATIC_ROOT."""
    storage = {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"}
    with override_settings(
        STATIC_ROOT=tmp_path,
        STORAGES={"default": {"BACKEND": "django.core.files.storage.FileSystemStorage"}, "staticfiles": storage},
        # Only the project's own directory: the admin's hundreds of files add nothing here.
        STATICFILES_DIRS=[REPO / "static"],
        STATICFILES_FINDERS=["django.contrib.staticfiles.finders.FileSystemFinder"],
        DEBUG=False,
    ):
        call_command("collectstatic", "--noinput", verbosity=0)
        middleware = WhiteNoiseMiddleware(get_response=lambda request: None)
        yield middleware, static("ascendkit/ascendkit.js")


def test_production_serves_a_hashed_copy_for_ten_years_and_the_plain_name_briefly(production_static):
    middleware, hashed = production_static
    assert hashed != PLAIN and hashed.startswith("/static/ascendkit/ascendkit.") and hashed.endswith(".js")

    forever = middleware(RequestFactory().get(hashed))
    assert forever.status_code == 200
    assert forever["Cache-Control"] == "max-age=315360000, public, immutable"
    assert body_of(forever) == BUILD.read_bytes()

    plain = middleware(RequestFactory().get(PLAIN))
    assert plain.status_code == 200
    assert plain["Cache-Control"] == "max-age=60, public"
    assert body_of(plain) == BUILD.read_bytes()


def test_production_serves_the_script_compressed(production_static):
    middleware, hashed = production_static
    response = middleware(RequestFactory().get(hashed, HTTP_ACCEPT_ENCODING="gzip"))
    assert response["Content-Encoding"] in ("gzip", "br")
    assert len(body_of(response)) < 4096
