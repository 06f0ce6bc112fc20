"""A webhook receiver on loopback, and the HTTP calls of the onboarding story."""

import json
import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from django.test import TestCase
from standardwebhooks import Webhook

from analytics.tests.helpers import batch, pageview

PASSWORD = "a-long-passphrase-42"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict:
        return json.loads(self.body)


class Receiver:
    """An HTTP server on 127.0.0.1 that records every POST and answers with the statuses it is given."""

    def __init__(self):
        self.received: list[Received] = []
        self.statuses: deque[int] = deque()
        self.default_status = 200
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.received.append(Received(self.path, dict(self.headers.items()), body))
                    status = receiver.statuses.popleft() if receiver.statuses else receiver.default_status
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(f"answered {status}".encode())

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def verified(self, secret: str) -> list[dict]:
        """Every body received, each checked against its Standard Webhooks signature (raises if one fails)."""
        webhook = Webhook(secret)
        with self.lock:
            return [webhook.verify(item.body, item.headers) for item in self.received]

    def of_type(self, event_type: str) -> list[Received]:
        with self.lock:
            return [item for item in self.received if item.json["type"] == event_type]


def committed():
    """Run what the block queues on commit, as a real commit would (tests run in a transaction)."""
    return TestCase.captureOnCommitCallbacks(execute=True)


def signup(api, tenant, email, *, visitor_id=None):
    body = {"email": email, "password": PASSWORD}
    if visitor_id:
        body["visitorId"] = visitor_id
    with committed():
        response = api.post_json("/v1/auth/signup", body, HTTP_X_ASCENDKIT_ENV_KEY=tenant.env_key)
    assert response.status_code == 201, response.content
    return response.json()["user"]["id"]


def track(api, tenant, user_id, name, *, message_id=None, properties=None):
    item = {"userId": user_id, "name": name, "properties": properties or {}}
    if message_id:
        item["messageId"] = message_id
    with committed():
        response = api.post_json("/v1/events", {"events": [item]}, HTTP_AUTHORIZATION=f"Bearer {tenant.secret_key}")
    assert response.status_code == 202, response.content
    return response.json()


def collect(api, tenant, visitor_id, items):
    with committed():
        response = api.post_json(
            "/v1/analytics/collect", batch(items, visitor_id=visitor_id), HTTP_X_ASCENDKIT_ENV_KEY=tenant.env_key
        )
    assert response.status_code == 202, response.content
    return response.json()


def visit(api, tenant, visitor_id, url, *, at=None, referrer=None):
    response = api.post_json(
        "/v1/analytics/collect",
        batch([pageview(url, at=at, referrer=referrer)], visitor_id=visitor_id),
        HTTP_X_ASCENDKIT_ENV_KEY=tenant.env_key,
    )
    assert response.status_code == 202 and response.json()["accepted"] == 1, response.content
