"""The script tag in real headless Chromium, on a page of another origin than the live server.

The customer's page is served by a second small HTTP server (`page_server`); the script
and the API come from pytest-django's live server, as a site embeds them from its
AscendKit host.
"""

import json
import time
from dataclasses import dataclass, field
from urllib.parse import urlparse

import pytest
from django.db import OperationalError
from django.test import Client

from analytics.apis import collect as collect_api
from analytics.apis import events as events_api
from analytics.models import Event, Pageview, Session, Visitor
from analytics.services import collect as collect_service
from ascendkit_site import errors
from identity.services import environment_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-passphrase-9"

PAGE = """<!doctype html>
<html>
<head>
  <meta charset="utf-8">
  <title>Landing</title>
  <link rel="icon" href="data:,">
  <script src="{api}/static/ascendkit/ascendkit.js" data-env-key="{env_key}" data-api-url="{api}"></script>
</head>
<body>
  <nav><a id="to-pricing" href="/pricing">Pricing</a> <a id="to-docs" href="/docs">Docs</a></nav>
  <button id="buy">Buy</button>
  <script>
    // A single-page app's router: links change the URL with pushState.
    for (const link of document.querySelectorAll("nav a")) {{
      link.addEventListener("click", (event) => {{
        event.preventDefault();
        history.pushState({{}}, "", link.getAttribute("href"));
        document.title = link.textContent;
      }});
    }}
    document.getElementById("buy").addEventListener("click", () => {{
      AscendKit.track("cta_clicked", {{ location: "hero" }});
    }});
  </script>
</body>
</html>
"""


@dataclass
class Site:
    """The browser tab on the customer's page, and what it sent to the API."""

    page: object
    api: str
    origin: str
    environment: object
    secret_key: str
    requests: list = field(default_factory=list)
    console_errors: list = field(default_factory=list)

    def visitor_id(self) -> str:
        return self.page.evaluate("AscendKit.visitorId()")

    def flush(self) -> None:
        self.page.evaluate("AscendKit.flush()")

    def sent(self, path: str) -> list:
        return [request for request in self.requests if urlparse(request.url).path == path]

    def profile(self, user_id: str) -> dict:
        answer = Client().get(f"/v1/users/{user_id}", HTTP_AUTHORIZATION=f"Bearer {self.secret_key}")
        assert answer.status_code == 200, answer.content
        return answer.json()


@pytest.fixture
def site(chromium, live_server, page_server):
    created = environment_create(organization_name="Acme", project_name="Web", environment_name="browser")
    page_server.html = PAGE.format(api=live_server.url, env_key=created.environment.env_key)
    context = chromium.new_context()
    page = context.new_page()
    site = Site(
        page=page,
        api=live_server.url,
        origin=page_server.url,
        environment=created.environment,
        secret_key=created.secret_key,
    )
    context.on("request", lambda request: site.requests.append(request))
    page.on("console", lambda message: message.type == "error" and site.console_errors.append(message.text))
    page.on("pageerror", lambda error: site.console_errors.append(str(error)))
    assert urlparse(site.origin).netloc != urlparse(site.api).netloc
    yield site
    context.close()


def wait_for(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except OperationalError:
            # SQLite's shared in-memory test database locks a table while the live
            # server writes it; the next look will do.
            pass
        time.sleep(0.1)
    raise AssertionError("timed out waiting for the server to store what the page sent")


def pageviews(site):
    return Pageview.objects.filter(environment=site.environment)


def app_events(site):
    return Event.objects.filter(environment=site.environment, name__startswith="app.")


def test_the_first_pageview_carries_utm_and_the_visitor_cookie(site):
    site.page.goto(site.origin + "/landing?utm_source=newsletter&utm_medium=email&utm_campaign=nov")
    site.flush()

    visitor_id = site.visitor_id()
    (cookie,) = [cookie for cookie in site.page.context.cookies() if cookie["name"] == "ak_vid"]
    assert cookie["value"] == visitor_id
    assert cookie["sameSite"] == "Lax" and cookie["secure"] is False  # http: no Secure
    assert 364 * 86400 < cookie["expires"] - time.time() <= 365 * 86400

    (pageview,) = pageviews(site)
    assert pageview.path == "/landing"
    assert (pageview.utm_source, pageview.utm_campaign) == ("newsletter", "nov")
    assert pageview.title == "Landing"
    assert pageview.visitor.public_id == visitor_id
    session = Session.objects.get(environment=site.environment)
    assert (session.utm_source, session.channel) == ("newsletter", "Email")
    assert session.browser == "Chrome" or "Chrom" in session.browser
    assert (session.screen_width, session.screen_height) == (1280, 720)
    assert session.locale
    # A beacon-style request: text/plain, the env key in the body, no preflight.
    (collect,) = site.sent("/v1/analytics/collect")
    assert collect.headers["content-type"].startswith("text/plain")
    assert not [request for request in site.requests if request.method == "OPTIONS"]
    assert site.console_errors == []


def test_spa_route_changes_send_one_pageview_per_new_url(site):
    site.page.goto(site.origin + "/landing")
    site.page.click("#to-pricing")
    site.page.evaluate("history.replaceState({ scrolled: true }, '', '/pricing')")  # same URL
    site.page.click("#to-docs")
    site.page.go_back()
    site.page.wait_for_function("location.pathname == '/pricing'")
    site.page.wait_for_timeout(50)
    site.flush()

    assert list(pageviews(site).order_by("timestamp", "id").values_list("path", "title")) == [
        ("/landing", "Landing"),
        ("/pricing", "Pricing"),
        ("/docs", "Docs"),
        ("/pricing", "Docs"),  # popstate does not change the title in this page's router
    ]
    assert Session.objects.get(environment=site.environment).pageview_count == 4
    assert site.console_errors == []


def test_a_click_tracks_an_app_event(site):
    site.page.goto(site.origin + "/landing")
    site.page.click("#buy")
    site.flush()

    (event,) = app_events(site)
    assert (event.name, event.properties, event.kind) == ("app.cta_clicked", {"location": "hero"}, "browser")
    assert event.path == "/landing"
    assert event.visitor.public_id == site.visitor_id()
    assert site.console_errors == []


def test_page_hide_delivers_without_flush(site, monkeypatch):
    received = []
    read_body = collect_api.read_json_object

    def read_and_note(request, **options):
        body = read_body(request, **options)
        received.append(
            (request.content_type.split(";")[0], request.headers.get("X-AscendKit-Env-Key"), body.get("envKey"))
        )
        return body

    # Wait for the server's answers, not by reading the tables: on SQLite a read while the
    # server writes can lock it out (a 503), and a beacon is never sent again.
    answered = []
    answer = collect_api._answer

    def answer_and_note(result):
        answered.append(result.accepted)
        return answer(result)

    monkeypatch.setattr(collect_api, "read_json_object", read_and_note)
    monkeypatch.setattr(collect_api, "_answer", answer_and_note)
    site.page.goto(site.origin + "/landing")
    wait_for(lambda: len(answered) == 1)  # the landing pageview goes at once
    assert pageviews(site).count() == 1
    site.page.click("#buy")
    assert len(site.sent("/v1/analytics/collect")) == 1  # the click is batched: nothing more sent yet

    site.page.goto("about:blank")  # the page is hidden and unloaded

    wait_for(lambda: len(answered) == 2)
    assert app_events(site).count() == 1
    # Both text/plain (no preflight, Chromium keeps a beacon cross-origin), the key in the body.
    assert received == [("text/plain", None, site.environment.env_key)] * 2
    assert len(site.sent("/v1/analytics/collect")) == 1  # the second was a beacon: Playwright does not list those
    assert site.console_errors == []


def signup(site, email="ada@example.com"):
    answer = site.page.evaluate(
        "(fields) => AscendKit.signup(fields)", {"email": email, "password": PASSWORD, "name": "Ada"}
    )
    assert answer["token"] and answer["user"]["email"] == email, answer
    return answer["user"]["id"]


def test_signup_through_the_sdk_links_the_visitor_history(site):
    site.page.goto(site.origin + "/landing?utm_source=newsletter")
    site.page.click("#to-pricing")
    site.page.click("#buy")
    visitor_id = site.visitor_id()

    user_id = signup(site)

    def linked():
        stats = site.profile(user_id)["stats"]
        return stats["preSignupPageviews"] == 2 and stats["preSignupEvents"] == 1

    wait_for(linked)
    profile = site.profile(user_id)
    assert visitor_id in profile["visitors"]
    assert profile["firstTouch"]["source"] == "newsletter"
    assert Visitor.objects.get(environment=site.environment, public_id=visitor_id).user.public_id == user_id
    (signup_request,) = site.sent("/v1/auth/signup")
    assert json.loads(signup_request.post_data)["visitorId"] == visitor_id
    assert site.console_errors == []


def test_events_after_signup_go_through_v1_events_with_the_token(site):
    site.page.goto(site.origin + "/landing")
    user_id = signup(site)
    site.page.click("#buy")
    site.page.click("#to-docs")
    site.flush()

    (events_request,) = site.sent("/v1/events")
    assert events_request.headers["authorization"].startswith("Bearer ")
    assert events_request.headers["x-ascendkit-env-key"] == site.environment.env_key
    (event,) = app_events(site)
    assert event.user.public_id == user_id and event.name == "app.cta_clicked"
    # Pageviews stay on collect, attributed to the user through the linked visitor.
    assert pageviews(site).get(path="/docs").user.public_id == user_id
    assert site.console_errors == []


def test_page_hide_delivers_signed_in_events_with_a_keepalive_fetch(site, monkeypatch):
    recorded = []
    record = events_api.business_events_record

    def record_and_note(**arguments):
        recorded.append([item["name"] for item in arguments["raw_items"]])
        return record(**arguments)

    monkeypatch.setattr(events_api, "business_events_record", record_and_note)
    site.page.goto(site.origin + "/landing")
    user_id = signup(site)
    site.page.click("#buy")

    site.page.goto("about:blank")  # a beacon cannot carry the token: fetch(keepalive) can

    wait_for(lambda: app_events(site).count() == 1)
    assert recorded == [["app.cta_clicked"]]
    assert app_events(site).get().user.public_id == user_id
    assert site.console_errors == []


def test_logout_rotates_the_visitor_id_and_revokes_the_token(site):
    site.page.goto(site.origin + "/landing")
    user_id = signup(site)
    before = site.visitor_id()

    assert site.page.evaluate("AscendKit.logout()") is None
    after = site.visitor_id()
    assert after != before and after.startswith("vis_")
    (cookie,) = [cookie for cookie in site.page.context.cookies() if cookie["name"] == "ak_vid"]
    assert cookie["value"] == after
    (logout,) = site.sent("/v1/auth/logout")
    token = logout.headers["authorization"].removeprefix("Bearer ")
    me = Client().get(
        "/v1/auth/me", HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_X_ASCENDKIT_ENV_KEY=site.environment.env_key
    )
    assert me.status_code == 401

    site.page.click("#buy")
    site.flush()
    event = app_events(site).get()
    assert event.visitor.public_id == after and event.user is None
    assert Visitor.objects.get(environment=site.environment, public_id=before).user.public_id == user_id
    assert site.console_errors == []


def test_a_503_then_a_202_stores_every_event_exactly_once(site, monkeypatch):
    monkeypatch.setattr(errors, "RETRY_AFTER_SECONDS", 1)
    real_write = collect_service.browser_batches_write
    calls = []

    def write_after_an_outage(*, batches):
        calls.append(sum(len(batch.items) for batch in batches))
        if len(calls) == 1:
            raise OperationalError("the database is restarting")
        return real_write(batches=batches)

    monkeypatch.setattr(collect_service, "browser_batches_write", write_after_an_outage)
    responses = []
    site.page.on("response", lambda response: responses.append((urlparse(response.url).path, response.status)))

    site.page.goto(site.origin + "/landing")
    site.page.click("#buy")
    site.page.click("#to-pricing")
    site.flush()  # resolves once the retry was delivered

    collect_answers = [status for path, status in responses if path == "/v1/analytics/collect"]
    assert collect_answers[0] == 503 and set(collect_answers[1:]) == {202}
    sent = [json.loads(request.post_data) for request in site.sent("/v1/analytics/collect")]
    # The refused items went again, unchanged (the same messageIds), with any queued since.
    assert all(item in sent[1]["events"] for item in sent[0]["events"])
    assert pageviews(site).count() == 2
    assert app_events(site).count() == 1
    message_ids = {item["messageId"] for request in sent for item in request["events"]}
    stored = list(pageviews(site).values_list("message_id", flat=True)) + list(
        app_events(site).values_list("message_id", flat=True)
    )
    assert sorted(stored) == sorted(message_ids)  # each item stored once
    assert site.page.evaluate("localStorage.length") == 0
    # Chromium logs the deliberate 503 as a failed resource load; nothing else may appear.
    unexpected = [text for text in site.console_errors if "status of 503" not in text]
    assert unexpected == []
