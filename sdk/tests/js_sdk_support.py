"""Paths and the second page origin shared by the JavaScript SDK's tests."""

import http.server
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
JS_DIR = REPO / "sdk" / "js"
BUILD = REPO / "static" / "ascendkit" / "ascendkit.js"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


class PageServer:
    """A second origin for the customer's site: every path answers the same HTML page."""

    def __init__(self):
        self.html = "<!doctype html><title>empty</title>"
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = owner.html.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self):
        self._server.shutdown()
        self._server.server_close()
