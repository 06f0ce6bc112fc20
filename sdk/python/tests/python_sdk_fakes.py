"""A fake `/v1/events` server in a thread, scripted answer by answer."""

import json
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SECRET_KEY = "sk_TestSecretKey0000000000000000000000"


@dataclass
class Received:
    at: float  # time.monotonic()
    headers: Message  # case-insensitive, as HTTP headers are
    body: dict

    @property
    def message_ids(self) -> list[str]:
        return [item["messageId"] for item in self.body["events"]]


@dataclass
class Reply:
    status: int = 202
    headers: dict[str, str] = field(default_factory=dict)
    body: dict | None = None  # None: the usual 202 answer for the batch
    delay: float = 0.0  # seconds before answering


class FakeEventsServer:
    """Answers the scripted replies in order, then 202 to everything; records every request."""

    def __init__(self):
        self.replies: list[Reply] = []
        self.received: list[Received] = []
        self.delivered: list[Received] = []  # the requests answered 2xx
        self._lock = threading.Condition()
        self._closing = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length", "0"))
                request = Received(time.monotonic(), self.headers, json.loads(self.rfile.read(length)))
                reply = server._record(request)
                if reply.delay:
                    server._closing.wait(reply.delay)
                body = reply.body
                if body is None and reply.status >= 400:
                    body = {"error": {"code": "scripted", "message": f"A scripted {reply.status}."}}
                elif body is None:
                    body = {"accepted": len(request.body["events"]), "duplicates": 0, "rejected": []}
                encoded = json.dumps(body).encode()
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(encoded)))
                    self.end_headers()
                    self.wfile.write(encoded)
                except OSError:
                    pass  # the client gave up waiting

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def _record(self, request: Received) -> Reply:
        with self._lock:
            reply = self.replies.pop(0) if self.replies else Reply()
            self.received.append(request)
            if 200 <= reply.status < 300:
                self.delivered.append(request)
            self._lock.notify_all()
            return reply

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> list[Received]:
        with self._lock:
            self._lock.wait_for(lambda: len(self.received) >= count, timeout)
            return list(self.received)

    def delivered_message_ids(self) -> list[str]:
        with self._lock:
            return [message_id for request in self.delivered for message_id in request.message_ids]

    def close(self):
        self._closing.set()
        self.httpd.shutdown()
        self.httpd.server_close()


class AnswerLosingProxy:
    """Forwards requests to a real server; the first `lose` answers are replaced by a 503.

    The server did store those batches: this is a gateway timing out after the
    origin committed, the case where only the `messageId` keeps a retry from
    storing the events twice.
    """

    def __init__(self, upstream: str, *, lose: int = 1):
        self.upstream = upstream.rstrip("/")
        self.forwarded = 0
        self.lost = 0
        self._lose = lose
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length", "0"))
                request = urllib.request.Request(
                    proxy.upstream + self.path,
                    data=self.rfile.read(length),
                    method="POST",
                    headers={name: value for name, value in self.headers.items() if name.lower() != "host"},
                )
                try:
                    with urllib.request.urlopen(request, timeout=30) as response:
                        status, body = response.status, response.read()
                except urllib.error.HTTPError as error:
                    status, body = error.code, error.read()
                with proxy._lock:
                    proxy.forwarded += 1
                    losing = proxy.lost < proxy._lose
                    proxy.lost += losing
                if losing:
                    status, body = 503, b'{"error": {"code": "bad_gateway", "message": "Upstream timed out."}}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
