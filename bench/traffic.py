"""Browser traffic for `POST /v1/analytics/collect`, made before the timed run.

Each request is one visitor's batch: `mix` items (1–10 uniform, 5.5 on average, or
1–3), the visitor's next pageviews and `app.*` events in time order, from the last six
days. A visitor keeps one browser (user agent, screen, locale, time zone) and client
address (sent as X-Forwarded-For: the bench runs with TRUSTED_PROXY_COUNT=1), and sends
a few requests, far enough apart in the send order that two are never in flight at
once. Landings carry a referrer (search, social, an AI assistant, none…) and UTM
parameters on about a fifth of them; a session ends after a gap of hours.
"""

import heapq
import ipaddress
import json
import random
import time
from typing import NamedTuple

SITE = "https://www.bench-site.example"
MIXES = {"1-10": (1, 10), "1-3": (1, 3)}
VISIT_SPACING = 64  # requests of others between two of one visitor's (> 16 in flight)
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

_WIN, _MAC = "Windows NT 10.0; Win64; x64", "Macintosh; Intel Mac OS X 10_15_7"
_WEBKIT = "AppleWebKit/537.36 (KHTML, like Gecko)"
_SAMSUNG = "SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36"
_IOS = "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
AGENTS = {  # user agent: share %
    f"Mozilla/5.0 ({_WIN}) {_WEBKIT} Chrome/131.0.0.0 Safari/537.36": 26,
    f"Mozilla/5.0 ({_MAC}) {_WEBKIT} Chrome/130.0.0.0 Safari/537.36": 10,
    f"Mozilla/5.0 ({_WIN}) {_WEBKIT} Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.86": 6,
    f"Mozilla/5.0 ({_WIN}; rv:133.0) Gecko/20100101 Firefox/133.0": 5,
    f"Mozilla/5.0 ({_MAC}) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15": 6,
    f"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) {_IOS}": 20,
    f"Mozilla/5.0 (Linux; Android 14; Pixel 8) {_WEBKIT} Chrome/131.0.0.0 Mobile Safari/537.36": 10,
    f"Mozilla/5.0 (Linux; Android 14; SM-S918B) {_WEBKIT} {_SAMSUNG}": 5,
    f"Mozilla/5.0 (iPad; CPU OS 18_1 like Mac OS X) {_IOS}": 5,
    f"Mozilla/5.0 ({_WIN}) {_WEBKIT} Chrome/131.0.0.0 Safari/537.36 (compatible; Googlebot/2.1)": 1,
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)": 1,
}
BOT_MARKS = ("Googlebot", "bingbot")
SCREENS = [(1920, 1080), (1440, 900), (1536, 864), (390, 844), (412, 915), (820, 1180)]
PLACES = [("en-US", "America/New_York"), ("en-GB", "Europe/London"), ("de-DE", "Europe/Berlin")]
PLACES += [("fr-FR", "Europe/Paris"), ("ja-JP", "Asia/Tokyo"), ("pt-BR", "America/Sao_Paulo")]
PAGES = ["/", "/pricing", "/features", "/docs", "/docs/getting-started", "/docs/sdk/nextjs", "/blog"]
PAGES += ["/blog/first-touch-vs-last-touch", "/blog/utm-parameters-done-right", "/signup", "/login", "/changelog"]
REFERRERS = {None: 34, "https://www.google.com/": 26, "https://www.bing.com/": 4, "https://duckduckgo.com/": 3}
REFERRERS |= {"https://t.co/": 4, "https://www.linkedin.com/": 4, "https://chatgpt.com/": 5}
REFERRERS |= {"https://news.ycombinator.com/": 3, "https://www.reddit.com/r/django/": 2, "https://l.facebook.com/": 1}
CAMPAIGNS = [  # the query string of a tagged landing, and its referrer
    ("utm_source=newsletter&utm_medium=email&utm_campaign=nov_digest", None),
    ("utm_source=google&utm_medium=cpc&utm_campaign=brand&gclid=Cj0KCQiA", "https://www.google.com/"),
    ("utm_source=linkedin&utm_medium=paid_social&utm_campaign=q4_launch", "https://www.linkedin.com/"),
    ("utm_source=producthunt&utm_medium=launch&utm_campaign=ph_2026", "https://www.producthunt.com/"),
]
EVENTS = [
    ("app.cta_clicked", {"location": "hero", "label": "Start free"}),
    ("app.scroll_depth", {"percent": 75}),
    ("app.code_copied", {"language": "python", "snippet": "install"}),
    ("app.docs_searched", {"query": "session timeout", "results": 12}),
]


class Request(NamedTuple):
    headers: dict[str, str]
    body: bytes
    items: int
    bot: bool


def _iso(moment: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(moment)) + f".{int(moment % 1 * 1000):03d}Z"


def _public_ip(rng: random.Random) -> str:
    while True:
        if rng.random() < 0.2:
            address = ipaddress.IPv6Address((0x2A00 + rng.randrange(16)) << 112 | rng.getrandbits(112))
        else:
            address = ipaddress.IPv4Address(rng.getrandbits(32))
        if address.is_global:
            return str(address)


class Visitor:
    def __init__(self, rng: random.Random, now: float):
        self.rng, self.now = rng, now
        self.id = "vis_" + "".join(rng.choices(BASE62, k=24))
        agent = rng.choices(list(AGENTS), list(AGENTS.values()))[0]
        (locale, time_zone), (width, height) = rng.choice(PLACES), rng.choice(SCREENS)
        screen = {"width": width, "height": height}
        self.context = {"userAgent": agent, "locale": locale, "timezone": time_zone, "screen": screen}
        # fetch(…, {keepalive: true}) sends JSON; navigator.sendBeacon sends text/plain.
        kind = "application/json" if rng.random() < 0.7 else "text/plain;charset=UTF-8"
        self.headers = {"Content-Type": kind, "User-Agent": agent, "Origin": SITE, "X-Forwarded-For": _public_ip(rng)}
        self.bot = any(mark in agent for mark in BOT_MARKS)
        self.at = now - rng.uniform(1, 6) * 86_400
        self.url: str | None = None  # the page the visitor is on; None: between sessions

    def item(self) -> dict:
        rng = self.rng
        self.at = min(self.at + rng.lognormvariate(3.3, 1.0), self.now - 60)
        message = {"messageId": format(rng.getrandbits(84), "021x"), "timestamp": _iso(self.at)}
        if self.url and rng.random() < 0.3:
            name, properties = rng.choice(EVENTS)
            return {"type": "track", **message, "name": name, "properties": properties, "url": self.url}
        referrer, path = self.url, rng.choice(PAGES)
        self.url = SITE + path
        if referrer is None:  # a landing
            referrer = rng.choices(list(REFERRERS), list(REFERRERS.values()))[0]
            if rng.random() < 0.2:
                query, referrer = rng.choice(CAMPAIGNS)
                self.url += "?" + query
        page = {"type": "pageview", **message, "url": self.url, "title": f"Bench site {path}"}
        if rng.random() < 0.15:  # the session ends: the next item is hours later
            self.url, self.at = None, self.at + rng.uniform(1, 20) * 3600
        return {**page, "referrer": referrer} if referrer else page

    def request(self, size: int) -> Request:
        items = [self.item() for _ in range(size)]
        body = {"visitorId": self.id, "sentAt": _iso(time.time()), "context": self.context, "events": items}
        return Request(
            self.headers, json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode(), size, self.bot
        )


def build(*, requests: int, mix: str = "1-10", seed: int = 1) -> list[Request]:
    """`requests` requests in send order, from visitors who send 1–8 each, VISIT_SPACING or more apart."""
    low, high = MIXES[mix]
    rng, now = random.Random(seed), time.time()
    ready: list[tuple[Visitor, int]] = []  # visitors who may send again, and how many more they send
    waiting: list[tuple[int, int, Visitor, int]] = []  # a heap: the request index from which they may
    sent = []
    for index in range(requests):
        while waiting and waiting[0][0] <= index:
            _, _, visitor, left = heapq.heappop(waiting)
            ready.append((visitor, left))
        if ready and rng.random() < 0.7:
            visitor, left = ready.pop(rng.randrange(len(ready)))
        else:  # a new visitor arrives
            visitor, left = Visitor(rng, now), min(8, 1 + int(rng.expovariate(1 / 2.5)))
        sent.append(visitor.request(rng.randint(low, high)))
        if left > 1:
            heapq.heappush(waiting, (index + int(VISIT_SPACING * rng.uniform(1, 2)), index, visitor, left - 1))
    return sent
