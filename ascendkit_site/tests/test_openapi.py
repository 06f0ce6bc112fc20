"""The OpenAPI schema is valid and warning-free, and its docs load nothing from another host."""

import json
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
import yaml
from django.core.management import call_command
from drf_spectacular.drainage import GENERATOR_STATS

DOCS_PAGES = ["/v1/docs"]


class AssetLinks(HTMLParser):
    """Every `src` and `href` of a page."""

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.urls.extend(value for name, value in attrs if name in ("src", "href") and value)


def asset_urls(html: str) -> list[str]:
    parser = AssetLinks()
    parser.feed(html)
    return parser.urls


def test_the_schema_validates_without_warnings(tmp_path, capsys):
    # Warnings are remembered per process; start clean so each one is printed here.
    GENERATOR_STATS.reset()
    target = tmp_path / "schema.yaml"

    try:
        call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    except Exception as error:
        pytest.fail(f"{error}\n{capsys.readouterr().err}")

    schema = yaml.safe_load(target.read_text())
    assert schema["openapi"].startswith("3.")


def test_the_schema_is_served_as_openapi_3(client):
    as_yaml = client.get("/v1/schema")
    as_json = client.get("/v1/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert as_yaml.status_code == 200
    assert yaml.safe_load(as_yaml.content)["openapi"].startswith("3.")
    document = json.loads(as_json.content)
    assert document["openapi"].startswith("3.")
    assert document["info"]["title"] == "AscendKit Analytics API"
    assert isinstance(document["paths"], dict)


@pytest.mark.parametrize("page", DOCS_PAGES)
def test_the_docs_load_every_asset_from_this_host(client, page):
    response = client.get(page)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    urls = asset_urls(html)
    assert urls, "the docs page references no assets"
    for url in urls:
        parts = urlsplit(url)
        assert not parts.netloc or parts.netloc == "testserver", f"{url} loads from another host"
        assert parts.scheme in ("", "http", "https"), url
    for marker in ("http://", "https://", "//cdn", "cdn.jsdelivr", "unpkg.com", "fonts.googleapis"):
        assert marker not in html, f"{marker!r} in {page}"


@pytest.mark.parametrize("page", DOCS_PAGES)
def test_the_docs_assets_are_served_from_static(client, page):
    urls = [url for url in asset_urls(client.get(page).content.decode()) if not url.startswith("#")]
    static_urls = [url for url in urls if urlsplit(url).path.startswith("/static/")]

    assert any(url.endswith("swagger-ui-bundle.js") for url in static_urls)
    assert any(url.endswith("swagger-ui.css") for url in static_urls)
    for url in static_urls:
        response = client.get(urlsplit(url).path)
        assert response.status_code == 200, url
        assert b"".join(response.streaming_content if response.streaming else [response.content])


def test_the_schema_names_the_key_each_endpoint_takes(api):
    paths = api.get("/v1/schema", HTTP_ACCEPT="application/json").json()["paths"]

    assert paths["/v1/analytics/collect"]["post"]["security"] == [{"envKey": []}]
    assert paths["/v1/users/{user_id}"]["get"]["security"] == [{"secretKey": []}]
